"""At-least-once, idempotent consumption and dead letters, against the real broker and database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from faststream.kafka import KafkaBroker

from runtime import db
from runtime.consumer import EventConsumer, RetryPolicy
from runtime.subscriptions import Subscription, register
from schemas import cloudevents
from schemas.base import Event
from schemas.inspections import v1 as inspections
from tests.factories import inspection_failed
from tests.integration.conftest import NOTIFICATIONS_DLQ as DLQ
from tests.integration.conftest import dead_letter_of, header, on_connection, read_topic

pytestmark = pytest.mark.integration


async def send_event(
    producer: AIOKafkaProducer, topic: str, event: Event
) -> cloudevents.CloudEvent:
    ce = cloudevents.from_event(event, source="/test")
    await producer.send_and_wait(
        topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
    )
    return ce


Handler = Callable[[db.Connection, Event, cloudevents.CloudEvent], Awaitable[None]]


async def run_consumer(
    bootstrap: str, pool: asyncpg.Pool, topic: str, handler: Handler, producer: AIOKafkaProducer
) -> KafkaBroker:
    consumer = EventConsumer(
        service="notifications",
        name=f"test-{uuid.uuid4().hex[:6]}",
        pool=pool,
        handlers={inspections.InspectionFailed.ce_type: on_connection(handler)},
        dead_letters=producer,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.05, max_delay_s=0.2),
    )
    broker = KafkaBroker(bootstrap)
    register(broker, consumer, Subscription(group=consumer.name, topics=(topic,), description="t"))
    await broker.start()
    return broker


async def effects(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["event_id"] for r in await conn.fetch("SELECT event_id FROM effects ORDER BY n")]


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


@pytest.fixture
async def effect_table(pool: asyncpg.Pool) -> asyncpg.Pool:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE effects (n serial PRIMARY KEY, event_id text NOT NULL)")
    return pool


async def record_effect(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", ce.id)


async def test_redelivered_event_has_one_effect(
    kafka_topics: str, effect_table: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    event = inspection_failed()
    ce = cloudevents.from_event(event, source="/test")
    for _ in range(2):  # the same CloudEvent (same id) delivered twice
        await producer.send_and_wait(
            topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
        )
    other = await send_event(producer, topic, inspection_failed())
    await consume_until_handled(
        kafka_topics, effect_table, topic, record_effect, producer, other.id
    )
    assert await effects(effect_table) == [ce.id, other.id]


async def _has(pool: asyncpg.Pool, event_id: str) -> bool:
    return event_id in await effects(pool)


async def consume_until_handled(
    bootstrap: str,
    pool: asyncpg.Pool,
    topic: str,
    handler: Handler,
    producer: AIOKafkaProducer,
    event_id: str,
) -> None:
    """Run a consumer over the topic until `event_id` has had its effect, then stop it."""
    broker = await run_consumer(bootstrap, pool, topic, handler, producer)
    try:
        await wait_for(lambda: _has(pool, event_id))
    finally:
        await broker.stop()


async def test_malformed_record_is_dead_lettered_and_the_partition_moves_on(
    kafka_topics: str, effect_table: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    marker = uuid.uuid4().hex
    first = await send_event(producer, topic, inspection_failed())  # the poison shares its batch
    for value in (b"{not json", b"\xff not even text"):
        headers = [("ce_id", b"x"), ("content-type", b"application/json")]
        await producer.send_and_wait(topic, value, key=marker.encode(), headers=headers)
    good = await send_event(producer, topic, inspection_failed())
    await consume_until_handled(kafka_topics, effect_table, topic, record_effect, producer, good.id)
    dead = await read_topic(
        kafka_topics, DLQ, until=lambda rs: len(rs) >= 2, keep=lambda r: r.key == marker.encode()
    )
    assert len(dead) == 2
    for record, offset in zip(dead, ("1", "2"), strict=True):
        reason = header(record, "x-dlq-reason") or ""
        assert reason.startswith("malformed:"), reason
        assert header(record, "x-dlq-original-topic") == topic
        assert header(record, "x-dlq-original-partition") == "0"
        assert header(record, "x-dlq-original-offset") == offset
    assert [r.value for r in dead] == [b"{not json", b"\xff not even text"]
    assert await effects(effect_table) == [first.id, good.id]


async def test_invalid_body_is_dead_lettered_with_the_field_that_failed(
    kafka_topics: str, effect_table: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    ce = cloudevents.from_event(inspection_failed(), source="/test")
    broken = ce.data.replace(b'"district_code":"120101"', b'"district_code":"Tianjin"')
    assert broken != ce.data
    await producer.send_and_wait(
        topic, broken, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
    )
    good = await send_event(producer, topic, inspection_failed())
    await consume_until_handled(kafka_topics, effect_table, topic, record_effect, producer, good.id)
    reason = await dead_letter_of(kafka_topics, ce.id)
    assert reason.startswith("invalid:"), reason
    assert "district_code" in reason, reason


async def test_handler_that_keeps_failing_is_dead_lettered_after_bounded_retries(
    kafka_topics: str, effect_table: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    attempts: dict[str, int] = {}
    poison = inspection_failed(project_id="P-POISON")

    async def flaky(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        attempts[ce.id] = attempts.get(ce.id, 0) + 1
        await record_effect(conn, event, ce)  # rolled back with the failure below
        if isinstance(event, inspections.InspectionFailed) and event.project_id == "P-POISON":
            raise ValueError("cannot handle this project")

    bad = await send_event(producer, topic, poison)
    good = await send_event(producer, topic, inspection_failed())
    await consume_until_handled(kafka_topics, effect_table, topic, flaky, producer, good.id)
    assert attempts[bad.id] == 3
    assert await effects(effect_table) == [good.id]  # the failed attempts left nothing behind
    assert "handler failed after 3 attempts" in await dead_letter_of(kafka_topics, bad.id)


async def test_transient_handler_failure_is_retried_and_handled_once(
    kafka_topics: str, effect_table: asyncpg.Pool, topic: str, producer: AIOKafkaProducer
) -> None:
    calls = 0

    async def fails_once(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("a passing glitch")
        await record_effect(conn, event, ce)

    ce = await send_event(producer, topic, inspection_failed())
    await consume_until_handled(kafka_topics, effect_table, topic, fails_once, producer, ce.id)
    assert calls == 2
    assert await effects(effect_table) == [ce.id]
