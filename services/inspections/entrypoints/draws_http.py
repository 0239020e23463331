"""HTTP API of random patrol draws (双随机、一公开): a district office draws in its district;
the offices read draws (a district office its own) with a re-run that checks the result."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field

from runtime.auth import Principal
from runtime.errors import Forbidden, Message
from runtime.http import RequestTrace
from services.inspections.domain import patrol_draw
from services.inspections.domain.patrol_draw import MAX_INSPECTORS, Inspector
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.service import patrol_draws
from services.inspections.service.ports import DrawRow

router = APIRouter(prefix="/api/v1", tags=["patrol draws"])


# an enterprise or project id to avoid: the same form as the ids the draw publishes (an empty
# or spaced one would pass here and fail the event's contract inside the transaction: a 500)
ConflictId = Annotated[str, Field(pattern=patrol_draw.ID_PATTERN)]


class InspectorIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inspector_id: str = Field(min_length=1, max_length=64, pattern=patrol_draw.ID_PATTERN)
    name: str = Field(min_length=1, max_length=50, description="姓名 kept by this service only")
    conflicts: list[ConflictId] = Field(
        default=[],
        max_length=200,
        description="回避 enterprise or project ids this inspector must not inspect",
    )


class DrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inspectors: list[InspectorIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_INSPECTORS,
        description="omitted: the district's active roster (GET /api/v1/draw-roster)",
    )
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
    """Draw projects of the caller's district and inspectors from the roster given, or from the
    district's active roster when none is given (the draw's inputs keep a copy of it)."""
    refusal = policy.draw_refusal(principal)
    if refusal is not None or principal.district_code is None:
        raise Forbidden("draw_forbidden", refusal or policy.NO_DISTRICT)
    cmd = patrol_draws.DrawPatrols(
        district_code=principal.district_code,
        inspectors=None
        if body.inspectors is None
        else tuple(
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


# --- the district offices' rosters for the draws ---------------------------------------------


class RosterEntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inspector_id: str = Field(min_length=1, max_length=64, pattern=patrol_draw.ID_PATTERN)
    name: str = Field(min_length=1, max_length=patrol_draw.MAX_NAME, description="姓名")
    conflicts: list[str] = Field(
        default=[],
        max_length=patrol_draw.MAX_CONFLICTS,
        description="回避: enterprise or project ids this inspector must not inspect",
    )


class RosterEntryOut(BaseModel):
    district_code: str
    inspector_id: str
    name: str
    conflicts: list[str]
    active: bool
    added_by: str
    added_at: datetime
    deactivated_by: str | None
    deactivated_at: datetime | None


def _district(principal: Principal) -> str:
    refusal = policy.roster_refusal(principal)
    if refusal is not None or principal.district_code is None:
        raise Forbidden("roster_forbidden", refusal or policy.NO_DISTRICT)
    return principal.district_code


@router.get("/draw-roster", response_model=list[RosterEntryOut])
async def get_roster(
    principal: policy.Office,
    deps: Deps,
    district_code: str | None = Query(default=None, max_length=12),
    active_only: bool = False,
) -> list[dict[str, Any]]:
    """The inspectors of the draws: a district office its own district's, the city office every
    district's (or one, by district_code)."""
    scope = policy.district_scope(principal)
    if scope is not None and district_code not in (None, scope):
        raise Forbidden(
            "out_of_scope",
            Message("只能查看本区的检查人员名单", "a district office reads only its own roster"),
        )
    entries = await patrol_draws.roster(
        deps.units(), scope or district_code, active_only=active_only
    )
    return [dataclasses.asdict(e) for e in entries]


@router.post("/draw-roster", status_code=201, response_model=RosterEntryOut)
async def post_roster_entry(
    body: RosterEntryIn, principal: policy.DistrictOffice, deps: Deps
) -> dict[str, Any]:
    """Put an inspector on the caller's district roster (re-activates a deactivated one)."""
    entry = await patrol_draws.add_to_roster(
        deps.units(),
        _district(principal),
        body.inspector_id,
        body.name,
        body.conflicts,
        added_by=principal.subject,
    )
    return dataclasses.asdict(entry)


@router.post("/draw-roster/{inspector_id}/deactivate", response_model=RosterEntryOut)
async def deactivate_roster_entry(
    inspector_id: Annotated[str, PathParam(max_length=64)],
    principal: policy.DistrictOffice,
    deps: Deps,
) -> dict[str, Any]:
    """Take an inspector off the active roster; draws made keep them in their inputs."""
    entry = await patrol_draws.deactivate(
        deps.units(), _district(principal), inspector_id, by=principal.subject
    )
    return dataclasses.asdict(entry)
