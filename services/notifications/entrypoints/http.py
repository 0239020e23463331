"""HTTP API of the notifications service.

- The in-app inbox: each recipient (enterprise, district office, city office, signed-in owner)
  lists its own copies of notices and marks them read.
- A notice's history: what was sent to whom, when, through which channel, with which result —
  for its recipients, the district office of its district and the city office.
- Endpoints: a recipient registers where else its notices go (e-mail, signed webhook), for
  itself only; an enterprise also for its projects' managers.
- Criticisms: the register of circulated criticism notices (通报批评) with their numbers; the
  drafts the ladder wrote, which the district office signs off (numbered and issued) or withdraws;
  an issued criticism as an official document (PDF).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from runtime import documents
from runtime.auth import Principal
from runtime.errors import Message, NotFound, Unavailable
from runtime.http import CurrentPrincipal
from services.notifications.domain import signing
from services.notifications.domain.notices import Draft
from services.notifications.entrypoints import policy
from services.notifications.entrypoints.deps import Deps, NotificationsDeps
from services.notifications.service import criticisms, endpoints
from services.notifications.service import inbox as inboxes

router = APIRouter(prefix="/api/v1", tags=["notices"])

NoticeId = Annotated[str, Path(min_length=1, max_length=64)]


class NoticeOut(BaseModel):
    notice_id: str
    kind: str
    reason: str
    notice_no: str | None
    subject_kind: str
    subject_id: str
    project_id: str | None
    enterprise_id: str | None
    district_code: str | None
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str
    issued_at: datetime
    correlation_id: str
    cc: bool
    read_at: datetime | None


@router.get("/notices", summary="我的通知 The caller's inbox, newest first")
async def list_notices(
    deps: Deps,
    principal: CurrentPrincipal,
    kind: Literal["notice", "reminder", "criticism"] | None = None,
    unread: bool = False,
    project_id: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=200),
) -> list[NoticeOut]:
    rows = await inboxes.copies(
        deps.units(),
        policy.inbox_of(principal),
        kind=kind,
        unread=unread,
        project_id=project_id,
        limit=limit,
    )
    return [NoticeOut(**r) for r in rows]


class ReadOut(BaseModel):
    notice_id: str
    read_at: datetime


@router.post("/notices/{notice_id}/read", summary="标记已读 Mark the caller's copy read")
async def mark_read(deps: Deps, principal: CurrentPrincipal, notice_id: NoticeId) -> ReadOut:
    recipient = policy.inbox_of(principal)
    read_at = await inboxes.mark_read(deps.units(), notice_id, recipient)
    return ReadOut(notice_id=notice_id, read_at=read_at)


@router.get("/notices/{notice_id}", summary="通知及投递记录 A notice with its delivery history")
async def notice_history(
    deps: Deps, principal: CurrentPrincipal, notice_id: NoticeId
) -> dict[str, Any]:
    found = await inboxes.history(deps.units(), notice_id)
    # Someone who may not see it learns nothing, not even that it exists.
    if found is None or not policy.may_see_history(principal, found.notice, found.copies):
        raise NotFound("notice_not_found", Message("通知不存在", "no such notice"))
    by_copy: dict[str, list[dict[str, Any]]] = {}
    for d in found.deliveries:
        item = dict(d)
        by_copy.setdefault(item.pop("copy_id"), []).append(item)
    out = dict(found.notice)
    out["recipients"] = [
        {
            **c,
            "inbox": "in_app",
            "deliveries": by_copy.get(c["copy_id"], [])
            if policy.sees_deliveries_of(principal, c)
            else [],
        }
        for c in found.copies
    ]
    return out


@router.get("/criticisms", summary="通报批评登记 The register of circulated criticisms")
async def list_criticisms(
    deps: Deps,
    principal: policy.Office,
    year: int | None = Query(default=None, ge=2000, le=2100),
    limit: int = Query(default=100, ge=1, le=500),
) -> list[dict[str, Any]]:
    """District offices see their district's, enterprises those addressed to them, the city all."""
    return await inboxes.criticisms(
        deps.units(), policy.office_scope(principal), year=year, limit=limit
    )


