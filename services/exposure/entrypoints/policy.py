"""Who may see and do what in the exposure service's signed-in API (the public board needs no
sign-in and shows published cases only).

- District offices see and act on their own district's cases and evidence; the city office on
  all; enterprises see their own enterprise's cases and object to them.
- Within a command, the case's own rules (`domain/cases.py`) still decide what may happen to it.
"""

from __future__ import annotations

from typing import Annotated

from runtime.auth import Principal, Role
from runtime.errors import Message
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


# -- the workspace pages: the same rules, with a refusal that explains itself ----------------------

OFFICE_ROLES = (Role.DISTRICT_OFFICE, Role.CITY_OFFICE)
SEES_CASES = (Role.DISTRICT_OFFICE, Role.CITY_OFFICE, Role.ENTERPRISE)


def cases_refusal(p: Principal) -> Message | None:
    """Who may open the case pages (each in their scope, `case_scope`)."""
    if p.role in SEES_CASES:
        return None
    return Message(
        "曝光案件仅供区县物业办、市物业办和被曝光企业查看",
        "Exposure cases are for the district and city offices and the enterprise concerned",
    )


def case_refusal(
    p: Principal, district_code: str, enterprise_id: str, names: dict[str, str]
) -> Message | None:
    """Why this person may not open this case (None: they may); the API answers 404, a
    signed-in page says why. `names`: district names by code."""
    scope = case_scope(p)
    if scope.by == "all" and p.role is Role.CITY_OFFICE:
        return None
    if scope.by == "district" and district_code == scope.value:
        return None
    if scope.by == "enterprise" and enterprise_id == scope.value:
        return None
    if p.role is Role.DISTRICT_OFFICE:
        theirs = names.get(district_code, district_code)
        mine = names.get(p.district_code or "", p.district_code or "")
        return Message(
            f"此案件属于{theirs}，您所在的{mine}无权查看或处理",
            f"This case belongs to {theirs}; your office ({mine}) may not open or act on it",
        )
    if p.role is Role.ENTERPRISE:
        return Message("此案件不属于您的企业，无权查看", "This case is not your enterprise's")
    return cases_refusal(p) or Message("无权查看此案件", "You may not open this case")


def review_refusal(p: Principal) -> Message | None:
    """Who holds, publishes, withdraws and decides objections (`Office` on the API)."""
    if p.role in OFFICE_ROLES:
        return None
    return Message(
        "只有区县物业办或市物业办可以暂缓、公开、撤下案件或处理异议",
        "Only a district or city office holds, publishes or withdraws a case or decides objections",
    )


def object_refusal(p: Principal) -> Message | None:
    """Who files an objection (`EnterpriseUser` on the API)."""
    if p.role is Role.ENTERPRISE:
        return None
    return Message("只有被曝光企业可以提出异议", "Only the enterprise concerned may object")


def campaign_refusal(p: Principal) -> Message | None:
    """The campaign across districts is the city office's page."""
    if p.role is Role.CITY_OFFICE:
        return None
    return Message(
        "全市专项行动总览仅供市物业办使用", "The city-wide campaign overview is for the city office"
    )


def figures_scope(p: Principal, district_code: str | None) -> str | None:
    """The district whose figures a request shows: the one asked for, else a district office's
    own; None (the city by district) for the city office when none is asked for. Whether the
    person may see it is `figures_refusal`'s."""
    if district_code is None and p.role is Role.DISTRICT_OFFICE:
        return p.district_code
    return district_code


def sees_city_figures(p: Principal) -> bool:
    """The city office chooses among the districts (the figures page links them)."""
    return p.role is Role.CITY_OFFICE


def figures_refusal(p: Principal, district_code: str | None) -> Message | None:
    """The campaign figures in full: the city office for the city (by district) and for any
    district (by enterprise); a district office for its own district's enterprises. The public
    subset is on the board, for everyone."""
    if p.role is Role.CITY_OFFICE:
        return None
    if p.role is Role.DISTRICT_OFFICE and district_code == p.district_code:
        return None
    if p.role is Role.DISTRICT_OFFICE:
        return Message(
            "区县物业办只能查看本区各企业的专项行动数据",
            "A district office sees the campaign figures of its own district's enterprises",
        )
    return Message(
        "专项行动完整数据仅供市、区县物业办查看；公开部分见公开曝光台“专项行动数据”",
        "The full campaign figures are for the city and district offices; the public part is on "
        "the public board's campaign figures page",
    )
