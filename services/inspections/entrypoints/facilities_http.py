"""HTTP API of the statutory-interval tracker (法定维保周期): an enterprise registers its
projects' facilities and records each service; the parties read facilities in their scope, the
offices the missed intervals of theirs. Owners and outside agencies see nothing of it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import Forbidden
from services.inspections.domain import problems
from services.inspections.domain import statutory_intervals as intervals
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.entrypoints.registry_responses import ERRORS, unprocessable
from services.inspections.service import statutory_intervals
from services.inspections.service.ports import FacilityRow, MissRow

router = APIRouter(prefix="/api/v1", tags=["statutory intervals"])
FacilityId = Annotated[str, Path(min_length=1, max_length=64)]
MAX_LISTED = 1000  # a district has thousands of facilities: the list is paged by due date


class FacilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=64)
    kind: str = Field(
        min_length=1, max_length=20, description="lift 电梯, fire 消防设施, water_tank 二次供水水箱"
    )
    name: str = Field(
        min_length=1,
        max_length=200,
        description="设施名称（如 3号楼1单元电梯） Facility name, e.g. Building 3 unit 1 lift",
    )
    interval_days: int | None = Field(
        default=None,
        ge=1,
        le=366,
        description="合同约定周期（天）A stricter contractual interval; never looser than the law's",
    )
    last_serviced_on: date = Field(description="上次维保日期")


class ServiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serviced_on: date = Field(description="维保日期")
    serviced_by: str = Field(
        min_length=1, max_length=200, description="维保单位或人员 Maintenance company or person"
    )
    note: str = Field(default="", max_length=1000)


class FacilityOut(BaseModel):
    facility_id: str
    project_id: str
    project_name: str
    enterprise_id: str
    enterprise_name: str
    district_code: str
    kind: str
    kind_zh: str
    name: str
    interval: str
    interval_en: str
    interval_days: int | None
    legal_basis: str
    legal_basis_en: str
    last_serviced_on: date
    next_due_on: date
    overdue: bool
    days_overdue: int
    open_miss_due_on: date | None


class ServiceOut(BaseModel):
    service_id: str
    serviced_on: date
    serviced_by: str
    note: str
    recorded_at: datetime


class FacilityDetailOut(FacilityOut):
    services: list[ServiceOut]


class RecordedOut(FacilityOut):
    misses_closed: int


class MissOut(BaseModel):
    facility: FacilityOut
    due_on: date
    days_overdue: int
    detected_at: datetime
    resolved_at: datetime | None


def facility_out(row: FacilityRow, today: date) -> dict[str, Any]:
    kind = intervals.KINDS[row.kind]
    zh, en = statutory_intervals.interval_text(row)
    return {
        "facility_id": row.facility_id,
        "project_id": row.project_id,
        "project_name": row.project_name,
        "enterprise_id": row.enterprise_id,
        "enterprise_name": row.enterprise_name,
        "district_code": row.district_code,
        "kind": row.kind,
        "kind_zh": kind.name_zh,
        "name": row.name,
        "interval": zh,
        "interval_en": en,
        "interval_days": row.contract_days,
        "legal_basis": kind.legal_basis_zh,
        "legal_basis_en": kind.legal_basis_en,
        "last_serviced_on": row.last_serviced_on,
        "next_due_on": row.next_due_on,
        "overdue": intervals.is_missed(row.next_due_on, today),
        "days_overdue": intervals.days_overdue(row.next_due_on, today),
        "open_miss_due_on": row.open_miss_due_on,
    }


def miss_out(m: MissRow, today: date) -> dict[str, Any]:
    end = today if m.resolved_at is None else intervals.today_in_china(m.resolved_at)
    return {
        "facility": facility_out(m.facility, today),
        "due_on": m.due_on,
        "days_overdue": intervals.days_overdue(m.due_on, end),
        "detected_at": m.detected_at,
        "resolved_at": m.resolved_at,
    }


@router.post("/facilities", status_code=201, response_model=FacilityOut, responses=ERRORS)
async def post_facility(
    body: FacilityIn, principal: policy.Enterprise, deps: Deps
) -> dict[str, Any] | JSONResponse:
    """Register a facility of one of the caller's projects, with the date of its last service."""
    cmd = statutory_intervals.RegisterFacility(
        project_id=body.project_id,
        kind=body.kind,
        name=body.name,
        contract_days=body.interval_days,
        last_serviced_on=body.last_serviced_on,
    )
    try:
        row = await statutory_intervals.register(
            deps.units(), policy.actor_of(principal), cmd, by=principal.subject
        )
    except problems.Invalid as exc:
        return unprocessable(exc)
    return facility_out(row, intervals.today_in_china(deps.clock.now()))


