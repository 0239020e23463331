"""Outbox relay: publishes committed outbox rows to Kafka, in order per key, at least once.

Several replicas: one is the leader (a session-level PostgreSQL advisory lock held on a dedicated
connection) and the others stand by. Because a leader can lose its lock without noticing (its idle
connection dropped), every publication pass also takes a transaction-level advisory lock first, so
two passes never overlap and rows always leave in `seq` order.

Order per key: a row whose send fails is retried with capped exponential backoff, and every later
row with the same key waits until it has gone out (the selection skips them; within a pass they are
held back), so a later event about one project never overtakes an earlier one.

Rows that can never go out: a failure that is the row's own (larger than the broker accepts, a
header that cannot be serialised: `is_row_fault`) counts towards `max_attempts`; at the limit the
row is parked (`runtime.outbox.park`) with its reason, logged at error and counted
(`wuye_outbox_parked_total`, gauge `wuye_outbox_parked_rows`), and waits for an operator to release or
discard it (`python -m runtime.dlq parked|release|discard`). Its key's later rows stay held back
behind it — per-key order is what consumers rely on — and are listed with it; other keys flow.
Broker trouble (unreachable, timeouts, leader changes) never parks a row: it is retried for as long
as it lasts.

Bounded waits: a pass gives Kafka `send_timeout_s` to acknowledge; what is not acknowledged by then
counts as failed and the producer is replaced (aiokafka's idempotent producer would otherwise wait
for an unreachable leader for ever). A re-sent row may arrive twice; consumers' inboxes absorb that.

Wake-up: LISTEN on the outbox channel (a statement trigger on the table sends the NOTIFY, delivered
at commit; migration 0003), with a slow poll as a safety net for notifications missed while
reconnecting.

Why it stays whole: leadership, the selection, per-key hold-back, parking and the packing of record
batches are one algorithm whose invariants (one pass at a time, order per key) are only checkable
when read together.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    CorruptRecordException,
    InvalidMessageError,
    InvalidTimestampError,
    KafkaError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from aiokafka.partitioner import murmur2
from aiokafka.producer.message_accumulator import BatchBuilder

from runtime import metrics, outbox
from runtime.outbox import NOTIFY_CHANNEL

log = structlog.get_logger(__name__)

_LEADER_LOCK = 0x72656C6179  # "relay": session lock, who leads
_PASS_LOCK = 0x7061737365  # "passe": transaction lock, one publication pass at a time
# The database's failures: the relay loses leadership and starts over. (asyncpg's
# InternalClientError shows up when a connection dies in the middle of an operation.)
_DB_ERRORS = (
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)
_HELD_BACK = "held back: an earlier event with the same key is not published yet"

_SELECT_DUE = """
SELECT o.seq, o.event_id, o.event_type, o.topic, o.key, o.headers, o.payload, o.attempts
  FROM outbox o
 WHERE o.published_at IS NULL
   AND o.next_attempt_at <= now()
   AND NOT EXISTS (SELECT 1 FROM outbox earlier
                    WHERE earlier.published_at IS NULL
                      AND earlier.key IS NOT DISTINCT FROM o.key
                      AND earlier.seq < o.seq
                      AND earlier.next_attempt_at > now())
 ORDER BY o.seq
 LIMIT $1
   FOR UPDATE
