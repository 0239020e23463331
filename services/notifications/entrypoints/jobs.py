"""The service's timers: each pass builds units of work on the pool and calls a service handler.

A pass's units carry the runtime's clock stopped at the pass's `now` (the business time the
runtime's clock gave the pass)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from runtime.scheduler import FixedClock, PeriodicJob
from services.notifications.adapters.postgres import PgNotificationsUnitOfWork
from services.notifications.domain.rules import RuleBook
from services.notifications.service import issuing
from services.notifications.service.delivery import DeliveryWorker


def escalation_job(book: RuleBook, interval_s: float = 30.0) -> PeriodicJob:
    """Issue the criticisms whose reminders went unanswered; safe on many replicas."""

    async def run(pool: asyncpg.Pool, now: datetime) -> int:
        issued = 0
        clock = FixedClock(now)
        while True:
            outcome = await issuing.escalate_next(
                PgNotificationsUnitOfWork(pool, clock=clock), book
            )
            if outcome is None:
                return issued
            issued += outcome

    return PeriodicJob("criticism-ladder", run, interval_s=interval_s)


def delivery_job(worker: DeliveryWorker, interval_s: float = 1.0) -> PeriodicJob:
    """Send what is due (leases and backoff run on the database's wall clock)."""

    async def run(pool: asyncpg.Pool, now: datetime) -> int:
        clock = FixedClock(now)
        return await worker.run(lambda: PgNotificationsUnitOfWork(pool, clock=clock))

    return PeriodicJob("notice-delivery", run, interval_s=interval_s)
