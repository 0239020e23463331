"""HTTP API for rectification orders and scheduled patrols: translators, no rules."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from runtime import attachments, documents
from runtime.auth import Principal
from runtime.errors import InvalidInput, Message, NotFound
from runtime.http import RequestTrace
from services.inspections.entrypoints import policy, uploads
from services.inspections.entrypoints.deps import Deps, InspectionsDeps
from services.inspections.service import rectifications
from services.inspections.service.ports import OrderRow

router = APIRouter(prefix="/api/v1", tags=["rectifications"])


class SubmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    evidence_text: str = Field(min_length=1, max_length=2000, description="整改情况说明")
    photo_refs: list[str] = Field(default_factory=list, max_length=9, description="照片引用")


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["verify", "reject"]
    reason: str = Field(default="", max_length=1000, description="退回理由 (required to reject)")


class OrderOut(BaseModel):
    order_id: str
    inspection_id: str
    project_id: str
    project_name: str
    enterprise_id: str
    enterprise_name: str
    district_code: str
    items: list[dict[str, Any]]
    severity: str
    status: str
    status_zh: str
    ordered_at: datetime
    deadline: datetime
    submissions: int
    rejections: int
    overdue: bool
    overdue_at: datetime | None
    verified_at: datetime | None
    on_time: bool | None
    history: list[dict[str, Any]] | None = None


STATUS_ZH = {
    "ordered": "待整改",
    "submitted": "待验收",
    "verified": "验收合格",
    "rejected": "退回重改",
    "inadequate": "整改不到位",
}


def _out(row: OrderRow, history: list[dict[str, Any]] | None = None) -> OrderOut:
    o = row.order
    return OrderOut(
        order_id=o.order_id,
        inspection_id=row.inspection_id,
        project_id=row.project_id,
        project_name=row.project_name,
        enterprise_id=row.enterprise_id,
        enterprise_name=row.enterprise_name,
        district_code=row.district_code,
        items=row.items,
        severity=row.severity,
        status=o.status.value,
        status_zh=STATUS_ZH[o.status.value],
        ordered_at=o.ordered_at,
        deadline=o.deadline,
        submissions=o.submissions,
        rejections=o.rejections,
        overdue=o.overdue_at is not None,
        overdue_at=o.overdue_at,
        verified_at=o.verified_at,
        on_time=o.on_time,
        history=history,
    )


@router.get("/rectifications", response_model=list[OrderOut])
async def list_orders(
    principal: policy.Party,
    deps: Deps,
    project_id: str | None = Query(default=None, max_length=64),
    status: Literal["ordered", "submitted", "verified", "rejected", "inadequate"] | None = None,
    overdue: bool | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> list[OrderOut]:
    """Orders in the caller's scope: an enterprise its own, a district office its district's."""
    async with deps.units() as uow:
        rows = await uow.orders.search(
            district_code=policy.district_scope(principal),
            enterprise_id=policy.enterprise_scope(principal),
            project_id=project_id,
            status=status,
            overdue=overdue,
            limit=limit,
        )
    return [_out(r) for r in rows]


@router.get("/rectifications/{order_id}", response_model=OrderOut)
async def get_order(order_id: str, principal: policy.Party, deps: Deps) -> OrderOut:
    async with deps.units() as uow:
        row = await uow.orders.get(order_id)
        if row is None or not policy.can_see(principal, row.district_code, row.enterprise_id):
            raise NotFound(
                "order_not_found", Message("整改单不存在", "rectification order not found")
            )
        history = await uow.orders.history(order_id)
    return _out(row, history)


@router.get(
    "/rectifications/{order_id}/document.pdf",
    summary="整改通知书 The order as an official document (PDF)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF"}},
)
async def order_document(order_id: str, principal: policy.Party, deps: Deps) -> Response:
    """For whoever may see the order: its enterprise, its district's office, the city office."""
    return await order_pdf(deps, principal, order_id)