"""


@dataclass(frozen=True)
class RelayConfig:
    batch_size: int = 200
    poll_interval_s: float = 1.0
    base_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    send_timeout_s: float = 30.0
    # Attempts at a row whose failure is its own (`is_row_fault`) before it is parked.
    max_attempts: int = 20
    # Kafka unreachable: passes are retried with backoff from poll_interval_s up to this.
    reconnect_max_s: float = 5.0

    def backoff(self, attempts: int) -> float:
        return float(min(self.max_backoff_s, self.base_backoff_s * 2 ** min(attempts - 1, 20)))


class OutboxRelay:
    def __init__(
        self,
        pool: asyncpg.Pool,
        producer_factory: Callable[[], AIOKafkaProducer],
        config: RelayConfig | None = None,
    ) -> None:
        self._pool = pool
        self._producer_factory = producer_factory
        self._producer: AIOKafkaProducer | None = None
        self._config = config or RelayConfig()
        self._wake = asyncio.Event()
        self.is_leader = False
        self.published_total = 0
        # Why the last pass could not reach Kafka (None once a pass succeeds): for readiness.
        self.kafka_error: str | None = None

    # -- producer lifecycle -----------------------------------------------------------------------

    async def _ensure_producer(self) -> AIOKafkaProducer:
        # Started lazily: a service must accept writes into its outbox while Kafka is down.
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except BaseException:  # cancelled at shutdown too: never leave it half started
                await _stop_quietly(producer)
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _stop_quietly(producer)

    # -- one pass ---------------------------------------------------------------------------------

    async def publish_pending(self) -> int:
        """One pass over due rows; returns how many were published."""
        producer = await self._ensure_producer()
        async with self._pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _PASS_LOCK):
                return 0  # another relay is in the middle of a pass
            rows = await conn.fetch(_SELECT_DUE, self._config.batch_size)
            if not rows:
                return 0
            outcomes, producer_stuck = await self._send(producer, rows)
            published = await self._record(conn, rows, outcomes)
        if producer_stuck:
            log.warning("outbox_producer_replaced", reason="sends not acknowledged in time")
            await self.close()
        self.published_total += len(published)
        return len(published)

    async def _send(
        self, producer: AIOKafkaProducer, rows: Sequence[asyncpg.Record]
    ) -> tuple[list[BaseException | None], bool]:
        """Send rows in order; return each row's error (None = acknowledged) and whether the
        producer stopped answering.

        Rows are packed into one record batch per partition (`create_batch`/`send_batch`)
        instead of `send` per row: aiokafka's per-message path (partitioner, accumulator, a
        future per message) was most of the relay's CPU (docs/performance.md). Partitions are
        chosen as `send` would (murmur2 of the key), and batches for one partition go out in
        row order, so the per-key order is kept. A partition whose send failed takes no more
        rows this pass: they are held back, as a failed key's later rows always are."""
        errors: list[BaseException | None] = [None] * len(rows)
        batches = _Batches(producer)
        for i, row in enumerate(rows):
            try:
                await batches.add(i, row)
            except Exception as exc:  # noqa: BLE001 - recorded on the row and retried
                errors[i] = exc
        await batches.flush()
        for i in batches.held_back:
            errors[i] = RuntimeError(_HELD_BACK)
        for i, failure in batches.failed.items():
            errors[i] = failure
        stuck = False
        if batches.sent:
            waiting = [future for future, _ in batches.sent]
            _done, pending = await asyncio.wait(waiting, timeout=self._config.send_timeout_s)
            stuck = bool(pending)
        for fut, indexes in batches.sent:
            error: BaseException | None = None
            if not fut.done():
                fut.cancel()
                error = TimeoutError(f"not acknowledged in {self._config.send_timeout_s}s")
            elif fut.cancelled():
                error = asyncio.CancelledError()
            else:
                error = fut.exception()
            if error is not None:
                for i in indexes:
                    errors[i] = error
        return errors, stuck

    async def _record(
        self,
        conn: asyncpg.pool.PoolConnectionProxy,
        rows: Sequence[asyncpg.Record],
        errors: list[BaseException | None],
    ) -> list[int]:
        published: list[int] = []
        failed_keys: set[bytes | None] = set()
        for row, error in zip(rows, errors, strict=True):
            if error is None and row["key"] not in failed_keys:
                published.append(row["seq"])
                continue
            failed_keys.add(row["key"])
            attempts = row["attempts"] + 1
            delay = self._config.backoff(attempts)
            reason = repr(error) if error is not None else _HELD_BACK
            if error is not None and is_row_fault(error) and attempts >= self._config.max_attempts:
                await outbox.park(conn, row["seq"], attempts, reason)
                metrics.PARKED.inc()
                log.error(
                    "outbox_row_parked",
                    event_id=row["event_id"],
                    event_type=row["event_type"],
                    topic=row["topic"],
                    key=row["key"].decode("utf-8", "replace") if row["key"] is not None else None,
                    payload_bytes=len(row["payload"]),
                    attempts=attempts,
                    error=reason[:500],
                    action="python -m runtime.dlq parked|release|discard",
                )
                continue
            await conn.execute(
                """UPDATE outbox SET attempts = $2, last_error = $3,
                          next_attempt_at = now() + make_interval(secs => $4)
                    WHERE seq = $1""",
                row["seq"],
                attempts,
                reason[:1000],
                delay,
            )
            log.warning(
                "outbox_publish_failed",
                event_id=row["event_id"],
                event_type=row["event_type"],
                topic=row["topic"],
                attempts=attempts,
                retry_in_s=delay,
                error=reason[:300],
            )
        if published:
            await conn.execute(
                "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])", published
            )
            done = set(published)
            types = Counter(row["event_type"] for row in rows if row["seq"] in done)
            for event_type, count in types.items():
                metrics.published(event_type, count)
        if len(published) < len(rows):
            metrics.PUBLISH_FAILURES.inc(len(rows) - len(published))
        return published

    async def pending_count(self) -> int:
        async with self._pool.acquire() as conn:
            value = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        return int(value)

    # -- the loop ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set: wait for leadership, then publish whenever woken."""
        while not stop.is_set():
            try:
                await self._lead(stop)
            except _DB_ERRORS as exc:
                log.warning("outbox_relay_db_error", error=repr(exc))
                await _sleep_or_stop(stop, self._config.poll_interval_s)
            finally:
                self.is_leader = False

    async def _lead(self, stop: asyncio.Event) -> None:
        async with self._pool.acquire() as conn:
            while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK):
                if await _sleep_or_stop(stop, self._config.poll_interval_s):
                    return
            # Pool.release() runs pg_advisory_unlock_all() and UNLISTEN *: leaving this block
            # hands leadership over.
            self.is_leader = True
            log.info("outbox_relay_leader")
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            try:
                await self._publish_until(stop)
            finally:
                with contextlib.suppress(Exception):
                    await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)

    async def _publish_until(self, stop: asyncio.Event) -> None:
        failures = 0
        while not stop.is_set():
            self._wake.clear()  # before the pass: a NOTIFY during the pass wakes the next
            try:
                count = await self.publish_pending()
            except _DB_ERRORS:
                raise
            except Exception as exc:  # noqa: BLE001 - producer trouble; keep the relay alive
                failures += 1
                delay = min(
                    self._config.reconnect_max_s,
                    self._config.poll_interval_s * 2 ** min(failures - 1, 10),
                )
                self.kafka_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning(
                    "outbox_relay_kafka_unavailable",
                    attempt=failures,
                    error=repr(exc),
                    retry_in_s=delay,
                )
                await _sleep_or_stop(stop, delay)
                continue
            if failures:
                log.info("outbox_relay_kafka_connected", after_attempts=failures)
            failures = 0
            self.kafka_error = None
            if count >= self._config.batch_size:
                continue  # more may be waiting
            await _wait_any(self._wake, stop, within_s=self._config.poll_interval_s)

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()