# -- endpoints ----------------------------------------------------------------------------------


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_kind: Literal["enterprise", "manager", "district", "city"] = Field(
        description="收件方: enterprise, manager (a project's manager), district, city"
    )
    recipient_id: str = Field(
        min_length=1,
        max_length=64,
        description="enterprise id, project id (manager), district code, or 'city'",
    )
    channel: Literal["email", "webhook"]
    address: str = Field(min_length=3, max_length=500, description="e-mail address or https URL")


class EndpointOut(BaseModel):
    endpoint_id: str
    recipient_kind: str
    recipient_id: str
    channel: str
    address: str
    created_at: datetime
    webhook_secret: str | None = Field(
        default=None, description="签名密钥 Shown once, at registration, for webhooks"
    )


@router.post("/endpoints", status_code=201, summary="登记通知渠道 Register an e-mail or webhook")
async def create_endpoint(deps: Deps, principal: policy.Office, body: EndpointIn) -> EndpointOut:
    key = deps.webhook_signing_key
    if body.channel == "webhook" and not key:
        raise Unavailable(
            "webhooks_not_configured",
            Message("系统未配置回调签名密钥", "webhook signing is not configured"),
        )
    address = await endpoints.checked_address(
        body.channel,
        body.address,
        allow_http=deps.settings.webhook_allow_http,
        allowed=deps.webhook_destinations,
    )
    owner = (
        await endpoints.project_owner(deps.units(), body.recipient_id)
        if body.recipient_kind == "manager"
        else None
    )
    policy.check_registration(principal, body.recipient_kind, body.recipient_id, owner)
    registered = await endpoints.register(
        deps.units(),
        recipient_kind=body.recipient_kind,
        recipient_id=body.recipient_id,
        channel=body.channel,
        address=address,
        created_by=principal.subject,
        owner_enterprise_id=policy.registering_enterprise(principal),
    )
    out = EndpointOut(
        endpoint_id=registered.endpoint_id,
        recipient_kind=registered.recipient_kind,
        recipient_id=registered.recipient_id,
        channel=registered.channel,
        address=registered.address,
        created_at=registered.created_at,
    )
    if out.channel == "webhook":
        out.webhook_secret = signing.endpoint_secret(key, out.endpoint_id)
    return out


@router.get("/endpoints", summary="本单位的通知渠道 The caller's registered channels")
async def list_endpoints(deps: Deps, principal: policy.Office) -> list[EndpointOut]:
    found = await endpoints.active(deps.units(), policy.office_scope(principal))
    return [
        EndpointOut(
            endpoint_id=e.endpoint_id,
            recipient_kind=e.recipient_kind,
            recipient_id=e.recipient_id,
            channel=e.channel,
            address=e.address,
            created_at=e.created_at,
        )
        for e in found
    ]


@router.delete("/endpoints/{endpoint_id}", status_code=204, summary="停用通知渠道 Disable")
async def disable_endpoint(
    deps: Deps, principal: policy.Office, endpoint_id: Annotated[str, Path(max_length=64)]
) -> None:
    if not await endpoints.disable(deps.units(), endpoint_id, policy.office_scope(principal)):
        raise NotFound("endpoint_not_found", Message("通知渠道不存在", "no such endpoint"))


# -- criticism drafts: the district office signs off or withdraws -------------------------------

DraftId = Annotated[str, Path(min_length=1, max_length=64)]


class DraftOut(BaseModel):
    draft_id: str = Field(description="草稿编号; the id of the notice it becomes when signed off")
    rule_id: str
    reason: str
    subject_kind: str
    subject_id: str
    project_id: str | None
    enterprise_id: str | None
    district_code: str | None
    title_zh: str = Field(description="标题（预览，文号签发时编定） Title preview, no number yet")
    body_zh: str = Field(description="正文预览 Body preview")
    drafted_at: datetime
    status: Literal["draft", "issued", "withdrawn"]
    decided_at: datetime | None
    withdraw_reason: str | None
    notice_no: str | None = Field(description="文号 once signed off")

    @classmethod
    def of(cls, d: Draft) -> DraftOut:
        return cls(
            draft_id=d.draft_id,
            rule_id=d.rule_id,
            reason=d.reason,
            subject_kind=d.subject_kind,
            subject_id=d.subject_id,
            project_id=d.project_id,
            enterprise_id=d.enterprise_id,
            district_code=d.district_code,
            title_zh=d.title_zh,
            body_zh=d.body_zh,
            drafted_at=d.drafted_at,
            status=d.status,
            decided_at=d.decided_at,
            withdraw_reason=d.withdraw_reason,
            notice_no=d.notice_no,
        )


