"""HTTP API of campaigns and activity plans: a translator between JSON and handlers, no rules.

The business time is the service's clock (the units of work carry it): the system clock in
production, a simulated one in the demo, a fixed one in tests (`build_app(..., clock=...)`).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from runtime.http import CurrentPrincipal, ErrorResponse, RequestTrace
from services.inspections.domain import campaign
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.service import campaign_handlers

router = APIRouter(prefix="/api/v1", tags=["campaigns"])

CampaignId = Annotated[str, Path(min_length=1, max_length=64)]
ID_PATTERN = r"^[a-z0-9][a-z0-9-]{2,63}$"


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
    year: int = Field(ge=campaign.EARLIEST_YEAR, le=campaign.LATEST_YEAR)
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


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
async def post_campaign(
    body: CampaignIn, principal: policy.CityOffice, deps: Deps
) -> dict[str, Any]:
    """Create a campaign from an explicit body (市物业办)."""
    draft = campaign.Campaign(
        campaign_id=body.campaign_id,
        title_zh=body.title_zh,
        title_en=body.title_en,
        notice_no=body.notice_no,
        window_starts_on=body.activity_window.starts_on,
        window_ends_on=body.activity_window.ends_on,
        phases=tuple(
            campaign.Phase(campaign.PhaseKind(p.kind), p.starts_on, p.ends_on) for p in body.phases
        ),
    )
    return await campaign_handlers.create_campaign(
        deps.units(), draft, created_by=principal.subject
    )


@router.post(
    "/campaigns/from-template", status_code=201, response_model=CampaignOut, responses=_NOT_FOUND
)
async def post_campaign_from_template(
    body: FromTemplateIn, principal: policy.CityOffice, deps: Deps
) -> dict[str, Any]:
    """Create next year's campaign from a template, every date moved by whole years (市物业办)."""
    return await campaign_handlers.create_from_template(
        deps.units(),
        deps.campaign_templates,
        body.template,
        body.year,
        created_by=principal.subject,
        campaign_id=body.campaign_id,
        notice_no=body.notice_no,
    )


@router.get("/campaigns", response_model=list[CampaignOut])
async def get_campaigns(principal: CurrentPrincipal, deps: Deps) -> list[dict[str, Any]]:
    return await campaign_handlers.list_campaigns(deps.units())


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut, responses=_NOT_FOUND)
async def get_campaign(
    campaign_id: CampaignId, principal: CurrentPrincipal, deps: Deps
) -> dict[str, Any]:
    """A campaign with its phases and the phase running now."""
    return await campaign_handlers.get_campaign(deps.units(), campaign_id)


@router.post(
    "/campaigns/{campaign_id}/plans",
    status_code=201,
    response_model=OwnPlanOut,
    responses={**_NOT_FOUND, 409: {"model": ErrorResponse}},
)
async def post_plan(
    campaign_id: CampaignId,
    body: PlanIn,
    principal: policy.PlanSubmitter,
    deps: Deps,
    trace: RequestTrace,
) -> dict[str, Any]:
    """Submit (or replace) the caller's activity plan: a district office for its district, an
    enterprise for itself. Only during the planning phase (制定方案阶段)."""
    plan = campaign.PlanContent(
        departments=tuple(body.departments),
        staff=tuple(campaign.StaffMember(s.name, s.role, s.phone) for s in body.staff),
        schedule=tuple(campaign.ScheduleItem(i.date, i.activity_zh) for i in body.schedule),
        summary=body.summary,
    )
    return await campaign_handlers.submit_plan(
        deps.units(),
        campaign_id,
        plan,
        policy.actor_of(principal),
        principal.subject,
        trace=trace,
    )


@router.get("/campaigns/{campaign_id}/plans", response_model=list[PlanOut], responses=_NOT_FOUND)
async def get_plans(
    campaign_id: CampaignId, principal: policy.Party, deps: Deps
) -> list[dict[str, Any]]:
    """The plans the caller may see, without phone numbers."""
    return await campaign_handlers.list_plans(deps.units(), campaign_id, policy.actor_of(principal))


@router.get(
    "/campaigns/{campaign_id}/plans/missing",
    response_model=MissingPlansOut,
    responses=_NOT_FOUND,
)
async def get_missing_plans(
    campaign_id: CampaignId, principal: policy.Office, deps: Deps
) -> dict[str, Any]:
    """Who owes a plan and has not submitted one (市物业办: all; 区县物业办: its district)."""
    return await campaign_handlers.missing_plans(
        deps.units(), campaign_id, policy.actor_of(principal)
    )
