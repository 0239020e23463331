"""Who may see and do what over HTTP: the roles each kind of route admits, and the scope of a
caller (the city office everything, a district office its district, an enterprise its own
projects). The rules themselves are the domain's (`domain.project_registry.can_see`,
`domain.actors.may_record`); this module applies them to a token's principal."""

from __future__ import annotations

from typing import Annotated

from runtime.auth import Principal, Role
from runtime.http import require
from services.inspections.domain import actors, project_registry

Party = Annotated[Principal, require(Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
"""The parties of supervision: enterprises and the offices (owners and the public are not)."""
Office = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
CityOffice = Annotated[Principal, require(Role.CITY_OFFICE)]
Enterprise = Annotated[Principal, require(Role.ENTERPRISE)]
PlanSubmitter = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.ENTERPRISE)]


def actor_of(p: Principal) -> actors.Actor:
    return actors.Actor(
        role=p.role.value, district_code=p.district_code, enterprise_id=p.enterprise_id
    )


def can_see(p: Principal, district_code: str, enterprise_id: str) -> bool:
    """Whether the caller may see a project (or what belongs to it) in this district, of this
    enterprise; what it may not see answers 404 like what does not exist."""
    return project_registry.can_see(actor_of(p), district_code, enterprise_id)


def district_scope(p: Principal) -> str | None:
    """The district a list is restricted to: a district office's own, else none."""
    return p.district_code if p.role is Role.DISTRICT_OFFICE else None


def enterprise_scope(p: Principal) -> str | None:
    """The enterprise a list is restricted to: an enterprise's own, else none."""
    return p.enterprise_id if p.role is Role.ENTERPRISE else None