async def order_pdf(deps: InspectionsDeps, principal: Principal, order_id: str) -> Response:
    """The one handler of the API's and the workspace's document route."""
    found = await rectifications.order_document(deps.units(), order_id[:64])
    if found is None or not policy.can_see(
        principal, found.row.district_code, found.row.enterprise_id
    ):
        raise NotFound("order_not_found", Message("整改单不存在", "rectification order not found"))
    pdf = await asyncio.to_thread(documents.render_pdf, found.document)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": documents.content_disposition(f"{found.document.number}.pdf"),
            "Cache-Control": "private, no-store",
        },
    )


@router.post("/rectifications/{order_id}/submissions", response_model=OrderOut, status_code=201)
async def submit(
    order_id: str,
    body: SubmissionIn,
    principal: policy.Enterprise,
    deps: Deps,
    trace: RequestTrace,
) -> OrderOut:
    """The enterprise submits its rectification with evidence (text and photo references)."""
    row = await rectifications.submit(
        deps.units(),
        order_id,
        policy.actor_of(principal),
        principal.subject,
        evidence_text=body.evidence_text,
        photo_refs=body.photo_refs,
        trace=trace,
    )
    return _out(row)


@router.post(
    "/rectifications/{order_id}/submissions/with-photos",
    response_model=OrderOut,
    status_code=201,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["evidence_text"],
                        "properties": {
                            "evidence_text": {"type": "string", "maxLength": 2000},
                            "photos": {
                                "type": "array",
                                "maxItems": attachments.DEFAULT_LIMITS.max_count,
                                "items": {"type": "string", "format": "binary"},
                            },
                        },
                    }
                }
            },
        }
    },
)
async def submit_with_photos(
    order_id: str, request: Request, principal: policy.Enterprise, deps: Deps, trace: RequestTrace
) -> OrderOut:
    """整改提交并上传照片 The enterprise submits with evidence photos (JPEG, PNG or WebP, at most 9
    of 15 MB; type sniffed from the bytes; stored re-encoded, in the submission's transaction;
    the event carries their references). A refused photo submits nothing: 422 naming
    `photos.<n>`."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidInput(
            "multipart_required",
            Message("请以 multipart/form-data 提交", "send multipart/form-data"),
            field="content-type",
        )
    parsed = await uploads.parse_multipart(request)
    if isinstance(parsed, Message):
        raise InvalidInput("bad_upload", parsed, field="photos")
    fields, files = parsed
    prepared = await asyncio.to_thread(
        attachments.prepare_all, files.get("photos", []), where="photos"
    )
    row = await rectifications.submit(
        deps.units(),
        order_id,
        policy.actor_of(principal),
        principal.subject,
        evidence_text=fields.get("evidence_text", ""),
        photo_refs=[],
        photos=prepared,
        trace=trace,
    )
    return _out(row)


@router.post("/rectifications/{order_id}/decision", response_model=OrderOut)
async def decide(
    order_id: str, body: DecisionIn, principal: policy.Office, deps: Deps, trace: RequestTrace
) -> OrderOut:
    """The district office verifies (验收合格) or rejects (退回) with a reason; the second
    rejection closes the order as 整改不到位."""
    row = await rectifications.decide(
        deps.units(),
        order_id,
        policy.actor_of(principal),
        principal.subject,
        decision=body.decision,
        reason=body.reason,
        trace=trace,
    )
    return _out(row)


@router.get("/patrols/scheduled")
async def scheduled_patrols(
    principal: policy.Office,
    deps: Deps,
    status: Literal["open", "done"] | None = None,
) -> list[dict[str, Any]]:
    """Scheduled patrols: origin `complaint` (after repeated or overdue complaints) or
    `random_draw` (a district office's draw, with its `draw_id` and `inspector_ids`)."""
    async with deps.units() as uow:
        return await uow.patrols.search(
            district_code=policy.district_scope(principal), status=status
        )