# Kafka's answers that are about the record itself, not about the broker's health.
_RECORD_ERRORS = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidMessageError,
    InvalidTimestampError,
)


def is_row_fault(error: BaseException) -> bool:
    """Whether a publish failure is the row's own (sending it again will fail again) rather than
    the broker's: only those count towards parking. A record Kafka refuses as too large or invalid,
    and a row the relay cannot serialise (its headers, a wrong type) are; connection errors,
    timeouts, leader changes and every other Kafka error are the broker's."""
    if isinstance(error, _RECORD_ERRORS):
        return True
    if isinstance(error, KafkaError | OSError | asyncio.CancelledError):
        return False
    # json/str handling of the row's own content; UnicodeError is a ValueError
    return isinstance(error, ValueError | TypeError | KeyError | AttributeError)


@lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    """murmur2 as aiokafka's DefaultPartitioner computes it (pure Python: cached per key)."""
    return int(murmur2(key)) & 0x7FFFFFFF


@dataclass
class _Batches:
    """Rows packed into record batches per (topic, partition), sent as each fills."""

    producer: AIOKafkaProducer
    sent: list[tuple[asyncio.Future[object], list[int]]] = field(default_factory=list)
    failed: dict[int, BaseException] = field(default_factory=dict)
    held_back: list[int] = field(default_factory=list)
    _open: dict[tuple[str, int], tuple[BatchBuilder, list[int]]] = field(default_factory=dict)
    _partitions: dict[str, list[int]] = field(default_factory=dict)
    _blocked: set[tuple[str, int]] = field(default_factory=set)
    _dead_topics: dict[str, BaseException] = field(default_factory=dict)
    _round_robin: int = 0

    async def add(self, index: int, row: asyncpg.Record) -> None:
        topic: str = row["topic"]
        if topic in self._dead_topics:  # no metadata: don't wait again per row
            self.held_back.append(index)
            return
        partitions = self._partitions.get(topic)
        if partitions is None:
            try:
                partitions = sorted(await self.producer.partitions_for(topic))
            except KafkaTimeoutError as exc:
                self._dead_topics[topic] = exc
                raise
            self._partitions[topic] = partitions
        key: bytes | None = row["key"]
        if key is None:
            self._round_robin += 1
            partition = partitions[self._round_robin % len(partitions)]
        else:
            partition = partitions[_key_hash(key) % len(partitions)]
        tp = (topic, partition)
        if tp in self._blocked:
            self.held_back.append(index)
            return
        headers = [(k, v.encode()) for k, v in json.loads(row["headers"])]
        builder, indexes = self._open.get(tp) or (self.producer.create_batch(), [])
        if builder.append(timestamp=None, key=key, value=row["payload"], headers=headers) is None:
            if indexes:  # full: send it and start the next one
                await self._send(tp, builder, indexes)
                if tp in self._blocked:
                    self.held_back.append(index)
                    return
            builder, indexes = self.producer.create_batch(), []
            if (
                builder.append(timestamp=None, key=key, value=row["payload"], headers=headers)
                is None
            ):
                self._open.pop(tp, None)
                self._blocked.add(tp)  # later rows of this partition wait behind it
                raise MessageSizeTooLargeError(f"event larger than a whole batch ({topic})")
        indexes.append(index)
        self._open[tp] = (builder, indexes)

    async def flush(self) -> None:
        for tp, (builder, indexes) in list(self._open.items()):
            await self._send(tp, builder, indexes)

    async def _send(self, tp: tuple[str, int], builder: BatchBuilder, indexes: list[int]) -> None:
        self._open.pop(tp, None)
        try:
            future = await self.producer.send_batch(builder, tp[0], partition=tp[1])
        except Exception as exc:  # noqa: BLE001 - recorded on the rows and retried
            self._blocked.add(tp)
            for i in indexes:
                self.failed[i] = exc
            return
        self.sent.append((future, indexes))


async def _stop_quietly(producer: AIOKafkaProducer, grace_s: float = 5.0) -> None:
    """Stop a producer without waiting for ever on batches an unreachable broker never takes."""
    with contextlib.suppress(Exception):
        await asyncio.wait_for(producer.stop(), grace_s)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep, cut short by `stop`; return whether stop was set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _wait_any(*events: asyncio.Event, within_s: float) -> None:
    waiters = [asyncio.create_task(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=within_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()
