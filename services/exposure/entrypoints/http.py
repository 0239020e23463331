"""HTTP API of the exposure service: the collected evidence, visible only to the supervising
offices (each district office its own district's)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from services.exposure.entrypoints import policy
from services.exposure.entrypoints.deps import Deps

router = APIRouter(prefix="/api/v1", tags=["exposure"])


@router.get("/evidence")
async def list_evidence(
    deps: Deps,
    principal: policy.Office,
    project_id: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=200),
) -> list[dict[str, Any]]:
    async with deps.case_queries() as queries:
        return await queries.evidence(
            district_code=policy.evidence_district(principal), project_id=project_id, limit=limit
        )
