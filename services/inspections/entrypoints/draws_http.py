"""HTTP API of random patrol draws (双随机、一公开): a district office draws in its district;
the offices read draws (a district office its own) with a re-run that checks the result."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import Forbidden
from runtime.http import RequestTrace
from services.inspections.domain.patrol_draw import MAX_INSPECTORS, Inspector
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.service import patrol_draws
from services.inspections.service.ports import DrawRow

router = APIRouter(prefix="/api/v1", tags=["patrol draws"])


class InspectorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inspector_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=50, description="姓名 kept by this service only")
    conflicts: list[str] = Field(
        default=[],
        max_length=200,
        description="回避 enterprise or project ids this inspector must not inspect",
    )


class DrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inspectors: list[InspectorIn] = Field(min_length=1, max_length=MAX_INSPECTORS)
    project_count: int = Field(ge=1, le=200)
    inspectors_per_project: int = Field(default=2, ge=1, le=5)
    exclusion_days: int = Field(default=90, ge=0, le=365)
    patrol_within_days: int = Field(default=14, ge=1, le=90)


class DrawOut(BaseModel):
    draw_id: str
    district_code: str
    drawn_by: str
    drawn_at: datetime
    algorithm: str
    seed: str
    project_count: int
    inspectors_per_project: int
    exclusion_days: int
    due_by: datetime
    inputs: dict[str, Any]
    patrols: list[dict[str, Any]]
    verified: bool = Field(description="re-running the inputs with the seed gives this result")


def out(row: DrawRow, status: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    patrols = [{**p, **(status or {}).get(p["project_id"], {})} for p in row.result]
    return {
        "draw_id": row.draw_id,
        "district_code": row.district_code,
        "drawn_by": row.drawn_by,
        "drawn_at": row.drawn_at,
        "algorithm": row.algorithm,
        "seed": row.seed,
        "project_count": row.project_count,
        "inspectors_per_project": row.inspectors_per_project,
        "exclusion_days": row.exclusion_days,
        "due_by": row.due_by,
        "inputs": row.inputs,
        "patrols": patrols,
        "verified": patrol_draws.verify(row),
    }


@router.post("/patrol-draws", status_code=201, response_model=DrawOut)
async def post_draw(
    body: DrawIn, principal: policy.DistrictOffice, deps: Deps, trace: RequestTrace
) -> dict[str, Any]:
    """Draw projects of the caller's district and inspectors from the roster given."""
    refusal = policy.draw_refusal(principal)
    if refusal is not None or principal.district_code is None:
        raise Forbidden("draw_forbidden", refusal or policy.NO_DISTRICT)
    cmd = patrol_draws.DrawPatrols(
        district_code=principal.district_code,
        inspectors=tuple(
            Inspector(i.inspector_id, i.name.strip(), frozenset(i.conflicts))
            for i in body.inspectors
        ),
        project_count=body.project_count,
        inspectors_per_project=body.inspectors_per_project,
        exclusion_days=body.exclusion_days,
        patrol_within_days=body.patrol_within_days,
    )
    row = await patrol_draws.draw_patrols(
        deps.units(), cmd, drawn_by=principal.subject, trace=trace
    )
    return out(row)


@router.get("/patrol-draws", response_model=list[DrawOut])
async def list_draws(
    principal: policy.Office, deps: Deps, limit: int = Query(default=50, ge=1, le=200)
) -> list[dict[str, Any]]:
    async with deps.units() as uow:
        rows = await uow.draws.search(district_code=policy.district_scope(principal), limit=limit)
    return [out(r) for r in rows]


@router.get("/patrol-draws/{draw_id}", response_model=DrawOut)
async def get_draw(draw_id: str, principal: policy.Office, deps: Deps) -> dict[str, Any]:
    """The draw, its patrols' status, and whether a re-run gives the same result."""
    row = await patrol_draws.get_draw(deps.units(), draw_id, policy.district_scope(principal))
    async with deps.units() as uow:
        status = await uow.draws.patrol_status(draw_id)
    return out(row, status)
