"""The complaints service's timers, in the scheduler's `(pool, now)` shape: each builds units of
work on the pool with the clock stopped at `now` and calls a service handler, batch after batch.
Safe on any number of replicas (rows are claimed FOR UPDATE SKIP LOCKED or once per campaign)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from runtime.scheduler import FixedClock, Job, PeriodicJob
from services.complaints.adapters import reference
from services.complaints.adapters.postgres import SOURCE, PgComplaintsUnitOfWork
from services.complaints.service import sla_scan, survey_handling

if TYPE_CHECKING:  # the scheduler hands every job its pool; nothing here uses asyncpg itself
    import asyncpg


def _unit(pool: asyncpg.Pool, now: datetime) -> PgComplaintsUnitOfWork:
    return PgComplaintsUnitOfWork(pool, source=SOURCE, clock=FixedClock(now))


async def scan_sla(pool: asyncpg.Pool, now: datetime, *, auto_close_days: int) -> int:
    """Warnings, overdues and auto-closes due at `now`; how many events were written."""
    total = 0
    while True:
        emitted, claimed = await sla_scan.scan_batch(
            _unit(pool, now), auto_close_days=auto_close_days
        )
        total += emitted
        if claimed < sla_scan.SCAN_BATCH:
            return total


def make_sla_job(auto_close_days: int) -> Job:
    """The SLA scan with the configured auto-close period (from the service's SLA file)."""

    async def job(pool: asyncpg.Pool, now: datetime) -> int:
        return await scan_sla(pool, now, auto_close_days=auto_close_days)

    return job


async def sla_job(pool: asyncpg.Pool, now: datetime) -> int:
    """The scan with the shipped data/sla.json (tests, tools); the service uses `jobs()`."""
    days = reference.load_rules().policy.auto_close_days
    return await scan_sla(pool, now, auto_close_days=days)


async def close_job(pool: asyncpg.Pool, now: datetime) -> int:
    """Close the surveys whose closing time has come; how many were closed."""
    total = 0
    while True:
        closed = await survey_handling.close_due(_unit(pool, now))
        total += closed
        if closed < survey_handling.SCAN_BATCH:
            return total


async def missing_job(pool: asyncpg.Pool, now: datetime) -> int:
    """SurveyMissing after each campaign's implementation phase: one unit per campaign."""
    total = 0
    for phase in await survey_handling.campaigns_to_check(_unit(pool, now)):
        total += await survey_handling.report_missing(_unit(pool, now), phase)
    return total


SURVEY_JOBS = (
    PeriodicJob("survey-close", close_job, interval_s=60),
    PeriodicJob("survey-missing", missing_job, interval_s=300),
)


def jobs(auto_close_days: int) -> tuple[PeriodicJob, ...]:
    return (
        PeriodicJob("complaint-sla", make_sla_job(auto_close_days), interval_s=30),
        *SURVEY_JOBS,
    )
