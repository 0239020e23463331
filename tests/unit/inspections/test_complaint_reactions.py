"""The complaint reactions (batch handlers, as subscriptions.py lists them) with the in-memory
unit of work: repeated complaints and an overdue complaint schedule one patrol, caused by the
complaint event (same correlation, the event as cause)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from runtime.unit_of_work import Delivered, EventFailed
from schemas import cloudevents
from schemas.base import Event
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from services.inspections import subscriptions
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork
from services.inspections.service.complaint_reactions import PatrolTrigger

START = datetime.fromisoformat("2026-03-01T09:00:00+08:00")
CONSUMER, _EXPOSURE = subscriptions.consumers(PatrolTrigger(complaints=3, window_days=30))
ON_FILED = CONSUMER.handlers[complaints.ComplaintFiled.ce_type]
ON_OVERDUE = CONSUMER.handlers[complaints.ComplaintOverdue.ce_type]


def filed(at: datetime, project_id: str = "P-120101-0001") -> complaints.ComplaintFiled:
    return complaints.ComplaintFiled(
        complaint_id=f"C-{uuid.uuid4().hex[:8]}",
        project_id=project_id,
        enterprise_id="E-0001",
        district_code="120101",
        category="water",
        urgency="normal",
        channel="web",
        filed_at=at,
    )


def delivered(*events: Event, correlation_id: str = "corr-complaint") -> Sequence[Delivered[Event]]:
    return [
        Delivered(
            e, cloudevents.from_event(e, source="/wuye/complaints", correlation_id=correlation_id)
        )
        for e in events
    ]


def test_the_subscription_is_written_out() -> None:
    assert CONSUMER.subscription.group == "inspections.complaints"
    assert CONSUMER.subscription.topics == ("wuye.complaints.events",)
    assert set(CONSUMER.handlers) == {
        complaints.ComplaintFiled.ce_type,
        complaints.ComplaintOverdue.ce_type,
    }


async def test_the_third_complaint_in_the_window_schedules_one_patrol(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    batch = delivered(*(filed(START + timedelta(hours=h)) for h in range(4)))
    await ON_FILED(uow, batch)

    [patrol] = uow.patrols.patrols.values()
    assert (patrol["reason"], patrol["complaint_count"]) == ("repeated_complaints", 3)
    assert patrol["due_by"] == START + timedelta(hours=2, days=7)
    assert uow.projects.locked == ["P-120101-0001"] * 4
    [written] = uow.outbox.pending  # the consumer commits, not the handler
    assert isinstance(written.event, inspections.PatrolScheduled)
    assert written.event.project_name == "和平区·海河花园"
    third = batch[2].ce
    assert (written.trace.correlation_id, written.trace.causation_id) == (
        "corr-complaint",
        third.id,
    )


async def test_a_redelivered_complaint_is_counted_once(uow: MemoryInspectionsUnitOfWork) -> None:
    once = filed(START)
    await ON_FILED(uow, delivered(once, once, filed(START + timedelta(hours=1))))
    assert uow.patrols.patrols == {}
    assert len(uow.patrols.signal_rows) == 2


async def test_complaints_outside_the_window_do_not_count(uow: MemoryInspectionsUnitOfWork) -> None:
    await ON_FILED(
        uow, delivered(filed(START + timedelta(days=60)), filed(START + timedelta(days=61)))
    )
    await ON_FILED(uow, delivered(filed(START)))
    assert uow.patrols.patrols == {}


async def test_an_overdue_complaint_schedules_a_patrol_at_once(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    complaint = filed(START)
    overdue = complaints.ComplaintOverdue(
        complaint_id=complaint.complaint_id,
        project_id=complaint.project_id,
        enterprise_id=complaint.enterprise_id,
        district_code=complaint.district_code,
        category=complaint.category,
        clock="completion",
        deadline=START + timedelta(days=2),
        detected_at=START + timedelta(days=3),
    )
    await ON_FILED(uow, delivered(complaint))
    await ON_OVERDUE(uow, delivered(overdue))

    [patrol] = uow.patrols.patrols.values()
    assert (patrol["reason"], patrol["complaint_count"]) == ("overdue_complaint", 1)
    [written] = uow.outbox.pending
    assert isinstance(written.event, inspections.PatrolScheduled)


async def test_a_complaint_about_an_unknown_project_schedules_nothing(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    await ON_FILED(uow, delivered(*(filed(START, project_id="P-none") for _ in range(3))))
    assert uow.patrols.patrols == {}
    assert uow.outbox.pending == []


async def test_a_failing_event_is_named_by_its_position(uow: MemoryInspectionsUnitOfWork) -> None:
    """`each`: the consumer learns which record of the batch failed."""
    bad = complaints.ComplaintOverdue.model_construct()  # not a ComplaintFiled
    with pytest.raises(EventFailed) as failed:
        await ON_FILED(
            uow, [*delivered(filed(START)), Delivered(bad, delivered(filed(START))[0].ce)]
        )
    assert failed.value.position == 1
