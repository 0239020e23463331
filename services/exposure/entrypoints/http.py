"""HTTP API of the exposure service. Until the public board exists (issue 6), the collected
evidence is visible only to the supervising offices."""

from __future__ import annotations

import json
from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Query, Request

from runtime.auth import Principal, Role
from runtime.http import require

router = APIRouter(prefix="/api/v1", tags=["exposure"])

Supervisor = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]


@router.get("/evidence")
async def list_evidence(
    request: Request,
    principal: Supervisor,
    project_id: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=200),
) -> list[dict[str, Any]]:
    district = principal.district_code if principal.role is Role.DISTRICT_OFFICE else None
    pool: asyncpg.Pool = request.app.state.runtime.pool
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT evidence_id, source_type, project_id, project_name, enterprise_id,
                      enterprise_name, district_code, inspection_id, score, failed_items,
                      occurred_at, correlation_id, recorded_at
                 FROM evidence
                WHERE ($1::text IS NULL OR district_code = $1)
                  AND ($2::text IS NULL OR project_id = $2)
                ORDER BY occurred_at DESC LIMIT $3""",
            district,
            project_id,
            limit,
        )
    out = []
    for r in rows:
        item = dict(r)
        item["failed_items"] = json.loads(item["failed_items"])
        item["score"] = float(item["score"]) if item["score"] is not None else None
        out.append(item)
    return out
