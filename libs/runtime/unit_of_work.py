"""The unit of work: one transaction's repositories, outbox and clock, committed or rolled back
as one.

Each service defines its own unit of work in `service/ports.py` (a Protocol naming its
repositories, so the service layer can be tested with in-memory fakes) and its asyncpg version in
`adapters/` as a subclass of `PgUnitOfWork` that builds the repositories on the transaction's
connection (`_bind`). Two ways in:

- a request opens its own transaction: `async with uow: ...; await uow.commit()` (leaving the
  block without committing rolls back);
- an event handler joins the consumer's transaction (the inbox claim and the handler's effect
  commit together, `runtime.consumer`): the consumer builds the unit with `joined(conn)`;
  `async with` and `commit` are then no-ops, the consumer commits.

Correlation travels explicitly: every outbox write names its `Trace` (the correlation id of the
work and the id of the event that caused it, if any). Logs bind the trace, never the other way
round.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Protocol, Self, TypeVar

import asyncpg
import asyncpg.pool
import structlog

from runtime import db, outbox
from runtime.scheduler import Clock
from schemas import cloudevents
from schemas.base import Event

E_co = TypeVar("E_co", bound=Event, covariant=True)


@dataclass(frozen=True)
class Trace:
    """Where a piece of work belongs: the correlation id shared by everything one action caused,
    and the id of the event that caused this work (None for work a person or a timer started).

    A correlation id of None: each event written starts its own correlation (its own id), as
    the events a timer writes do; a request always has one (X-Correlation-ID or generated)."""

    correlation_id: str | None
    causation_id: str | None = None

    @classmethod
    def start(cls, correlation_id: str | None = None) -> Trace:
        """New work: the request's correlation id, or None for a timer's (each event its own)."""
        return cls(correlation_id)

    @classmethod
    def caused_by(cls, ce: cloudevents.CloudEvent) -> Trace:
        """Work caused by an event: same correlation, the event as cause."""
        return cls(ce.correlationid or ce.id, ce.id)

    def bind_logs(self) -> None:
        structlog.contextvars.bind_contextvars(
            correlation_id=self.correlation_id, causation_id=self.causation_id
        )


@dataclass(frozen=True)
class Delivered(Generic[E_co]):
    """One event handed to a handler: the decoded event and its CloudEvents envelope."""

    event: E_co
    ce: cloudevents.CloudEvent

    @property
    def trace(self) -> Trace:
        return Trace.caused_by(self.ce)


class Outbox(Protocol):
    """Events to publish, written in the unit of work's transaction."""

    async def add(self, event: Event, trace: Trace) -> cloudevents.CloudEvent: ...


class PgOutbox:
    def __init__(self, conn: db.Connection, source: str) -> None:
        self._conn = conn
        self._source = source

    async def add(self, event: Event, trace: Trace) -> cloudevents.CloudEvent:
        return await outbox.enqueue(
            self._conn,
            event,
            source=self._source,
            correlation_id=trace.correlation_id,
            causation_id=trace.causation_id,
        )


class UnitOfWork(Protocol):
    """What every service's unit of work offers besides its repositories."""

    @property
    def outbox(self) -> Outbox: ...

    @property
    def clock(self) -> Clock: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    async def commit(self) -> None: ...


U = TypeVar("U")  # a service's unit of work (its Protocol: the handlers run with fakes too)


class PgUnitOfWork:
    """A unit of work on PostgreSQL. Subclasses build their repositories in `_bind`."""

    outbox: Outbox

    def __init__(self, pool: asyncpg.Pool | None, *, source: str, clock: Clock) -> None:
        self._pool = pool
        self.source = source
        self.clock = clock
        self._conn: db.Connection | None = None
        self._lease: asyncpg.pool.PoolConnectionProxy[asyncpg.Record] | None = None
        self._tx: asyncpg.transaction.Transaction | None = None
        self._committed = False

    def joined(self, conn: db.Connection) -> Self:
        """The same kind of unit on a transaction its caller owns (the consumer's)."""
        if not conn.is_in_transaction():
            raise RuntimeError("a joined unit of work needs its caller's open transaction")
        unit = self._fresh()
        unit._pool = None
        unit._bound(conn)
        return unit

    def _fresh(self) -> Self:
        """A new unit like this one (same pool, source, clock, settings); subclasses with more
        constructor arguments override it."""
        return type(self)(self._pool, source=self.source, clock=self.clock)

    def _bound(self, conn: db.Connection) -> None:
        self._conn = conn
        self.outbox = PgOutbox(conn, self.source)
        self._bind(conn)

    def _bind(self, conn: db.Connection) -> None:
        """Build the repositories on `conn`."""

    @property
    def connection(self) -> db.Connection:
        if self._conn is None:
            raise RuntimeError("the unit of work is not open (use `async with`)")
        return self._conn

    async def __aenter__(self) -> Self:
        if self._pool is None:  # joined: the caller's transaction is already open
            return self
        if self._conn is not None:
            raise RuntimeError("a unit of work is entered once; ask for a new one")
        conn = await self._pool.acquire()
        try:
            self._tx = conn.transaction()
            await self._tx.start()
        except BaseException:
            await self._pool.release(conn)
            raise
        self._lease = conn
        self._bound(conn)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is None or self._lease is None:
            return
        lease, tx, self._lease, self._conn, self._tx = self._lease, self._tx, None, None, None
        try:
            if tx is not None and not self._committed:
                await tx.rollback()
        finally:
            await self._pool.release(lease)

    async def commit(self) -> None:
        if self._pool is None:  # joined: the consumer commits
            return
        if self._tx is None:
            raise RuntimeError("commit outside `async with`")
        await self._tx.commit()
        self._committed = True


BatchHandler = Callable[[U, Sequence[Delivered[Event]]], Awaitable[None]]
"""An event handler: the unit of work (joined to the consumer's transaction) and a run of
consecutive new events of ONE type, in partition order; one record when the consumer isolates a
bad one."""


class EventFailed(Exception):
    """Raised (from the cause) by a handler that works event by event, naming the position in
    its batch of the event that failed: the consumer then counts the attempt against that
    record alone when it retries the batch's records one by one."""

    def __init__(self, position: int) -> None:
        super().__init__(position)
        self.position = position


def each(
    handle: Callable[[U, Delivered[Event]], Awaitable[None]],
) -> Callable[[U, Sequence[Delivered[Event]]], Awaitable[None]]:
    """A batch handler that handles the events one after the other (for reactions whose work is
    per event anyway: a decision, a notice)."""

    async def handle_all(uow: U, batch: Sequence[Delivered[Event]]) -> None:
        for position, delivered in enumerate(batch):
            try:
                await handle(uow, delivered)
            except Exception as exc:
                raise EventFailed(position) from exc

    handle_all.__name__ = getattr(handle, "__name__", "handle")
    handle_all.__doc__ = handle.__doc__
    return handle_all
