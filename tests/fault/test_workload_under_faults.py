"""All four services under a steady workload while the infrastructure and the processes fail, then
a count of what was submitted against what every service recorded (issue 8's fault suite).

The workload (tests/fault/workload.py) keeps filing complaints and recording failed inspections over
HTTP, retrying what an outage refused as a real client would. Meanwhile, in sequence:

1. the notifications service is stopped gracefully (SIGTERM) and restarted: it finishes the batch
   in hand, commits and logs a clean shutdown; what was published meanwhile arrives once;
2. the Kafka broker is SIGKILLed and stays down ~30 s (the outboxes take every write); when it is
   back, the notifications and exposure consumers are SIGKILLed in the middle of their first batch
   from the backlog: a stall trigger holds their transaction at the insert of a notice / an
   evidence entry, after the batch's inbox claims, so the kill lands inside an open transaction;
   then they are restarted;
3. PostgreSQL is restarted (fast shutdown): every service must recover its pool by itself;
4. the inspections relay is SIGKILLed between publishing a pass and marking it sent (a stall
   trigger on `UPDATE outbox SET published_at`), so its events go out twice after the restart;
5. already-delivered events are copied back onto their partitions in reverse order (duplicates and
   reordering);
6. poison records (unreadable, invalid, a future version) are put on the topics the services read.

Expected: every submitted item recorded exactly once by every service that should record it (0
lost, 0 duplicates), every event of the run's outboxes on its topic (copies allowed: delivery is
at least once), every poison record on the dead-letter topic of every consumer group that
reads it (with its reason), the unknown version skipped and not dead-lettered, no event of the
workload dead-lettered (an outage is never the message's fault), no consumer lag, no unpublished
outbox row, and every service live and ready. The counts are printed at the end of the
session (tests/fault/conftest.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from schemas.complaints import v1 as complaint_events
from schemas.inspections import v1 as inspection_events
from schemas.topics import dead_letter_topic
from tests.e2e.conftest import Platform, start_platform, stop_platform
from tests.fault import chaos
from tests.fault.conftest import Count, FaultReport
from tests.fault.workload import Submission, Workload

pytestmark = [pytest.mark.integration, pytest.mark.fault]

SERVICES = ("inspections", "complaints", "notifications", "exposure")
KAFKA_DOWN_S = 30.0
POSTGRES_DOWN_S = 3.0
FILED = complaint_events.ComplaintFiled.ce_type
FAILED = inspection_events.InspectionFailed.ce_type
INSPECTIONS_TOPIC = inspection_events.InspectionFailed.topic
COMPLAINTS_TOPIC = complaint_events.ComplaintFiled.topic
# Consumers SIGKILLed mid-batch, and the table whose insert holds their transaction open.
KILLED_CONSUMERS = {"notifications": "notices", "exposure": "evidence"}


@pytest.fixture
def platform(stack: Any, tmp_path: Path) -> Iterator[Platform]:
    if stack.kafka is None or stack.postgres is None:
        pytest.skip("Kafka or PostgreSQL is external (KAFKA_BOOTSTRAP_SERVERS / PG_ADMIN_DSN)")
    p = start_platform(
        stack, tmp_path, services=SERVICES, extra_env={"RATE_LIMIT_ENABLED": "false"}
    )
    try:
        yield p
    finally:
        stop_platform(p)
        # A run that failed half-way must not leave the session's stack down for later tests.
        if not stack.postgres.is_running():
            stack.postgres.start()
        if not stack.kafka.is_running():
            stack.kafka.start()
            stack.kafka.wait_ready()


@pytest.mark.timeout(600)
async def test_nothing_is_lost_or_doubled_while_everything_fails(
    platform: Platform, stack: Any, fault_report: FaultReport
) -> None:
    report = fault_report
    prefix = f"fault-{uuid.uuid4().hex[:6]}"
    await chaos.wait_for(lambda: registry_copies_complete(platform), 90, "registry copies")
    workload = Workload(platform, prefix, per_second=4.0)
    stop = asyncio.Event()
    runner = asyncio.create_task(workload.run(stop), name="workload")
    poison: list[tuple[chaos.Poison, tuple[str, int, int]]] = []
    try:
        await chaos.wait_for(
            lambda: flowing(platform, prefix), 60, "the first notices and evidence of the workload"
        )
        await graceful_restart(platform, "notifications", report)
        await kafka_outage_and_consumers_killed_mid_batch(platform, stack, report)
        await postgres_restart(platform, stack, report)
        await relay_killed_between_publish_and_mark(platform, report)
        await duplicates_in_reverse_order(platform, prefix, report)
        poison = await inject_poison(platform, report)
        await asyncio.sleep(5)  # good events keep flowing past the poison on the same partitions
    except BaseException:
        runner.cancel()
        with contextlib.suppress(BaseException):
            await runner
        raise
    stop.set()
    await asyncio.wait_for(runner, 300)
    report.note(workload_summary(workload))

    # -- settle: everything submitted has arrived, no consumer is behind, the outboxes are empty
    async def settled() -> bool:
        counts = await count_records(platform, prefix, workload)
        return all(c.lost == 0 for c in counts) and await unpublished(platform) == 0

    try:
        took = await chaos.wait_for(
            settled, 150, "every submitted item recorded everywhere", every=1.0
        )

        async def caught_up() -> bool:
            lags = await chaos.lag(platform.bootstrap, group_ids(platform))
            return not any(lags.values())

        took += await chaos.wait_for(
            caught_up, 90, "every consumer group caught up (lag 0)", every=1.0
        )
        await asyncio.sleep(3)  # a quiet period: late duplicates would show up now
    except AssertionError:
        lags = await chaos.lag(platform.bootstrap, group_ids(platform))
        behind = {g: n for g, n in lags.items() if n}
        report.note(f"not settled: consumer lag {behind}")
        report.note(f"not settled: unpublished outbox rows {await unpublished(platform)}")
        raise
    finally:
        # the counts go into the report even when the wait failed: they say what is missing
        report.counts = await count_records(platform, prefix, workload)
    report.note(f"settled {took:.1f} s after the workload stopped, then 3 s quiet")

    events, copies, off_topic = await events_on_topics(platform, prefix)
    report.note(
        f"Kafka: {events} events of the run in the outboxes, {events - len(off_topic)} of them "
        f"on their topics, as {copies} records ({copies - events + len(off_topic)} extra copies: "
        "relay re-sends and the injected duplicates)"
    )
    dead = await dead_letters(platform, prefix, poison)
    expected_dead = sum(len(p.expected_groups(chaos.consumer_groups())) for p, _ in poison)
    report.note(
        f"poison: {len(poison)} records injected, {expected_dead} dead letters expected "
        f"(one per consumer group that must refuse them), {dead.found} found, "
        f"{len(dead.missing)} missing; dead-lettered where they should be skipped: "
        f"{dead.not_expected}; workload events dead-lettered: {len(dead.good)}"
    )
    health = await health_of(platform)
    pending = await unpublished(platform)
    report.note(f"health afterwards: {health}; unpublished outbox rows: {pending}")
    report.finished = time.monotonic()
    print("\n".join(report.lines()))

    table = "\n".join(report.lines())
    assert not workload.rejected, [s.rejected for s in workload.rejected]
    assert not workload.abandoned, [s.correlation_id for s in workload.abandoned]
    assert all(c.expected > 0 for c in report.counts), table
    assert all(c.lost == 0 and c.duplicates == 0 and c.unexpected == 0 for c in report.counts), (
        table
    )
    assert not off_topic, off_topic[:20]
    assert not dead.missing, dead.missing
    assert dead.not_expected == 0
    assert not dead.good, dead.good[:10]
    assert all(v == "ok" for v in health.values()), health
    assert pending == 0


# -- the faults -----------------------------------------------------------------------------------


async def graceful_restart(platform: Platform, service: str, report: FaultReport) -> None:
    process = platform.processes[service]
    offset = process.log_path.stat().st_size
    started = time.monotonic()
    await asyncio.to_thread(process.stop)
    assert process.process is not None
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it captured (as a process with
    # default handlers would end); the log shows the shutdown completed.
    code = process.process.returncode
    assert code in (0, -signal.SIGTERM), code
    log = process.log_path.read_bytes()[offset:].decode(errors="replace")
    assert '"service_stopping"' in log
    assert '"service_stopped"' in log
    assert "shutdown_step_failed" not in log
    await asyncio.to_thread(process.start)
    await asyncio.to_thread(process.wait_ready)
    report.fault(
        f"{service} stopped gracefully (SIGTERM, exit {code}, clean shutdown logged), "
        f"restarted: {time.monotonic() - started:.1f} s without it"
    )


async def kafka_outage_and_consumers_killed_mid_batch(
    platform: Platform, stack: Any, report: FaultReport
) -> None:
    started = time.monotonic()
    await asyncio.to_thread(stack.kafka.kill)
    report.fault("Kafka broker SIGKILLed")
    await asyncio.sleep(KAFKA_DOWN_S)
    # The consumers have long handled what they had fetched before the kill: arm the stalls now,
    # so the first batch they take from the backlog stops half-way, inside its transaction.
    for service, table in KILLED_CONSUMERS.items():
        await chaos.add_stall(platform.dsns[service], table, "BEFORE INSERT")
    backlog = await unpublished(platform)
    down = time.monotonic() - started
    await asyncio.to_thread(stack.kafka.start)
    await asyncio.to_thread(stack.kafka.wait_ready)
    report.fault(
        f"Kafka broker started again after {down:.0f} s (outbox backlog {backlog} rows), ready "
        f"{time.monotonic() - started - down:.1f} s later"
    )
    killed = await asyncio.gather(
        *(kill_mid_batch(platform, service, table) for service, table in KILLED_CONSUMERS.items())
    )
    for line in killed:
        report.fault(line)


async def kill_mid_batch(
    platform: Platform, service: str, table: str, *, since: str = "the broker was back"
) -> str:
    dsn = platform.dsns[service]
    waited = await chaos.wait_for(
        lambda: has_stall(dsn), 120, f"{service} handling events again after the Kafka restart"
    )
    held = await chaos.stalled(dsn)
    process = platform.processes[service]
    await asyncio.to_thread(process.kill)
    ended = await chaos.release_stall(dsn, table)
    # The kill hit a transaction that had already written (the inbox claims of the batch).
    assert any(s.has_written for s in held), held
    started = time.monotonic()
    await asyncio.to_thread(process.start)
    await asyncio.to_thread(process.wait_ready)
    statement = held[0].query.split("(")[0].strip()[:40]
    return (
        f"{service} SIGKILLed in the middle of a batch ({len(held)} consumer transaction(s) "
        f"held open at `{statement}` after their inbox claims), {waited:.1f} s after "
        f"{since}; {ended} orphaned backend(s) ended; restarted, ready in "
        f"{time.monotonic() - started:.1f} s"
    )


async def postgres_restart(platform: Platform, stack: Any, report: FaultReport) -> None:
    started = time.monotonic()
    await asyncio.to_thread(stack.postgres.stop)
    report.fault("PostgreSQL stopped (fast shutdown: every connection of every service dropped)")
    await asyncio.sleep(POSTGRES_DOWN_S)
    await asyncio.to_thread(stack.postgres.start)
    down = time.monotonic() - started
    ready = await chaos.wait_for(
        lambda: all_ready(platform), 90, "every service ready again after PostgreSQL restarted"
    )
    report.fault(
        f"PostgreSQL started after {down:.1f} s down; every service ready again {ready:.1f} s "
        "later, by itself"
    )


async def relay_killed_between_publish_and_mark(
    platform: Platform,
    report: FaultReport,
    service: str = "inspections",
    topic: str = INSPECTIONS_TOPIC,
) -> None:
    dsn = platform.dsns[service]
    await chaos.add_stall(dsn, "outbox", "BEFORE UPDATE OF published_at")
    await chaos.wait_for(
        lambda: has_stall(dsn), 60, f"the {service} relay marking a published pass as sent"
    )
    in_pass = await chaos.locked_unpublished(dsn)  # published to Kafka, not yet marked
    process = platform.processes[service]
    await asyncio.to_thread(process.kill)
    await chaos.release_stall(dsn, "outbox")
    started = time.monotonic()
    await asyncio.to_thread(process.start)
    await asyncio.to_thread(process.wait_ready)
    restarted = time.monotonic() - started
    assert in_pass, "the stalled pass held no outbox rows"

    async def marked() -> bool:
        conn = await asyncpg.connect(dsn)
        try:
            left = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE published_at IS NULL AND event_id = ANY($1)",
                list(in_pass),
            )
        finally:
            await conn.close()
        return int(left) == 0

    await chaos.wait_for(marked, 60, "the restarted relay publishing the killed pass again")
    on_topic = Counter(
        chaos.header(r, "ce_id") for r in await chaos.read_all(platform.bootstrap, topic)
    )
    twice = sum(1 for event_id in in_pass if on_topic[event_id] >= 2)
    report.fault(
        f"{service} relay SIGKILLed between publishing {len(in_pass)} events and marking them "
        f"sent; restarted in {restarted:.1f} s; {twice} of them are on the topic twice now"
    )
    assert twice > 0, "the killed pass was not published before the kill, or not again after it"


async def duplicates_in_reverse_order(platform: Platform, prefix: str, report: FaultReport) -> None:
    """Copies of delivered events, spread over the run and the partitions, mostly of the types
    whose effects are counted, sent back onto their partitions newest first."""
    copies: list[tuple[str, int | None, bytes | None, bytes | None, list[tuple[str, bytes]]]] = []
    counted_copies = 0
    for topic, counted_type in ((INSPECTIONS_TOPIC, FAILED), (COMPLAINTS_TOPIC, FILED)):
        mine = [
            r
            for r in await chaos.read_all(platform.bootstrap, topic)
            if (chaos.header(r, "ce_correlationid") or "").startswith(prefix)
        ]
        counted = [r for r in mine if chaos.header(r, "ce_type") == counted_type]
        others = [r for r in mine if chaos.header(r, "ce_type") != counted_type]
        sample = sorted(
            [*spread(counted, 25), *spread(others, 15)],
            key=lambda r: (r.partition, r.offset),
            reverse=True,
        )
        counted_copies += sum(1 for r in sample if chaos.header(r, "ce_type") == counted_type)
        copies.extend(
            (r.topic, r.partition, r.key, r.value, [(k, bytes(v)) for k, v in r.headers])
            for r in sample
        )
    await chaos.produce(platform.bootstrap, copies)
    report.fault(
        f"{len(copies)} delivered events ({counted_copies} InspectionFailed/ComplaintFiled) copied "
        "back onto their partitions, newest first (same id, key, value, headers)"
    )


def spread(records: Sequence[chaos.Record], n: int) -> list[chaos.Record]:
    return list(records[:: max(1, len(records) // n)][:n])


async def inject_poison(
    platform: Platform, report: FaultReport
) -> list[tuple[chaos.Poison, tuple[str, int, int]]]:
    batch = [
        *chaos.poisons(INSPECTIONS_TOPIC, FAILED, b"P-120101-0001"),
        *chaos.poisons(COMPLAINTS_TOPIC, FILED, f"C-poison-{uuid.uuid4().hex[:6]}".encode()),
    ]
    landed = await chaos.produce(
        platform.bootstrap, [(p.topic, None, p.key, p.value, p.headers) for p in batch]
    )
    kinds = len({p.name for p in batch})
    report.fault(
        f"{len(batch)} poison records injected ({kinds} kinds on {INSPECTIONS_TOPIC} and "
        f"{COMPLAINTS_TOPIC}, between live events)"
    )
    return list(zip(batch, landed, strict=True))


# -- what the services hold -----------------------------------------------------------------------


async def query(platform: Platform, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(platform.dsns[service])
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def registry_copies_complete(platform: Platform) -> bool:
    for service, table in (
        ("complaints", "complaint_projects"),
        ("notifications", "projects"),
        ("exposure", "projects"),
    ):
        if await platform.count(service, f"SELECT count(*) FROM {table}") < 4:
            return False
    return True


async def flowing(platform: Platform, prefix: str) -> bool:
    like = f"{prefix}-%"
    return (
        await platform.count(
            "notifications",
            "SELECT count(*) FROM notices WHERE rule_id = 'complaint-receipt' "
            "AND correlation_id LIKE $1",
            like,
        )
        > 0
        and await platform.count(
            "exposure", "SELECT count(*) FROM evidence WHERE correlation_id LIKE $1", like
        )
        > 0
    )


async def has_stall(dsn: str) -> bool:
    return bool(await chaos.stalled(dsn))


async def unpublished(platform: Platform) -> int:
    total = 0
    for service in platform.processes:
        total += await platform.count(
            service, "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )
    return total


def compare(what: str, expected: set[str], recorded: dict[str, int]) -> Count:
    return Count(
        what=what,
        expected=len(expected),
        recorded=sum(recorded.values()),
        lost=len(expected - recorded.keys()),
        duplicates=sum(n - 1 for k, n in recorded.items() if k in expected and n > 1),
        unexpected=sum(n for k, n in recorded.items() if k not in expected),
    )


async def count_records(platform: Platform, prefix: str, workload: Workload) -> list[Count]:
    """For each kind of record: what the submitted items should have produced against what each
    service holds, keyed by the item's correlation id (or its complaint id)."""
    like = f"{prefix}-%"
    complaints = {s.correlation_id for s in workload.submitted("complaint")}
    # a receipt notice goes to an owner with an account: complaints over the API (the web form
    # and Open311 answer a ticket number and follow-up token instead)
    receipts = {s.correlation_id for s in workload.submitted("complaint") if s.channel == "api"}
    inspections = {s.correlation_id for s in workload.submitted("inspection")}

    async def grouped(service: str, sql: str, *args: Any) -> dict[str, int]:
        return {r[0]: int(r[1]) for r in await query(platform, service, sql, *args)}

    filed = await grouped(
        "complaints",
        """SELECT correlation_id, count(*) FROM outbox
            WHERE event_type = $1 AND correlation_id LIKE $2 GROUP BY 1""",
        FILED,
        like,
    )
    # every complaint the complaints service holds for this run, also any not submitted; the
    # submitted ones by their correlation id (the web form answers a page, not the id)
    held = await query(
        platform,
        "complaints",
        "SELECT convert_from(key, 'UTF8') AS complaint_id, correlation_id FROM outbox "
        "WHERE event_type = $1 AND correlation_id LIKE $2",
        FILED,
        like,
    )
    all_ids = [r["complaint_id"] for r in held]
    complaint_ids = {r["complaint_id"] for r in held if r["correlation_id"] in complaints}
    failed = await grouped(
        "inspections",
        """SELECT correlation_id, count(*) FROM outbox
            WHERE event_type = $1 AND correlation_id LIKE $2 GROUP BY 1""",
        FAILED,
        like,
    )
    recorded = await grouped(
        "inspections",
        "SELECT idempotency_key, count(*) FROM inspections WHERE idempotency_key LIKE $1 GROUP BY 1",
        like,
    )
    signals = await grouped(
        "inspections",
        """SELECT complaint_id, count(*) FROM complaint_signals
            WHERE kind = 'filed' AND complaint_id = ANY($1) GROUP BY 1""",
        all_ids,
    )
    notices = {
        rule: await grouped(
            "notifications",
            """SELECT correlation_id, count(*) FROM notices
                WHERE rule_id = $1 AND correlation_id LIKE $2 GROUP BY 1""",
            rule,
            like,
        )
        for rule in ("inspection-failed", "complaint-receipt")
    }
    evidence = await grouped(
        "exposure",
        "SELECT correlation_id, count(*) FROM evidence WHERE correlation_id LIKE $1 GROUP BY 1",
        like,
    )
    facts = await grouped(
        "exposure",
        "SELECT complaint_id, count(*) FROM complaint_facts WHERE complaint_id = ANY($1) GROUP BY 1",
        all_ids,
    )
    return [
        compare("complaints: complaint filed (ComplaintFiled)", complaints, filed),
        compare("inspections: inspection recorded", inspections, recorded),
        compare("inspections: InspectionFailed in the outbox", inspections, failed),
        compare("inspections: complaint signal (consumed)", complaint_ids, signals),
        compare("notifications: inspection-failed notice", inspections, notices["inspection-failed"]),
        compare("notifications: complaint receipt to the owner (API)", receipts, notices["complaint-receipt"]),
        compare("exposure: evidence entry", inspections, evidence),
        compare("exposure: complaint fact", complaint_ids, facts),
    ]  # fmt: skip


