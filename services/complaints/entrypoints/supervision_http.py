"""HTTP API of the district office's supervision of complaints: 指定办理 and 自行办理, its answers to
a complaint escalated for being passed on too often (首问责任). Translators only: the rules are the
domain's `complaint.assign` and `complaint.take_over`, run by `service.handling` (the workspace
page's buttons run them too)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from runtime.http import RequestTrace
from services.complaints.entrypoints.complaints_http import staff_view
from services.complaints.entrypoints.deps import Deps
from services.complaints.entrypoints.policy import District
from services.complaints.service import handling

router = APIRouter(prefix="/api/v1", tags=["complaints"])


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_org: str = Field(
        min_length=1,
        max_length=64,
        description="指定办理单位 Organisation id (naming the one handling it now orders it to)",
    )
    reason: str = Field(min_length=1, max_length=1000, description="指定理由")


@router.post("/complaints/{complaint_id}/assignment")
async def assign(
    complaint_id: str, body: AssignmentIn, deps: Deps, trace: RequestTrace, principal: District
) -> dict[str, Any]:
    """指定办理: the district office names who handles a complaint escalated for being passed on
    too often; it cannot be transferred again."""
    row = await handling.assign(
        deps.units(), principal, complaint_id, to_org=body.to_org, reason=body.reason, trace=trace
    )
    return staff_view(row, principal, detail=True)


class TakeOverIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=1000, description="自行办理理由")


@router.post("/complaints/{complaint_id}/takeover")
async def take_over(
    complaint_id: str, body: TakeOverIn, deps: Deps, trace: RequestTrace, principal: District
) -> dict[str, Any]:
    """自行办理: the district office takes over a complaint escalated for being passed on too
    often; the officer becomes the responsible person (首问责任人) and replies to the owner
    (`POST /complaints/{id}/reply`); it cannot be transferred or assigned again."""
    row = await handling.take_over(
        deps.units(), principal, complaint_id, reason=body.reason, trace=trace
    )
    return staff_view(row, principal, detail=True)
