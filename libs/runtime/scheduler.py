"""Time-driven work (deadlines, phase changes) with injectable time.

A job is a function `(pool, now) -> count` that finds what is due at `now` and acts on it in its own
transactions. Jobs must be safe to run concurrently on several replicas and after restarts: they
claim due rows with `UPDATE ... WHERE <not yet done> ... RETURNING` (or a unique key) in the same
transaction as the outbox rows, so each effect happens exactly once. Tests call jobs directly with
the `now` they need; nothing in a test sleeps on wall-clock time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import asyncpg
import structlog

log = structlog.get_logger(__name__)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock:
    """A clock for tests and demos: time moves only when told."""

    current: datetime

    def now(self) -> datetime:
        return self.current

    def advance(self, delta: timedelta) -> None:
        self.current += delta


@dataclass(frozen=True)
class SimulatedClock:
    """Business time that runs `speed` times faster than the wall clock from `start`, counted
    from the wall-clock instant `anchor` (shared by all processes of one demo, so they agree).

    Only for demonstrations: `make demo` replays the 2011 campaign in minutes. Technical timing
    (retries, backoff, timeouts) always uses real time.
    """

    start: datetime
    anchor: datetime
    speed: float

    def now(self) -> datetime:
        return self.start + (datetime.now(UTC) - self.anchor) * self.speed


def clock_from(start: datetime | None, anchor: datetime | None, speed: float) -> Clock:
    if start is None:
        return SystemClock()
    return SimulatedClock(start=start, anchor=anchor or datetime.now(UTC), speed=speed)


Job = Callable[[asyncpg.Pool, datetime], Awaitable[int]]


@dataclass(frozen=True)
class PeriodicJob:
    name: str
    run: Job
    interval_s: float = 30.0


async def run_periodically(
    job: PeriodicJob, pool: asyncpg.Pool, clock: Clock, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            done = await job.run(pool, clock.now())
            if done:
                log.info("job_ran", job=job.name, count=done)
        except Exception as exc:  # a failing pass is logged and tried again next interval
            log.error("job_failed", job=job.name, error=repr(exc), exc_info=exc)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), job.interval_s)