async def events_on_topics(platform: Platform, prefix: str) -> tuple[int, int, list[str]]:
    """(events of this run in all outboxes, their records on Kafka, the events not on Kafka)."""
    topic_of: dict[str, str] = {}
    for service in platform.processes:
        rows = await query(
            platform,
            service,
            "SELECT event_id, topic FROM outbox WHERE correlation_id LIKE $1",
            f"{prefix}-%",
        )
        topic_of.update((r["event_id"], r["topic"]) for r in rows)
    seen: Counter[str | None] = Counter()
    for topic in sorted(set(topic_of.values())):
        seen.update(
            chaos.header(r, "ce_id") for r in await chaos.read_all(platform.bootstrap, topic)
        )
    missing = [e for e in topic_of if not seen[e]]
    return len(topic_of), sum(seen[e] for e in topic_of), missing


def group_ids(platform: Platform) -> dict[str, tuple[str, ...]]:
    """This platform's consumer group ids, each with the topics it reads."""
    prefix = next(iter(platform.processes.values())).env["CONSUMER_GROUP_PREFIX"]
    return {prefix + g.name: g.topics for g in chaos.consumer_groups()}


@dataclass
class DeadLetters:
    found: int = 0  # poison dead-lettered by a group that should, with its reason
    missing: list[str] = field(default_factory=list)
    not_expected: int = 0  # poison dead-lettered by a group that should skip it
    good: list[str] = field(default_factory=list)  # events of the workload dead-lettered


