"""The SLA scan's decisions with the in-memory unit of work: a warning at 80 %, an overdue once,
auto-close of a reply left unrated, and each complaint's events under one trace."""

from __future__ import annotations

from datetime import timedelta

from runtime.scheduler import FixedClock
from runtime.unit_of_work import Trace
from schemas.complaints import v1 as complaints
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.service import handling, intake, sla_scan
from tests.unit.complaints.conftest import ALICE, OWNER, T0, water


def _names(uow: MemoryComplaintsUnitOfWork) -> list[str]:
    return [type(w.event).__name__ for w in uow.outbox.committed]


async def test_warning_then_overdue_once(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, clock: FixedClock
) -> None:
    filed = await intake.file(uow, rules, OWNER, water(), trace=Trace.start())  # accept in 30 min
    uow.outbox.committed.clear()
    days = rules.policy.auto_close_days

    clock.current = T0 + timedelta(minutes=20)
    assert await sla_scan.scan_batch(uow, auto_close_days=days) == (0, 0)
    clock.current = T0 + timedelta(minutes=25)
    assert await sla_scan.scan_batch(uow, auto_close_days=days) == (1, 1)
    assert await sla_scan.scan_batch(uow, auto_close_days=days) == (0, 0)  # marked: not due
    clock.current = T0 + timedelta(minutes=31)
    assert await sla_scan.scan_batch(uow, auto_close_days=days) == (1, 1)
    assert await sla_scan.scan_batch(uow, auto_close_days=days) == (0, 0)

    warning, overdue = (w.event for w in uow.outbox.committed)
    assert isinstance(warning, complaints.ComplaintWarning)
    assert isinstance(overdue, complaints.ComplaintOverdue)
    assert (overdue.complaint_id, overdue.clock) == (filed.complaint.complaint_id, "acceptance")
    assert overdue.detected_at == T0 + timedelta(minutes=31)
    stored = uow.store.complaints[filed.complaint.complaint_id].complaint
    assert stored.acceptance.overdue_at == T0 + timedelta(minutes=31)


async def test_a_reply_left_unrated_closes_after_the_period(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, clock: FixedClock
) -> None:
    filed = await intake.file(uow, rules, OWNER, water(), trace=Trace.start())
    cid = filed.complaint.complaint_id
    clock.current = T0 + timedelta(minutes=5)
    await handling.accept(uow, ALICE, cid, trace=Trace.start())
    replied = T0 + timedelta(hours=1)
    clock.current = replied
    await handling.reply(uow, rules, ALICE, cid, text="已处理", trace=Trace.start())
    uow.outbox.committed.clear()
    days = rules.policy.auto_close_days

    clock.current = replied + timedelta(days=days, seconds=-1)
    assert await sla_scan.scan_batch(uow, auto_close_days=days) == (0, 0)
    clock.current = replied + timedelta(days=days)
    assert await sla_scan.scan_batch(uow, auto_close_days=days) == (1, 1)
    clock.current = replied + timedelta(days=days + 1)
    assert await sla_scan.scan_batch(uow, auto_close_days=days) == (0, 0)

    [closed] = (w.event for w in uow.outbox.committed)
    assert isinstance(closed, complaints.ComplaintClosed)
    assert closed.how == "auto"
    stored = uow.store.complaints[cid].complaint
    assert (stored.status.value, stored.close_reason) == ("closed", "no_feedback")


async def test_a_batch_claims_at_most_its_limit_and_each_event_starts_its_own_correlation(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, clock: FixedClock
) -> None:
    for _ in range(3):
        await intake.file(uow, rules, OWNER, water(), trace=Trace.start())
    uow.outbox.committed.clear()
    clock.current = T0 + timedelta(minutes=31)  # past the deadline: the overdue alone

    assert await sla_scan.scan_batch(uow, auto_close_days=7, limit=2) == (2, 2)
    assert await sla_scan.scan_batch(uow, auto_close_days=7, limit=2) == (1, 1)

    assert _names(uow) == ["ComplaintOverdue"] * 3
    for w in uow.outbox.committed:
        assert isinstance(w.event, complaints.ComplaintWarning | complaints.ComplaintOverdue)
        assert w.trace.causation_id is None  # a timer's work: no event caused it
        assert w.ce.correlationid == w.ce.id  # and each event starts its own correlation
