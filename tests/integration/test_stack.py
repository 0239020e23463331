"""The local stack itself: a real Kafka broker and a real PostgreSQL, as other tests use them."""

from __future__ import annotations

import time

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaTimeoutError, UnknownTopicOrPartitionError


async def _create_topic(bootstrap: str, name: str, partitions: int = 1) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        await admin.create_topics(
            [NewTopic(name=name, num_partitions=partitions, replication_factor=1)]
        )
    finally:
        await admin.close()


async def _list_topics(bootstrap: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        await admin.start()
        return await admin.list_topics()
    finally:
        await admin.close()


async def _produce(bootstrap: str, topic: str, key: bytes, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    try:
        await producer.start()
        await producer.send_and_wait(topic, value, key=key, headers=[("ce_type", b"test.stack")])
    finally:
        await producer.stop()


async def _consume_one(
    bootstrap: str, topic: str, group: str, wait_s: float = 30
) -> tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        await consumer.start()
        batches = await consumer.getmany(timeout_ms=int(wait_s * 1000), max_records=1)
        records = [r for rs in batches.values() for r in rs]
        assert records, f"no record on {topic} within {wait_s} s"
        r = records[0]
        return r.key, r.value, list(r.headers)
    finally:
        await consumer.stop()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_kafka_round_trip(stack, unique):
    topic = f"stack-check.{unique}"
    await _create_topic(stack.kafka_bootstrap, topic, partitions=3)
    await _produce(stack.kafka_bootstrap, topic, b"k1", b'{"hello": "kafka"}')

    key, value, headers = await _consume_one(stack.kafka_bootstrap, topic, f"g-{unique}")
    assert (key, value) == (b"k1", b'{"hello": "kafka"}')
    assert ("ce_type", b"test.stack") in headers


@pytest.mark.integration
@pytest.mark.asyncio
async def test_kafka_does_not_auto_create_topics(stack, unique):
    topic = f"never-created.{unique}"
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka_bootstrap, request_timeout_ms=3000)
    try:
        await producer.start()
        with pytest.raises((UnknownTopicOrPartitionError, KafkaTimeoutError)):
            await producer.send_and_wait(topic, b"lost")
    finally:
        await producer.stop()
    assert topic not in await _list_topics(stack.kafka_bootstrap)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_kafka_restart_keeps_data(stack, unique):
    if stack.kafka is None:
        pytest.skip("external Kafka (KAFKA_BOOTSTRAP_SERVERS): cannot restart it")
    topic = f"stack-restart.{unique}"
    await _create_topic(stack.kafka_bootstrap, topic)
    await _produce(stack.kafka_bootstrap, topic, b"before", b"survives a restart")

    stack.kafka.stop()
    assert not stack.kafka.is_running()
    t0 = time.monotonic()
    stack.kafka.start()
    stack.kafka.start()  # already running: no-op
    stack.kafka.wait_ready()
    print(f"Kafka restart: {time.monotonic() - t0:.1f} s")

    key, value, _ = await _consume_one(stack.kafka_bootstrap, topic, f"g-{unique}")
    assert (key, value) == (b"before", b"survives a restart")
    assert topic in await _list_topics(stack.kafka_bootstrap)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_fresh_db_is_usable_and_isolated(stack, fresh_db, db_factory):
    other = db_factory()
    assert other != fresh_db

    conn = await asyncpg.connect(fresh_db)
    try:
        assert await conn.fetchval("SELECT 1") == 1
        name = await conn.fetchval("SELECT current_database()")
        assert fresh_db.endswith("/" + name)
        await conn.execute("CREATE TABLE only_here (id int)")
    finally:
        await conn.close()

    conn = await asyncpg.connect(other)
    try:
        assert await conn.fetchval("SELECT current_database()") != name
        assert await conn.fetchval("SELECT to_regclass('only_here')") is None
    finally:
        await conn.close()
