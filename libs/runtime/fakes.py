"""In-memory stand-ins for the runtime's ports, for fast unit tests of a service layer.

Each service's fakes (`services/<name>/adapters/memory.py`) build on these: its in-memory
repositories and `MemoryUnitOfWork`, which keeps the outbox's events and whether the work was
committed. Integration tests prove the asyncpg adapters on real PostgreSQL; these prove the
decisions, without a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Self

from runtime.scheduler import Clock, FixedClock
from runtime.unit_of_work import Trace
from schemas import cloudevents
from schemas.base import Event


@dataclass(frozen=True)
class Written:
    """An event the service layer wrote to the outbox, with its trace and envelope."""

    event: Event
    trace: Trace
    ce: cloudevents.CloudEvent


@dataclass
class MemoryOutbox:
    source: str = "/wuye/test"
    pending: list[Written] = field(default_factory=list)
    committed: list[Written] = field(default_factory=list)

    async def add(self, event: Event, trace: Trace) -> cloudevents.CloudEvent:
        ce = cloudevents.from_event(
            event,
            source=self.source,
            correlation_id=trace.correlation_id,
            causation_id=trace.causation_id,
        )
        self.pending.append(Written(event, trace, ce))
        return ce

    @property
    def events(self) -> list[Event]:
        """What was committed, in order."""
        return [w.event for w in self.committed]


class MemoryUnitOfWork:
    """The base of a service's in-memory unit of work: `commit` moves the outbox's pending events
    to `committed` and counts; leaving without committing drops them (the service's fake
    repositories decide how much of a rollback they model)."""

    def __init__(self, clock: Clock | None = None, *, source: str = "/wuye/test") -> None:
        self.clock: Clock = clock or FixedClock(datetime.fromisoformat("2026-03-02T09:00:00+08:00"))
        self.outbox = MemoryOutbox(source=source)
        self.commits = 0
        self.rollbacks = 0

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.outbox.pending:
            self.outbox.pending.clear()
            self.rollbacks += 1

    async def commit(self) -> None:
        self.outbox.committed.extend(self.outbox.pending)
        self.outbox.pending.clear()
        self.commits += 1
