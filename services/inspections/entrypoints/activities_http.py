"""HTTP API of activity records (a translator): the cultural and publicity activities an
enterprise records for its own projects, readable by whoever may see the project."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from runtime.http import CurrentPrincipal, RequestTrace
from runtime.idempotency import IdempotencyKey
from services.inspections.domain import activities, problems
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.entrypoints.registry_responses import ERRORS, ProjectId, unprocessable
from services.inspections.service import registry_handlers

router = APIRouter(prefix="/api/v1", tags=["registry"])


PhotoRef = Annotated[str, Field(pattern=activities.PHOTO_REF_PATTERN)]
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_only(value: object) -> object:
    # pydantic alone would also take 1313798400 or "2011-08-19T00:00:00" as a date.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise PydanticCustomError("date_parsing", "Input should be a date like 2011-08-19")


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["cultural", "publicity"] = Field(
        description="cultural: 社区文化活动（三（一）3）; publicity: 宣传活动（三（二））"
    )
    title: str = Field(min_length=1, max_length=200)
    held_on: IsoDate = Field(description="活动日期（如 2011-08-20）")
    participants: int = Field(ge=0, le=1_000_000)
    description: str = Field(default="", max_length=activities.MAX_DESCRIPTION)
    photo_refs: list[PhotoRef] = Field(default_factory=list, max_length=activities.MAX_PHOTOS)


class ActivityOut(BaseModel):
    record_id: str
    project_id: str
    kind: str
    title: str
    held_on: date
    participants: int
    description: str
    photo_refs: list[str]
    recorded_by: str
    recorder_enterprise_id: str
    recorded_at: datetime


@router.post(
    "/projects/{project_id}/activities",
    status_code=201,
    response_model=ActivityOut,
    responses=ERRORS,
)
async def post_activity(
    project_id: ProjectId,
    body: ActivityIn,
    response: Response,
    principal: policy.Enterprise,
    deps: Deps,
    trace: RequestTrace,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any] | JSONResponse:
    """Record a community cultural or publicity activity (the project's own enterprise only)."""
    cmd = registry_handlers.RecordActivity(
        project_id=project_id,
        kind=body.kind,
        title=body.title,
        held_on=body.held_on,
        participants=body.participants,
        description=body.description,
        photo_refs=tuple(body.photo_refs),
        idempotency_key=idempotency_key,
    )
    try:
        record, created = await registry_handlers.record_activity(
            deps.units(), cmd, policy.actor_of(principal), principal.subject, trace
        )
    except problems.Invalid as exc:
        return unprocessable(exc)
    if not created:
        response.status_code = 200
    return record


@router.get("/projects/{project_id}/activities", response_model=list[ActivityOut], responses=ERRORS)
async def get_activities(
    project_id: ProjectId,
    principal: CurrentPrincipal,
    deps: Deps,
    kind: Literal["cultural", "publicity"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """A project's activity records, latest first."""
    return await registry_handlers.list_activities(
        deps.units(), project_id, policy.actor_of(principal), kind=kind, limit=limit
    )
