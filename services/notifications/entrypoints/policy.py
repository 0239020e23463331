"""Who may read and manage what in the notifications service: one policy, used by every route.

- An inbox is its owner's alone: an enterprise's, a district office's, the city office's, a
  signed-in owner's.
- A notice's history: its recipients, the district office of its district, the city office;
  offices see every delivery, a recipient only its own addresses and results.
- Offices manage their own endpoints; an enterprise also its projects' managers' (the project's
  enterprise today). The criticism register: a district office its district's, an enterprise those
  addressed to it, the city all.
- Criticism drafts: a district office signs off or withdraws its district's drafts (no one else
  does); the city office reads every district's drafts; enterprises never see a draft.
- An issued criticism's official document (PDF): whoever may see the notice's history.
"""

from __future__ import annotations

from typing import Annotated

from runtime.auth import Principal, Role
from runtime.errors import Forbidden, Message
from runtime.http import require
from services.notifications.domain.rules import CITY
from services.notifications.service.ports import Row, Scope

Recipient = tuple[str, str]

# --- who may call -------------------------------------------------------------------------------

Office = Annotated[Principal, require(Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
"""Those who manage endpoints and read a notice's history: enterprises and the offices."""
Offices = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
"""The supervising offices: they read criticism drafts (`drafts_scope`)."""
DistrictOffice = Annotated[Principal, require(Role.DISTRICT_OFFICE)]
"""A district office signs off or withdraws its district's drafts (`signing_district`)."""


def inbox_of(principal: Principal) -> Recipient:
    """Whose inbox the caller reads: its own, never another's."""
    if principal.role is Role.ENTERPRISE and principal.enterprise_id:
        return ("enterprise", principal.enterprise_id)
    if principal.role is Role.DISTRICT_OFFICE and principal.district_code:
        return ("district", principal.district_code)
    if principal.role is Role.CITY_OFFICE:
        return ("city", CITY)
    if principal.role is Role.OWNER:
        return ("owner", principal.subject)
    raise Forbidden("no_inbox", Message("当前角色没有通知收件箱", "your role has no notice inbox"))


def inbox_refusal(principal: Principal) -> Message | None:
    """Why the workspace's notices page is not for this person (None: it is). The same rule as
    the inbox API: a staff member with an inbox (enterprise, district office, city office)."""
    if principal.role in (Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE):
        try:
            inbox_of(principal)
        except Forbidden as exc:
            return exc.message
        return None
    return Message(
        "通知工作台仅供物业企业、区县物业办和市物业办使用",
        "The notices workspace is for enterprises, district offices and the city office",
    )


def _is_office(principal: Principal) -> bool:
    return principal.role in (Role.CITY_OFFICE, Role.DISTRICT_OFFICE)


def may_see_history(principal: Principal, notice: Row, copies: list[Row]) -> bool:
    if principal.role is Role.CITY_OFFICE:
        return True
    if principal.role is Role.DISTRICT_OFFICE:
        return bool(notice["district_code"] == principal.district_code)
    try:
        mine = inbox_of(principal)
    except Forbidden:
        return False
    return any((c["recipient_kind"], c["recipient_id"]) == mine for c in copies)


def sees_deliveries_of(principal: Principal, copy: Row) -> bool:
    """Offices see every delivery; a recipient sees only its own addresses and results."""
    if _is_office(principal):
        return True
    return (copy["recipient_kind"], copy["recipient_id"]) == inbox_of(principal)


def office_scope(principal: Principal) -> Scope:
    """The part an office (enterprise, district or city office) sees and manages."""
    if principal.role is Role.CITY_OFFICE:
        return Scope("city", None)
    if principal.role is Role.DISTRICT_OFFICE:
        return Scope("district", principal.district_code)
    return Scope("enterprise", principal.enterprise_id)


def check_registration(
    principal: Principal, recipient_kind: str, recipient_id: str, project_owner: str | None
) -> None:
    """An office registers channels for itself only; an enterprise also for the managers of the
    projects it runs (`project_owner`: the project's enterprise today, None if unknown)."""
    refused = Forbidden(
        "not_your_recipient",
        Message("只能为本单位登记通知渠道", "you may register channels only for yourself"),
        field="recipient_id",
    )
    if principal.role is Role.CITY_OFFICE:
        if recipient_kind != "city" or recipient_id != CITY:
            raise refused
    elif principal.role is Role.DISTRICT_OFFICE:
        if recipient_kind != "district" or recipient_id != principal.district_code:
            raise refused
    elif recipient_kind == "enterprise":
        if recipient_id != principal.enterprise_id:
            raise refused
    elif recipient_kind == "manager":
        if project_owner is None or project_owner != principal.enterprise_id:
            raise refused
    else:
        raise refused


def registering_enterprise(principal: Principal) -> str | None:
    """The enterprise an endpoint is registered by (it may later manage its managers'
    endpoints): an enterprise's own; None for the offices."""
    return principal.enterprise_id if principal.role is Role.ENTERPRISE else None


def drafts_scope(principal: Principal) -> Scope:
    """Whose criticism drafts the caller reads: a district office its district's, the city all."""
    if principal.role is Role.DISTRICT_OFFICE and principal.district_code:
        return Scope("district", principal.district_code)
    if principal.role is Role.CITY_OFFICE:
        return Scope("city", None)
    raise Forbidden(
        "not_an_office",
        Message("通报批评草稿仅供区县物业办和市物业办查看", "criticism drafts are for the offices"),
    )


def signing_district(principal: Principal) -> str:
    """The district whose drafts the caller may sign off or withdraw: a district office's own."""
    if principal.role is Role.DISTRICT_OFFICE and principal.district_code:
        return principal.district_code
    raise Forbidden(
        "not_the_district_office",
        Message(
            "只有区县物业办可以签发或撤回本区的通报批评",
            "only the district office signs off or withdraws its district's criticisms",
        ),
    )
