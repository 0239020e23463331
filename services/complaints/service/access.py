"""Who may see and do what in the complaints service: the scope rules the handlers apply once
they have loaded a complaint or a survey, and the role refusals of the handlers themselves. The
routes' role gates (`entrypoints/policy.py`) say the same from the outside; this module is where
a rule changes.

Scope comes from the caller's principal only, never from a request body. A complaint or survey
outside the caller's scope answers like a missing one (404), so ids cannot be probed.
"""

from __future__ import annotations

from dataclasses import dataclass

from runtime.auth import Principal, Role
from runtime.errors import Forbidden, InvalidInput, Message
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain import survey as survey_model

OFFICES_AND_ENTERPRISES = (Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE)


# --- who the caller is --------------------------------------------------------------------------


def is_owner(principal: Principal) -> bool:
    """An owner (signed in, or the public form and Open311 clients acting for one)."""
    return principal.role is Role.OWNER


# --- complaints ---------------------------------------------------------------------------------


def can_see(principal: Principal, c: complaint_model.Complaint) -> bool:
    """The city office sees all; a district office its district's; an enterprise its projects'
    complaints and those transferred to it."""
    if principal.role is Role.CITY_OFFICE:
        return True
    if principal.role is Role.DISTRICT_OFFICE:
        return principal.district_code == c.district_code
    if principal.role is Role.ENTERPRISE:
        return principal.enterprise_id in (c.enterprise_id, c.handling_org)
    return False


def may_see_contact(principal: Principal, c: complaint_model.Complaint) -> bool:
    """Contact details go to the handling enterprise and the district office, nobody else."""
    if principal.role is Role.DISTRICT_OFFICE:
        return principal.district_code == c.district_code
    if principal.role is Role.ENTERPRISE:
        return principal.enterprise_id == (c.handling_org or c.enterprise_id)
    return False


DEFAULT_HOTLINE_AGENCY = "12345"  # the citizens' hotline's agency id (ComplaintsSettings)
STAFF_CHANNELS: tuple[complaint_model.Channel, ...] = ("phone", "counter")
HOTLINE_CHANNELS: tuple[complaint_model.Channel, ...] = ("hotline",)


@dataclass(frozen=True)
class Registration:
    """Who registered a complaint on an owner's behalf: the person, the kind of organisation and
    which one (the enterprise's id, the district office's org id, the hotline's agency id)."""

    staff_id: str
    registrar: complaint_model.Registrar
    org: str


def filed_by(
    principal: Principal,
    channel: complaint_model.Channel,
    hotline_agency: str = DEFAULT_HOTLINE_AGENCY,
) -> Registration | None:
    """Who may file on which channel: owners on the web (and Open311 clients acting for them);
    on an owner's behalf, enterprise staff and the district office by phone or at the counter
    (walk-in), and the 12345 citizens' hotline on its own channel. Of the outside agencies only
    the one configured as the hotline (`hotline_agency`, its token's `agency` claim) registers;
    every other agency reads what agencies read and files nothing. The person who registers it
    is recorded with the kind of organisation they work for and which one; the city office and
    other roles file nothing."""
    if principal.role is Role.OWNER:
        if channel not in ("web", "open311"):  # open311: a civic app acting for an owner
            raise InvalidInput(
                "owner_channel",
                Message("业主只能通过网上渠道提交投诉", "owners file through the web channel"),
                field="channel",
            )
        return None
    if principal.role in (Role.ENTERPRISE, Role.DISTRICT_OFFICE):
        if channel not in STAFF_CHANNELS:
            raise InvalidInput(
                "staff_channel",
                Message(
                    "工作人员代业主登记须选择电话或窗口（来访）渠道",
                    "staff filing for an owner use the phone or counter (walk-in) channel",
                ),
                field="channel",
            )
        if principal.role is Role.ENTERPRISE:
            return Registration(principal.subject, "enterprise", principal.enterprise_id or "")
        return Registration(
            principal.subject, "district_office", office_org(principal.district_code or "")
        )
    if principal.role is Role.AGENCY:
        require_hotline(principal, hotline_agency)
        if channel not in HOTLINE_CHANNELS:
            raise InvalidInput(
                "hotline_channel",
                Message(
                    "12345 热线只能以热线渠道代业主登记",
                    "the 12345 hotline registers complaints on the hotline channel only",
                ),
                field="channel",
            )
        return Registration(principal.subject, "hotline", principal.agency_id or "")
    raise Forbidden("role_not_allowed", Message("当前角色无权登记投诉", "your role may not file"))


