"""A bad record never blocks its partition; an outage never costs a message or the group membership.

Real broker and database, the real FastStream subscriber (`runtime.subscriptions.register`):
- a handler failing with asyncpg's client-side DataError (a value that cannot be encoded: bad
  input) or hitting `statement_timeout` is dead-lettered after the bounded attempts and the next
  record of the partition is handled (both were retried for ever as "outages" before);
- PostgreSQL refusing connections for longer than `max_poll_interval` (a TCP proxy in front of the
  server is shut) is waited out: the records are handled once it is back, none is dead-lettered,
  and the consumer never left its group (no partition was revoked).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from faststream.kafka import KafkaBroker

from runtime import db
from runtime.consumer import EventConsumer, RetryPolicy
from runtime.subscriptions import Subscription, register
from schemas import cloudevents
from schemas.base import Event
from schemas.inspections import v1 as inspections
from tests.factories import inspection_failed
from tests.integration.conftest import (
    EMPTY_MIGRATIONS,
    dead_letter_of,
    on_connection,
)
from tests.integration.test_consumer import Handler, effects, record_effect, send_event, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
async def effect_table(pool: asyncpg.Pool) -> asyncpg.Pool:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE effects (n serial PRIMARY KEY, event_id text NOT NULL)")
    return pool


class Membership(ConsumerRebalanceListener):  # type: ignore[misc]
    """Records every assignment and revocation the group coordinator makes."""

    def __init__(self) -> None:
        self.assigned: list[set[TopicPartition]] = []
        self.revoked: list[set[TopicPartition]] = []

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.assigned.append(set(assigned))

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        if revoked:
            self.revoked.append(set(revoked))


async def start_consumer(
    bootstrap: str,
    pool: asyncpg.Pool,
    topic: str,
    handler: Handler,
    producer: AIOKafkaProducer,
    *,
    max_poll_interval_s: float = 300.0,
    listener: Membership | None = None,
) -> KafkaBroker:
    consumer = EventConsumer(
        service="notifications",
        name=f"test-{uuid.uuid4().hex[:6]}",
        pool=pool,
        handlers={inspections.InspectionFailed.ce_type: on_connection(handler)},
        dead_letters=producer,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=1.0),
    )
    broker = KafkaBroker(bootstrap)
    register(
        broker,
        consumer,
        Subscription(group=consumer.name, topics=(topic,), description="t"),
        max_poll_interval_s=max_poll_interval_s,
        listener=listener,
    )
    await broker.start()
    return broker


async def test_bad_input_refused_by_the_driver_is_dead_lettered_and_the_partition_moves_on(
    kafka_topics: str, effect_table: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    """Three kinds of client-side refusal, all about this record, none an outage."""
    attempts: dict[str, int] = {}

    async def refused(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        attempts[ce.id] = attempts.get(ce.id, 0) + 1
        assert isinstance(event, inspections.InspectionFailed)
        insert = "INSERT INTO effects (event_id) VALUES ($1)"
        if event.project_id == "P-BAD-VALUE":  # an int for a text column: cannot be encoded
            await conn.execute(insert, 12345)
        elif event.project_id == "P-BAD-ARGS":  # a bare InterfaceError: wrong argument count
            await conn.execute(insert, ce.id, "one too many")
        elif event.project_id == "P-BAD-CLIENT":
            # asyncpg's client-side DataError class (an InterfaceError subclass), which the
            # old classification took for an outage; asyncpg 0.32 raises it from custom codecs
            # only, so it is raised here as such a codec would.
            raise asyncpg.exceptions._base.DataError("invalid input for query argument $1")
        await conn.execute(insert, ce.id)

    bad = [
        await send_event(producer, topic, inspection_failed(project_id=project))
        for project in ("P-BAD-VALUE", "P-BAD-ARGS", "P-BAD-CLIENT")
    ]
    good = await send_event(producer, topic, inspection_failed())
    broker = await start_consumer(kafka_topics, effect_table, topic, refused, producer)
    try:
        await wait_for(lambda: _has(effect_table, good.id))
    finally:
        await broker.stop()
    assert [attempts[ce.id] for ce in bad] == [3, 3, 3]
    assert await effects(effect_table) == [good.id]
    reasons = [await dead_letter_of(kafka_topics, ce.id) for ce in bad]
    for reason in reasons:
        assert "handler failed after 3 attempts" in reason, reason
    assert "DataError" in reasons[0], reasons[0]
    assert "invalid input for query argument" in reasons[0], reasons[0]
    assert "InterfaceError" in reasons[1], reasons[1]
    assert "2 were passed" in reasons[1], reasons[1]
    assert "DataError" in reasons[2], reasons[2]


async def test_a_statement_timeout_is_dead_lettered_after_the_bounded_attempts(
    kafka_topics: str, effect_table: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    attempts: dict[str, int] = {}

    async def slow_for_one(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        attempts[ce.id] = attempts.get(ce.id, 0) + 1
        assert isinstance(event, inspections.InspectionFailed)
        if event.project_id == "P-SLOW":
            await conn.execute("SET LOCAL statement_timeout = '150ms'")
            await conn.execute("SELECT pg_sleep(5)")
        await record_effect(conn, event, ce)

    slow = await send_event(producer, topic, inspection_failed(project_id="P-SLOW"))
    good = await send_event(producer, topic, inspection_failed())
    broker = await start_consumer(kafka_topics, effect_table, topic, slow_for_one, producer)
    try:
        await wait_for(lambda: _has(effect_table, good.id))
    finally:
        await broker.stop()
    assert attempts[slow.id] == 3
    assert await effects(effect_table) == [good.id]
    reason = await dead_letter_of(kafka_topics, slow.id)
    assert "QueryCanceledError" in reason, reason
    assert "statement timeout" in reason, reason


class Proxy:
    """A TCP proxy in front of PostgreSQL that can be shut (connections refused, open ones cut)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()

    async def open(self) -> None:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def shut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._links.update((writer, up_writer))

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._links.difference_update((writer, up_writer))


