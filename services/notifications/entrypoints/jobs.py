"""The service's timers: each pass gets units of work on the pool (`adapters.postgres.on_pool`)
and calls a service handler."""

from __future__ import annotations

import functools

from runtime.scheduler import PeriodicJob
from services.notifications.adapters.postgres import on_pool
from services.notifications.domain.rules import RuleBook
from services.notifications.service import issuing
from services.notifications.service.delivery import DeliveryWorker


def escalation_job(book: RuleBook, interval_s: float = 30.0) -> PeriodicJob:
    """Issue the criticisms whose reminders went unanswered; safe on many replicas."""
    return PeriodicJob(
        "criticism-ladder",
        on_pool(functools.partial(issuing.escalate_due, book=book)),
        interval_s=interval_s,
    )


def delivery_job(worker: DeliveryWorker, interval_s: float = 1.0) -> PeriodicJob:
    """Send what is due (leases and backoff run on the database's wall clock)."""
    return PeriodicJob("notice-delivery", on_pool(worker.run), interval_s=interval_s)
