"""Benchmarks on the real stack: `make bench` (never part of `make test`).

Starts its own Kafka and PostgreSQL (profile `bench`, own ports; `--profile` picks another, wiped
at start too), then measures, with the platform's own code:

- the outbox relay: events/s from a filled outbox to Kafka (acks=all, idempotent producer);
- one consumer with inbox de-duplication: events/s through `EventConsumer.handle_batch` (inbox
  claims + a handler's insert per event, one transaction per fetched batch), records fetched with
  aiokafka;
- the public board's list page: p50/p95/p99 over HTTP at 1k, 10k and 100k published cases;
- rebuilding the board's read model: events/s replaying 100k events (1M with `--full`);
- end to end (bench/e2e.py): the four services as processes, HTTP complaint and failed-inspection
  intake driven open loop at increasing offered load until saturation; throughput and latency from
  event time to effect time (the notice, the board's evidence row);
- the baseline (bench/baseline.py): a hand-written aiokafka + asyncpg pipeline doing the complaint
  flow's transactional work, driven by the same load steps; platform ÷ baseline is the
  framework-overhead figure.

Writes docs/performance.md (tables with the machine, date and command), PNG charts in
docs/performance/ and every number in docs/performance/results.json. `--only` measures a subset
and merges it into the previous results.json (the other sections keep their earlier numbers and
dates); `--no-write` prints the results instead of writing anything.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer

from bench import baseline as baseline_bench
from bench import e2e as e2e_bench
from bench import e2e_report
from bench.sweep import SweepConfig
from deploy.local.processes import ServiceProcess, free_port
from deploy.local.stack import Stack, StackConfig
from runtime import db, kafka, outbox
from runtime import logging as runtime_logging
from runtime.consumer import EventConsumer
from runtime.relay import OutboxRelay, RelayConfig
from runtime.unit_of_work import Delivered, PgUnitOfWork, each
from schemas import cloudevents, topics
from schemas.inspections import v1 as inspections
from services.exposure import rebuild

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
CHARTS = DOCS / "performance"
EMPTY = REPO / "tests" / "integration" / "no_migrations"
EXPOSURE_MIGRATIONS = REPO / "services" / "exposure" / "migrations"
T0 = datetime(2011, 8, 20, 2, 0, tzinfo=UTC)
SECTIONS = ("relay", "consumer", "board", "replay", "e2e", "baseline")


def say(message: str) -> None:
    print(message, flush=True)


@dataclass
class Results:
    started: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    relay: dict[str, float] = field(default_factory=dict)
    consumer: dict[str, float] = field(default_factory=dict)
    board: list[dict[str, Any]] = field(default_factory=list)
    replay: list[dict[str, float]] = field(default_factory=list)
    e2e: dict[str, Any] = field(default_factory=dict)
    baseline: dict[str, Any] = field(default_factory=dict)
    # section -> {"at": when, "command": what measured it}: merged results mix runs
    measured: dict[str, dict[str, str]] = field(default_factory=dict)
    # the machine that measured them (`machine()` when measuring; kept by --render)
    machine: str = ""


def inspection_completed(project: int, n: int) -> inspections.InspectionCompleted:
    return inspections.InspectionCompleted(
        inspection_id=f"I-{project}-{n}",
        project_id=f"P-120101-{project:05d}",
        project_name="海河花园",
        enterprise_id=f"E-{project % 2000:04d}",
        enterprise_name="津城物业服务有限公司",
        district_code="120101",
        kind="patrol",
        template_id="contract-self-inspection",
        template_version=1,
        score=80.0 + (n % 20),
        pass_mark=80.0,
        inspected_at=T0,
        recorded_by="bench",
        passed=True,
        failed_item_count=0,
    )


# -- relay -----------------------------------------------------------------------------------------


async def bench_relay(stack: Stack, n: int) -> dict[str, float]:
    dsn = stack.postgres.create_database(f"bench_relay_{uuid.uuid4().hex[:6]}")
    await db.prepare_database(dsn, EMPTY, "bench")
    pool = await db.create_pool(dsn, max_size=4)
    try:
        t = time.perf_counter()
        for start in range(0, n, 1000):
            async with pool.acquire() as conn, conn.transaction():
                for i in range(start, min(n, start + 1000)):
                    await outbox.enqueue(conn, inspection_completed(i % 5000, i), source="/bench")
        enqueue_s = time.perf_counter() - t
        bootstrap = stack.kafka.bootstrap_servers
        relay = OutboxRelay(
            pool,
            lambda: kafka.make_producer(bootstrap, client_id="bench-relay"),
            RelayConfig(batch_size=1000, poll_interval_s=0.1),
        )
        stop = asyncio.Event()
        t = time.perf_counter()
        task = asyncio.create_task(relay.run(stop))
        while await relay.pending_count():  # noqa: ASYNC110 - polling the database is the point
            await asyncio.sleep(0.05)
        publish_s = time.perf_counter() - t
        stop.set()
        await task
        await relay.close()
    finally:
        await pool.close()
    return {
        "events": n,
        "enqueue_per_s": n / enqueue_s,
        "relay_per_s": n / publish_s,
        "relay_s": publish_s,
    }


# -- consumer --------------------------------------------------------------------------------------


async def bench_consumer(stack: Stack, n: int) -> dict[str, float]:
    bootstrap = stack.kafka.bootstrap_servers
    dsn = stack.postgres.create_database(f"bench_consumer_{uuid.uuid4().hex[:6]}")
    await db.prepare_database(dsn, EMPTY, "bench")
    pool = await db.create_pool(dsn, max_size=4)
    async with pool.acquire() as conn:
        await conn.execute("CREATE TABLE seen (inspection_id text PRIMARY KEY, score numeric)")

    @each
    async def handler(uow: PgUnitOfWork, delivered: Delivered[Any]) -> None:
        # an insert per event, as the measurements before batch handlers did
        await uow.connection.execute(
            "INSERT INTO seen VALUES ($1, $2) ON CONFLICT DO NOTHING",
            delivered.event.inspection_id,
            delivered.event.score,
        )

    topic = topics.INSPECTIONS_EVENTS
    producer = kafka.make_producer(bootstrap, client_id="bench-feed")
    await producer.start()
    marker = uuid.uuid4().hex[:8]
    try:
        batch = []
        for i in range(n):
            event = inspection_completed(i % 5000, i).model_copy(
                update={"inspection_id": f"I-{marker}-{i}"}
            )
            ce = cloudevents.from_event(event, source="/bench")
            batch.append(
                await producer.send(
                    topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
                )
            )
            if len(batch) >= 2000:
                await asyncio.gather(*batch)
                batch.clear()
        await asyncio.gather(*batch)
    finally:
        await producer.stop()
    dlq = kafka.make_producer(bootstrap, client_id="bench-dlq")
    await dlq.start()
    consumer_impl = EventConsumer(
        service="inspections",
        name="bench.consumer",
        pool=pool,
        handlers={inspections.InspectionCompleted.ce_type: handler},
        dead_letters=dlq,
    )
    reader = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{marker}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await reader.start()
    handled = 0
    t = time.perf_counter()
    try:
        while handled < n:
            batches = await reader.getmany(timeout_ms=1000, max_records=500)
            for records in batches.values():
                outcomes = await consumer_impl.handle_batch(records)
                handled += outcomes.count("handled")
            await reader.commit()
        elapsed = time.perf_counter() - t
    finally:
        await kafka.stop_consumer(reader)
        await dlq.stop()
        await pool.close()
    return {"events": n, "per_s": n / elapsed, "seconds": elapsed}


# -- board -----------------------------------------------------------------------------------------


async def fill_cases(dsn: str, total: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval("SELECT count(*) FROM cases")
        items = json.dumps(
            [{"item_id": "facilities.fire", "title_zh": "消防设施运行正常", "title_en": "Fire",
              "severity": "urgent", "note": ""}], ensure_ascii=False,
        )  # fmt: skip
        districts = ["120101", "120102", "120103", "120104", "120105", "120106"]
        rows = []
        now = datetime.now(UTC)  # the service's clock: displayed now, not due to end
        for i in range(have, total):
            at = now - timedelta(minutes=i)
            rows.append(
                (
                    f"case-{i:07d}", f"P-{i:07d}", f"项目{i}", f"E-{i % 2000:04d}", f"企业{i % 2000}",
                    districts[i % 6], "rectification_overdue", "general", f"O-{i:07d}",
                    f"I-{i:07d}", items, at, f"和平区物业通〔2011〕{i}号", "published",
                    at, now + timedelta(days=90), now + timedelta(days=365), at, at,
                )
            )  # fmt: skip
        await conn.copy_records_to_table(
            "cases",
            records=rows,
            columns=[
                "case_id", "project_id", "project_name", "enterprise_id", "enterprise_name",
                "district_code", "reason", "tier", "order_id", "inspection_id", "items",
                "deadline", "notice_no", "status", "published_at", "min_until", "max_until",
                "opened_at", "updated_at",
            ],
        )  # fmt: skip
        await conn.execute("VACUUM ANALYZE cases")  # what autovacuum does after a bulk load
    finally:
        await conn.close()


async def bench_board(stack: Stack, sizes: list[int], requests: int) -> list[dict[str, Any]]:
    dsn = stack.postgres.create_database(f"bench_board_{uuid.uuid4().hex[:6]}")
    await db.prepare_database(dsn, EXPOSURE_MIGRATIONS, "exposure")
    service = ServiceProcess(
        name="exposure",
        port=free_port(),
        env={
            "DATABASE_URL": dsn,
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
            "CONSUMER_GROUP_PREFIX": f"bench-{uuid.uuid4().hex[:6]}.",
            "LOG_LEVEL": "WARNING",
        },
        log_path=REPO / ".local" / "bench" / "logs" / "exposure.log",
    )
    service.start()
    await asyncio.to_thread(service.wait_ready)
    out = []
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=30) as client:
            for size in sizes:
                await fill_cases(dsn, size)
                for page in ("/", "/?district=120103&page=20"):
                    for _ in range(10):  # warm up
                        await client.get(page)
                    times = []
                    for _ in range(requests):
                        t = time.perf_counter()
                        response = await client.get(page)
                        times.append((time.perf_counter() - t) * 1000)
                        assert response.status_code == 200
                    times.sort()
                    out.append(
                        {
                            "records": size,
                            "page": page,
                            "p50_ms": statistics.median(times),
                            "p95_ms": times[int(len(times) * 0.95) - 1],
                            "p99_ms": times[int(len(times) * 0.99) - 1],
                        }
                    )
                    say(f"    board {size:>7} {page:<28} p99 {out[-1]['p99_ms']:.1f} ms")
    finally:
        await asyncio.to_thread(service.stop)
    return out


# -- replay ----------------------------------------------------------------------------------------


async def bench_replay(stack: Stack, sizes: list[int]) -> list[dict[str, float]]:
    bootstrap = stack.kafka.bootstrap_servers
    out = []
    published = 0
    for size in sizes:
        producer = kafka.make_producer(bootstrap, client_id="bench-replay-feed")
        await producer.start()
        try:
            pending = []
            for i in range(published, size):
                ce = cloudevents.from_event(inspection_completed(i % 5000, i), source="/bench")
                pending.append(
                    await producer.send(
                        topics.INSPECTIONS_EVENTS,
                        ce.data,
                        key=ce.key,
                        headers=cloudevents.to_kafka_headers(ce),
                    )
                )
                if len(pending) >= 5000:
                    await asyncio.gather(*pending)
                    pending.clear()
            await asyncio.gather(*pending)
        finally:
            await producer.stop()
        published = size
        dsn = stack.postgres.create_database(f"bench_replay_{uuid.uuid4().hex[:6]}")
        await db.prepare_database(dsn, EXPOSURE_MIGRATIONS, "exposure")
        pool = await db.create_pool(dsn, max_size=4)
        try:
            t = time.perf_counter()
            replayed = await rebuild.rebuild(pool, bootstrap)
            elapsed = time.perf_counter() - t
        finally:
            await pool.close()
        out.append(
            {"events": replayed.total(), "seconds": elapsed, "per_s": replayed.total() / elapsed}
        )
        say(f"    replay {replayed.total():>8} events in {elapsed:.1f} s")
    return out


# -- report ----------------------------------------------------------------------------------------


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    except (OSError, StopIteration):
        mem_kb = 0
    return (
        f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB RAM, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
        "Kafka, PostgreSQL, the services and the load generators all on this machine"
    )


def charts(results: Results) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    CHARTS.mkdir(parents=True, exist_ok=True)
    made = e2e_report.charts(results.e2e, results.baseline, CHARTS)
    if not results.board:
        return made
    fig, ax = plt.subplots(figsize=(7, 4))
    for page in sorted({b["page"] for b in results.board}):
        rows = [b for b in results.board if b["page"] == page]
        for key, style in (("p50_ms", ":"), ("p95_ms", "--"), ("p99_ms", "-")):
            ax.plot([r["records"] for r in rows], [r[key] for r in rows], style, marker="o",
                    label=f"{page} {key[:-3]}")  # fmt: skip
    ax.axhline(50, color="red", linewidth=0.8, label="target p99 50 ms")
    ax.set_xscale("log")
    ax.set_xlabel("published cases on the board")
    ax.set_ylabel("latency (ms)")
    ax.set_title("Public board list page latency vs records")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(CHARTS / "board-latency.png", dpi=110)
    made.append("performance/board-latency.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    names = ["outbox enqueue", "outbox relay", "consumer + inbox", "rebuild (replay)"]
    measured = [
        results.relay.get("enqueue_per_s", 0),
        results.relay.get("relay_per_s", 0),
        results.consumer.get("per_s", 0),
        results.replay[-1]["per_s"] if results.replay else 0,
    ]
    targets = [0, 20_000, 10_000, 1_000_000 / 60]
    x = range(len(names))
    ax.bar([i - 0.2 for i in x], measured, width=0.4, label="measured")
    ax.bar([i + 0.2 for i in x], targets, width=0.4, label="target")
    ax.set_xticks(list(x), names, fontsize=8)
    ax.set_ylabel("events per second")
    ax.set_title("Component throughput")
    ax.legend()
    fig.tight_layout()
    fig.savefig(CHARTS / "throughput.png", dpi=110)
    made.append("performance/throughput.png")
    plt.close(fig)
    return made


def provenance(results: Results, command: str) -> str:
    """Who measured what, when: one line for a full run, one per section for merged results."""
    runs = {(m["at"], m["command"]) for m in results.measured.values()}
    if len(runs) <= 1:
        at, cmd = next(iter(runs), (results.started, command))
        return f"Measured by `{cmd}` on {at}."
    lines = [
        f"- {name}: `{results.measured[name]['command']}` on {results.measured[name]['at']}"
        for name in SECTIONS
        if name in results.measured
    ]
    return "Sections measured by different runs (merged results):\n\n" + "\n".join(lines)


def not_measured(results: Results) -> str:
    missing = [name for name in SECTIONS if not getattr(results, name)]
    gaps = (
        f"Missing from these results: {', '.join(missing)} (run `make bench`).\n\n"
        if missing
        else ""
    )
    return f"""## Not measured yet

