"""The complaints service's authorization policy as the routes see it: which roles may call a
route at all (401 without a token, 403 for another role), and what a response may show. The
rules themselves (scope by district and enterprise, contact visibility, who files on which
channel) are `service.access`, applied by the handlers once they have loaded what is asked for;
routes never repeat them.
"""

from __future__ import annotations

from typing import Annotated

from runtime.auth import Principal, Role
from runtime.errors import DomainError, Message
from runtime.http import require
from services.complaints.domain import complaint as complaint_model
from services.complaints.service import access
from services.complaints.service.ports import Project

# --- who may call -------------------------------------------------------------------------------

Filer = Annotated[
    Principal, require(Role.OWNER, Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.AGENCY)
]
"""Owners (web) file complaints; enterprise staff and the district office (phone, counter) and
the 12345 hotline (the outside agency configured as the hotline, its own channel) register them
on an owner's behalf; other agencies pass this gate and are refused by `access.filed_by`."""
Reader = Annotated[Principal, require(Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
"""Enterprises and offices read complaints and survey results in their scope."""
Enterprise = Annotated[Principal, require(Role.ENTERPRISE)]
"""Enterprise staff handle complaints and run surveys."""
Replier = Annotated[Principal, require(Role.ENTERPRISE, Role.DISTRICT_OFFICE)]
"""Enterprise staff reply; a district office to a complaint it took over (自行办理)."""
District = Annotated[Principal, require(Role.DISTRICT_OFFICE)]
"""The district office decides extensions and assigns or takes over escalated complaints."""


# --- what a response may show -------------------------------------------------------------------


def shows_contact(principal: Principal, c: complaint_model.Complaint) -> bool:
    """The detail view carries the owner's contact details only for those who handle it."""
    return c.contact is not None and access.may_see_contact(principal, c)


# --- the workspace pages: the same rules, with a refusal that explains itself -------------------

DESK_ROLES = (Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE)


def desk_refusal(p: Principal) -> Message | None:
    """The complaints pages are for enterprises and the offices (`access.require_list_reader`)."""
    if p.role in DESK_ROLES:
        return None
    return Message(
        "投诉工作台仅供物业企业、区县物业办和市物业办使用",
        "The complaints desk is for property enterprises and the district and city offices",
    )


def complaint_refusal(p: Principal, c: complaint_model.Complaint) -> Message | None:
    """Why this person may not open this complaint (None: they may); the API answers such a
    complaint with 404, a signed-in page says why (`access.can_see`)."""
    if access.can_see(p, c):
        return None
    if p.role is Role.ENTERPRISE:
        return Message(
            "此投诉不属于贵单位，无权查看或办理",
            "This complaint is not your enterprise's; you may not open or handle it",
        )
    if p.role is Role.DISTRICT_OFFICE:
        return Message(
            "此投诉属于其他区县，贵办无权查看", "This complaint belongs to another district"
        )
    return Message("您的角色无权查看投诉", "Your role may not open complaints")


def handle_refusal(p: Principal) -> Message | None:
    """Who accepts, replies, transfers and asks for extensions (`access.require_handler`)."""
    try:
        access.require_handler(p)
    except DomainError as exc:
        return exc.message
    return None


def extension_decision_refusal(p: Principal) -> Message | None:
    """Who approves or refuses an extension (`access.require_district_office`)."""
    try:
        access.require_district_office(p)
    except DomainError as exc:
        return exc.message
    return None


def assign_refusal(p: Principal) -> Message | None:
    """Who assigns an escalated complaint (`access.require_supervisor`)."""
    try:
        access.require_supervisor(p)
    except DomainError as exc:
        return exc.message
    return None


REGISTRAR_ROLES = (Role.DISTRICT_OFFICE, Role.AGENCY)


def register_refusal(p: Principal, hotline_agency: str) -> Message | None:
    """The registration desk (代业主登记) is the district office's and the 12345 hotline's, the
    one agency configured as the hotline (`access.hotline_refusal`); enterprise staff register
    at their own desk through the API (`access.filed_by`)."""
    if p.role is Role.AGENCY:
        return access.hotline_refusal(p, hotline_agency)
    if p.role in REGISTRAR_ROLES:
        return None
    return Message(
        "代业主登记页面仅供区县物业办和 12345 热线使用",
        "The registration desk is for the district offices and the 12345 hotline",
    )


def register_channels(p: Principal) -> tuple[complaint_model.Channel, ...]:
    """The channels the registration desk offers this person (`access.registration_channels`)."""
    return access.registration_channels(p)


def may_register_for(p: Principal, project: Project) -> bool:
    """Whether the registration desk lists this project for this person: a district office its
    district's, the hotline any (`access.may_file_for`, which filing checks again)."""
    return access.may_file_for(p, project.enterprise_id, project.district_code)


def sees_escalations(p: Principal) -> bool:
    """The desk shows the offices their escalated complaints (overdue, reopened, extensions to
    decide); an enterprise sees its own complaints to handle."""
    return p.role in (Role.DISTRICT_OFFICE, Role.CITY_OFFICE)


def reply_refusal(p: Principal, c: complaint_model.Complaint) -> Message | None:
    """Who replies (`access.require_replier`): enterprise staff, an office it took over."""
    try:
        access.require_replier(p, c)
    except DomainError as exc:
        return exc.message
    return None


def survey_refusal(p: Principal) -> Message | None:
    """Who hands out survey tokens (`access.require_survey_runner`)."""
    try:
        access.require_survey_runner(p)
    except DomainError as exc:
        return exc.message
    return None
