"""Command handlers of the statutory-interval tracker (法定维保周期, issue 16): an enterprise
registers its projects' facilities and records each service; the sweep turns every missed due
date into one `StatutoryIntervalMissed` (the unique key (facility, due date) makes it exactly
once, whatever the number of passes or replicas); recording a service closes the open miss."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from runtime import attachments
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound
from runtime.unit_of_work import Trace
from schemas.inspections import v1 as inspections
from services.inspections.domain import actors, project_registry
from services.inspections.domain import statutory_intervals as intervals
from services.inspections.service.ports import FacilityRow, InspectionsUnitOfWork

SCAN_BATCH = 200
SERVICE_PHOTO_KIND = "facility_service"  # attachments.owner_kind; owner_id "<facility>:<service>"

FACILITY_NOT_FOUND = NotFound("facility_not_found", Message("设施不存在", "facility not found"))


@dataclass(frozen=True)
class RegisterFacility:
    project_id: str
    kind: str
    name: str
    contract_days: int | None
    last_serviced_on: date


@dataclass(frozen=True)
class RecordService:
    facility_id: str
    serviced_on: date
    serviced_by: str
    note: str = ""


def _enterprise_of(actor: actors.Actor, enterprise_id: str) -> None:
    refusal = actors.may_keep_facilities(actor)
    if refusal is not None:
        raise Forbidden(refusal.code, Message(refusal.zh, refusal.en))
    if actor.enterprise_id != enterprise_id:
        raise FACILITY_NOT_FOUND


async def register(
    uow: InspectionsUnitOfWork, actor: actors.Actor, cmd: RegisterFacility, *, by: str
) -> FacilityRow:
    """Register a facility of one of the enterprise's projects (a project of another enterprise
    answers like an unknown one)."""
    async with uow:
        project = await uow.projects.get(cmd.project_id)
        if actors.may_keep_facilities(actor) is not None:
            _enterprise_of(actor, "")
        if project is None or actor.enterprise_id != project.enterprise_id:
            raise InvalidInput(
                "project_unknown",
                Message("本企业没有此项目", "your enterprise runs no such project"),
                field="project_id",
            )
        new = intervals.new_facility(
            project_id=cmd.project_id,
            kind=cmd.kind,
            name=cmd.name,
            contract_days=cmd.contract_days,
            last_serviced_on=cmd.last_serviced_on,
            today=intervals.today_in_china(uow.clock.now()),
        )
        row = FacilityRow(
            facility_id=f"F-{uuid.uuid4().hex[:12]}",
            project_id=project.project_id,
            project_name=project.project_name,
            enterprise_id=project.enterprise_id,
            enterprise_name=project.enterprise_name,
            district_code=project.district_code,
            district_name=project.district_name,
            kind=new.kind.kind,
            name=new.name,
            contract_days=new.contract_days,
            last_serviced_on=new.last_serviced_on,
            next_due_on=new.next_due_on,
            registered_at=uow.clock.now(),
        )
        if not await uow.facilities.add(row, registered_by=by):
            raise DomainError(
                "facility_exists",
                Message("该项目已登记同名设施", "the project already has a facility of that name"),
                field="name",
            )
        await uow.commit()
        return row


def photo_owner(facility_id: str, service_id: str) -> str:
    return f"{facility_id}:{service_id}"


async def record_service(
    uow: InspectionsUnitOfWork,
    actor: actors.Actor,
    cmd: RecordService,
    *,
    by: str,
    photos: tuple[attachments.Prepared, ...] = (),
) -> tuple[FacilityRow, int]:
    """Record a service done: the facility's next due date moves on and its open missed interval
    is closed. `photos` (already checked by `runtime.attachments.prepare_all`, e.g. the signed
    maintenance sheet) are stored with the service in its transaction. Returns the facility as it
    is now and how many misses were closed."""
    async with uow:
        row = await uow.facilities.get(cmd.facility_id, for_update=True)
        if row is None:
            raise FACILITY_NOT_FOUND
        _enterprise_of(actor, row.enterprise_id)
        now = uow.clock.now()
        done = intervals.service_record(
            serviced_on=cmd.serviced_on,
            serviced_by=cmd.serviced_by,
            note=cmd.note,
            last_serviced_on=row.last_serviced_on,
            today=intervals.today_in_china(now),
        )
        next_due_on = intervals.next_due(
            intervals.KINDS[row.kind], done.serviced_on, row.contract_days
        )
        service_id = str(uuid.uuid4())
        closed = await uow.facilities.record_service(
            row.facility_id,
            service_id=service_id,
            serviced_on=done.serviced_on,
            serviced_by=done.serviced_by,
            note=done.note,
            recorded_by=by,
            recorded_at=now,
            next_due_on=next_due_on,
        )
        await uow.attachments.put(
            SERVICE_PHOTO_KIND, photo_owner(row.facility_id, service_id), photos, now
        )
        updated = await uow.facilities.get(row.facility_id)
        await uow.commit()
    assert updated is not None
    return updated, closed


async def get(
    uow: InspectionsUnitOfWork, actor: actors.Actor, facility_id: str
) -> tuple[FacilityRow, list[dict[str, object]]]:
    """The facility and its recorded services; one outside the caller's scope answers like a
    missing one."""
    async with uow:
        row = await uow.facilities.get(facility_id)
        if row is None or not project_registry.can_see(actor, row.district_code, row.enterprise_id):
            raise FACILITY_NOT_FOUND
        return row, await uow.facilities.services(facility_id, 50)


def interval_text(row: FacilityRow) -> tuple[str, str]:
    """The interval that applies, zh and en."""
    kind = intervals.KINDS[row.kind]
    if row.contract_days is not None:
        return f"{row.contract_days} 天（合同约定）", f"{row.contract_days} days (contract)"
    return kind.interval_zh(), kind.interval_en()


def missed_event(
    row: FacilityRow, today: date, now: datetime
) -> inspections.StatutoryIntervalMissed:
    kind = intervals.KINDS[row.kind]
    zh, _ = interval_text(row)
    return inspections.StatutoryIntervalMissed(
        facility_id=row.facility_id,
        project_id=row.project_id,
        project_name=row.project_name,
        enterprise_id=row.enterprise_id,
        enterprise_name=row.enterprise_name,
        district_code=row.district_code,
        facility_kind=row.kind,
        facility_name=row.name,
        interval=zh,
        contractual=row.contract_days is not None,
        last_serviced_on=row.last_serviced_on,
        due_on=row.next_due_on,
        days_overdue=intervals.days_overdue(row.next_due_on, today),
        legal_basis=kind.legal_basis_zh,
        legal_basis_en=kind.legal_basis_en,
        detected_at=now,
    )


async def sweep_missed(units: Callable[[], InspectionsUnitOfWork]) -> int:
    """Record every facility whose next due date passed (China date) as missed, once per due
    date, and emit StatutoryIntervalMissed for it; a unit of work per batch. Safe on several
    replicas: the rows are locked (others skip them) and the miss's primary key refuses a second
    record. Returns how many misses were recorded."""
    trace = Trace.start()
    total = 0
    while True:
        async with units() as uow:
            now = uow.clock.now()
            today = intervals.today_in_china(now)
            due = await uow.facilities.overdue(today, SCAN_BATCH)
            for row in due:
                if not intervals.is_missed(row.next_due_on, today):
                    continue
                if await uow.facilities.add_miss(row.facility_id, row.next_due_on, now):
                    await uow.outbox.add(missed_event(row, today, now), trace)
                    total += 1
            await uow.commit()
        if len(due) < SCAN_BATCH:
            return total
