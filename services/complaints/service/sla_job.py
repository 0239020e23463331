"""The SLA scan: warnings and overdues once per complaint and clock, and the automatic closing of
replied complaints the owner did not rate in time.

Safe on several replicas: due rows are claimed FOR UPDATE SKIP LOCKED, the marks are set in the
same transaction as the outbox rows, and the domain never sets a mark twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg

from runtime import db, outbox
from runtime.scheduler import PeriodicJob
from schemas.complaints import v1 as events
from services.complaints.adapters import complaints as repo
from services.complaints.adapters import reference
from services.complaints.domain import complaint as model
from services.complaints.domain import sla
from services.complaints.service.complaints import SOURCE, facts

SCAN_BATCH = 200


def make_sla_job(auto_close_days: int) -> Callable[[asyncpg.Pool, datetime], Awaitable[int]]:
    """The SLA scan with the configured auto-close period (from the service's SLA file)."""

    async def job(pool: asyncpg.Pool, now: datetime) -> int:
        return await scan(pool, now, auto_close_days=auto_close_days)

    return job


async def sla_job(pool: asyncpg.Pool, now: datetime) -> int:
    """The scan with the shipped data/sla.json (tests, tools); services use `jobs()`."""
    return await scan(pool, now, auto_close_days=reference.load_rules().policy.auto_close_days)


async def scan(pool: asyncpg.Pool, now: datetime, *, auto_close_days: int) -> int:
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await repo.due_for_update(conn, now, SCAN_BATCH)
            for row in due:
                total += await _handle(conn, row, now, auto_close_days)
        if len(due) < SCAN_BATCH:
            return total


async def _handle(conn: db.Connection, row: repo.Row, now: datetime, days: int) -> int:
    c = row.complaint
    closed = model.auto_close(c, now, days)
    if closed is not None:
        await repo.save(conn, closed, auto_close_at=None)
        await outbox.enqueue(
            conn, events.ComplaintClosed(**facts(closed), how="auto", closed_at=now), source=SOURCE
        )
        return 1
    due = sla.due_events(c, now)
    marked = model.record_due(c, due, now)
    clocks = {"acceptance": marked.acceptance, "completion": marked.completion}
    auto_close_at = None
    if c.status is model.Status.REPLIED and c.replied_at is not None:
        auto_close_at = c.replied_at + timedelta(days=days)
    # Saved even when nothing was due, so next_due moves past this moment.
    await repo.save(conn, marked, auto_close_at=auto_close_at)
    for kind, name in due:
        clock = clocks[name]
        event: events.ComplaintWarning | events.ComplaintOverdue
        if kind == "warning":
            event = events.ComplaintWarning(
                **facts(marked), clock=name, deadline=clock.deadline, detected_at=now
            )
        else:
            event = events.ComplaintOverdue(
                **facts(marked), clock=name, deadline=clock.deadline, detected_at=now
            )
        await outbox.enqueue(conn, event, source=SOURCE)
    return len(due)


def jobs(auto_close_days: int) -> tuple[PeriodicJob, ...]:
    return (PeriodicJob("complaint-sla", make_sla_job(auto_close_days), interval_s=30),)
