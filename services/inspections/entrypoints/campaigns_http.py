"""HTTP API of campaigns and activity plans: a translator between JSON and handlers, no rules.

Routes take the business time from `request_time`, the service's clock (the system clock in
production, a simulated one in the demo); tests override it with `app.dependency_overrides`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request
from pydantic import BaseModel, ConfigDict, Field

from runtime.auth import Principal, Role
from runtime.http import CurrentPrincipal, ErrorResponse, require
from services.inspections.domain import campaign as domain
from services.inspections.domain import policy
from services.inspections.service import campaigns as handlers

router = APIRouter(prefix="/api/v1", tags=["campaigns"])

CityOffice = Annotated[Principal, require(Role.CITY_OFFICE)]
Submitter = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.ENTERPRISE)]
PlanReader = Annotated[Principal, require(Role.CITY_OFFICE, Role.DISTRICT_OFFICE, Role.ENTERPRISE)]
Supervisor = Annotated[Principal, require(Role.CITY_OFFICE, Role.DISTRICT_OFFICE)]
CampaignId = Annotated[str, Path(min_length=1, max_length=64)]
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,63}$"


def request_time(request: Request) -> dt.datetime:
    """The business time of this request, from the service's clock."""
    now: dt.datetime = request.app.state.runtime.clock.now()
    return now


Now = Annotated[dt.datetime, Depends(request_time)]


# --- bodies ---------------------------------------------------------------------------------


class DateRange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    starts_on: dt.date
    ends_on: dt.date


class PhaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["mobilisation", "planning", "implementation"]
    starts_on: dt.date
    ends_on: dt.date


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    campaign_id: str = Field(pattern=ID_PATTERN, description="e.g. quality-month-2012")
    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str = Field(default="", max_length=200)
    notice_no: str | None = Field(default=None, min_length=1, max_length=64)
    activity_window: DateRange
    phases: list[PhaseIn] = Field(min_length=1, max_length=3)


class FromTemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template: str = Field(pattern=ID_PATTERN, description="e.g. quality-month-2011")
    year: int = Field(ge=domain.EARLIEST_YEAR, le=domain.LATEST_YEAR)
    campaign_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="default: the template's id with the year"
    )
    notice_no: str | None = Field(default=None, min_length=1, max_length=64)


class StaffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=50)
    role: str = Field(min_length=1, max_length=50, description="分工 e.g. 联络员")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9][0-9 -]{4,19}$")


class ScheduleItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    date: dt.date
    activity_zh: str = Field(min_length=1, max_length=200)


class PlanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    departments: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        min_length=1, max_length=50
    )
    staff: list[StaffIn] = Field(min_length=1, max_length=200)
    schedule: list[ScheduleItemIn] = Field(min_length=1, max_length=200)
    summary: str = Field(default="", max_length=2000)


# --- responses ------------------------------------------------------------------------------


class PhaseOut(BaseModel):
    kind: str
    title_zh: str
    title_en: str
    starts_on: dt.date
    ends_on: dt.date


class CampaignOut(BaseModel):
    campaign_id: str
    title_zh: str
    title_en: str
    notice_no: str | None
    template_id: str | None
    activity_window: DateRange
    phases: list[PhaseOut]
    current_phase: str | None
    plan_deadline: dt.datetime
    created_at: dt.datetime


class StaffOut(BaseModel):
    name: str
    role: str


class OwnStaffOut(StaffOut):
    phone: str | None


class ScheduleItemOut(BaseModel):
    date: dt.date
    activity_zh: str


class PlanOut(BaseModel):
    plan_id: str
    campaign_id: str
    submitter_kind: str
    submitter_id: str
    submitter_name: str
    version: int
    departments: list[str]
    staff: list[StaffOut]
    schedule: list[ScheduleItemOut]
    summary: str
    submitted_by: str
    first_submitted_at: dt.datetime
    submitted_at: dt.datetime


class OwnPlanOut(PlanOut):
    staff: list[OwnStaffOut]  # type: ignore[assignment]  # the submitter sees its own phones


class MissingOut(BaseModel):
    submitter_kind: str
    submitter_id: str
    submitter_name: str


