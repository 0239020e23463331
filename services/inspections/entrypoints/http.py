"""HTTP API of the inspections service: a translator between JSON and commands, no rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from runtime.auth import Principal, Role
from runtime.errors import InvalidInput, Message, NotFound
from runtime.http import require
from runtime.idempotency import IdempotencyKey
from services.inspections.adapters import repository
from services.inspections.domain import checklist, policy
from services.inspections.service.record_inspection import RecordInspection, record_inspection

router = APIRouter(prefix="/api/v1", tags=["inspections"])
EARLIEST_INSPECTION = datetime(2000, 1, 1, tzinfo=UTC)

Inspector = Annotated[Principal, require(Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]


class ItemResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(min_length=1, max_length=64)
    result: Literal["pass", "fail", "na"]
    note: str = Field(default="", max_length=500)


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=64)
    kind: Literal["self", "patrol"]
    template_id: str = Field(min_length=1, max_length=64)
    template_version: int | None = Field(default=None, ge=1, le=2**31 - 1)
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


def actor_of(p: Principal) -> policy.Actor:
    return policy.Actor(
        role=p.role.value, district_code=p.district_code, enterprise_id=p.enterprise_id
    )


@router.post("/inspections", status_code=201, response_model=InspectionOut)
async def post_inspection(
    body: InspectionIn,
    request: Request,
    response: Response,
    principal: Inspector,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any]:
    """Record a self or patrol inspection; the service computes the score from the item results."""
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
    runtime = request.app.state.runtime
    now = runtime.clock.now()
    if not EARLIEST_INSPECTION <= body.inspected_at <= now + timedelta(days=1):
        raise InvalidInput(
            "inspected_at_out_of_range",
            Message(
                "检查时间不能早于 2000 年,也不能晚于当前时间",
                "inspected_at must lie between 2000 and now",
            ),
            field="inspected_at",
        )
    inspection, created = await record_inspection(
        runtime.pool,
        cmd,
        actor_of(principal),
        principal.subject,
        rules=runtime.extras["rules"],
        now=now,
    )
    if not created:
        response.status_code = 200
    return inspection


@router.get("/inspections/{inspection_id}", response_model=InspectionOut)
async def get_inspection(
    inspection_id: str, request: Request, principal: Inspector
) -> dict[str, Any]:
    async with request.app.state.runtime.pool.acquire() as conn:
        inspection = await repository.get_inspection(conn, inspection_id)
        project = (
            await repository.get_project(conn, inspection["project_id"]) if inspection else None
        )
    # Out-of-scope inspections answer 404 like missing ones, so ids cannot be probed.
    if inspection is None or project is None or not _can_see(principal, project):
        raise NotFound("inspection_not_found", Message("检查记录不存在", "inspection not found"))
    return inspection


@router.get("/projects")
async def get_projects(request: Request, principal: Inspector) -> list[dict[str, str]]:
    district = principal.district_code if principal.role is Role.DISTRICT_OFFICE else None
    enterprise = principal.enterprise_id if principal.role is Role.ENTERPRISE else None
    async with request.app.state.runtime.pool.acquire() as conn:
        projects = await repository.list_projects(
            conn, district_code=district, enterprise_id=enterprise
        )
    return [p.__dict__ for p in projects]


def _can_see(p: Principal, project: repository.Project) -> bool:
    if p.role is Role.CITY_OFFICE:
        return True
    if p.role is Role.DISTRICT_OFFICE:
        return p.district_code == project.district_code
    return p.role is Role.ENTERPRISE and p.enterprise_id == project.enterprise_id