@router.get("/criticism-drafts", summary="通报批评草稿 Criticism drafts, oldest first")
async def list_drafts(
    deps: Deps,
    principal: policy.Offices,
    status: Literal["draft", "issued", "withdrawn"] = "draft",
    limit: int = Query(default=100, ge=1, le=500),
) -> list[DraftOut]:
    """A district office its district's, the city office every district's."""
    found = await criticisms.drafts(
        deps.units(), policy.drafts_scope(principal), status=status, limit=limit
    )
    return [DraftOut.of(d) for d in found]


@router.get("/criticism-drafts/{draft_id}", summary="通报批评草稿 One draft")
async def get_draft(deps: Deps, principal: policy.Offices, draft_id: DraftId) -> DraftOut:
    return DraftOut.of(
        await criticisms.get_draft(deps.units(), draft_id, policy.drafts_scope(principal))
    )


class SignedOffOut(BaseModel):
    notice_id: str
    notice_no: str = Field(description="文号 The number taken at sign-off")
    issued_at: datetime
    title_zh: str


@router.post(
    "/criticism-drafts/{draft_id}/sign-off",
    summary="签发通报批评 Sign off: number, issue and send the criticism",
)
async def sign_off(deps: Deps, principal: policy.DistrictOffice, draft_id: DraftId) -> SignedOffOut:
    """Only the district office of the draft's district. In one transaction: the next number of
    the district and year, the criticism to its recipients, `NoticeIssued`."""
    notice = await criticisms.sign_off(
        deps.units(),
        deps.book,
        draft_id,
        district_code=policy.signing_district(principal),
        by=principal.subject,
    )
    assert notice.notice_no is not None
    return SignedOffOut(
        notice_id=notice.notice_id,
        notice_no=notice.notice_no,
        issued_at=notice.issued_at,
        title_zh=notice.title_zh,
    )


class WithdrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500, description="撤回理由 Why it is withdrawn")


@router.post("/criticism-drafts/{draft_id}/withdraw", summary="撤回通报批评草稿 Withdraw a draft")
async def withdraw(
    deps: Deps, principal: policy.DistrictOffice, draft_id: DraftId, body: WithdrawIn
) -> DraftOut:
    """Only the district office of the draft's district; the draft never gets a number."""
    withdrawn = await criticisms.withdraw(
        deps.units(),
        draft_id,
        district_code=policy.signing_district(principal),
        by=principal.subject,
        reason=body.reason,
    )
    return DraftOut.of(withdrawn)


@router.get(
    "/criticisms/{notice_id}/document.pdf",
    summary="通报批评公文 The issued criticism as an official document (PDF)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
)
async def criticism_document(
    deps: Deps, principal: CurrentPrincipal, notice_id: NoticeId
) -> Response:
    """For whoever may see the notice: its recipients, its district's office, the city office."""
    return await criticism_pdf(deps, principal, notice_id)


async def criticism_pdf(deps: NotificationsDeps, principal: Principal, notice_id: str) -> Response:
    """The one handler of the API's and the workspace's document route."""
    found = await criticisms.document(deps.units(), notice_id)
    if found is None or not policy.may_see_history(principal, found.notice, found.copies):
        raise NotFound("criticism_not_found", Message("通报批评不存在", "no such criticism"))
    pdf = await asyncio.to_thread(documents.render_pdf, found.document)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": documents.content_disposition(
                f"{found.notice['notice_no']}.pdf"
            ),
            "Cache-Control": "private, no-store",
        },
    )