async def dead_letters(
    platform: Platform, prefix: str, poison: Sequence[tuple[chaos.Poison, tuple[str, int, int]]]
) -> DeadLetters:
    """Read every dead-letter topic and match it against the injected poison and the workload."""
    groups = chaos.consumer_groups()
    out = DeadLetters()
    seen: dict[tuple[str, str, str, str], list[str]] = {}
    for service in sorted({g.service for g in groups}):
        for r in await chaos.read_all(platform.bootstrap, dead_letter_topic(service).name):

            def h(name: str, r: chaos.Record = r) -> str:
                return chaos.header(r, name) or ""

            where = (
                h("x-dlq-original-topic"),
                h("x-dlq-original-partition"),
                h("x-dlq-original-offset"),
                h("x-dlq-consumer"),
            )
            seen.setdefault(where, []).append(h("x-dlq-reason"))
            if h("ce_correlationid").startswith(prefix):
                out.good.append(f"{h('ce_type')} {h('ce_id')}: {h('x-dlq-reason')[:200]}")
    for p, (topic, partition, offset) in poison:
        for g in (g for g in groups if topic in g.topics):
            reasons = seen.get((topic, str(partition), str(offset), g.name), [])
            if g in p.expected_groups(groups):
                if reasons and all(x.startswith(("malformed:", "invalid:")) for x in reasons):
                    out.found += 1
                else:
                    out.missing.append(f"{p.name} on {topic} by {g.name}: {reasons}")
            elif reasons:
                out.not_expected += 1
    return out


