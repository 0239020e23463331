"""Batches: the records of one poll handled in one transaction, falling back to one at a time.

`EventConsumer.handle_batch` is called directly with records built here (the Kafka side of
batching, offsets committed after the batch, is covered by tests/integration/test_consumer.py
and the fault suite); the database and the dead-letter topic are real.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from runtime import db
from runtime.consumer import EventConsumer, RetryPolicy
from runtime.unit_of_work import Delivered, PgUnitOfWork, each
from schemas import cloudevents
from schemas.base import Event
from schemas.inspections import v1 as inspections
from tests.factories import inspection_failed, rectification_overdue
from tests.integration.conftest import NOTIFICATIONS_DLQ as DLQ
from tests.integration.conftest import (
    ConnectionHandler,
    dead_letter_of,
    header,
    on_connection,
    read_topic,
)

pytestmark = pytest.mark.integration
TOPIC = "test.batches"


@dataclass
class FakeRecord:
    """What aiokafka's ConsumerRecord offers the consumer."""

    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    offset: int
    topic: str = TOPIC
    partition: int = 0


@dataclass
class Feed:
    offset: int = 0
    records: list[FakeRecord] = field(default_factory=list)

    def event(self, ce: cloudevents.CloudEvent) -> FakeRecord:
        return self.raw(ce.key, ce.data, cloudevents.to_kafka_headers(ce))

    def raw(
        self, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]
    ) -> FakeRecord:
        record = FakeRecord(key=key, value=value, headers=list(headers), offset=self.offset)
        self.offset += 1
        return record


def ce_of(event: Event) -> cloudevents.CloudEvent:
    return cloudevents.from_event(event, source="/test")


@pytest.fixture
async def effects(pool: asyncpg.Pool) -> asyncpg.Pool:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE effects (n serial PRIMARY KEY, event_id text NOT NULL)")
    return pool


async def recorded(pool: asyncpg.Pool) -> list[str]:
    async with pool.acquire() as conn:
        return [r["event_id"] for r in await conn.fetch("SELECT event_id FROM effects ORDER BY n")]


def consumer_for(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, handler: ConnectionHandler
) -> EventConsumer:
    return EventConsumer(
        service="notifications",
        name=f"test-{uuid.uuid4().hex[:6]}",
        pool=pool,
        handlers={inspections.InspectionFailed.ce_type: on_connection(handler)},
        dead_letters=producer,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02),
    )


