"""The inspections timers: each pass builds units of work on the pool, with the scheduler's `now`
as their clock, and hands them to a service handler."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from runtime.scheduler import FixedClock, PeriodicJob
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.service import (
    campaign_handlers,
    draft_sweep,
    rectifications,
    statutory_intervals,
)
from services.inspections.service.ports import InspectionsUnitOfWork

if TYPE_CHECKING:  # annotations only: the scheduler or the caller hands the pool over
    import asyncpg


def _units(pool: asyncpg.Pool, now: datetime) -> Callable[[], InspectionsUnitOfWork]:
    clock = FixedClock(now)
    return lambda: PgInspectionsUnitOfWork(pool, source=SOURCE, clock=clock)


async def rectification_overdue(pool: asyncpg.Pool, now: datetime) -> int:
    """Mark the orders whose deadline passed while still owed (RectificationOverdue)."""
    return await rectifications.mark_overdue(_units(pool, now))


async def campaign_work(pool: asyncpg.Pool, now: datetime) -> int:
    """Announce campaign phases as they start; flag missing plans after the deadline."""
    return await campaign_handlers.run_campaigns(_units(pool, now))


async def statutory_intervals_missed(pool: asyncpg.Pool, now: datetime) -> int:
    """Record facilities whose statutory service interval was missed (StatutoryIntervalMissed)."""
    return await statutory_intervals.sweep_missed(_units(pool, now))


def draft_sweep_job(max_age_days: int, interval_s: float = 3600) -> PeriodicJob:
    """Hourly: abandoned patrol drafts (not saved for `max_age_days`) and draft photos whose
    draft is gone (PATROL_DRAFT_MAX_AGE_DAYS)."""

    async def sweep(pool: asyncpg.Pool, now: datetime) -> int:
        swept = await draft_sweep.sweep_drafts(
            _units(pool, now), max_age=timedelta(days=max_age_days)
        )
        return swept.drafts + swept.photos

    return PeriodicJob("patrol-draft-sweep", sweep, interval_s=interval_s)


JOBS = (
    PeriodicJob("rectification-overdue", rectification_overdue, interval_s=30),
    PeriodicJob("campaigns", campaign_work, interval_s=30),
    PeriodicJob("statutory-intervals", statutory_intervals_missed, interval_s=30),
)