async def _has(pool: asyncpg.Pool, event_id: str) -> bool:
    return event_id in await effects(pool)


async def test_an_outage_longer_than_max_poll_interval_is_waited_out_inside_the_group(
    kafka_topics: str, fresh_db: str, topic: str, producer: AIOKafkaProducer
) -> None:
    await db.prepare_database(fresh_db, EMPTY_MIGRATIONS, "test")
    direct = await db.create_pool(fresh_db, max_size=2)  # the test's own view, never cut
    async with direct.acquire() as conn:
        await conn.execute("CREATE TABLE effects (n serial PRIMARY KEY, event_id text NOT NULL)")
    parts = urlsplit(fresh_db)
    proxy = Proxy(parts.hostname or "127.0.0.1", parts.port or 5432)
    await proxy.open()
    proxied_dsn = urlunsplit(
        parts._replace(netloc=f"{parts.netloc.split('@')[0]}@127.0.0.1:{proxy.port}")
    )
    through_proxy = await db.create_pool(proxied_dsn, max_size=2)
    membership = Membership()
    max_poll_interval_s = 6.0
    broker = await start_consumer(
        kafka_topics,
        through_proxy,
        topic,
        record_effect,
        producer,
        max_poll_interval_s=max_poll_interval_s,
        listener=membership,
    )
    try:
        first = await send_event(producer, topic, inspection_failed())
        await wait_for(lambda: _has(direct, first.id))
        assert len(membership.assigned) == 1

        await proxy.shut()  # connections cut and refused: an outage
        during = [await send_event(producer, topic, inspection_failed()) for _ in range(3)]
        await asyncio.sleep(max_poll_interval_s * 2.5)
        assert await effects(direct) == [first.id]

        await proxy.open()  # same port: the pool reconnects
        await wait_for(lambda: _has(direct, during[-1].id), timeout=30)
        after = await send_event(producer, topic, inspection_failed())
        await wait_for(lambda: _has(direct, after.id), timeout=30)
    finally:
        await broker.stop()
        await proxy.shut()
        await through_proxy.close()
    # Every record handled once, in order, none dead-lettered (it would have no effect).
    assert await effects(direct) == [first.id, *(ce.id for ce in during), after.id]
    # Never put out of the group: one assignment, no revocation before the test stopped it.
    assert membership.revoked in ([], [membership.assigned[0]]), membership.revoked
    assert len(membership.assigned) == 1, membership.assigned
    await direct.close()
