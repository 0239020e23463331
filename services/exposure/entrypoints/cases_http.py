"""Office API of the exposure service: district offices review cases (hold, confirm, withdraw) and
decide objections; enterprises see their own cases and object; the city office sees and does all.
The public board is `board.py`; this API is for signed-in offices only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from runtime.auth import Principal, Role
from runtime.errors import InvalidInput, Message, NotFound
from runtime.http import require
from services.exposure.domain.cases import Policy
from services.exposure.service import cases

router = APIRouter(prefix="/api/v1", tags=["exposure cases"])

Office = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
Anyone = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE, Role.ENTERPRISE)]
EnterpriseUser = Annotated[Principal, require(Role.ENTERPRISE)]
CaseId = Annotated[str, Path(min_length=1, max_length=64)]
Status = Literal["opened", "in_review", "held", "published", "withdrawn"]

CASE_COLUMNS = """c.case_id, c.project_id, c.project_name, c.enterprise_id, c.enterprise_name,
    c.district_code, c.reason, c.tier, c.order_id, c.inspection_id, c.items, c.deadline,
    c.notice_no, c.status, c.review_ends_at, c.published_at, c.min_until, c.max_until,
    c.rectified_at, c.withdrawn_at, c.withdraw_reason, c.opened_at, c.updated_at"""


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.runtime.pool
    return pool


def _policy(request: Request) -> Policy:
    policy: Policy = request.app.state.runtime.extras["publication_policy"]
    return policy


def _district(principal: Principal) -> str | None:
    return principal.district_code if principal.role is Role.DISTRICT_OFFICE else None


def _scope(principal: Principal) -> tuple[str, str | None]:
    if principal.role is Role.ENTERPRISE:
        return "c.enterprise_id = $1", principal.enterprise_id
    if principal.role is Role.DISTRICT_OFFICE:
        return "c.district_code = $1", principal.district_code
    return "$1::text IS NULL", None


@router.get("/cases", summary="曝光案件 Cases in scope (all states)")
async def list_cases(
    request: Request,
    principal: Anyone,
    status: Status | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> list[dict[str, Any]]:
    where, arg = _scope(principal)
    async with _pool(request).acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT {CASE_COLUMNS} FROM cases c
                 WHERE {where} AND ($2::text IS NULL OR c.status = $2)
                 ORDER BY c.updated_at DESC, c.case_id LIMIT $3""",
            arg,
            status,
            limit,
        )
    return [cases.case_row(r) for r in rows]


@router.get("/cases/{case_id}", summary="案件详情 A case with its timeline and objections")
async def get_case(request: Request, principal: Anyone, case_id: CaseId) -> dict[str, Any]:
    where, arg = _scope(principal)
    async with _pool(request).acquire() as conn:
        row = await conn.fetchrow(
            f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.case_id = $2 AND {where}", arg, case_id
        )
        if row is None:
            raise NotFound("case_not_found", Message("案件不存在", "no such case"))
        timeline = await conn.fetch(
            """SELECT event_type, at, title_zh, title_en, detail_zh, detail_en
                 FROM case_timeline WHERE case_id = $1 ORDER BY at, event_id""",
            case_id,
        )
        objections = await conn.fetch(
            """SELECT objection_id, enterprise_id, grounds, filed_at, status, decision_reason,
                      decided_at FROM objections WHERE case_id = $1 ORDER BY filed_at""",
            case_id,
        )
    out = cases.case_row(row)
    out["timeline"] = [dict(t) for t in timeline]
    out["objections"] = [dict(o) for o in objections]
    return out


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["hold", "confirm"] = Field(description="hold 暂缓公开 / confirm 确认公开")
    note: str = Field(default="", max_length=500)


@router.post("/cases/{case_id}/review", summary="复核 Hold or confirm publication")
async def review_case(
    request: Request, principal: Office, case_id: CaseId, body: ReviewIn
) -> dict[str, Any]:
    await cases.review(
        _pool(request),
        _policy(request),
        case_id,
        decision=body.decision,
        note=body.note,
        district_code=_district(principal),
        now=request.app.state.runtime.clock.now(),
    )
    return await get_case(request, principal, case_id)


@router.post("/cases/{case_id}/withdraw", summary="撤下 Withdraw a case")
async def withdraw_case(request: Request, principal: Office, case_id: CaseId) -> dict[str, Any]:
    await cases.withdraw(
        _pool(request),
        case_id,
        district_code=_district(principal),
        now=request.app.state.runtime.clock.now(),
    )
    return await get_case(request, principal, case_id)


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grounds: str = Field(min_length=1, max_length=2000, description="异议理由")


@router.post(
    "/cases/{case_id}/objections", status_code=201, summary="提出异议 The enterprise objects"
)
async def file_objection(
    request: Request, principal: EnterpriseUser, case_id: CaseId, body: ObjectionIn
) -> dict[str, Any]:
    assert principal.enterprise_id is not None
    if not body.grounds.strip():
        raise InvalidInput(
            "empty_grounds", Message("请填写异议理由", "give the grounds"), field="grounds"
        )
    objection_id = await cases.object_to(
        _pool(request),
        case_id,
        enterprise_id=principal.enterprise_id,
        grounds=body.grounds.strip(),
        now=request.app.state.runtime.clock.now(),
    )
    return {"objection_id": objection_id, "case": await get_case(request, principal, case_id)}


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upheld: bool = Field(description="异议是否成立: true withdraws the case")
    reason: str = Field(min_length=1, max_length=1000, description="理由")


@router.post(
    "/cases/{case_id}/objections/{objection_id}/decision",
    summary="异议处理 The district decides an objection",
)
async def decide_objection(
    request: Request,
    principal: Office,
    case_id: CaseId,
    objection_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: DecisionIn,
) -> dict[str, Any]:
    await cases.decide_objection(
        _pool(request),
        case_id,
        objection_id,
        upheld=body.upheld,
        reason=body.reason,
        district_code=_district(principal),
        now=request.app.state.runtime.clock.now(),
    )
    return await get_case(request, principal, case_id)
