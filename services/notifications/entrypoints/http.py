"""HTTP API of the notifications service: each recipient reads its own inbox of notices."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter, Query, Request

from runtime.auth import Role
from runtime.http import CurrentPrincipal

router = APIRouter(prefix="/api/v1", tags=["notices"])


@router.get("/notices")
async def list_notices(
    request: Request,
    principal: CurrentPrincipal,
    project_id: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=200),
) -> list[dict[str, Any]]:
    """Enterprises see notices addressed to them; district offices those of their district."""
    if principal.role is Role.ENTERPRISE:
        where, arg = "recipient_kind = 'enterprise' AND recipient_id = $1", principal.enterprise_id
    elif principal.role is Role.DISTRICT_OFFICE:
        where, arg = "district_code = $1", principal.district_code
    elif principal.role is Role.CITY_OFFICE:
        where, arg = "$1::text IS NULL", None
    else:
        return []
    pool: asyncpg.Pool = request.app.state.runtime.pool
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT notice_id, kind, recipient_kind, recipient_id, district_code, project_id,
                       title_zh, body_zh, title_en, body_en, correlation_id, created_at, read_at
                  FROM notices WHERE {where} AND ($2::text IS NULL OR project_id = $2)
                 ORDER BY created_at DESC LIMIT $3""",
            arg,
            project_id,
            limit,
        )
    return [dict(r) for r in rows]