async def record_effect(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    await conn.execute("INSERT INTO effects (event_id) VALUES ($1)", ce.id)


async def test_a_batch_is_handled_in_order_and_every_event_once(
    effects: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    consumer = consumer_for(effects, producer, record_effect)
    feed = Feed()
    a, b, c = (ce_of(inspection_failed()) for _ in range(3))
    earlier = ce_of(inspection_failed())
    assert await consumer.handle(feed.event(earlier)) == "handled"
    other_type = ce_of(rectification_overdue())  # no handler in this consumer

    outcomes = await consumer.handle_batch(
        [feed.event(a), feed.event(b), feed.event(a), feed.event(earlier), feed.event(other_type),
         feed.event(c)]
    )  # fmt: skip

    assert outcomes == ["handled", "handled", "duplicate", "duplicate", "skipped", "handled"]
    assert await recorded(effects) == [earlier.id, a.id, b.id, c.id]
    async with effects.acquire() as conn:
        claimed = await conn.fetch(
            'SELECT event_id, "offset" FROM inbox WHERE consumer = $1 ORDER BY "offset"',
            consumer.name,
        )
    assert [(r["event_id"], r["offset"]) for r in claimed] == [
        (earlier.id, 0), (a.id, 1), (b.id, 2), (c.id, 6)
    ]  # fmt: skip


async def test_a_failing_handler_rolls_the_batch_back_and_only_its_record_is_dead_lettered(
    effects: asyncpg.Pool, producer: AIOKafkaProducer, kafka_topics: str
) -> None:
    attempts: dict[str, int] = {}

    async def refuses_one_project(
        conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
    ) -> None:
        attempts[ce.id] = attempts.get(ce.id, 0) + 1
        await record_effect(conn, event, ce)  # rolled back with the failure below
        if isinstance(event, inspections.InspectionFailed) and event.project_id == "P-POISON":
            raise ValueError("cannot handle this project")

    consumer = consumer_for(effects, producer, refuses_one_project)
    feed = Feed()
    a, c = ce_of(inspection_failed()), ce_of(inspection_failed())
    bad = ce_of(inspection_failed(project_id="P-POISON"))

    outcomes = await consumer.handle_batch([feed.event(a), feed.event(bad), feed.event(c)])

    assert outcomes == ["handled", "dead_lettered", "handled"]
    assert await recorded(effects) == [a.id, c.id]  # once each: the batch's try was rolled back
    assert attempts[bad.id] == 3  # the try in the batch counts: max_attempts in all
    assert attempts[a.id] == 2  # in the rolled-back batch, then alone
    assert "handler failed after 3 attempts" in await dead_letter_of(kafka_topics, bad.id)


async def test_an_unreadable_record_sends_the_batch_one_by_one(
    effects: asyncpg.Pool, producer: AIOKafkaProducer, kafka_topics: str
) -> None:
    consumer = consumer_for(effects, producer, record_effect)
    feed = Feed()
    a, c = ce_of(inspection_failed()), ce_of(inspection_failed())
    marker = uuid.uuid4().hex.encode()

    outcomes = await consumer.handle_batch(
        [feed.event(a), feed.raw(marker, b"{not json", [("ce_id", b"x")]), feed.event(c)]
    )

    assert outcomes == ["handled", "dead_lettered", "handled"]
    assert await recorded(effects) == [a.id, c.id]
    dead = await read_topic(
        kafka_topics, DLQ, until=lambda rs: len(rs) >= 1, keep=lambda r: r.key == marker
    )
    assert [header(r, "x-dlq-original-offset") for r in dead] == ["1"]


async def test_events_a_handler_publishes_in_a_batch_name_their_own_cause(
    pool: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    @each
    async def reacts(uow: PgUnitOfWork, delivered: Delivered[Event]) -> None:
        # the trace travels explicitly: the delivered event is the cause, its correlation kept
        await uow.outbox.add(rectification_overdue(), delivered.trace)

    consumer = batch_consumer(pool, producer, {inspections.InspectionFailed.ce_type: reacts})
    feed = Feed()
    causes = [
        cloudevents.from_event(inspection_failed(), source="/test", correlation_id=f"c-{i}")
        for i in range(3)
    ]

    assert await consumer.handle_batch([feed.event(ce) for ce in causes]) == ["handled"] * 3

    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT headers, correlation_id FROM outbox ORDER BY seq")
    caused_by = [dict(json.loads(r["headers"]))[cloudevents.CAUSATIONID] for r in rows]
    assert caused_by == [ce.id for ce in causes]
    assert [r["correlation_id"] for r in rows] == [ce.correlationid for ce in causes]


# -- batch handlers: runs of one event type -----------------------------------------------------


def batch_consumer(
    pool: asyncpg.Pool, producer: AIOKafkaProducer, handlers: dict[str, object]
) -> EventConsumer:
    return EventConsumer(
        service="notifications",
        name=f"test-{uuid.uuid4().hex[:6]}",
        pool=pool,
        handlers=handlers,  # type: ignore[arg-type]
        dead_letters=producer,
        retry=RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.02),
    )


async def test_a_batch_handler_gets_each_run_of_one_type_in_order_and_writes_it_at_once(
    effects: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    calls: list[tuple[str, list[str]]] = []

    async def insert_run(uow: PgUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
        calls.append((batch[0].ce.type, [d.ce.id for d in batch]))
        await uow.connection.execute(
            "INSERT INTO effects (event_id) SELECT unnest($1::text[])", [d.ce.id for d in batch]
        )

    failed, overdue = inspections.InspectionFailed.ce_type, inspections.RectificationOverdue.ce_type
    consumer = batch_consumer(effects, producer, {failed: insert_run, overdue: insert_run})
    feed = Feed()
    a, b, d = (ce_of(inspection_failed()) for _ in range(3))
    c = ce_of(rectification_overdue())

    outcomes = await consumer.handle_batch([feed.event(x) for x in (a, b, c, d, a)])

    assert outcomes == ["handled", "handled", "handled", "handled", "duplicate"]
    assert calls == [(failed, [a.id, b.id]), (overdue, [c.id]), (failed, [d.id])]
    assert await recorded(effects) == [a.id, b.id, c.id, d.id]


async def test_a_failing_batch_handler_sends_its_run_one_by_one_without_blaming_a_record(
    effects: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """A handler of a whole run cannot say which record failed: none has an attempt counted
    against it, each gets its full tries alone; the one that keeps failing is dead-lettered."""
    tries: dict[str, int] = {}

    async def insert_run(uow: PgUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
        for d in batch:
            tries[d.ce.id] = tries.get(d.ce.id, 0) + 1
        await uow.connection.execute(
            "INSERT INTO effects (event_id) SELECT unnest($1::text[])", [d.ce.id for d in batch]
        )
        if any(getattr(d.event, "project_id", "") == "P-POISON" for d in batch):
            raise ValueError("cannot handle this project")

    consumer = batch_consumer(effects, producer, {inspections.InspectionFailed.ce_type: insert_run})
    feed = Feed()
    a, c = ce_of(inspection_failed()), ce_of(inspection_failed())
    bad = ce_of(inspection_failed(project_id="P-POISON"))

    outcomes = await consumer.handle_batch([feed.event(a), feed.event(bad), feed.event(c)])

    assert outcomes == ["handled", "dead_lettered", "handled"]
    assert await recorded(effects) == [a.id, c.id]
    assert tries == {a.id: 2, bad.id: 4, c.id: 2}  # the batch, then 3 alone for the bad one
