"""Tools the fault suite injects faults and counts with: database stalls, whole-topic reads,
consumer lag, copied and poisoned records. Nothing here needs a hook in production code."""

from __future__ import annotations

import asyncio
import functools
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from runtime import kafka
from schemas import cloudevents
from schemas.topics import topic as topic_spec
from services.__main__ import SERVICES, load

Record: TypeAlias = "ConsumerRecord[bytes, bytes]"
STALL_FUNCTION = "fault_suite_stall"


# -- waiting ------------------------------------------------------------------------------------


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout: float, what: str, *, every: float = 0.1
) -> float:
    """Poll `check` until true; return the seconds it took. Fails naming `what`."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        if loop.time() - started > timeout:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        await asyncio.sleep(every)
    return loop.time() - started


# -- stalls: hold a transaction at a chosen statement, so a kill lands exactly there -------------


async def add_stall(dsn: str, table: str, timing: str) -> None:
    """A statement trigger on `table` that sleeps a minute at `timing` (e.g. `BEFORE INSERT`,
    `BEFORE UPDATE OF published_at`): whoever runs that statement waits inside its transaction."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET lock_timeout = '20s'")  # a transaction that never ends fails here
        await conn.execute(
            f"""CREATE OR REPLACE FUNCTION {STALL_FUNCTION}() RETURNS trigger
                LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(60); RETURN NULL; END $$;
                CREATE TRIGGER {STALL_FUNCTION} {timing} ON {table}
                    FOR EACH STATEMENT EXECUTE FUNCTION {STALL_FUNCTION}()"""
        )
    finally:
        await conn.close()


@dataclass(frozen=True)
class Stalled:
    pid: int
    query: str
    has_written: bool  # the transaction holds an xid: it wrote (or locked) rows before the stall


async def stalled(dsn: str) -> list[Stalled]:
    """Backends of this database sleeping in the stall trigger."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """SELECT pid, query, backend_xid IS NOT NULL AS has_written FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event = 'PgSleep'"""
        )
    finally:
        await conn.close()
    return [Stalled(r["pid"], r["query"], r["has_written"]) for r in rows]


async def release_stall(dsn: str, table: str) -> int:
    """End the sleeping backends (PostgreSQL notices a vanished client only when it next talks
    to it) and drop the trigger; return how many backends were ended."""
    conn = await asyncpg.connect(dsn)
    try:
        ended = await conn.fetchval(
            """SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE datname = current_database() AND wait_event = 'PgSleep'"""
        )
        await conn.execute(f"DROP TRIGGER IF EXISTS {STALL_FUNCTION} ON {table}")
    finally:
        await conn.close()
    return int(ended)


async def locked_unpublished(dsn: str) -> set[str]:
    """Ids of unpublished outbox rows that another transaction holds locked (a relay's pass)."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            every = await conn.fetch("SELECT event_id FROM outbox WHERE published_at IS NULL")
            free = await conn.fetch(
                """SELECT event_id FROM outbox WHERE published_at IS NULL
                   FOR UPDATE SKIP LOCKED"""
            )
    finally:
        await conn.close()
    return {r["event_id"] for r in every} - {r["event_id"] for r in free}


# -- Kafka --------------------------------------------------------------------------------------


async def read_all(bootstrap: str, topic: str) -> list[Record]:
    """Every record of `topic` up to its end offsets at the time of the call, in partition order."""
    # "earliest" also for the reset `assign` starts: with the default ("latest") that reset can
    # finish after seek_to_beginning's and leave the consumer at the end
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = _partitions([topic])
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        # what was read, not consumer.position(): that one may run ahead of what getmany gave
        next_offset = dict.fromkeys(partitions, 0)
        deadline = asyncio.get_running_loop().time() + 60
        while remaining := [tp for tp in partitions if next_offset[tp] < ends[tp]]:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"{topic}: could not read up to {ends} in 60 s")
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, recs in batch.items():
                records.extend(r for r in recs if r.offset < ends[tp])
                if recs:
                    next_offset[tp] = recs[-1].offset + 1
        return records
    finally:
        await kafka.stop_consumer(consumer)