def registration_channels(principal: Principal) -> tuple[complaint_model.Channel, ...]:
    """The channels a person registers an owner's complaint on (`filed_by` admits these and no
    other): enterprise staff and the district office by phone or at the counter, an agency (the
    hotline, once `require_hotline` admits it) on the hotline; nobody else registers."""
    if principal.role in (Role.ENTERPRISE, Role.DISTRICT_OFFICE):
        return STAFF_CHANNELS
    if principal.role is Role.AGENCY:
        return HOTLINE_CHANNELS
    return ()


def hotline_refusal(principal: Principal, hotline_agency: str) -> Message | None:
    """Why this agency may not register complaints (None: it is the hotline)."""
    if principal.role is Role.AGENCY and principal.agency_id == hotline_agency:
        return None
    return Message(
        f"只有 12345 市民服务热线（机构标识 {hotline_agency}）可以代业主登记投诉，贵机构无权登记",
        f"only the 12345 citizens' hotline (agency {hotline_agency}) registers complaints for "
        "owners; your agency may not",
    )


def require_hotline(principal: Principal, hotline_agency: str) -> None:
    refusal = hotline_refusal(principal, hotline_agency)
    if refusal is not None:
        raise Forbidden("not_the_hotline", refusal)


def may_file_for(principal: Principal, enterprise_id: str, district_code: str) -> bool:
    """Enterprise staff file only for their own enterprise's projects, a district office only
    for its district's; owners and the city-wide 12345 hotline for any project."""
    if principal.role is Role.ENTERPRISE:
        return principal.enterprise_id == enterprise_id
    if principal.role is Role.DISTRICT_OFFICE:
        return principal.district_code == district_code
    return True


def require_list_reader(principal: Principal) -> None:
    if principal.role not in OFFICES_AND_ENTERPRISES:
        raise Forbidden("role_not_allowed", Message("当前角色无权查看投诉", "your role may not"))


def require_handler(principal: Principal) -> None:
    """Enterprise staff handle complaints (accept, transfer, reply, extensions)."""
    if principal.role is not Role.ENTERPRISE:
        raise Forbidden(
            "not_enterprise_staff",
            Message("只有物业企业工作人员可以办理投诉", "only enterprise staff handle complaints"),
        )


def office_org(district_code: str) -> str:
    """The organisation id of a district office, as a complaint's handler (自行办理)."""
    return f"district-office-{district_code}"


def require_replier(principal: Principal, c: complaint_model.Complaint) -> None:
    """Enterprise staff reply; the district office only to a complaint it took over (the domain
    then checks that the caller is the responsible person)."""
    office = principal.district_code
    if principal.role is Role.DISTRICT_OFFICE and c.handling_org == office_org(office or ""):
        return
    require_handler(principal)


def require_district_office(principal: Principal) -> None:
    """The district office decides extensions."""
    if principal.role is not Role.DISTRICT_OFFICE:
        raise Forbidden(
            "not_district_office",
            Message("只有区县物业办可以审批延期", "only the district office decides extensions"),
        )


def require_supervisor(principal: Principal) -> None:
    """The district office assigns an escalated complaint (指定办理) or takes it over (自行办理)."""
    if principal.role is not Role.DISTRICT_OFFICE:
        raise Forbidden(
            "not_district_office",
            Message(
                "只有区县物业办可以指定办理单位",
                "only the district office assigns who handles a complaint",
            ),
        )


# --- surveys ------------------------------------------------------------------------------------


def can_see_survey(principal: Principal, survey: survey_model.Survey, district_code: str) -> bool:
    if principal.role is Role.CITY_OFFICE:
        return True
    if principal.role is Role.DISTRICT_OFFICE:
        return principal.district_code == district_code
    if principal.role is Role.ENTERPRISE:
        return principal.enterprise_id == survey.enterprise_id
    return False


def require_survey_runner(principal: Principal) -> None:
    """Enterprises open, hand out tokens for and close their own projects' surveys."""
    if principal.role is not Role.ENTERPRISE or principal.enterprise_id is None:
        raise Forbidden(
            "not_enterprise",
            Message("只有物业企业可以发起和结束满意度调查", "only enterprises run surveys"),
        )


def require_survey_reader(principal: Principal) -> None:
    """Enterprises and the offices read surveys' results and comments, each in their scope."""
    if principal.role not in OFFICES_AND_ENTERPRISES:
        raise Forbidden(
            "role_not_allowed", Message("当前角色无权查看调查结果", "your role may not")
        )


def may_read_enterprise_results(principal: Principal, enterprise_id: str) -> bool:
    """An enterprise reads its own pooled results only (another's answers like a missing one);
    offices read any enterprise's, in their scope. Other roles are refused outright."""
    if principal.role not in OFFICES_AND_ENTERPRISES:
        raise Forbidden(
            "role_not_allowed", Message("当前角色无权查看调查结果", "your role may not")
        )
    return principal.role is not Role.ENTERPRISE or principal.enterprise_id == enterprise_id
