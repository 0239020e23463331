"""Who may see and do what in the exposure service's signed-in API (the public board needs no
sign-in and shows published cases only).

- District offices see and act on their own district's cases and evidence; the city office on
  all; enterprises see their own enterprise's cases and object to them.
- Within a command, the case's own rules (`domain/cases.py`) still decide what may happen to it.
"""

from __future__ import annotations

from typing import Annotated

from runtime.auth import Principal, Role
from runtime.http import require
from services.exposure.service.ports import Scope

Office = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
"""District and city offices: evidence, review, withdrawal, objection decisions."""
Anyone = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE, Role.ENTERPRISE)]
"""Whoever may see cases (each in their scope)."""
EnterpriseUser = Annotated[Principal, require(Role.ENTERPRISE)]
"""Enterprises: objections to their own cases."""


def case_scope(principal: Principal) -> Scope:
    """The cases a principal sees."""
    if principal.role is Role.ENTERPRISE:
        return Scope("enterprise", principal.enterprise_id)
    if principal.role is Role.DISTRICT_OFFICE:
        return Scope("district", principal.district_code)
    return Scope("all")


def evidence_district(principal: Principal) -> str | None:
    """The evidence an office sees: its district's (a district office) or all (None)."""
    return acting_district(principal)


def acting_district(principal: Principal) -> str | None:
    """The district an office acts for: a district office its own, the city office any (None)."""
    return principal.district_code if principal.role is Role.DISTRICT_OFFICE else None


def objecting_enterprise(principal: Principal) -> str:
    """The enterprise an enterprise user objects for."""
    assert principal.enterprise_id is not None  # an enterprise principal names its enterprise
    return principal.enterprise_id
