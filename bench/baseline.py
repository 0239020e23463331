"""The baseline: a minimal hand-written aiokafka + asyncpg pipeline doing the complaint flow's
transactional work, with no platform code (nothing from runtime, services or schemas).

- writer: one transaction inserts a complaint row and an outbox row (and sends the relay a NOTIFY,
  as the platform's outbox does); called directly by the open-loop schedule (``bench.load``), no
  HTTP, no authentication, no validation; an asyncpg pool of 10 connections, the services'
  default pool size;
- relay: one loop (in the writer's process, as the platform's relay runs in the service's
  process) that selects up to 500 unpublished outbox rows in order, sends them with an
  AIOKafkaProducer (acks=all, idempotent, linger 5 ms: the platform's producer settings), waits
  for the acknowledgements and marks the rows sent; woken by LISTEN/NOTIFY;
- consumer: its own process (as the notifications service is), an AIOKafkaConsumer with manual
  commits; per record one transaction inserts into an inbox table ON CONFLICT DO NOTHING and, if
  the event is new, inserts the owner's receipt notice; the offsets are committed after each
  fetched batch.

What it leaves out, on purpose: leader election and per-key hold-back in the relay, retries,
dead letters, CloudEvents validation, notice rules and templates, the other subscribers of the
complaints topic. Those are the framework's (and the domain's) cost that the ratio measures.

Processes: ``python -m bench.baseline front SPEC OUT`` (one step's writes + the relay) and
``python -m bench.baseline consumer SPEC`` (until SIGTERM). The harness calls ``setup`` first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from bench.load import Shot, await_start, correlation_id, open_loop
from bench.sweep import (
    REPO,
    Effect,
    EffectReader,
    Launch,
    Say,
    SweepConfig,
    run_processes,
    sweep,
    warm_up,
)

TOPIC = "bench.baseline.complaints"
PARTITIONS = 12  # as wuye.complaints.events
CHANNEL = "bench_baseline_outbox"
POOL_SIZE = 10
RELAY_BATCH = 500

FRONT_SCHEMA = """
CREATE TABLE IF NOT EXISTS complaints (
    complaint_id   text PRIMARY KEY,
    project_id     text NOT NULL,
    category       text NOT NULL,
    description    text NOT NULL,
    contact_name   text,
    contact_phone  text,
    status         text NOT NULL,
    filed_at       timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq            bigserial PRIMARY KEY,
    event_id       text NOT NULL UNIQUE,
    topic          text NOT NULL,
    key            bytea,
    headers        jsonb NOT NULL,
    payload        bytea NOT NULL,
    correlation_id text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    published_at   timestamptz
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE published_at IS NULL;
"""

BACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox (
    consumer   text NOT NULL,
    event_id   text NOT NULL,
    topic      text NOT NULL,
    partition  integer NOT NULL,
    "offset"   bigint NOT NULL,
    handled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
CREATE TABLE IF NOT EXISTS notices (
    notice_id      text PRIMARY KEY,
    cause_event_id text NOT NULL UNIQUE,
    recipient      text NOT NULL,
    project_id     text NOT NULL,
    body           text NOT NULL,
    correlation_id text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
"""


async def setup(front_dsn: str, back_dsn: str, bootstrap: str) -> None:
    for dsn, schema in ((front_dsn, FRONT_SCHEMA), (back_dsn, BACK_SCHEMA)):
        conn = await asyncpg.connect(dsn, timeout=30)
        try:
            await conn.execute(schema)
        finally:
            await conn.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-baseline-admin")
    await admin.start()
    try:
        await admin.create_topics([NewTopic(TOPIC, PARTITIONS, 1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        await admin.close()


# -- writer + relay --------------------------------------------------------------------------------


async def write_complaint(pool: asyncpg.Pool, project_id: str, cid: str, description: str) -> None:
    complaint_id = str(uuid.uuid4())
    event_id = str(uuid.uuid4())
    filed_at = time.time()
    payload = json.dumps(
        {
            "complaint_id": complaint_id,
            "project_id": project_id,
            "category": "water",
            "description": description,
            "channel": "web",
            "filed_at": filed_at,
            "owner": "bench-owner",
        },
        ensure_ascii=False,
    ).encode()
    headers = [
        ["ce_id", event_id],
        ["ce_type", "bench.ComplaintFiled"],
        ["ce_correlationid", cid],
    ]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO complaints (complaint_id, project_id, category, description,
                      contact_name, contact_phone, status, filed_at)
               VALUES ($1, $2, 'water', $3, '李先生', '13700000000', 'filed', to_timestamp($4))""",
            complaint_id,
            project_id,
            description,
            filed_at,
        )
        await conn.execute(
            """INSERT INTO outbox (event_id, topic, key, headers, payload, correlation_id)
               VALUES ($1, $2, $3, $4::jsonb, $5, $6)""",
            event_id,
            TOPIC,
            complaint_id.encode(),
            json.dumps(headers),
            payload,
            cid,
        )
        await conn.execute("SELECT pg_notify($1, '')", CHANNEL)


async def relay(dsn: str, producer: AIOKafkaProducer, finishing: asyncio.Event) -> int:
    """Publish until the outbox is empty after `finishing` is set; return the rows sent."""
    conn = await asyncpg.connect(dsn, timeout=30)
    wake = asyncio.Event()
    await conn.add_listener(CHANNEL, lambda *_: wake.set())
    sent = 0
    try:
        while True:
            wake.clear()
            rows = await conn.fetch(
                """SELECT seq, topic, key, headers, payload FROM outbox
                    WHERE published_at IS NULL ORDER BY seq LIMIT $1""",
                RELAY_BATCH,
            )
            if rows:
                acks = [
                    await producer.send(
                        r["topic"],
                        r["payload"],
                        key=r["key"],
                        headers=[(k, v.encode()) for k, v in json.loads(r["headers"])],
                    )
                    for r in rows
                ]
                await asyncio.gather(*acks)
                await conn.execute(
                    "UPDATE outbox SET published_at = now() WHERE seq = ANY($1::bigint[])",
                    [r["seq"] for r in rows],
                )
                sent += len(rows)
                continue
            if finishing.is_set():
                return sent
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), 0.5)
    finally:
        await conn.close()


async def front(spec: dict[str, Any]) -> tuple[list[Shot], dict[str, int]]:
    pool = await asyncpg.create_pool(spec["dsn"], min_size=POOL_SIZE, max_size=POOL_SIZE)
    producer = AIOKafkaProducer(
        bootstrap_servers=spec["bootstrap"],
        client_id="bench-baseline-relay",
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=15_000,
    )
    await producer.start()
    errors: Counter[str] = Counter()
    projects: list[str] = spec["projects"]
    finishing = asyncio.Event()
    relaying = asyncio.create_task(relay(spec["dsn"], producer, finishing))
    try:

        async def fire(i: int, due: float) -> Shot:
            cid = correlation_id(spec["prefix"], i)
            sent = time.time()
            t = time.perf_counter()
            try:
                await write_complaint(pool, projects[i % len(projects)], cid, f"连续两天停水 {i}")
                status = 201
            except (asyncpg.PostgresError, OSError) as exc:
                status = 0
                errors[type(exc).__name__] += 1
            return cid, due, sent, status, (time.perf_counter() - t) * 1000

        shots = await open_loop(spec["count"], spec["rate"], await await_start(), fire)
        finishing.set()
        await relaying
    finally:
        if not relaying.done():
            relaying.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await relaying
        await producer.stop()
        await pool.close()
    return shots, dict(errors.most_common(10))


# -- consumer --------------------------------------------------------------------------------------


async def handle(conn: asyncpg.Connection, record: Any) -> None:
    headers = {k: v.decode() for k, v in record.headers}
    event_id = headers["ce_id"]
    async with conn.transaction():
        new = await conn.fetchval(
            """INSERT INTO inbox (consumer, event_id, topic, partition, "offset")
               VALUES ('baseline.notices', $1, $2, $3, $4)
               ON CONFLICT (consumer, event_id) DO NOTHING RETURNING 1""",
            event_id,
            record.topic,
            record.partition,
            record.offset,
        )
        if new is None:
            return
        event = json.loads(record.value)
        body = (
            f"您提交的关于“{event['project_id']}”的投诉已登记({event['complaint_id']}),"
            "物业服务企业将按首问责任制在规定时限内受理和办结。"
        )
        await conn.execute(
            """INSERT INTO notices (notice_id, cause_event_id, recipient, project_id, body,
                      correlation_id)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"baseline-notice:{event_id}")),
            event_id,
            event["owner"],
            event["project_id"],
            body,
            headers["ce_correlationid"],
        )


async def consume(spec: dict[str, Any]) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    conn = await asyncpg.connect(spec["dsn"], timeout=30)
    consumer = AIOKafkaConsumer(
        TOPIC,
        bootstrap_servers=spec["bootstrap"],
        group_id=spec["group"],
        client_id="bench-baseline-consumer",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    ready = Path(spec["ready_file"])
    announced = False
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            if consumer.assignment() and not announced:  # the group has assigned partitions
                await asyncio.to_thread(ready.write_text, "ready", encoding="utf-8")
                announced = True
            for records in batches.values():
                for record in records:
                    await handle(conn, record)
            if batches:
                await consumer.commit()
    finally:
        with contextlib.suppress(asyncio.CancelledError):
            await consumer.stop()
        await conn.close()


# -- the harness side ------------------------------------------------------------------------------


def front_launcher(
    dsn: str, bootstrap: str, projects: list[str], work_dir: Path, log: Path
) -> Launch:
    async def launch(
        rate: float, count: int, prefix: str
    ) -> tuple[float, list[Shot], dict[str, int]]:
        spec_path = work_dir / f"{prefix}spec.json"
        out = work_dir / f"{prefix}out.json"
        spec = {
            "dsn": dsn,
            "bootstrap": bootstrap,
            "projects": projects,
            "rate": rate,
            "count": count,
            "prefix": prefix,
        }
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        command = ["-m", "bench.baseline", "front", str(spec_path), str(out)]
        start_at = await run_processes([command], count / rate, 60, log)
        data = json.loads(out.read_text(encoding="utf-8"))
        return start_at, [tuple(s) for s in data["shots"]], data["errors"]

    return launch


async def bench_baseline(
    front_dsn: str,
    back_dsn: str,
    bootstrap: str,
    config: SweepConfig,
    *,
    projects: list[str],
    log_dir: Path,
    say: Say,
) -> dict[str, Any]:
    await setup(front_dsn, back_dsn, bootstrap)
    log = log_dir / "baseline.log"
    log.unlink(missing_ok=True)
    run = uuid.uuid4().hex[:6]
    with tempfile.TemporaryDirectory(prefix="wuye-bench-baseline-") as tmp:
        work = Path(tmp)
        ready = work / "consumer.ready"
        spec = work / "consumer.json"
        spec.write_text(
            json.dumps(
                {
                    "dsn": back_dsn,
                    "bootstrap": bootstrap,
                    "group": f"bench-baseline-{run}",
                    "ready_file": str(ready),
                }
            ),
            encoding="utf-8",
        )
        with log.open("ab") as out:
            consumer = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.baseline", "consumer", str(spec),
                cwd=REPO, stdout=out, stderr=out,
            )  # fmt: skip
        reader = EffectReader([Effect("notice", back_dsn, "notices", "created_at")])
        try:
            deadline = time.monotonic() + 60
            while not ready.exists():
                if consumer.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"baseline consumer not ready; see {log}")
                await asyncio.sleep(0.1)
            await reader.open()
            launch = front_launcher(front_dsn, bootstrap, projects, work, log)
            say(f"    baseline: writer called directly, open loop, {config.step_s:.0f} s steps")
            await warm_up("baseline", launch, reader, f"bench-{run}-wb-", 20, 60.0)
            result = await sweep("baseline", launch, reader, f"bench-{run}-b", config, say)
        except Exception as exc:  # noqa: BLE001 - reported in the results, not a crash
            result = {"error": f"{type(exc).__name__}: {exc}"}
            say(f"    baseline FAILED: {result['error']}")
        finally:
            await reader.close()
            if consumer.returncode is None:
                consumer.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(consumer.wait(), 15)
                except TimeoutError:
                    consumer.kill()
                    await consumer.wait()
    result["setup"] = {
        "http": False,
        "writer_pool": POOL_SIZE,
        "relay_batch": RELAY_BATCH,
        "partitions": PARTITIONS,
        "step_s": config.step_s,
        "drain_s": config.drain_s,
    }
    return result


def main(argv: list[str]) -> int:
    command, spec_path = argv[0], Path(argv[1])
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    if command == "front":
        shots, errors = asyncio.run(front(spec))
        Path(argv[2]).write_text(json.dumps({"shots": shots, "errors": errors}), encoding="utf-8")
    elif command == "consumer":
        asyncio.run(consume(spec))
    else:
        print(f"unknown command {command!r} (front, consumer)", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
