"""Who may see and do what over HTTP: the roles each kind of route admits, and the scope of a
caller (the city office everything, a district office its district, an enterprise its own
projects). The rules themselves are the domain's (`domain.project_registry.can_see`,
`domain.actors.may_record`); this module applies them to a token's principal."""

from __future__ import annotations

from typing import Annotated

from runtime.auth import Principal, Role
from runtime.errors import Message
from runtime.http import require
from services.inspections.domain import actors, project_registry
from services.inspections.service.record_inspection import ITEM_KIND

Party = Annotated[Principal, require(Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
"""The parties of supervision: enterprises and the offices (owners and the public are not)."""
Office = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
CityOffice = Annotated[Principal, require(Role.CITY_OFFICE)]
Enterprise = Annotated[Principal, require(Role.ENTERPRISE)]
DistrictOffice = Annotated[Principal, require(Role.DISTRICT_OFFICE)]
"""Random patrol draws (双随机) are a district office's, for its own district."""
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


# -- the workspace pages: the same rules, with a refusal that explains itself ----------------------

OFFICE_ROLES = (Role.DISTRICT_OFFICE, Role.CITY_OFFICE)


def workspace_refusal(p: Principal) -> Message | None:
    """Today's queue and the patrol are the offices' pages."""
    if p.role in OFFICE_ROLES:
        return None
    return Message(
        "今日待办和巡查仅供区县物业办、市物业办使用",
        "Today's work and patrols are for the district and city offices",
    )


def orders_refusal(p: Principal) -> Message | None:
    """Who reads rectification orders at all: the parties of supervision (the API's `Party`:
    an enterprise its own, the offices their scope); owners and outside agencies none."""
    if p.role in (Role.ENTERPRISE, *OFFICE_ROLES):
        return None
    return Message("您的角色无权查看整改单", "Your role may not open rectification orders")


def order_refusal(
    p: Principal, district_code: str, district_name: str, enterprise_id: str, my_district: str
) -> Message | None:
    """Why this person may not open this order (None: they may); the API answers such an order
    with 404, a signed-in page says why."""
    if can_see(p, district_code, enterprise_id):
        return None
    if p.role is Role.DISTRICT_OFFICE:
        return Message(
            f"此整改单属于{district_name}，您所在的{my_district}无权查看或验收",
            f"This order belongs to {district_name}; your office ({my_district}) "
            "may not open or verify it",
        )
    if p.role is Role.ENTERPRISE:
        return Message("此整改单不属于您的企业，无权查看", "This order is not your enterprise's")
    return Message("您的角色无权查看整改单", "Your role may not open rectification orders")


def _message(refusal: actors.Refusal | None) -> Message | None:
    return None if refusal is None else Message(refusal.zh, refusal.en)


def decide_refusal(p: Principal) -> Message | None:
    """Who verifies or rejects a rectification (`actors.may_decide_rectification`, which
    `rectifications.decide` applies)."""
    return _message(actors.may_decide_rectification(actor_of(p)))


def patrol_refusal(p: Principal, district_code: str, enterprise_id: str) -> Message | None:
    """Whether this person may patrol this project (`actors.may_record`, kind patrol)."""
    return _message(actors.may_record(actor_of(p), "patrol", district_code, enterprise_id))


def sees_photo_location(p: Principal, district_code: str) -> bool:
    """The inspector's original photo (with its GPS) goes only to the project's district office;
    everyone else allowed to see the record gets the re-encoded image without EXIF."""
    return p.role is Role.DISTRICT_OFFICE and p.district_code == district_code


PUBLIC_PHOTO_VARIANTS = frozenset({"image", "thumbnail"})  # never "original"


def publicly_served(owner_kind: str, variant: str, *, named_by_published_case: bool) -> bool:
    """The public (no sign-in) gets an inspection item's photo only while a published exposure
    case names it, and only the re-encoded image or its thumbnail (no EXIF), never the inspector's
    original; a draft's photo or an enterprise's evidence never. Owners' photos are not stored by
    this service at all."""
    return named_by_published_case and owner_kind == ITEM_KIND and variant in PUBLIC_PHOTO_VARIANTS


def submit_refusal(p: Principal, enterprise_id: str) -> Message | None:
    """Who submits a rectification (`actors.may_submit_rectification`, which
    `rectifications.submit` applies)."""
    return _message(actors.may_submit_rectification(actor_of(p), enterprise_id))


NO_DISTRICT = Message("您的账号未设置所属区县", "your account has no district")


def draw_refusal(p: Principal) -> Message | None:
    """Who draws patrols at random: a district office, in its own district."""
    if p.role is Role.DISTRICT_OFFICE and p.district_code:
        return None
    return Message(
        "只有区县物业办可以在本区抽取巡查项目和检查人员",
        "only a district office draws patrols, in its own district",
    )


def roster_refusal(p: Principal) -> Message | None:
    """Who keeps a roster of inspectors for the draws: a district office, its own district's
    (the city office reads every district's)."""
    if p.role is Role.DISTRICT_OFFICE and p.district_code:
        return None
    return Message(
        "只有区县物业办可以维护本区的检查人员名单",
        "only a district office keeps its district's roster of inspectors",
    )


def facility_write_refusal(p: Principal) -> Message | None:
    """Who registers facilities and records their services: an enterprise, for its own projects
    (`actors.may_keep_facilities`, which `statutory_intervals.register` / `record_service`
    apply)."""
    return _message(actors.may_keep_facilities(actor_of(p)))


def facilities_refusal(p: Principal) -> Message | None:
    """Who sees the statutory-interval tracker: enterprises (their own), the offices (a district
    office its district, the city office all); owners and outside agencies nothing of it."""
    if p.role in (Role.ENTERPRISE, *OFFICE_ROLES):
        return None
    return Message("您的角色无权查看设施维保", "Your role may not see facility servicing")