async def lag(bootstrap: str, groups: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Records not yet committed per consumer group (group id -> the topics it reads)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await consumer.start()
    await admin.start()
    try:
        out: dict[str, int] = {}
        for group, topics in groups.items():
            ends = await consumer.end_offsets(_partitions(topics))
            committed = await admin.list_consumer_group_offsets(group)
            out[group] = sum(
                end - max(0, committed[tp].offset if tp in committed else 0)
                for tp, end in ends.items()
            )
        return out
    finally:
        await admin.close()
        await kafka.stop_consumer(consumer)


def _partitions(topics: Iterable[str]) -> list[TopicPartition]:
    """The partitions of contract topics (a consumer without a subscription knows none)."""
    return [TopicPartition(t, p) for t in topics for p in range(topic_spec(t).partitions)]


def header(record: Record, name: str) -> str | None:
    for k, v in record.headers or ():
        if k == name:
            return bytes(v).decode(errors="replace")
    return None


async def produce(
    bootstrap: str,
    records: Sequence[tuple[str, int | None, bytes | None, bytes | None, list[tuple[str, bytes]]]],
) -> list[tuple[str, int, int]]:
    """Send (topic, partition, key, value, headers) in order; return where each landed."""
    producer = kafka.make_producer(bootstrap, client_id=f"fault-suite-{uuid.uuid4().hex[:6]}")
    await producer.start()
    try:
        landed = []
        for topic, partition, key, value, headers in records:
            meta = await producer.send_and_wait(
                topic, value, key=key, headers=headers, partition=partition
            )
            landed.append((topic, meta.partition, meta.offset))
        return landed
    finally:
        await producer.stop()


# -- who consumes what --------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerGroup:
    service: str
    name: str  # the group without the deployment's prefix; also `x-dlq-consumer`
    topics: tuple[str, ...]
    handled_types: frozenset[str]


@functools.cache
def consumer_groups() -> tuple[ConsumerGroup, ...]:
    """Every consumer group of every service, as its composition root declares it."""
    groups = []
    for service in SERVICES:
        settings_cls, bootstrap = load(service)
        spec = bootstrap.spec(settings_cls.model_construct())  # type: ignore[attr-defined]
        for c in spec.consumers:
            groups.append(
                ConsumerGroup(
                    service,
                    c.subscription.group,
                    tuple(c.subscription.topics),
                    frozenset(c.handlers),
                )
            )
    return tuple(groups)


# -- poison -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Poison:
    """A record the consumers must not choke on. `dead_letter` says whether a consumer group that
    reads its topic dead-letters it: always when it cannot be read at all (`all`), only when the
    group handles its type (`handled`), or never (`never`, an unknown type is skipped)."""

    name: str
    topic: str
    key: bytes
    value: bytes | None
    headers: list[tuple[str, bytes]]
    dead_letter: str  # "all" | "handled" | "never"
    ce_type: str | None

    def expected_groups(self, groups: Sequence[ConsumerGroup]) -> list[ConsumerGroup]:
        readers = [g for g in groups if self.topic in g.topics]
        if self.dead_letter == "all":
            return readers
        if self.dead_letter == "handled":
            return [g for g in readers if self.ce_type in g.handled_types]
        return []


def _ce_headers(ce_type: str, **overrides: str) -> list[tuple[str, bytes]]:
    attrs = {
        cloudevents.ID: f"poison-{uuid.uuid4()}",
        cloudevents.SOURCE: "/fault-suite",
        cloudevents.SPECVERSION_HEADER: cloudevents.SPECVERSION,
        cloudevents.TYPE: ce_type,
        cloudevents.TIME: "2011-08-20T10:00:00+08:00",
        cloudevents.CORRELATIONID: f"poison-{uuid.uuid4().hex[:8]}",
        cloudevents.CONTENT_TYPE: cloudevents.JSON,
        **overrides,
    }
    return [(k, v.encode()) for k, v in attrs.items()]


def poisons(topic: str, ce_type: str, key: bytes) -> list[Poison]:
    """The kinds of bad record a producer bug or a stranger could put on `topic`, with `ce_type`
    being a type the platform's consumers handle there."""
    unknown_version = ce_type.rsplit(".", 1)[0] + ".v99"

    def p(name: str, value: bytes | None, headers: list[tuple[str, bytes]], dl: str) -> Poison:
        declared = dict(headers).get(cloudevents.TYPE)
        return Poison(name, topic, key, value, headers, dl, declared.decode() if declared else None)

    return [
        p("garbage bytes, no headers", b"\x00\x9f\x92\x96 not an event \xff", [], "all"),
        p("valid headers, body not JSON", b"{this is not json", _ce_headers(ce_type), "handled"),
        p(
            "valid headers, body violates the schema",
            b'{"project_id": 5}',
            _ce_headers(ce_type),
            "handled",
        ),
        p("valid headers, body not UTF-8", b'{"a": "\xff\xfe"}', _ce_headers(ce_type), "all"),
        p("valid headers, empty body (tombstone)", None, _ce_headers(ce_type), "all"),
        p(
            "unknown CloudEvents specversion",
            b"{}",
            _ce_headers(ce_type, **{cloudevents.SPECVERSION_HEADER: "0.3"}),
            "all",
        ),
        p(
            "ce_time not a timestamp",
            b"{}",
            _ce_headers(ce_type, **{cloudevents.TIME: "yesterday"}),
            "all",
        ),
        # Not poison: a type no consumer knows (a future version) is skipped, never dead-lettered.
        p("unknown schema version (skipped)", b"{}", _ce_headers(unknown_version), "never"),
    ]
