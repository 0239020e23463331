"""Fixtures for tests against the real Kafka broker and PostgreSQL server."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

from runtime import db, kafka
from runtime.consumer import AnyHandler
from runtime.unit_of_work import Delivered, PgUnitOfWork, each
from schemas import cloudevents
from schemas.base import Event
from schemas.topics import TopicSpec
from tests.conftest import run_async_in_thread

pytestmark = pytest.mark.integration
EMPTY_MIGRATIONS = Path(__file__).parent / "no_migrations"


@pytest.fixture(scope="session")
def kafka_topics(stack: object) -> str:
    """The platform's topics exist on the test broker; returns the bootstrap address."""
    bootstrap: str = stack.kafka_bootstrap  # type: ignore[attr-defined]
    run_async_in_thread(lambda: kafka.ensure_topics(bootstrap))
    return bootstrap


@pytest.fixture
async def pool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    """A fresh database with the runtime's tables (outbox, inbox)."""
    await db.prepare_database(fresh_db, EMPTY_MIGRATIONS, "test")
    p = await db.create_pool(fresh_db, max_size=5)
    yield p
    await p.close()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 30.0,
    keep: Callable[[ConsumerRecord[bytes, bytes]], bool] = lambda _r: True,
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read a topic from the beginning with a fresh group until `until(records)` or timeout."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while not until(records) and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for recs in batch.values():
                records.extend(r for r in recs if keep(r))
    finally:
        await consumer.stop()
    return records


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    for k, v in record.headers or ():
        if k == name:
            return v.decode()
    return None


# The consumer tests' consumers belong to the notifications service: its dead-letter topic.
NOTIFICATIONS_DLQ = "wuye.dlq.notifications"


async def dead_letter_of(bootstrap: str, event_id: str) -> str:
    """The reason (x-dlq-reason) of the one dead letter of event `event_id`; fails unless there is
    exactly one."""
    dead = await read_topic(
        bootstrap,
        NOTIFICATIONS_DLQ,
        until=lambda rs: len(rs) >= 1,
        keep=lambda r: header(r, "ce_id") == event_id,
    )
    assert len(dead) == 1, f"no dead letter for {event_id}"
    return header(dead[0], "x-dlq-reason") or ""


def with_ids(ids: Sequence[str]) -> Callable[[ConsumerRecord[bytes, bytes]], bool]:
    wanted = set(ids)
    return lambda r: header(r, "ce_id") in wanted


# A one-partition topic and a producer for the consumer tests (test_consumer*.py).


@pytest.fixture
async def topic(kafka_topics: str, unique: str) -> str:
    name = f"test.consumer.{unique}"
    await kafka.ensure_topics(
        kafka_topics, [TopicSpec(name, 1, "project_id", "test topic", {}, public=False)]
    )
    return name


@pytest.fixture
async def producer(kafka_topics: str) -> AsyncIterator[AIOKafkaProducer]:
    p = kafka.make_producer(kafka_topics, client_id="test-producer")
    await p.start()
    yield p
    await p.stop()


ConnectionHandler = Callable[[db.Connection, Event, cloudevents.CloudEvent], Awaitable[None]]


def on_connection(handler: ConnectionHandler) -> AnyHandler:
    """A consumer handler running `handler` on the transaction's connection, event by event (the
    consumer tests' effects are plain SQL on the connection)."""

    async def handle(uow: PgUnitOfWork, delivered: Delivered[Event]) -> None:
        await handler(uow.connection, delivered.event, delivered.ce)

    return each(handle)
