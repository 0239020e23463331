"""Outbox relay: publishes committed outbox rows to Kafka, in order, at least once.

Safe with several replicas: one replica at a time is the leader (a session-level PostgreSQL advisory
lock held on a dedicated connection); the others wait on standby and take over when the leader's
connection goes away. Rows are also claimed `FOR UPDATE SKIP LOCKED`, so even two relays that both
believed themselves leader could not publish the same row twice in one pass.

Order: rows go out in `seq` order through an idempotent producer. When a send fails, that row and
every later row with the same key in the batch stay pending and are retried with exponential backoff,
so a later event about one project never overtakes an earlier one that failed.

Wake-up: LISTEN on the outbox channel (NOTIFY is sent at commit by `runtime.outbox.enqueue`), with
a slow poll as a safety net for notifications missed while reconnecting.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer

from runtime.outbox import NOTIFY_CHANNEL

log = structlog.get_logger(__name__)

_LEADER_LOCK = 0x72656C6179  # "relay"


@dataclass(frozen=True)
class RelayConfig:
    batch_size: int = 200
    poll_interval_s: float = 1.0
    base_backoff_s: float = 0.5
    max_backoff_s: float = 30.0


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

    async def _ensure_producer(self) -> AIOKafkaProducer:
        # Started lazily: a service must accept writes into its outbox while Kafka is down.
        if self._producer is None:
            producer = self._producer_factory()
            try:
                await producer.start()
            except Exception:
                with contextlib.suppress(Exception):
                    await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def publish_pending(self) -> int:
        """One pass over due rows; returns how many were published."""
        cfg = self._config
        producer = await self._ensure_producer()
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                """SELECT seq, event_id, event_type, topic, key, headers, payload, attempts
                     FROM outbox
                    WHERE published_at IS NULL AND next_attempt_at <= now()
                    ORDER BY seq
                    LIMIT $1
                    FOR UPDATE SKIP LOCKED""",
                cfg.batch_size,
            )
            if not rows:
                return 0
            futures: list[asyncio.Future[object]] = []
            send_error: BaseException | None = None
            for row in rows:
                fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
                if send_error is None:
                    headers = [(k, v.encode()) for k, v in json.loads(row["headers"])]
                    try:
                        fut = await producer.send(
                            row["topic"], value=row["payload"], key=row["key"], headers=headers
                        )
                    except Exception as exc:  # noqa: BLE001 - recorded on the row and retried
                        # Usually the broker is unreachable: do not wait out a timeout per row.
                        send_error = exc
                if send_error is not None and not fut.done():
                    fut.set_exception(send_error)
                futures.append(fut)
            results = await asyncio.gather(*futures, return_exceptions=True)

            published: list[int] = []
            blocked_keys: set[bytes | None] = set()
            for row, result in zip(rows, results, strict=True):
                if isinstance(result, BaseException) or row["key"] in blocked_keys:
                    blocked_keys.add(row["key"])
                    attempts = row["attempts"] + 1
                    delay = min(cfg.max_backoff_s, cfg.base_backoff_s * 2 ** (attempts - 1))
                    error = (
                        repr(result)
                        if isinstance(result, BaseException)
                        else "held back: an earlier event with the same key failed"
                    )
                    await conn.execute(
                        """UPDATE outbox SET attempts = $2, last_error = $3,
                                  next_attempt_at = now() + make_interval(secs => $4)
                            WHERE seq = $1""",
                        row["seq"],
                        attempts,
                        error[:1000],
                        delay,
                    )
                    log.warning(
                        "outbox_publish_failed",
                        event_id=row["event_id"],
                        event_type=row["event_type"],
                        topic=row["topic"],
                        attempts=attempts,
                        retry_in_s=delay,
                        error=error[:300],
                    )
                else:
                    published.append(row["seq"])
            if published:
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])",
                    published,
                )
        self.published_total += len(published)
        if published:
            log.debug("outbox_published", count=len(published))
        return len(published)

    async def pending_count(self) -> int:
        async with self._pool.acquire() as conn:
            value = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        return int(value)

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set: wait for leadership, then publish whenever woken."""
        while not stop.is_set():
            try:
                await self._lead(stop)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                self.is_leader = False
                log.warning("outbox_relay_db_error", error=repr(exc))
                await _sleep_or_stop(stop, self._config.poll_interval_s)

    async def _lead(self, stop: asyncio.Event) -> None:
        conn = await self._pool.acquire()
        try:
            while not stop.is_set():
                if await conn.fetchval("SELECT pg_try_advisory_lock($1)", _LEADER_LOCK):
                    break
                await _sleep_or_stop(stop, self._config.poll_interval_s)
            else:
                return
            self.is_leader = True
            log.info("outbox_relay_leader")
            await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
            try:
                while not stop.is_set():
                    try:
                        count = await self.publish_pending()
                    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                        raise
                    except Exception as exc:  # noqa: BLE001 - producer trouble; keep the relay alive
                        log.warning("outbox_relay_kafka_unavailable", error=repr(exc))
                        await _sleep_or_stop(stop, self._config.poll_interval_s)
                        continue
                    if count >= self._config.batch_size:
                        continue  # more may be waiting
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(
                            _first(self._wake.wait(), stop.wait()), self._config.poll_interval_s
                        )
            finally:
                with contextlib.suppress(Exception):
                    await conn.remove_listener(NOTIFY_CHANNEL, self._on_notify)
                    await conn.execute("SELECT pg_advisory_unlock($1)", _LEADER_LOCK)
        finally:
            self.is_leader = False
            with contextlib.suppress(Exception):
                await self._pool.release(conn)

    def _on_notify(self, *_args: object) -> None:
        self._wake.set()


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def _first(*aws: object) -> None:
    tasks = [asyncio.ensure_future(a) for a in aws]  # type: ignore[call-overload]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