{gaps}The end-to-end sweeps drive one flow at a time (complaints, then failed inspections), not a
mix, with one process per service; on the board, the effect timed is the evidence row, not a
published case (publication waits for the district's review window by design). More than one
replica per service (what would use more cores) is not measured: this machine has two. The
profiles above were taken by hand (pyinstrument, py-spy), not by this command.
"""


def _n(d: dict[str, Any], key: str) -> str:
    return f"{d[key]:,.0f}" if d.get(key) is not None else "—"


def report(results: Results, command: str) -> str:
    r, c = results.relay, results.consumer
    board_rows = "\n".join(
        f"| {b['records']:,} | `{b['page']}` | {b['p50_ms']:.1f} | {b['p95_ms']:.1f} | {b['p99_ms']:.1f} |"
        for b in results.board
    )
    replay_rows = "\n".join(
        f"| {p['events']:,} | {p['seconds']:.1f} | {p['per_s']:,.0f} |" for p in results.replay
    )
    return f"""# Performance

{provenance(results, command)}

Machine: {results.machine or machine()}.
The numbers below are that output; `make bench` measures everything again and rewrites this file,
the charts in `docs/performance/` and `docs/performance/results.json` (which keeps every number).

## Components

| what | measured | target (issue 8) |
|---|---|---|
| outbox enqueue (one transaction per 1,000 events, through `outbox.enqueue`) | {_n(r, "enqueue_per_s")} events/s | — |
| outbox relay to Kafka ({_n(r, "events")} events, acks=all, idempotent) | {_n(r, "relay_per_s")} events/s | ≥ 20,000 events/s |
| one consumer with inbox de-duplication ({_n(c, "events")} events, one transaction per fetched batch of up to 500, a handler's insert per event) | {_n(c, "per_s")} events/s | ≥ 10,000 events/s |

![throughput](performance/throughput.png)

## Public board: list page latency over HTTP

| published cases | page | p50 ms | p95 ms | p99 ms |
|---|---|---|---|---|
{board_rows}

Target: p99 ≤ 50 ms at 100k records. ![board latency](performance/board-latency.png)

## Rebuilding the board's read model

| events replayed | seconds | events/s |
|---|---|---|
{replay_rows}

Target: 1M events in ≤ 60 s (`make bench BENCH_ARGS=--full` replays 1M).

{e2e_report.section(results.e2e, results.baseline)}
## What the profile showed, and what changed

- Board list page at 100k cases: p99 was 103 ms. `EXPLAIN ANALYZE` showed each request paying
  38 ms to list the districts for the filter (a scan of every published case) and 27 ms for the
  total count (a heap scan: the visibility map was not set after the bulk load). The districts now
  come from a loose index scan (one probe per district, 0.3 ms) and the bench runs `VACUUM
  ANALYZE` after loading, as autovacuum would (count 8 ms): p99 about 20 ms at 100k.
- Rebuild: one transaction per replayed record gave about 1,000 events/s (104k events in 102 s,
  measured while a test run shared the machine); it now applies each fetched batch of up to 500
  records in one transaction (every handler is idempotent and a failure aborts the rebuild). The
  table above is after; the factor is approximate because the earlier run was not on a quiet
  machine.
- Later changes are measured the same way by `make bench-compare BEFORE=<commit>`, which writes
  [performance/comparisons.md](performance/comparisons.md): e.g. issue 14's redesign of every
  service (units of work, batch handlers, SQL only in adapters), two pairs on 2026-12-06, where
  the components and the end-to-end capacity moved both ways between the pairs (noise on this VM).
- Before and after, back to back on the same quiet machine (2026-11-27 22:26–22:31 UTC; the
  code before is commit f3a18d3, measured with `python -m bench.run --only relay,consumer` in a
  worktree of it, then `python -m bench.run --only relay,consumer --no-write` at this commit):

  | component | before | after | factor |
  |---|---|---|---|
  | outbox enqueue | 2,150 events/s | 3,655 events/s | 1.7× |
  | outbox relay | 6,516 events/s | 12,975 events/s | 2.0× |
  | one consumer with inbox | 702 events/s | 4,373 events/s | 6.2× |

  Compare numbers from the same hour only: this VM's speed drifts. The same code (f3a18d3)
  measured 9,086 relay events/s at 20:34 and 6,516 at 22:27, and the full run above (22:11) gave
  lower component numbers than the back-to-back run twenty minutes later.
- Consumer (before: 879 events/s, `make bench` of 2026-11-27 20:34). pyinstrument: half the wall
  time waiting on PostgreSQL, five round trips per event (BEGIN, inbox claim, the handler's
  insert, COMMIT, the pool's reset on release) and a commit (WAL flush) per event. Now
  `EventConsumer.handle_batch` handles what one poll returns in one transaction, the inbox claims
  in one `INSERT … SELECT unnest(…) ON CONFLICT DO NOTHING RETURNING`; if anything in the batch
  fails or cannot be read, it rolls back and the records go one at a time through the old path
  (retries, dead letters). After: the table above. What is left per event is the handler's own
  round trip and the parsing; 10,000/s would need handlers that write a batch at once.
- Outbox enqueue (before: 2,989 events/s): a `SELECT pg_notify` round trip after every row. A
  statement trigger on `outbox` now sends the NOTIFY (PostgreSQL folds repeats within a
  transaction and sends it at commit).
- Relay (before: 9,086 events/s). Timing the pass: 60% in selecting the batch. `EXPLAIN ANALYZE`:
  the check that holds back rows behind an earlier row of the same key in backoff scanned the whole
  outbox, published rows included (42 ms a pass at 50k rows; in production the table keeps 30 days
  of published rows, so it would have grown with them). A partial index on `next_attempt_at`
  (unpublished rows only) makes it a short range scan: 2.4 ms. Then pyinstrument showed aiokafka's
  per-message `send()` as most of the relay's CPU (the pure-Python murmur2 partitioner, the
  accumulator, a future per message): the relay now packs each pass into one record batch per
  partition (`create_batch`/`send_batch`, the partition chosen as `send` would, murmur2 cached
  per key), and producers use 512 KiB batches instead of aiokafka's 16 KiB. After: the table
  above; the rest is the UPDATE that marks 1,000 rows sent and the commit.
- End to end, py-spy on the services at 150 complaints/s: the complaints process was busy 80% of
  the time; 30% of its samples were inside socket writes to PostgreSQL (seven round trips per
  complaint: BEGIN, the project lookup, the ticket number, the insert, the outbox row, COMMIT, the
  pool's reset), which on two shared cores is where it hands the CPU to a PostgreSQL backend;
  ES256 token verification 5%, FastAPI's dependency solving 9%. The notifications service spent
  9% building a TLS context for every delivery pass's HTTP client: now built once. The CPU table
  in "End to end" shows where every millisecond of a complaint goes.

{not_measured(results)}"""


async def fresh(stack: Stack) -> None:
    """Empty servers: earlier records would be replayed by every new consumer group."""
    await asyncio.to_thread(stack.down)
    await asyncio.to_thread(stack.wipe)
    await asyncio.to_thread(stack.up)
    await kafka.ensure_topics(stack.kafka.bootstrap_servers)


async def enable_commit_timestamps(stack: Stack) -> None:
    """track_commit_timestamp = on (a server restart): the end-to-end effect time is the commit
    time of the effect row's transaction. The bench server is wiped at every start."""
    conn = await asyncpg.connect(stack.postgres.dsn(), timeout=30)
    try:
        if await conn.fetchval("SHOW track_commit_timestamp") == "on":
            return
        await conn.execute("ALTER SYSTEM SET track_commit_timestamp = on")
    finally:
        await conn.close()
    await asyncio.to_thread(stack.postgres.stop)
    await asyncio.to_thread(stack.postgres.start)


def sweep_config(args: argparse.Namespace) -> SweepConfig:
    return SweepConfig(
        rates=[float(r) for r in args.rates.split(",")],
        step_s=args.step_seconds,
        drain_s=args.drain_seconds,
    )


async def run(args: argparse.Namespace, only: set[str]) -> Results:
    runtime_logging.configure("bench", level="WARNING", fmt="console")
    stack = Stack(StackConfig.for_profile(args.profile), reporter=lambda m: say(f"    {m}"))
    await fresh(stack)
    results = Results(machine=machine())
    try:
        if "relay" in only:
            say("[1] outbox relay")
            results.relay = await bench_relay(stack, args.events)
            say(f"    {results.relay['relay_per_s']:,.0f} events/s")
        if "consumer" in only:
            say("[2] consumer with inbox")
            results.consumer = await bench_consumer(stack, args.events)
            say(f"    {results.consumer['per_s']:,.0f} events/s")
        if "board" in only:
            say("[3] board list page")
            results.board = await bench_board(stack, [1_000, 10_000, 100_000], args.requests)
        if "replay" in only:
            say("[4] rebuild from the topics")
            sizes = [100_000, 1_000_000] if args.full else [100_000]
            results.replay = await bench_replay(stack, sizes)
        if only & {"e2e", "baseline"}:
            if only & {"relay", "consumer", "board", "replay"}:
                # The services would first consume the component benchmarks' records (over a
                # million with --full) from the shared topics: start again from empty servers.
                say("    empty servers for the end-to-end part")
                await fresh(stack)
            await enable_commit_timestamps(stack)
        if "e2e" in only:
            say("[5] end to end over HTTP, open loop")
            t = time.monotonic()
            try:
                results.e2e = await e2e_bench.bench_e2e(
                    stack,
                    sweep_config(args),
                    projects=args.projects,
                    generators=args.generators,
                    client=args.http_client,
                    log_level=args.service_log_level,
                    say=say,
                )
            except Exception as exc:  # noqa: BLE001 - recorded; the other sections still count
                results.e2e = {"error": f"{type(exc).__name__}: {exc}"}
                say(f"    end to end FAILED: {results.e2e['error']}")
            say(f"    end to end took {time.monotonic() - t:.0f} s")
        if "baseline" in only:
            say("[6] baseline: hand-written aiokafka + asyncpg")
            t = time.monotonic()
            tag = uuid.uuid4().hex[:6]
            try:
                results.baseline = await baseline_bench.bench_baseline(
                    stack.postgres.create_database(f"bench_baseline_{tag}_front"),
                    stack.postgres.create_database(f"bench_baseline_{tag}_back"),
                    stack.kafka.bootstrap_servers,
                    sweep_config(args),
                    projects=[p["project_id"] for p in e2e_bench.bench_projects(args.projects)],
                    log_dir=stack.config.state_dir / "logs",
                    say=say,
                )
            except Exception as exc:  # noqa: BLE001 - recorded; the other sections still count
                results.baseline = {"error": f"{type(exc).__name__}: {exc}"}
                say(f"    baseline FAILED: {results.baseline['error']}")
            say(f"    baseline took {time.monotonic() - t:.0f} s")
            ratio = e2e_report.ratio(results.e2e, results.baseline)
            if ratio is not None:
                say(f"    platform / baseline = {ratio:.2f}")
    finally:
        if not args.keep:
            stack.down()
    return results


def merge(results: Results, only: set[str], command: str) -> Results:
    """Take the sections not measured now from the previous results.json."""
    for name in only:
        results.measured[name] = {"at": results.started, "command": command}
    path = CHARTS / "results.json"
    if not path.exists():
        return results
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        say(f"    {path} is not JSON; not merging")
        return results
    for name in SECTIONS:
        if name in only or not previous.get(name):
            continue
        setattr(results, name, previous[name])
        earlier = previous.get("measured", {}).get(name)
        results.measured[name] = earlier or {
            "at": previous.get("started", "?"),
            "command": "make bench",
        }
    return results


def render() -> int:
    """The report and charts again from the stored results (after a change to the report's text);
    the numbers and the command that measured them are the stored ones."""
    data = json.loads((CHARTS / "results.json").read_text(encoding="utf-8"))
    results = Results(**{k: v for k, v in data.items() if k in Results.__dataclass_fields__})
    if not results.machine:  # results stored before the machine was: the report written with them
        page = (DOCS / "performance.md").read_text(encoding="utf-8")
        line = re.search(r"^Machine: (.+)\.$", page, re.MULTILINE)
        results.machine = line.group(1) if line else "not recorded"
    commands = {m["command"] for m in results.measured.values()}
    command = commands.pop() if len(commands) == 1 else "make bench"
    made = charts(results)
    (DOCS / "performance.md").write_text(report(results, command), encoding="utf-8")
    say(f"rewrote docs/performance.md and {', '.join(made)} from docs/performance/results.json")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--full", action="store_true", help="also replay 1M events")
    parser.add_argument("--keep", action="store_true", help="leave the bench stack running")
    parser.add_argument(
        "--only",
        help=f"a comma-separated subset of {','.join(SECTIONS)}, merged into the previous results",
    )
    parser.add_argument("--no-write", action="store_true", help="print the results; write no file")
    parser.add_argument(
        "--profile", default="bench", help="the stack profile (own ports and data; wiped at start)"
    )
    parser.add_argument(
        "--rates",
        default="25,50,100,200,400,800,1600,3200,6400",
        help="end to end and baseline: offered loads (requests/s), until one saturates",
    )
    parser.add_argument("--step-seconds", type=float, default=10.0)
    parser.add_argument(
        "--drain-seconds", type=float, default=10.0, help="wait for a step's effects after it"
    )
    parser.add_argument(
        "--generators", type=int, default=1, help="end to end: load generator processes"
    )
    parser.add_argument(
        "--projects", type=int, default=200, help="end to end: bench projects to spread load over"
    )
    parser.add_argument(
        "--http-client",
        choices=["raw", "httpx"],
        default="raw",
        help="end to end: the load generator's HTTP client (see bench/load.py)",
    )
    parser.add_argument("--service-log-level", default="WARNING")
    parser.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: rewrite docs/performance.md and the charts from results.json",
    )
    args = parser.parse_args(argv)
    if args.render:
        return render()
    only = set(args.only.split(",")) if args.only else set(SECTIONS)
    unknown = only - set(SECTIONS)
    if unknown:
        parser.error(f"unknown --only section(s): {', '.join(sorted(unknown))}")
    results = asyncio.run(run(args, only))
    if args.no_write:
        print(json.dumps(e2e_report.clean(results.__dict__), indent=2, default=str))
        return 1 if e2e_report.failed(results.e2e, results.baseline) else 0
    command = "make bench" + (f" BENCH_ARGS='{' '.join(argv)}'" if argv else "")
    if args.only:
        results = merge(results, only, command)
    else:
        results.measured = {name: {"at": results.started, "command": command} for name in SECTIONS}
    made = charts(results)
    (DOCS / "performance.md").write_text(report(results, command), encoding="utf-8")
    (CHARTS / "results.json").write_text(
        json.dumps(e2e_report.clean(results.__dict__), indent=2, default=str), encoding="utf-8"
    )
    say(f"wrote docs/performance.md, docs/performance/results.json and {', '.join(made)}")
    failed = e2e_report.failed(results.e2e, results.baseline)
    if failed:
        say(f"FAILED: {'; '.join(failed)} (logs in .local/{args.profile}/logs)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