async def all_ready(platform: Platform) -> bool:
    async with httpx.AsyncClient(timeout=5) as client:
        for name in platform.processes:
            try:
                response = await client.get(f"{platform.url(name)}/readyz")
            except httpx.TransportError:
                return False
            if response.status_code != 200:
                return False
    return True


async def health_of(platform: Platform) -> dict[str, str]:
    out = {}
    async with httpx.AsyncClient(timeout=5) as client:
        for name, process in platform.processes.items():
            if process.process is None or process.process.poll() is not None:
                out[name] = "not running"
                continue
            live = await client.get(f"{platform.url(name)}/healthz")
            ready = await client.get(f"{platform.url(name)}/readyz")
            ok = live.status_code == 200 and ready.status_code == 200
            out[name] = "ok" if ok else f"healthz {live.status_code}, readyz {ready.text}"
    return out


def workload_summary(workload: Workload) -> str:
    complaints = workload.submitted("complaint")
    inspections = workload.submitted("inspection")
    retried: list[Submission] = [s for s in workload.items if s.attempts > 1]
    reasons = ", ".join(f"{k} x{n}" for k, n in sorted(workload.retried.items())) or "none"
    return (
        f"workload: {len(complaints)} complaints and {len(inspections)} failed inspections "
        f"submitted (2xx) over HTTP; {len(retried)} needed retries ({reasons}); "
        f"{len(workload.rejected)} rejected (4xx), {len(workload.abandoned)} abandoned"
    )
