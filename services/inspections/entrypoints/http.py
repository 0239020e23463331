"""HTTP API of the inspections service: a translator between JSON and commands, no rules."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from runtime.errors import InvalidInput, Message, NotFound
from runtime.http import RequestTrace
from runtime.idempotency import IdempotencyKey
from services.inspections.domain import checklist, checklist_choice
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.service.record_inspection import RecordInspection, record_inspection

router = APIRouter(prefix="/api/v1", tags=["inspections"])
EARLIEST_INSPECTION = datetime(2000, 1, 1, tzinfo=UTC)


class ItemResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1, max_length=64)
    result: Literal["pass", "fail", "na"]
    note: str = Field(default="", max_length=500)


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=64)
    kind: Literal["self", "patrol"]
    template_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="检查模板; omitted: the checklist of the project's contracted service grade "
        "(contract-grade-N), the general contract-self-inspection when the grade has none",
    )
    template_version: int | None = Field(
        default=None, ge=1, le=2**31 - 1, description="only with template_id; omitted: the latest"
    )
    inspected_at: AwareDatetime = Field(description="检查时间, with UTC offset; not in the future")
    results: list[ItemResultIn] = Field(min_length=1, max_length=500)


class InspectionOut(BaseModel):
    inspection_id: str
    project_id: str
    kind: str
    template_id: str
    template_version: int
    score: float
    pass_mark: float
    passed: bool
    results: list[dict[str, Any]]
    inspected_at: datetime
    recorded_at: datetime
    contracted_grade: str | None = Field(description="the project's grade when inspected")
    checklist_reason: str = Field(
        description="why this checklist: contract_grade, no_grade_checklist (general fallback), "
        "grade_checklist_missing (general fallback), given (named by the caller)"
    )
    checklist_reason_zh: str
    checklist_reason_en: str


def with_reason(inspection: dict[str, Any]) -> dict[str, Any]:
    """The inspection with why it walked its checklist, in both languages."""
    zh, en = checklist_choice.explain(
        inspection["checklist_reason"], inspection["contracted_grade"], inspection["template_id"]
    )
    return {**inspection, "checklist_reason_zh": zh, "checklist_reason_en": en}


@router.post("/inspections", status_code=201, response_model=InspectionOut)
async def post_inspection(
    body: InspectionIn,
    response: Response,
    principal: policy.Party,
    deps: Deps,
    trace: RequestTrace,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Record a self or patrol inspection; the service computes the score from the item results.
    Without template_id the project's contracted grade picks the checklist; the answer says
    which one and why (checklist_reason)."""
    cmd = RecordInspection(
        project_id=body.project_id,
        kind=body.kind,
        template_id=body.template_id,
        template_version=body.template_version,
        results=tuple(
            checklist.ItemResult(r.item_id, checklist.Result(r.result), r.note)
            for r in body.results
        ),
        inspected_at=body.inspected_at,
        idempotency_key=idempotency_key,
    )
    if not EARLIEST_INSPECTION <= body.inspected_at <= deps.clock.now() + timedelta(days=1):
        raise InvalidInput(
            "inspected_at_out_of_range",
            Message(
                "检查时间不能早于 2000 年，也不能晚于当前时间",
                "inspected_at must lie between 2000 and now",
            ),
            field="inspected_at",
        )
    inspection, created = await record_inspection(
        deps.units(),
        cmd,
        policy.actor_of(principal),
        principal.subject,
        rules=deps.rules,
        trace=trace,
    )
    if not created:
        response.status_code = 200
    return with_reason(inspection)


@router.get("/inspections/{inspection_id}", response_model=InspectionOut)
async def get_inspection(inspection_id: str, principal: policy.Party, deps: Deps) -> dict[str, Any]:
    async with deps.units() as uow:
        inspection = await uow.inspections.get(inspection_id)
        project = await uow.projects.get(inspection["project_id"]) if inspection else None
    # Out-of-scope inspections answer 404 like missing ones, so ids cannot be probed.
    if (
        inspection is None
        or project is None
        or not policy.can_see(principal, project.district_code, project.enterprise_id)
    ):
        raise NotFound("inspection_not_found", Message("检查记录不存在", "inspection not found"))
    return with_reason(inspection)


@router.get("/projects")
async def get_projects(principal: policy.Party, deps: Deps) -> list[dict[str, str | float | None]]:
    async with deps.units() as uow:
        projects = await uow.projects.search(
            district_code=policy.district_scope(principal),
            enterprise_id=policy.enterprise_scope(principal),
        )
    return [dataclasses.asdict(p) for p in projects]
