"""The SLA scan: warnings and overdues once per complaint and clock, and the automatic closing of
replied complaints the owner did not rate in time.

Safe on several replicas: due rows are claimed FOR UPDATE SKIP LOCKED, the marks are set in the
same transaction as the outbox rows, and the domain never sets a mark twice. The timer
(`entrypoints/jobs.py`) runs `scan_batch` in one unit of work per batch.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from runtime.unit_of_work import Trace
from schemas.complaints import v1 as complaints
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain import sla
from services.complaints.service.intake import facts
from services.complaints.service.ports import ComplaintsUnitOfWork, Row

SCAN_BATCH = 200


async def scan_batch(
    uow: ComplaintsUnitOfWork, *, auto_close_days: int, limit: int = SCAN_BATCH
) -> tuple[int, int]:
    """One batch of due complaints at the unit's `now`: (events written, complaints claimed)."""
    emitted = 0
    async with uow:
        now = uow.clock.now()
        due = await uow.complaints.due_for_update(now, limit)
        for row in due:
            emitted += await _handle(uow, row, now, auto_close_days)
        await uow.commit()
    return emitted, len(due)


async def _handle(uow: ComplaintsUnitOfWork, row: Row, now: datetime, days: int) -> int:
    c = row.complaint
    trace = Trace.start()  # a timer's work: each complaint's events start their own correlation
    closed = complaint_model.auto_close(c, now, days)
    if closed is not None:
        await uow.complaints.save(closed, auto_close_at=None)
        await uow.outbox.add(
            complaints.ComplaintClosed(**facts(closed), how="auto", closed_at=now), trace
        )
        return 1
    due = sla.due_events(c, now)
    marked = complaint_model.record_due(c, due, now)
    clocks = {"acceptance": marked.acceptance, "completion": marked.completion}
    auto_close_at = None
    if c.status is complaint_model.Status.REPLIED and c.replied_at is not None:
        auto_close_at = c.replied_at + timedelta(days=days)
    # Saved even when nothing was due, so next_due moves past this moment.
    await uow.complaints.save(marked, auto_close_at=auto_close_at)
    for kind, name in due:
        clock = clocks[name]
        event: complaints.ComplaintWarning | complaints.ComplaintOverdue
        if kind == "warning":
            event = complaints.ComplaintWarning(
                **facts(marked), clock=name, deadline=clock.deadline, detected_at=now
            )
        else:
            event = complaints.ComplaintOverdue(
                **facts(marked), clock=name, deadline=clock.deadline, detected_at=now
            )
        await uow.outbox.add(event, trace)
    return len(due)
