"""The transactional outbox and its relay, against the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from runtime import kafka, outbox
from runtime.relay import OutboxRelay, RelayConfig
from schemas import cloudevents
from schemas.topics import topic
from tests.factories import inspection_failed
from tests.integration.conftest import header, read_topic, with_ids

pytestmark = pytest.mark.integration
TOPIC = "wuye.inspections.events"


def relay_for(pool: asyncpg.Pool, bootstrap: str, **config: float) -> OutboxRelay:
    return OutboxRelay(
        pool,
        lambda: kafka.make_producer(bootstrap, client_id="test-relay"),
        RelayConfig(**config),  # type: ignore[arg-type]
    )


async def test_enqueue_outside_a_transaction_is_refused(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(outbox.OutboxOutsideTransaction):
            await outbox.enqueue(conn, inspection_failed(), source="/test")
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_rolled_back_business_change_leaves_no_event(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE business (id int PRIMARY KEY)")
        with contextlib.suppress(RuntimeError):
            async with conn.transaction():
                await conn.execute("INSERT INTO business VALUES (1)")
                await outbox.enqueue(conn, inspection_failed(), source="/test")
                raise RuntimeError("the business rule failed after the event was written")
        assert await conn.fetchval("SELECT count(*) FROM business") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_relay_publishes_with_key_and_cloudevents_headers(
    pool: asyncpg.Pool, kafka_topics: str
) -> None:
    event = inspection_failed(project_id="P-RELAY-1")
    async with pool.acquire() as conn, conn.transaction():
        ce = await outbox.enqueue(conn, event, source="/test", correlation_id="corr-1")
    relay = relay_for(pool, kafka_topics)
    try:
        assert await relay.publish_pending() == 1
        assert await relay.publish_pending() == 0  # nothing published twice
    finally:
        await relay.close()

    records = await read_topic(
        kafka_topics, TOPIC, until=lambda rs: len(rs) >= 1, keep=with_ids([ce.id])
    )
    assert len(records) == 1
    record = records[0]
    assert record.key == b"P-RELAY-1"
    assert header(record, "ce_type") == "cn.tj.wuye.inspections.InspectionFailed.v1"
    assert header(record, "ce_source") == "/test"
    assert header(record, "ce_specversion") == "1.0"
    assert header(record, "ce_correlationid") == "corr-1"
    received = cloudevents.decode(cloudevents.from_kafka(record.key, record.value, record.headers))
    assert received == event
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0


async def test_two_relays_publish_each_event_exactly_once_and_in_order(
    pool: asyncpg.Pool, kafka_topics: str
) -> None:
    """Several replicas: one leads, the other stands by; no row is sent twice, order kept per key."""
    events = [inspection_failed(project_id="P-ORDER-1", score=float(i)) for i in range(60)]
    ids: list[str] = []
    stop = asyncio.Event()
    relays = [relay_for(pool, kafka_topics, poll_interval_s=0.2) for _ in range(2)]
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    try:
        for e in events:
            async with pool.acquire() as conn, conn.transaction():
                ids.append((await outbox.enqueue(conn, e, source="/test")).id)
        records = await read_topic(
            kafka_topics, TOPIC, until=lambda rs: len(rs) >= len(ids), keep=with_ids(ids)
        )
        await asyncio.sleep(1.0)  # give a misbehaving second relay the chance to send duplicates
        records = await read_topic(
            kafka_topics, TOPIC, until=lambda rs: False, timeout=3.0, keep=with_ids(ids)
        )
        assert sum(r.is_leader for r in relays) == 1
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 30)
        for r in relays:
            await r.close()
    assert [header(r, "ce_id") for r in records] == ids  # once each, in commit order


async def test_relay_keeps_events_while_kafka_is_unreachable(pool: asyncpg.Pool) -> None:
    """A broker outage leaves rows pending with backoff; nothing is marked published."""
    async with pool.acquire() as conn, conn.transaction():
        await outbox.enqueue(conn, inspection_failed(), source="/test")
    relay = OutboxRelay(
        pool,
        # Nothing listens on this loopback port: connecting fails at once.
        lambda: kafka.make_producer("127.0.0.1:1", client_id="test-relay"),
        RelayConfig(poll_interval_s=0.1),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(1.5)
    stop.set()
    await task
    await relay.close()
    assert relay.published_total == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 1


async def test_relay_wakes_on_commit_without_waiting_for_the_poll(
    pool: asyncpg.Pool, kafka_topics: str
) -> None:
    relay = relay_for(pool, kafka_topics, poll_interval_s=30.0)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        for _ in range(100):  # wait for leadership and LISTEN
            if relay.is_leader:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)
        started = asyncio.get_running_loop().time()
        async with pool.acquire() as conn, conn.transaction():
            await outbox.enqueue(conn, inspection_failed(), source="/test")
        while relay.published_total < 1 and asyncio.get_running_loop().time() - started < 10:  # noqa: ASYNC110 - polling a counter the relay owns
            await asyncio.sleep(0.02)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        stop.set()
        await task
        await relay.close()
    assert relay.published_total == 1
    assert elapsed < 5.0, f"relay took {elapsed:.1f}s: it polled instead of listening"


async def test_a_backing_off_event_holds_back_later_events_with_its_key(
    pool: asyncpg.Pool, kafka_topics: str
) -> None:
    """A1 failed and waits out its backoff: A2 (same key) must not overtake it; B (other key) goes."""
    ids = {}
    for name, project in (("A1", "P-HOLD-A"), ("A2", "P-HOLD-A"), ("B", "P-HOLD-B")):
        async with pool.acquire() as conn, conn.transaction():
            ids[name] = (await outbox.enqueue(conn, inspection_failed(project), source="/t")).id
    async with pool.acquire() as conn:
        await conn.execute(
            "UPDATE outbox SET attempts = 1, next_attempt_at = now() + interval '1 hour' "
            "WHERE event_id = $1",
            ids["A1"],
        )
    relay = relay_for(pool, kafka_topics)
    try:
        assert await relay.publish_pending() == 1  # only B
        async with pool.acquire() as conn:
            pending = {
                r["event_id"]
                for r in await conn.fetch("SELECT event_id FROM outbox WHERE published_at IS NULL")
            }
            assert pending == {ids["A1"], ids["A2"]}
            await conn.execute(
                "UPDATE outbox SET next_attempt_at = now() WHERE event_id = $1", ids["A1"]
            )
        assert await relay.publish_pending() == 2
    finally:
        await relay.close()
    records = await read_topic(
        kafka_topics, TOPIC, until=lambda rs: len(rs) >= 3, keep=with_ids(list(ids.values()))
    )
    order = [header(r, "ce_id") for r in records if r.key == b"P-HOLD-A"]
    assert order == [ids["A1"], ids["A2"]]


async def test_published_rows_are_purged_after_the_retention_period(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        for _ in range(3):
            async with conn.transaction():
                await outbox.enqueue(conn, inspection_failed(), source="/test")
        await conn.execute(
            "UPDATE outbox SET published_at = now() - interval '40 days' "
            "WHERE seq IN (SELECT seq FROM outbox ORDER BY seq LIMIT 2)"
        )
    now = datetime.now(UTC)
    assert await outbox.purge_published(pool, now, keep_days=30) == 2
    assert await outbox.purge_published(pool, now, keep_days=30) == 0
    async with pool.acquire() as conn:
        left = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    assert left == 1  # unpublished rows are never purged


async def test_a_large_pass_packs_batches_per_partition_and_keeps_each_keys_order(
    pool: asyncpg.Pool, kafka_topics: str
) -> None:
    """1,200 rows over 40 keys in one pass, with batches small enough (16 KiB) that each
    partition needs several: every row once, on the partition `send` would choose, in order."""
    keys = [f"P-BATCH-{k:02d}" for k in range(40)]
    ids: dict[str, list[str]] = {k: [] for k in keys}
    async with pool.acquire() as conn, conn.transaction():
        for i in range(1200):
            key = keys[i % len(keys)]
            ce = await outbox.enqueue(conn, inspection_failed(project_id=key), source="/test")
            ids[key].append(ce.id)
    relay = OutboxRelay(
        pool,
        lambda: AIOKafkaProducer(
            bootstrap_servers=kafka_topics, acks="all", enable_idempotence=True,
            max_batch_size=16 * 1024,
        ),
        RelayConfig(batch_size=2000),
    )  # fmt: skip
    try:
        assert await relay.publish_pending() == 1200
    finally:
        await relay.close()
    wanted = [i for key_ids in ids.values() for i in key_ids]
    records = await read_topic(
        kafka_topics, TOPIC, until=lambda rs: len(rs) >= len(wanted), keep=with_ids(wanted)
    )
    assert len(records) == len(wanted)
    partitions = list(range(topic(TOPIC).partitions))
    for key in keys:
        mine = [r for r in records if r.key == key.encode()]
        assert [header(r, "ce_id") for r in mine] == ids[key]  # each once, in order
        expected = DefaultPartitioner()(key.encode(), partitions, partitions)
        assert {r.partition for r in mine} == {expected}
