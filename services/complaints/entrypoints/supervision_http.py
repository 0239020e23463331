"""HTTP API of the district office's supervision of complaints: 指定办理, its answer to a complaint
escalated for being passed on too often (首问责任). Translators only: the rule is the domain's
`complaint.assign`, run by `service.handling.assign` (the workspace page's button runs it too)."""

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