class MissingPlansOut(BaseModel):
    campaign_id: str
    deadline: dt.datetime
    deadline_on: dt.date
    deadline_passed: bool
    missing: list[MissingOut]


# --- routes ---------------------------------------------------------------------------------

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}}


def _actor(p: Principal) -> policy.Actor:
    return policy.Actor(
        role=p.role.value, district_code=p.district_code, enterprise_id=p.enterprise_id
    )


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
async def post_campaign(
    body: CampaignIn, request: Request, principal: CityOffice, now: Now
) -> dict[str, Any]:
    """Create a campaign from an explicit body (市物业办)."""
    draft = domain.Campaign(
        campaign_id=body.campaign_id,
        title_zh=body.title_zh,
        title_en=body.title_en,
        notice_no=body.notice_no,
        window_starts_on=body.activity_window.starts_on,
        window_ends_on=body.activity_window.ends_on,
        phases=tuple(
            domain.Phase(domain.PhaseKind(p.kind), p.starts_on, p.ends_on) for p in body.phases
        ),
    )
    return await handlers.create_campaign(
        request.app.state.runtime.pool, draft, now=now, created_by=principal.subject
    )


@router.post(
    "/campaigns/from-template", status_code=201, response_model=CampaignOut, responses=_NOT_FOUND
)
async def post_campaign_from_template(
    body: FromTemplateIn, request: Request, principal: CityOffice, now: Now
) -> dict[str, Any]:
    """Create next year's campaign from a template, every date moved by whole years (市物业办)."""
    return await handlers.create_from_template(
        request.app.state.runtime.pool,
        body.template,
        body.year,
        now=now,
        created_by=principal.subject,
        campaign_id=body.campaign_id,
        notice_no=body.notice_no,
    )


@router.get("/campaigns", response_model=list[CampaignOut])
async def get_campaigns(
    request: Request, principal: CurrentPrincipal, now: Now
) -> list[dict[str, Any]]:
    return await handlers.list_campaigns(request.app.state.runtime.pool, now=now)


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, responses=_NOT_FOUND)
async def get_campaign(
    campaign_id: CampaignId, request: Request, principal: CurrentPrincipal, now: Now
) -> dict[str, Any]:
    """A campaign with its phases and the phase running now."""
    return await handlers.get_campaign(request.app.state.runtime.pool, campaign_id, now=now)


@router.post(
    "/campaigns/{campaign_id}/plans",
    status_code=201,
    response_model=OwnPlanOut,
    responses={**_NOT_FOUND, 409: {"model": ErrorResponse}},
)
async def post_plan(
    campaign_id: CampaignId, body: PlanIn, request: Request, principal: Submitter, now: Now
) -> dict[str, Any]:
    """Submit (or replace) the caller's activity plan: a district office for its district, an
    enterprise for itself. Only during the planning phase (制定方案阶段)."""
    plan = domain.PlanContent(
        departments=tuple(body.departments),
        staff=tuple(domain.StaffMember(s.name, s.role, s.phone) for s in body.staff),
        schedule=tuple(domain.ScheduleItem(i.date, i.activity_zh) for i in body.schedule),
        summary=body.summary,
    )
    return await handlers.submit_plan(
        request.app.state.runtime.pool,
        campaign_id,
        plan,
        _actor(principal),
        principal.subject,
        now=now,
    )


@router.get("/campaigns/{campaign_id}/plans", response_model=list[PlanOut], responses=_NOT_FOUND)
async def get_plans(
    campaign_id: CampaignId, request: Request, principal: PlanReader
) -> list[dict[str, Any]]:
    """The plans the caller may see, without phone numbers."""
    return await handlers.list_plans(request.app.state.runtime.pool, campaign_id, _actor(principal))


@router.get(
    "/campaigns/{campaign_id}/plans/missing",
    response_model=MissingPlansOut,
    responses=_NOT_FOUND,
)
async def get_missing_plans(
    campaign_id: CampaignId, request: Request, principal: Supervisor, now: Now
) -> dict[str, Any]:
    """Who owes a plan and has not submitted one (市物业办: all; 区县物业办: its district)."""
    return await handlers.missing_plans(
        request.app.state.runtime.pool, campaign_id, _actor(principal), now=now
    )
