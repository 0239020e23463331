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
import json
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
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
        return self.at(datetime.now(UTC))

    def at(self, wall: datetime) -> datetime:
        """Business time at the wall-clock instant `wall`."""
        return self.start + (wall - self.anchor) * self.speed


@dataclass
class ControlledClock:
    """A SimulatedClock whose speed can change while the processes run, all of them at once.

    The control file (JSON, `{"segments": [{"anchor", "start", "speed"}, ...]}`) lists later
    segments: from wall instant `anchor` on, business time is `start + (wall - anchor) * speed`.
    Every process of a demo reads the same file (re-read when it changes, at most every
    `REFRESH_S`), and a writer (`change_speed`) puts the switch a little in the future, so each
    process has seen it before it applies: the processes agree and time never runs backwards.
    `make demo` uses it to replay the campaign fast, then let time run at real speed.
    """

    base: SimulatedClock
    path: Path
    _segments: tuple[SimulatedClock, ...] = ()
    _seen: tuple[int, int] | None = None  # (mtime_ns, size) of the file last read
    _checked: float = field(default=-1e9)  # time.monotonic() of the last look at the file

    REFRESH_S = 0.1

    def now(self) -> datetime:
        wall = datetime.now(UTC)
        return self.current(wall).at(wall)

    def current(self, wall: datetime) -> SimulatedClock:
        """The segment in force at `wall`."""
        self._refresh()
        chosen = self.base
        for segment in self._segments:
            if segment.anchor <= wall:
                chosen = segment
        return chosen

    def _refresh(self) -> None:
        if time.monotonic() - self._checked < self.REFRESH_S:
            return
        self._checked = time.monotonic()
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return
        if (st.st_mtime_ns, st.st_size) == self._seen:
            return
        try:
            self._segments = read_segments(self.path)
            self._seen = (st.st_mtime_ns, st.st_size)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # keep the segments we had
            log.warning("clock_control_unreadable", path=str(self.path), error=repr(exc))


def read_segments(path: Path) -> tuple[SimulatedClock, ...]:
    doc = json.loads(path.read_text("utf-8"))
    segments = tuple(
        SimulatedClock(
            start=datetime.fromisoformat(s["start"]),
            anchor=datetime.fromisoformat(s["anchor"]),
            speed=float(s["speed"]),
        )
        for s in doc["segments"]
    )
    if any(s.speed <= 0 or s.start.tzinfo is None or s.anchor.tzinfo is None for s in segments):
        raise ValueError("every segment needs a positive speed and timezone-aware instants")
    return tuple(sorted(segments, key=lambda s: s.anchor))


def write_segments(path: Path, segments: Sequence[SimulatedClock]) -> None:
    """Replace the control file atomically (readers never see half a file)."""
    doc = {
        "segments": [
            {"anchor": s.anchor.isoformat(), "start": s.start.isoformat(), "speed": s.speed}
            for s in segments
        ]
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    os.replace(tmp, path)


def change_speed(
    path: Path, clock: SimulatedClock, speed: float, *, after_s: float = 1.0
) -> SimulatedClock:
    """From `after_s` seconds from now on, business time runs at `speed`, continuing from where
    `clock` is then. Returns the new segment; the processes pick it up from `path`."""
    wall = datetime.now(UTC) + timedelta(seconds=after_s)
    segments = list(read_segments(path)) if path.exists() else []
    segment = SimulatedClock(start=clock.at(wall), anchor=wall, speed=speed)
    write_segments(path, [*segments, segment])
    return segment


def clock_from(
    start: datetime | None, anchor: datetime | None, speed: float, control: Path | None = None
) -> Clock:
    if start is None:
        return SystemClock()
    base = SimulatedClock(start=start, anchor=anchor or datetime.now(UTC), speed=speed)
    return base if control is None else ControlledClock(base, control)


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
