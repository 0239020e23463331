"""At-least-once, idempotent event handling with bounded retries and a dead-letter topic.

For each Kafka record:
1. parse the CloudEvents headers and the body (`schemas.cloudevents`); a record that cannot be parsed
   is dead-lettered at once with the reason;
2. types this consumer has no handler for are acknowledged and skipped;
3. in one transaction: claim the event id in the inbox (a duplicate is skipped), run the handler;
4. a handler that raises is retried with exponential backoff up to `max_attempts`, then the record is
   dead-lettered with the error, and the partition moves on;
5. database or broker outages are not the message's fault: they are retried without limit and never
   dead-letter a good message.

Only after the record is handled or dead-lettered does the caller commit its offset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from runtime import db, inbox, metrics
from schemas import cloudevents
from schemas.base import Event
from schemas.topics import dead_letter_topic

log = structlog.get_logger(__name__)

Handler = Callable[[db.Connection, Event, cloudevents.CloudEvent], Awaitable[None]]

# Errors that say "the infrastructure is down or busy", not "this message is bad".
_INFRASTRUCTURE_TYPES: tuple[type[BaseException], ...] = (OSError, asyncpg.InterfaceError)
# SQLSTATE classes: 08 connection, 40 serialization/deadlock, 53 resources (disk, memory,
# connections), 57 operator intervention (shutdown, cancel), 58 system error; 25006 is
# read-only transaction, what a writer sees during a failover.
_INFRASTRUCTURE_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
_INFRASTRUCTURE_SQLSTATES = ("25006",)


def is_infrastructure_error(exc: BaseException) -> bool:
    if isinstance(exc, _INFRASTRUCTURE_TYPES):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, asyncpg.PostgresError) and isinstance(sqlstate, str):
        return (
            sqlstate[:2] in _INFRASTRUCTURE_SQLSTATE_CLASSES
            or sqlstate in _INFRASTRUCTURE_SQLSTATES
        )
    return False


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


class EventConsumer:
    """Dispatches records to handlers registered per CloudEvents type, for one consumer group."""

    def __init__(
        self,
        *,
        service: str,
        name: str,
        pool: asyncpg.Pool,
        handlers: Mapping[str, Handler],
        dead_letters: AIOKafkaProducer,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.service = service
        self.name = name  # the consumer (group) name recorded in the inbox
        self._pool = pool
        self._handlers = dict(handlers)
        self._dead_letters = dead_letters
        self._retry = retry or RetryPolicy()
        self._dlq_topic = dead_letter_topic(service).name

    async def handle(self, record: Record) -> str:
        """Handle one record; return the outcome: handled, duplicate, skipped or dead_lettered."""
        outcome = await self._handle(record)
        event_type = structlog.contextvars.get_contextvars().get("event_type", "unreadable")
        metrics.EVENTS.labels(self.name, metrics.short_type(event_type), outcome).inc()
        return outcome

    async def _handle(self, record: Record) -> str:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            consumer=self.name, topic=record.topic, partition=record.partition, offset=record.offset
        )
        try:
            ce = cloudevents.from_kafka(record.key, record.value, list(record.headers or ()))
        except cloudevents.MalformedEvent as exc:
            await self._dead_letter(record, f"malformed: {exc.reason}")
            return "dead_lettered"
        structlog.contextvars.bind_contextvars(
            event_id=ce.id, event_type=ce.type, correlation_id=ce.correlationid
        )
        handler = self._handlers.get(ce.type)
        if handler is None:
            log.debug("event_skipped", reason="no handler for this type")
            return "skipped"
        try:
            event = cloudevents.decode(ce)
        except cloudevents.MalformedEvent as exc:
            await self._dead_letter(record, f"invalid: {exc.reason}")
            return "dead_lettered"

        log.info("event_received")
        attempt = 0  # failures that count against the message
        outages = 0  # failures of the infrastructure: retried without limit
        while True:
            try:
                outcome = await self._apply(handler, record, event, ce)
            except Exception as exc:  # sorted below: an outage, or a reaction that failed
                kind = "infrastructure" if is_infrastructure_error(exc) else "handler"
                metrics.FAILURES.labels(self.name, metrics.short_type(ce.type), kind).inc()
                if kind == "infrastructure":
                    outages += 1
                    delay = self._retry.delay(outages)
                    log.warning("event_retry_infrastructure", error=repr(exc), retry_in_s=delay)
                    await asyncio.sleep(delay)
                    continue
                attempt += 1
                if attempt >= self._retry.max_attempts:
                    log.error("event_failed", attempts=attempt, error=repr(exc), exc_info=exc)
                    await self._dead_letter(
                        record, f"handler failed after {attempt} attempts: {exc!r}"
                    )
                    return "dead_lettered"
                delay = self._retry.delay(attempt)
                log.warning("event_retry", attempt=attempt, error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            log.info("event_handled" if outcome == "handled" else "event_duplicate")
            return outcome

    async def _apply(
        self, handler: Handler, record: Record, event: Event, ce: cloudevents.CloudEvent
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
            await handler(conn, event, ce)
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
