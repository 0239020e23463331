"""HTTP API for complaints: intake, the owner's follow-up by token, staff handling. Translators
only; the rules are in the domain and the service handlers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from runtime import attachments
from runtime.auth import Principal
from runtime.http import RequestTrace
from runtime.idempotency import IdempotencyKey
from runtime.ratelimit import rate_limit
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain import owner_input
from services.complaints.entrypoints import policy
from services.complaints.entrypoints.deps import Deps
from services.complaints.entrypoints.photo_links import photo_list
from services.complaints.entrypoints.policy import District, Enterprise, Filer, Reader, Replier
from services.complaints.service import handling, intake, photos
from services.complaints.service.ports import Row

router = APIRouter(prefix="/api/v1", tags=["complaints"])
REPLAYED_HEADER = "Idempotent-Replayed"

# The follow-up token travels in a header, never in the URL (URLs end up in logs and histories).
Token = Annotated[
    str,
    Header(alias="X-Complaint-Token", min_length=16, max_length=128, description="跟进凭证"),
]
StatusName = Literal["filed", "accepted", "replied", "reopened", "closed"]

STATUS_ZH = {
    "filed": "待企业签收",
    "accepted": "办理中",
    "replied": "已答复，待评价",
    "reopened": "重新办理",
    "closed": "已办结",
}


CALENDAR_DOC = (
    "时限依据的日历 The calendar the {clock} deadline was counted on: 'official:<year>@<fingerprint>', "
    "'provisional:holidays-<version>:<year>' (no official file for that year yet: statutory "
    "holidays only, 调休 unknown), 'elapsed' (a limit in minutes), several joined with '+'."
)


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=owner_input.MAX_NAME, description="联系人")
    phone: str | None = Field(default=None, max_length=32, description="联系电话")


class ComplaintIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=64, description="项目编号")
    category: str = Field(min_length=1, max_length=64, description="投诉类别")
    urgency: Literal["normal", "urgent"] | None = Field(default=None, description="紧急程度")
    description: str = Field(min_length=1, max_length=4000, description="投诉内容")
    channel: Literal["web", "phone", "counter", "hotline"] = Field(
        default="web", description="受理渠道: owners web; staff phone, counter; 12345 hotline"
    )
    address: str | None = Field(default=None, max_length=owner_input.MAX_ADDRESS * 2)
    answers: dict[str, str | bool] = Field(default_factory=dict, max_length=20)
    photo_refs: list[str] = Field(default_factory=list, max_length=owner_input.MAX_PHOTOS)
    contact: ContactIn | None = Field(default=None, description="联系方式（可匿名）")


class FiledOut(BaseModel):
    complaint_id: str
    ticket_no: str
    token: str = Field(
        description=(
            "跟进凭证 Shown once: keep it to follow the complaint up. A replay (same "
            "Idempotency-Key) answers with a new token that replaces the earlier one."
        )
    )
    replayed: bool = Field(
        default=False,
        description="重放 True when this answers a retry with an Idempotency-Key already used.",
    )
    status: str
    acceptance_deadline: datetime
    completion_deadline: datetime
    acceptance_deadline_calendar: str | None = Field(
        default=None, description=CALENDAR_DOC.format(clock="acceptance")
    )
    completion_deadline_calendar: str | None = Field(
        default=None, description=CALENDAR_DOC.format(clock="completion")
    )


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_org: str = Field(min_length=1, max_length=64, description="转办对象单位编号")
    reason: str = Field(min_length=1, max_length=1000, description="转办理由")


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=4000, description="答复内容")


class ExtensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    working_days: int = Field(ge=1, le=complaint_model.MAX_EXTENSION_DAYS, description="延期工作日")
    reason: str = Field(min_length=1, max_length=1000, description="延期理由")


class ExtensionDecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    approve: bool


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    satisfied: bool
    rating: int = Field(ge=1, le=5, description="评分 1-5")
    comment: str | None = Field(default=None, max_length=1000)


def _common(row: Row) -> dict[str, Any]:
    c = row.complaint
    return {
        "complaint_id": c.complaint_id,
        "ticket_no": row.ticket_no,
        "project_id": c.project_id,
        "category": c.category,
        "urgency": c.urgency,
        "channel": c.channel,
        "status": c.status.value,
        "status_zh": STATUS_ZH[c.status.value],
        "filed_at": c.filed_at,
        "acceptance_deadline": c.acceptance.deadline,
        "completion_deadline": c.completion.deadline,
        "acceptance_deadline_calendar": c.acceptance.calendar,
        "completion_deadline_calendar": c.completion.calendar,
        "acceptance_overdue": c.acceptance.overdue_at is not None,
        "completion_overdue": c.completion.overdue_at is not None,
        "replied_at": c.replied_at,
        "reopen_count": c.reopen_count,
        "closed_at": c.closed_at,
        "close_reason": c.close_reason,
    }


def staff_view(row: Row, principal: Principal, *, detail: bool) -> dict[str, Any]:
    """Lists never carry contact details; the detail view only for its handlers (and office)."""
    c = row.complaint
    out = {
        **_common(row),
        "enterprise_id": c.enterprise_id,
        "district_code": c.district_code,
        "anonymous": c.anonymous,
        "responsible_staff_id": c.responsible.staff_id if c.responsible else None,
        "responsible_org_id": c.responsible.org_id if c.responsible else None,
        "handling_org": c.handling_org,
        "transfer_count": len(c.transfers),
        "escalated_at": c.escalated_at,
        "assigned_at": c.assignment.at if c.assignment else None,
    }
    if detail:
        out |= {
            "description": c.description,
            "address": c.address,
            "answers": dict(c.answers),
            "photo_refs": list(c.photo_refs),
            "filed_by": c.filed_by,
            "registered_by": c.registered_by,
            "registered_org": c.registered_org,
            "transfers": [
                {
                    "from_org": t.from_org,
                    "to_org": t.to_org,
                    "by": t.by,
                    "reason": t.reason,
                    "at": t.at,
                }
                for t in c.transfers
            ],
            "assignment": vars(c.assignment) if c.assignment else None,
            "replies": [{"by": r.by, "text": r.text, "at": r.at} for r in c.replies],
            "feedback": [
                {"satisfied": f.satisfied, "rating": f.rating, "comment": f.comment, "at": f.at}
                for f in c.feedback
            ],
            "extensions": [
                {
                    "requested_by": e.requested_by,
                    "working_days": e.working_days,
                    "reason": e.reason,
                    "decision": e.decision,
                    "requested_at": e.requested_at,
                    "decided_at": e.decided_at,
                }
                for e in c.extensions
            ],
        }
        if policy.shows_contact(principal, c) and c.contact is not None:
            out["contact"] = {"name": c.contact.name, "phone": c.contact.phone}
    return out


def _owner_view(row: Row) -> dict[str, Any]:
    c = row.complaint
    return {
        **_common(row),
        "description": c.description,
        "replies": [{"text": r.text, "at": r.at} for r in c.replies],
        "feedback": [
            {"satisfied": f.satisfied, "rating": f.rating, "comment": f.comment, "at": f.at}
            for f in c.feedback
        ],
        "awaiting_feedback": c.status is complaint_model.Status.REPLIED,
    }


@router.post(
    "/complaints",
    response_model=FiledOut,
    status_code=201,
    responses={200: {"model": FiledOut, "description": "A replay of an Idempotency-Key"}},
    dependencies=[rate_limit("intake")],  # public intake: per client, per replica
)
async def file_complaint(
    body: ComplaintIn,
    response: Response,
    principal: Filer,
    deps: Deps,
    trace: RequestTrace,
    idempotency_key: IdempotencyKey = None,
) -> FiledOut:
    """An owner files (web); enterprise staff and the district office (its district's) register
    for an owner by phone or at the counter, the 12345 hotline (the agency `HOTLINE_AGENCY_ID`
    names; any other agency: 403 `not_the_hotline`) on the `hotline` channel: one intake (SLA,
    tiers, first inquiry). The follow-up token comes once. A retry with the same
    `Idempotency-Key` (per caller) files nothing new: 200 with the first complaint, `replayed:
    true`, header `Idempotent-Replayed: true` and a new follow-up token that replaces the earlier
    one. The same key with a different body: 409 `idempotency_key_reused`."""
    return await file_with(body, (), response, principal, deps, trace, idempotency_key)


async def file_with(
    body: ComplaintIn,
    prepared: tuple[attachments.Prepared, ...],
    response: Response,
    principal: Principal,
    deps: Deps,
    trace: RequestTrace,
    idempotency_key: str | None,
) -> FiledOut:
    """Filing as `file_complaint` does, with photos already checked (`photos_http`)."""
    contact = body.contact
    filed = await intake.file(
        deps.units(),
        deps.rules,
        principal,
        intake.Intake(
            project_id=body.project_id,
            category=body.category,
            description=body.description,
            channel=body.channel,
            urgency=body.urgency,
            contact_name=contact.name if contact else None,
            contact_phone=contact.phone if contact else None,
            address=body.address,
            answers=body.answers,
            photo_refs=tuple(body.photo_refs),
            photos=prepared,
        ),
        trace=trace,
        idempotency_key=idempotency_key,
        hotline_agency=deps.settings.hotline_agency_id,
    )
    c = filed.complaint
    if filed.replayed:
        response.status_code = 200
        response.headers[REPLAYED_HEADER] = "true"
    return FiledOut(
        complaint_id=c.complaint_id,
        ticket_no=filed.ticket_no,
        token=filed.token,
        status=c.status.value,
        acceptance_deadline=c.acceptance.deadline,
        completion_deadline=c.completion.deadline,
        acceptance_deadline_calendar=c.acceptance.calendar,
        completion_deadline_calendar=c.completion.calendar,
        replayed=filed.replayed,
    )


@router.get("/complaints/by-token")
async def by_token(deps: Deps, token: Token) -> dict[str, Any]:
    """The owner follows their complaint up with the token given at filing."""
    row = await handling.get_by_token(deps.units(), token)
    return _owner_view(row)


@router.post("/complaints/by-token/feedback")
async def give_feedback(
    body: FeedbackIn, deps: Deps, trace: RequestTrace, token: Token
) -> dict[str, Any]:
    """The owner rates the reply: satisfied closes, dissatisfied reopens to the same person."""
    row = await handling.feedback(
        deps.units(),
        deps.rules,
        token,
        satisfied=body.satisfied,
        rating=body.rating,
        comment=body.comment,
        trace=trace,
    )
    return _owner_view(row)


@router.get("/complaints")
async def list_complaints(
    deps: Deps,
    principal: Reader,
    status: StatusName | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> list[dict[str, Any]]:
    """Complaints in the caller's scope, without contact details."""
    rows = await handling.list_for(deps.units(), principal, status=status, limit=limit)
    return [staff_view(r, principal, detail=False) for r in rows]


@router.get("/complaints/{complaint_id}")
async def get_complaint(complaint_id: str, deps: Deps, principal: Reader) -> dict[str, Any]:
    row = await handling.get(deps.units(), principal, complaint_id)
    refs = await photos.listed(deps.units(), principal, complaint_id)
    return {**staff_view(row, principal, detail=True), "photos": photo_list(complaint_id, refs)}


@router.post("/complaints/{complaint_id}/accept")
async def accept(
    complaint_id: str, deps: Deps, trace: RequestTrace, principal: Enterprise
) -> dict[str, Any]:
    """签收: the first acceptor becomes the responsible person until closure."""
    row = await handling.accept(deps.units(), principal, complaint_id, trace=trace)
    return staff_view(row, principal, detail=True)


@router.post("/complaints/{complaint_id}/transfer")
async def transfer(
    complaint_id: str, body: TransferIn, deps: Deps, trace: RequestTrace, principal: Enterprise
) -> dict[str, Any]:
    row = await handling.transfer(
        deps.units(),
        deps.rules,
        principal,
        complaint_id,
        to_org=body.to_org,
        reason=body.reason,
        trace=trace,
    )
    return staff_view(row, principal, detail=True)


@router.post("/complaints/{complaint_id}/reply")
async def reply(
    complaint_id: str, body: ReplyIn, deps: Deps, trace: RequestTrace, principal: Replier
) -> dict[str, Any]:
    row = await handling.reply(
        deps.units(), deps.rules, principal, complaint_id, text=body.text, trace=trace
    )
    return staff_view(row, principal, detail=True)


@router.post("/complaints/{complaint_id}/extensions")
async def request_extension(
    complaint_id: str, body: ExtensionIn, deps: Deps, trace: RequestTrace, principal: Enterprise
) -> dict[str, Any]:
    row = await handling.request_extension(
        deps.units(),
        principal,
        complaint_id,
        working_days=body.working_days,
        reason=body.reason,
        trace=trace,
    )
    return staff_view(row, principal, detail=True)


@router.post("/complaints/{complaint_id}/extensions/decision")
async def decide_extension(
    complaint_id: str,
    body: ExtensionDecisionIn,
    deps: Deps,
    trace: RequestTrace,
    principal: District,
) -> dict[str, Any]:
    row = await handling.decide_extension(
        deps.units(), deps.rules, principal, complaint_id, approve=body.approve, trace=trace
    )
    return staff_view(row, principal, detail=True)
