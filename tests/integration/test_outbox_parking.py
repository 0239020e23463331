"""An outbox row the broker will never accept is parked, visible, and released or discarded by an
operator; it never holds back other keys. Real PostgreSQL and Kafka; the operator commands run as
the CLI an operator would run (`python -m runtime.dlq parked|release|discard`)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from runtime import kafka, metrics, outbox
from runtime.relay import OutboxRelay, RelayConfig
from tests.factories import inspection_failed
from tests.integration.conftest import header, read_topic, with_ids

pytestmark = pytest.mark.integration
TOPIC = "wuye.inspections.events"
REPO = Path(__file__).resolve().parents[2]
TOO_LARGE = 2 * 1024 * 1024  # the broker's message.max.bytes is 1 MiB (the default)


def dlq_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOG_FORMAT": "json"}
    return subprocess.run(
        [sys.executable, "-m", "runtime.dlq", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=REPO,
        check=False,
    )


async def row(pool: asyncpg.Pool, event_id: str) -> asyncpg.Record | None:
    async with pool.acquire() as conn:
        return await conn.fetchrow(
            "SELECT attempts, parked_at, published_at, last_error FROM outbox WHERE event_id = $1",
            event_id,
        )


async def eventually(check: object, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.1)


async def test_a_row_too_large_for_the_broker_is_parked_then_released_or_discarded(
    pool: asyncpg.Pool, fresh_db: str, kafka_topics: str
) -> None:
    ids: dict[str, str] = {}
    for name, project in (("big", "P-PARK-A"), ("after", "P-PARK-A"), ("other", "P-PARK-B")):
        async with pool.acquire() as conn, conn.transaction():
            ids[name] = (await outbox.enqueue(conn, inspection_failed(project), source="/t")).id
    async with pool.acquire() as conn:  # the schemas bound every field: enlarge the row itself
        await conn.execute(
            "UPDATE outbox SET payload = payload || convert_to(repeat(' ', $2), 'UTF8') "
            "WHERE event_id = $1",
            ids["big"],
            TOO_LARGE,
        )
    parked_before = metrics.PARKED._value.get()
    relay = OutboxRelay(
        pool,
        lambda: kafka.make_producer(kafka_topics, client_id="test-parking"),
        RelayConfig(poll_interval_s=0.1, base_backoff_s=0.05, max_backoff_s=0.2, max_attempts=3),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))

    async def parked() -> bool:
        r = await row(pool, ids["big"])
        return r is not None and r["parked_at"] is not None

    try:
        await eventually(parked)
        big = await row(pool, ids["big"])
        assert big is not None
        assert big["attempts"] == 3  # the bounded attempts, no more
        assert "MessageSizeTooLargeError" in big["last_error"]
        assert metrics.PARKED._value.get() == parked_before + 1
        # The other key flowed; the parked row's own key waits behind it (per-key order).
        other = await read_topic(
            kafka_topics, TOPIC, until=lambda rs: len(rs) >= 1, keep=with_ids([ids["other"]])
        )
        assert len(other) == 1
        await asyncio.sleep(1.0)  # several passes: the parked row is not tried again
        big_later = await row(pool, ids["big"])
        assert big_later is not None
        assert big_later["attempts"] == 3
        after = await row(pool, ids["after"])
        assert after is not None
        assert after["published_at"] is None

        # /metrics: the gauge counts it, the backlog does not (its age alert would never clear)
        await metrics.Sampler(kafka_topics, {}, []).run(pool, datetime.now(UTC))
        assert metrics.OUTBOX_PARKED._value.get() == 1
        assert metrics.OUTBOX_BACKLOG._value.get() == 1  # "after", held back

        listed = dlq_cli("parked", "--database-url", fresh_db)
        assert listed.returncode == 0, listed.stderr
        lines = [json.loads(line) for line in listed.stdout.splitlines()]
        assert [x["event_id"] for x in lines] == [ids["big"]]
        assert "MessageSizeTooLargeError" in lines[0]["reason"]
        assert lines[0]["held_back_behind_it"] == 1
        assert lines[0]["payload_bytes"] > TOO_LARGE

        refused = dlq_cli("release", "--database-url", fresh_db, "--event-id", ids["big"])
        assert refused.returncode == 2  # who and why are required

        released = dlq_cli(
            "release", "--database-url", fresh_db, "--event-id", ids["big"],
            "--by", "ops-wang", "--why", "broker limit raised",
        )  # fmt: skip
        assert released.returncode == 0, released.stderr
        log = [json.loads(line) for line in released.stderr.splitlines() if line.startswith("{")]
        assert any(
            x["event"] == "outbox_row_released" and x["by"] == "ops-wang"
            and x["why"] == "broker limit raised" and x["event_id"] == ids["big"]
            for x in log
        ), released.stderr  # fmt: skip
        # Released: a fresh set of attempts (still too large here, so parked again after 3).
        await eventually(parked)
        again = await row(pool, ids["big"])
        assert again is not None
        assert again["attempts"] == 3
        assert again["parked_at"] > big["parked_at"]

        discarded = dlq_cli(
            "discard", "--database-url", fresh_db, "--event-id", ids["big"],
            "--by", "ops-wang", "--why", "a payload no consumer could read",
        )  # fmt: skip
        assert discarded.returncode == 0, discarded.stderr
        assert "outbox_row_discarded" in discarded.stderr
        assert "a payload no consumer could read" in discarded.stderr
        assert await row(pool, ids["big"]) is None
        # The key is free again: the row behind it goes out.
        records = await read_topic(
            kafka_topics, TOPIC, until=lambda rs: len(rs) >= 1, keep=with_ids([ids["after"]])
        )
        assert [header(r, "ce_id") for r in records] == [ids["after"]]
        assert dlq_cli("parked", "--database-url", fresh_db).stdout == ""
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await relay.close()
