"""At-least-once, idempotent event handling with bounded retries and a dead-letter topic.

For each Kafka record:
1. parse the CloudEvents headers and the body (`schemas.cloudevents`); a record that cannot be parsed
   is dead-lettered at once with the reason;
2. types this consumer has no handler for are acknowledged and skipped;
3. in one transaction: claim the event id in the inbox (a duplicate is skipped), run the handler;
4. a handler that raises is retried with exponential backoff up to `max_attempts`, then the record is
   dead-lettered with the error, and the partition moves on;
5. outages (`runtime.db.is_infrastructure_error`: the database cannot be reached) are not the
   message's fault: they are retried with backoff without limit and never dead-letter a good
   message. Everything else — bad input the driver refuses to encode, a statement timeout, a
   constraint violation, a bug — counts against the message: one bad record never blocks its
   partition.

Only after the record is handled or dead-lettered does the caller commit its offset.

Staying in the group: the caller does not poll Kafka while a batch is handled, and a consumer that
has not polled for `max_poll_interval` is put out of its group (its partitions go to another
member, a rebalance for everyone). So `handle_batch` takes a `deadline`: once it has passed, no
further record of the batch is started and an outage stops being waited out in place; it raises
`BatchInterrupted` with the outcomes of the records finished so far, the caller commits those,
rewinds to the first unfinished one and polls again (which re-delivers it). An outage is thus
retried across polls, for as long as it lasts, without the consumer ever leaving its group.

Batches (`handle_batch`): the records one poll returned are handled in ONE transaction — the
inbox claims for all of them in one statement, then each new event's handler in order — because a
transaction per event spends most of its time in round trips and commits (see
docs/performance.md). The batch is all or nothing: if anything in it is unusual (a record that
cannot be parsed or decoded) or anything fails (a handler, the database), the transaction rolls
back and the same records go through `handle` one by one, with the per-record retries and
dead-lettering above. Handlers are idempotent database work, so running one again after a
rolled-back batch changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from runtime import inbox, metrics
from runtime.db import is_infrastructure_error
from runtime.scheduler import SystemClock
from runtime.unit_of_work import BatchHandler, Delivered, EventFailed, PgUnitOfWork
from schemas import cloudevents
from schemas.base import Event
from schemas.topics import dead_letter_topic

log = structlog.get_logger(__name__)

AnyHandler = BatchHandler[Any]


class Record(Protocol):
    """The parts of an aiokafka ConsumerRecord we use."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay_s: float = 0.2
    max_delay_s: float = 5.0

    def delay(self, attempt: int) -> float:
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** min(attempt - 1, 20)))


@dataclass(frozen=True)
class _Prepared:
    index: int
    record: Record
    ce: cloudevents.CloudEvent
    event: Event
    handler: AnyHandler


class _HandlerFailed(Exception):
    """The handler of a run of the batch's records raised (the cause); `index` is the record's
    when the run was one record (it is then the culprit), else None."""

    def __init__(self, index: int | None) -> None:
        super().__init__(index)
        self.index = index


class BatchInterrupted(Exception):
    """The batch's deadline passed: `outcomes` are those of the first records, which are finished
    (handled, duplicate, skipped or dead-lettered); the others were not started or not finished.
    The cause, if any, is the outage that was being waited out."""

    def __init__(self, outcomes: list[str]) -> None:
        super().__init__(f"{len(outcomes)} record(s) finished before the deadline")
        self.outcomes = outcomes


class _OutageContinues(Exception):
    """The database is still unavailable and the deadline leaves no time to wait for it here."""


