"""Who may do what in the inspections service (DESIGN.md section 1), as pure rules: the service
layer and the routes' policy (`entrypoints/policy.py`) both ask these, neither compares roles.

- an enterprise self-inspects only its own projects;
- a district office patrol-inspects only projects in its own district;
- the city office may patrol-inspect any project;
- owners, outside agencies and the public record nothing;
- the ordered enterprise submits a rectification, a district or the city office verifies it;
- an enterprise registers its projects' facilities and records their servicing.

The role names are the values of `runtime.auth.Role` (a domain module imports no runtime; a unit
test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass

ENTERPRISE = "enterprise"
DISTRICT_OFFICE = "district_office"
CITY_OFFICE = "city_office"
ROLES = frozenset({ENTERPRISE, DISTRICT_OFFICE, CITY_OFFICE})
"""The roles that act in this service; every other role (owner, agency) is refused."""


@dataclass(frozen=True)
class Actor:
    role: str
    district_code: str | None
    enterprise_id: str | None


@dataclass(frozen=True)
class Refusal:
    code: str
    zh: str
    en: str


def may_record(
    actor: Actor, kind: str, project_district: str, project_enterprise: str
) -> Refusal | None:
    if kind == "self":
        if actor.role != ENTERPRISE:
            return Refusal(
                "wrong_role",
                "自查只能由物业企业提交",
                "only an enterprise submits a self-inspection",
            )
        if actor.enterprise_id != project_enterprise:
            return Refusal(
                "out_of_scope",
                "只能对本企业服务的物业项目自查",
                "an enterprise self-inspects only its own projects",
            )
        return None
    if actor.role == CITY_OFFICE:
        return None
    if actor.role != DISTRICT_OFFICE:
        return Refusal(
            "wrong_role",
            "巡查只能由区县物业办或市物业办记录",
            "only a district or city office records a patrol inspection",
        )
    if actor.district_code != project_district:
        return Refusal(
            "out_of_scope",
            "只能巡查本辖区的物业项目",
            "a district office patrols only projects in its own district",
        )
    return None


# --- who the actor is -------------------------------------------------------------------------


def is_city_office(actor: Actor) -> bool:
    return actor.role == CITY_OFFICE


def office_district(actor: Actor) -> str | None:
    """The district a district office acts for (None for anyone else)."""
    return actor.district_code if actor.role == DISTRICT_OFFICE else None


def is_office(actor: Actor) -> bool:
    """A supervising office: a district office or the city office."""
    return actor.role in (DISTRICT_OFFICE, CITY_OFFICE)


def runs(actor: Actor, enterprise_id: str) -> bool:
    """Whether the actor is the enterprise `enterprise_id` (an enterprise acts for its own)."""
    return actor.role == ENTERPRISE and actor.enterprise_id == enterprise_id


# --- rectification orders and facilities ------------------------------------------------------


def may_submit_rectification(actor: Actor, enterprise_id: str) -> Refusal | None:
    """The ordered enterprise submits its rectification, nobody else."""
    if runs(actor, enterprise_id):
        return None
    return Refusal(
        "not_the_enterprise",
        "只有被责令整改的物业企业可以提交整改",
        "only the ordered enterprise submits",
    )


def may_decide_rectification(actor: Actor) -> Refusal | None:
    """A district or the city office verifies or rejects a submitted rectification."""
    if is_office(actor):
        return None
    return Refusal(
        "not_a_supervisor",
        "只有区县物业办或市物业办可以验收整改",
        "only a district or city office verifies",
    )


def may_keep_facilities(actor: Actor) -> Refusal | None:
    """An enterprise registers facilities and records their servicing (for its own projects,
    which the handler checks once it has loaded the project)."""
    if actor.role == ENTERPRISE and actor.enterprise_id:
        return None
    return Refusal(
        "facility_forbidden",
        "设施登记和维保记录由物业企业填写",
        "only an enterprise registers and records",
    )
