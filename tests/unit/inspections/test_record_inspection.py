"""record_inspection with the in-memory unit of work: the score, the events and their trace, the
rectification orders of a failed inspection, idempotency, and who may record what."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from runtime.errors import DomainError, Forbidden, InvalidInput, NotFound
from runtime.unit_of_work import Trace
from schemas.inspections import v1 as inspections
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork
from services.inspections.domain import checklist
from services.inspections.service.record_inspection import RecordInspection, record_inspection
from services.inspections.service.rectifications import Rules
from tests.unit.inspections.conftest import CONTRACT, E1, E2, HEPING, NANKAI, NOW, OWNER, results

SELF = RecordInspection(
    project_id="P-120101-0001",
    kind="self",
    template_id=CONTRACT.template_id,
    template_version=None,
    results=results(),
    inspected_at=NOW - timedelta(hours=2),
    idempotency_key=None,
)
FAILED = {"waste.daily": "垃圾未日产日清", "facilities.elevators": "电梯年检过期"}


async def test_a_passed_self_inspection_is_stored_and_announced_with_its_trace(
    uow: MemoryInspectionsUnitOfWork, rules: Rules, trace: Trace
) -> None:
    inspection, created = await record_inspection(
        uow, SELF, E1, "e1-staff", rules=rules, trace=trace
    )

    assert created
    assert (inspection["score"], inspection["passed"]) == (100.0, True)
    assert uow.inspections.rows[inspection["inspection_id"]]["recorded_by"] == "e1-staff"
    [written] = uow.outbox.committed
    assert isinstance(written.event, inspections.InspectionCompleted)
    assert written.event.inspection_id == inspection["inspection_id"]
    assert (written.event.project_name, written.event.failed_item_count) == ("和平区·海河花园", 0)
    assert (written.ce.correlationid, written.ce.causationid) == ("corr-test-1", None)
    assert written.ce.source == "/wuye/inspections"
    assert uow.orders.rows == {}
    assert uow.commits == 1


async def test_a_failed_inspection_orders_one_rectification_per_failed_item(
    uow: MemoryInspectionsUnitOfWork, rules: Rules, trace: Trace
) -> None:
    cmd = replace(SELF, results=results(failed=FAILED))
    inspection, _ = await record_inspection(uow, cmd, E1, "e1-staff", rules=rules, trace=trace)

    kinds = [type(e).__name__ for e in uow.outbox.events]
    assert kinds == [
        "InspectionCompleted",
        "InspectionFailed",
        "RectificationOrdered",
        "RectificationOrdered",
    ]
    completed, failed, *ordered = uow.outbox.events
    assert isinstance(completed, inspections.InspectionCompleted)
    assert not completed.passed
    assert isinstance(failed, inspections.InspectionFailed)
    deadlines = {f.item_id: (f.deadline, f.deadline_calendar) for f in failed.failed_items}
    # serious: 3 working days (Mon -> Thu, end of day); urgent: 24 hours, no calendar.
    assert deadlines["facilities.elevators"] == (NOW + timedelta(hours=24), "elapsed")
    assert deadlines["waste.daily"][0].date().isoformat() == "2026-03-05"
    assert {row.severity for row in uow.orders.rows.values()} == {"serious", "urgent"}
    assert all(row.inspection_id == inspection["inspection_id"] for row in uow.orders.rows.values())
    for event in ordered:
        assert isinstance(event, inspections.RectificationOrdered)
        assert uow.orders.calendars[event.order_id] == event.deadline_calendar
    assert {w.trace for w in uow.outbox.committed} == {trace}


async def test_a_repeated_idempotency_key_answers_the_first_inspection(
    uow: MemoryInspectionsUnitOfWork, rules: Rules, trace: Trace
) -> None:
    cmd = replace(SELF, idempotency_key="key-1")
    first, created = await record_inspection(uow, cmd, E1, "e1-staff", rules=rules, trace=trace)
    again, created_again = await record_inspection(
        uow, cmd, E1, "e1-staff", rules=rules, trace=Trace.start()
    )

    assert (created, created_again) == (True, False)
    assert again == first
    assert len(uow.inspections.rows) == 1
    assert len(uow.outbox.committed) == 1


@pytest.mark.parametrize(
    ("cmd", "actor", "error", "code"),
    [
        (SELF, E2, NotFound, "project_not_found"),  # another enterprise's project: as if missing
        (replace(SELF, kind="patrol"), NANKAI, NotFound, "project_not_found"),
        (SELF, HEPING, Forbidden, "wrong_role"),  # a district office does not self-inspect
        (replace(SELF, kind="patrol"), OWNER, Forbidden, "wrong_role"),
        (replace(SELF, project_id="P-none"), E1, NotFound, "project_not_found"),
        (replace(SELF, template_id="nope"), E1, NotFound, "template_not_found"),
        (replace(SELF, results=SELF.results[1:]), E1, InvalidInput, "incomplete"),
        (
            replace(
                SELF, results=(*SELF.results, checklist.ItemResult("x.y", checklist.Result.PASS))
            ),
            E1,
            DomainError,
            "unknown_item",
        ),
    ],
)
async def test_refusals_write_nothing(
    uow: MemoryInspectionsUnitOfWork,
    rules: Rules,
    trace: Trace,
    cmd: RecordInspection,
    actor: object,
    error: type[DomainError],
    code: str,
) -> None:
    with pytest.raises(error) as refused:
        await record_inspection(uow, cmd, actor, "someone", rules=rules, trace=trace)  # type: ignore[arg-type]
    assert refused.value.code == code
    assert uow.inspections.rows == {}
    assert uow.outbox.committed == []
    assert uow.commits == 0


async def test_a_patrol_closes_the_projects_open_scheduled_patrol(
    uow: MemoryInspectionsUnitOfWork, rules: Rules, trace: Trace
) -> None:
    await uow.patrols.schedule(
        patrol_id="patrol-1",
        project_id="P-120101-0001",
        reason="repeated_complaints",
        complaint_count=3,
        window_days=30,
        scheduled_at=NOW - timedelta(days=1),
        due_by=NOW + timedelta(days=6),
    )
    cmd = replace(SELF, kind="patrol")
    inspection, _ = await record_inspection(uow, cmd, HEPING, "officer", rules=rules, trace=trace)

    patrol = uow.patrols.patrols["patrol-1"]
    assert (patrol["status"], patrol["inspection_id"]) == ("done", inspection["inspection_id"])