@router.get("/facilities", response_model=list[FacilityOut], responses=ERRORS)
async def list_facilities(
    principal: policy.Party,
    deps: Deps,
    project_id: str | None = Query(default=None, min_length=1, max_length=64),
    overdue: bool | None = Query(
        default=None, description="true: only those past their due date; false: only the others"
    ),
    limit: int = Query(default=200, ge=1, le=MAX_LISTED, description="at most this many"),
) -> list[dict[str, Any]]:
    """Facilities in the caller's scope, soonest due first (so the overdue ones come first)."""
    today = intervals.today_in_china(deps.clock.now())
    async with deps.units() as uow:
        rows = await uow.facilities.search(
            district_code=policy.district_scope(principal),
            enterprise_id=policy.enterprise_scope(principal),
            project_id=project_id,
            due_before=today if overdue else None,
            due_from=today if overdue is False else None,
            limit=limit,
        )
    return [facility_out(r, today) for r in rows]


@router.get("/facilities/{facility_id}", response_model=FacilityDetailOut, responses=ERRORS)
async def get_facility(
    facility_id: FacilityId, principal: policy.Party, deps: Deps
) -> dict[str, Any]:
    row, services = await statutory_intervals.get(
        deps.units(), policy.actor_of(principal), facility_id
    )
    return {**facility_out(row, intervals.today_in_china(deps.clock.now())), "services": services}


@router.post(
    "/facilities/{facility_id}/services",
    status_code=201,
    response_model=RecordedOut,
    responses=ERRORS,
)
async def post_service(
    facility_id: FacilityId, body: ServiceIn, principal: policy.Party, deps: Deps
) -> dict[str, Any] | JSONResponse:
    """Record a service done; the next due date moves on and an open missed interval closes."""
    refusal = policy.facility_write_refusal(principal)
    if refusal is not None:
        # an office may read the facility but not record for the enterprise; others see nothing
        await statutory_intervals.get(deps.units(), policy.actor_of(principal), facility_id)
        raise Forbidden("facility_forbidden", refusal)
    cmd = statutory_intervals.RecordService(
        facility_id=facility_id,
        serviced_on=body.serviced_on,
        serviced_by=body.serviced_by,
        note=body.note,
    )
    try:
        row, closed = await statutory_intervals.record_service(
            deps.units(), policy.actor_of(principal), cmd, by=principal.subject
        )
    except problems.Invalid as exc:
        return unprocessable(exc)
    return {
        **facility_out(row, intervals.today_in_china(deps.clock.now())),
        "misses_closed": closed,
    }


@router.get("/facility-misses", response_model=list[MissOut], responses=ERRORS)
async def list_misses(
    principal: policy.Party,
    deps: Deps,
    open_only: bool = Query(default=True, alias="open"),
    limit: int = Query(default=200, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Missed statutory intervals in the caller's scope, oldest due date first (the district
    office's work queue; an enterprise its own)."""
    async with deps.units() as uow:
        rows = await uow.facilities.misses(
            district_code=policy.district_scope(principal),
            enterprise_id=policy.enterprise_scope(principal),
            open_only=open_only,
            limit=limit,
        )
    today = intervals.today_in_china(deps.clock.now())
    return [miss_out(m, today) for m in rows]
