"""Office API of the exposure service: district offices review cases (hold, confirm, withdraw) and
decide objections; enterprises see their own cases and object; the city office sees and does all
(`policy.py`). The public board is `board.py`; this API is for signed-in offices only."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from runtime.auth import Principal
from runtime.errors import InvalidInput, Message, NotFound
from runtime.http import RequestTrace
from services.exposure.entrypoints import policy
from services.exposure.entrypoints.deps import Deps, ExposureDeps
from services.exposure.service import commands

router = APIRouter(prefix="/api/v1", tags=["exposure cases"])

CaseId = Annotated[str, Path(min_length=1, max_length=64)]
Status = Literal["opened", "in_review", "held", "published", "withdrawn"]


@router.get("/cases", summary="曝光案件 Cases in scope (all states)")
async def list_cases(
    deps: Deps,
    principal: policy.Anyone,
    status: Status | None = None,
    limit: int = Query(default=100, ge=1, le=500),
) -> list[dict[str, Any]]:
    async with deps.case_queries() as queries:
        return await queries.cases(policy.case_scope(principal), status=status, limit=limit)


async def _case(deps: ExposureDeps, principal: Principal, case_id: str) -> dict[str, Any]:
    async with deps.case_queries() as queries:
        found = await queries.case(case_id, policy.case_scope(principal))
    if found is None:
        raise NotFound("case_not_found", Message("案件不存在", "no such case"))
    return found


@router.get("/cases/{case_id}", summary="案件详情 A case with its timeline and objections")
async def get_case(deps: Deps, principal: policy.Anyone, case_id: CaseId) -> dict[str, Any]:
    return await _case(deps, principal, case_id)


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: Literal["hold", "confirm"] = Field(description="hold 暂缓公开 / confirm 确认公开")
    note: str = Field(default="", max_length=500)


@router.post("/cases/{case_id}/review", summary="复核 Hold or confirm publication")
async def review_case(
    deps: Deps, trace: RequestTrace, principal: policy.Office, case_id: CaseId, body: ReviewIn
) -> dict[str, Any]:
    await commands.review(
        deps.units(),
        case_id,
        decision=body.decision,
        note=body.note,
        district_code=policy.acting_district(principal),
        trace=trace,
    )
    return await _case(deps, principal, case_id)


@router.post("/cases/{case_id}/withdraw", summary="撤下 Withdraw a case")
async def withdraw_case(
    deps: Deps, trace: RequestTrace, principal: policy.Office, case_id: CaseId
) -> dict[str, Any]:
    await commands.withdraw(
        deps.units(), case_id, district_code=policy.acting_district(principal), trace=trace
    )
    return await _case(deps, principal, case_id)


class ObjectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    grounds: str = Field(min_length=1, max_length=2000, description="异议理由")


@router.post(
    "/cases/{case_id}/objections", status_code=201, summary="提出异议 The enterprise objects"
)
async def file_objection(
    deps: Deps,
    trace: RequestTrace,
    principal: policy.EnterpriseUser,
    case_id: CaseId,
    body: ObjectionIn,
) -> dict[str, Any]:
    enterprise_id = policy.objecting_enterprise(principal)
    if not body.grounds.strip():
        raise InvalidInput(
            "empty_grounds", Message("请填写异议理由", "give the grounds"), field="grounds"
        )
    objection_id = await commands.object_to(
        deps.units(),
        case_id,
        enterprise_id=enterprise_id,
        grounds=body.grounds.strip(),
        trace=trace,
    )
    return {"objection_id": objection_id, "case": await _case(deps, principal, case_id)}


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upheld: bool = Field(description="异议是否成立: true withdraws the case")
    reason: str = Field(min_length=1, max_length=1000, description="理由")


@router.post(
    "/cases/{case_id}/objections/{objection_id}/decision",
    summary="异议处理 The district decides an objection",
)
async def decide_objection(
    deps: Deps,
    trace: RequestTrace,
    principal: policy.Office,
    case_id: CaseId,
    objection_id: Annotated[str, Path(min_length=1, max_length=64)],
    body: DecisionIn,
) -> dict[str, Any]:
    await commands.decide_objection(
        deps.units(),
        case_id,
        objection_id,
        upheld=body.upheld,
        reason=body.reason,
        district_code=policy.acting_district(principal),
        trace=trace,
    )
    return await _case(deps, principal, case_id)