class EventConsumer:
    """Dispatches records to handlers registered per CloudEvents type, for one consumer group."""

    def __init__(
        self,
        *,
        service: str,
        name: str,
        pool: asyncpg.Pool,
        handlers: Mapping[str, AnyHandler],
        dead_letters: AIOKafkaProducer,
        unit: PgUnitOfWork | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.service = service
        self.name = name  # the consumer (group) name recorded in the inbox
        self._pool = pool
        self._handlers = dict(handlers)
        # The service's unit of work; each transaction joins a copy of it (`PgUnitOfWork.joined`).
        self._unit = (
            unit
            if unit is not None
            else PgUnitOfWork(pool, source=f"/wuye/{service}", clock=SystemClock())
        )
        self._dead_letters = dead_letters
        self._retry = retry or RetryPolicy()
        self._dlq_topic = dead_letter_topic(service).name
        # Consecutive outage failures, across batches: the backoff keeps growing while the
        # outage lasts, even when the wait is cut short and resumed after a poll.
        self._outages = 0

    async def handle(
        self, record: Record, *, failed_attempts: int = 0, deadline: float | None = None
    ) -> str:
        """Handle one record; return the outcome: handled, duplicate, skipped or dead_lettered.

        `failed_attempts`: how many times its handler already failed (in a batch). `deadline`
        (event-loop time): past it an outage is not waited out here; `BatchInterrupted([])`."""
        try:
            event_type, outcome = await self._handle(record, failed_attempts, deadline)
        except _OutageContinues as exc:
            raise BatchInterrupted([]) from exc.__cause__
        metrics.EVENTS.labels(self.name, metrics.short_type(event_type), outcome).inc()
        return outcome

    async def _handle(
        self, record: Record, failed_attempts: int, deadline: float | None
    ) -> tuple[str, str]:
        """(event type, or "unreadable" when the record is not an event; outcome)."""
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            consumer=self.name, topic=record.topic, partition=record.partition, offset=record.offset
        )
        try:
            ce = cloudevents.from_kafka(record.key, record.value, list(record.headers or ()))
        except cloudevents.MalformedEvent as exc:
            await self._dead_letter(record, f"malformed: {exc.reason}")
            return "unreadable", "dead_lettered"
        structlog.contextvars.bind_contextvars(
            event_id=ce.id, event_type=ce.type, correlation_id=ce.correlationid
        )
        handler = self._handlers.get(ce.type)
        if handler is None:
            log.debug("event_skipped", reason="no handler for this type")
            return ce.type, "skipped"
        try:
            event = cloudevents.decode(ce)
        except cloudevents.MalformedEvent as exc:
            await self._dead_letter(record, f"invalid: {exc.reason}")
            return ce.type, "dead_lettered"

        log.info("event_received")
        attempt = failed_attempts  # failures that count against the message
        loop = asyncio.get_running_loop()
        while True:
            try:
                outcome = await self._apply(handler, record, event, ce)
            except Exception as exc:  # sorted below: an outage, or a reaction that failed
                kind = "infrastructure" if is_infrastructure_error(exc) else "handler"
                metrics.FAILURES.labels(self.name, metrics.short_type(ce.type), kind).inc()
                if kind == "infrastructure":
                    self._outages += 1
                    delay = self._retry.delay(self._outages)
                    if deadline is not None and loop.time() + delay >= deadline:
                        log.warning("event_outage_continues", error=repr(exc))
                        raise _OutageContinues() from exc
                    log.warning("event_retry_infrastructure", error=repr(exc), retry_in_s=delay)
                    await asyncio.sleep(delay)
                    continue
                attempt += 1
                if attempt >= self._retry.max_attempts:
                    log.error("event_failed", attempts=attempt, error=repr(exc), exc_info=exc)
                    await self._dead_letter(
                        record, f"handler failed after {attempt} attempts: {exc!r}"
                    )
                    return ce.type, "dead_lettered"
                delay = self._retry.delay(attempt)
                log.warning("event_retry", attempt=attempt, error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            self._outages = 0
            log.info("event_handled" if outcome == "handled" else "event_duplicate")
            return ce.type, outcome

    async def handle_batch(
        self, records: Sequence[Record], *, deadline: float | None = None
    ) -> list[str]:
        """Handle records in order, in one transaction when possible; return each outcome.

        `deadline` (event-loop time, see the module docstring): once passed, raises
        `BatchInterrupted` with the outcomes of the records finished so far."""
        if len(records) == 1:
            return [await self.handle(records[0], deadline=deadline)]
        prepared = self._prepare(records)
        if prepared is None:
            return await self._one_by_one(
                records, "a record in the batch is unreadable", deadline=deadline
            )
        work, skipped = prepared
        outcomes = ["skipped"] * len(records)
        if work:
            try:
                handled = await self._apply_batch(work)
            except _HandlerFailed as failure:  # rolled back; retried record by record
                cause = failure.__cause__ or failure
                culprit = None if is_infrastructure_error(cause) else failure.index
                return await self._one_by_one(
                    records, repr(cause), culprit=culprit, deadline=deadline
                )
            except Exception as exc:  # noqa: BLE001 - rolled back; retried record by record
                return await self._one_by_one(records, repr(exc), deadline=deadline)
            self._outages = 0
            for item in work:
                outcomes[item.index] = "handled" if item.index in handled else "duplicate"
        structlog.contextvars.clear_contextvars()
        counted = [(item.ce.type, outcomes[item.index]) for item in work]
        for event_type, outcome in [*counted, *((t, "skipped") for t in skipped)]:
            metrics.EVENTS.labels(self.name, metrics.short_type(event_type), outcome).inc()
        return outcomes

    def _prepare(self, records: Sequence[Record]) -> tuple[list[_Prepared], list[str]] | None:
        """Parse and decode every record: what to handle, and the types skipped (no handler).
        None if a record needs the careful path."""
        work: list[_Prepared] = []
        skipped: list[str] = []
        for index, record in enumerate(records):
            try:
                ce = cloudevents.from_kafka(record.key, record.value, list(record.headers or ()))
            except cloudevents.MalformedEvent:
                return None
            handler = self._handlers.get(ce.type)
            if handler is None:
                skipped.append(ce.type)
                continue
            try:
                event = cloudevents.decode(ce)
            except cloudevents.MalformedEvent:
                return None
            work.append(_Prepared(index, record, ce, event, handler))
        return work, skipped

    async def _apply_batch(self, work: Sequence[_Prepared]) -> set[int]:
        """One transaction: claim every event id, run the handlers of the new ones in order;
        return the indexes handled (the others were duplicates)."""
        deliveries = [
            inbox.Delivery(p.ce.id, p.ce.type, p.record.topic, p.record.partition, p.record.offset)
            for p in work
        ]
        handled: set[int] = set()
        async with self._pool.acquire() as conn, conn.transaction():
            new = await inbox.claim_many(conn, consumer=self.name, deliveries=deliveries)
            fresh: list[_Prepared] = []
            for p in work:
                if p.ce.id in new:
                    new.discard(p.ce.id)  # a second copy later in the batch is a duplicate
                    fresh.append(p)
            uow = self._unit.joined(conn)
            for run in _runs(fresh):
                self._bind(run[0].record, run[0].ce)
                try:
                    await run[0].handler(uow, [Delivered(p.event, p.ce) for p in run])
                except EventFailed as failed:  # a per-event handler says which one
                    raise _HandlerFailed(run[failed.position].index) from failed.__cause__
                except Exception as exc:  # a handler of the whole run: any of them
                    raise _HandlerFailed(run[0].index if len(run) == 1 else None) from exc
                handled.update(p.index for p in run)
        structlog.contextvars.clear_contextvars()
        for p in work:  # logged once committed, as `handle` does
            log.info(
                "event_handled" if p.index in handled else "event_duplicate",
                consumer=self.name,
                topic=p.record.topic,
                partition=p.record.partition,
                offset=p.record.offset,
                event_id=p.ce.id,
                event_type=p.ce.type,
                correlation_id=p.ce.correlationid,
                batch=len(work),
            )
        return handled

    def _bind(self, record: Record, ce: cloudevents.CloudEvent) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            consumer=self.name,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            event_id=ce.id,
            event_type=ce.type,
            correlation_id=ce.correlationid,
        )

    async def _one_by_one(
        self,
        records: Sequence[Record],
        reason: str,
        *,
        culprit: int | None = None,
        deadline: float | None = None,
    ) -> list[str]:
        """The batch rolled back: handle its records one at a time; the record whose handler
        failed (`culprit`) has used one attempt already. Past `deadline`, no record is started
        (`BatchInterrupted` with the outcomes so far)."""
        structlog.contextvars.clear_contextvars()
        log.info("batch_handled_one_by_one", consumer=self.name, size=len(records), reason=reason)
        loop = asyncio.get_running_loop()
        outcomes: list[str] = []
        for i, record in enumerate(records):
            if deadline is not None and outcomes and loop.time() >= deadline:
                raise BatchInterrupted(outcomes)
            try:
                outcome = await self.handle(
                    record, failed_attempts=int(i == culprit), deadline=deadline
                )
            except BatchInterrupted as cut:
                raise BatchInterrupted(outcomes) from cut.__cause__
            outcomes.append(outcome)
        return outcomes

    async def _apply(
        self, handler: AnyHandler, record: Record, event: Event, ce: cloudevents.CloudEvent
    ) -> str:
        async with self._pool.acquire() as conn, conn.transaction():
            first_time = await inbox.claim(
                conn,
                consumer=self.name,
                event_id=ce.id,
                event_type=ce.type,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
            )
            if not first_time:
                return "duplicate"
            try:
                await handler(self._unit.joined(conn), [Delivered(event, ce)])
            except EventFailed as failed:  # one record: the cause is what failed
                cause = failed.__cause__
                raise (cause if isinstance(cause, Exception) else failed) from None
        return "handled"

    async def _dead_letter(self, record: Record, reason: str) -> None:
        headers = [
            *[(k, v) for k, v in (record.headers or ()) if not k.startswith("x-dlq-")],
            ("x-dlq-reason", reason[:2000].encode()),
            ("x-dlq-original-topic", record.topic.encode()),
            ("x-dlq-original-partition", str(record.partition).encode()),
            ("x-dlq-original-offset", str(record.offset).encode()),
            ("x-dlq-consumer", self.name.encode()),
        ]
        # Awaited with acks=all: the offset is committed only once the dead letter is safe.
        await self._dead_letters.send_and_wait(
            self._dlq_topic, value=record.value or b"", key=record.key, headers=headers
        )
        log.error("event_dead_lettered", reason=reason[:500], dead_letter_topic=self._dlq_topic)


def _runs(work: Sequence[_Prepared]) -> list[list[_Prepared]]:
    """Consecutive records of one event type: each run goes to its handler as one batch, so a
    repository can write it with one statement; the order across types is kept."""
    runs: list[list[_Prepared]] = []
    for p in work:
        if runs and runs[-1][0].ce.type == p.ce.type and runs[-1][0].handler is p.handler:
            runs[-1].append(p)
        else:
            runs.append([p])
    return runs
