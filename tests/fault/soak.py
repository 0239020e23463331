"""The soak (issue 13): the fault suite's workload at production strength on a production-shaped
stack, every kind of crash injected while it runs, and everything counted at the sources and at
the sinks.

    make soak                                   # 100 requests/s for 180 s, writes docs/reliability*
    make soak SOAK_ARGS="--rate 20 --duration 30 --no-write"    # a short development run

The stack is the project's own, under its own profile (default `soak`, wiped first): a KRaft
cluster of three nodes (each broker and controller; replication factor 3, min.insync.replicas 2,
producers acks=all and idempotent) and PostgreSQL with fsync and synchronous_commit on. The four
services run as processes; the notifications service sends to a real SMTP server and a real
webhook receiver (tests/sinks.py), where the enterprises of the workload's projects registered an
e-mail address and a webhook.

The load (tests/fault/workload.py, mix `SOAK_MIX`): complaints over the JSON API, the web form and
Open311, and as many failed inspections, started on an open-loop schedule at `--rate` items/s;
every item retried by its client, with the same correlation id and Idempotency-Key, while the
platform answers 5xx or not at all. Meanwhile, spread over the run (`FAULTS`):

1. SIGKILL the Kafka node leading the busiest partition of the inspections topic; start it again;
2. SIGKILL the node that is the active KRaft controller; start it again;
3. SIGKILL inspections, notifications and exposure each inside a consumer transaction (a stall
   trigger holds it after the batch's inbox claims), restart them;
4. SIGKILL notifications while the receivers hold an e-mail and a webhook call unanswered;
5. SIGKILL PostgreSQL (postmaster and every backend: a crash, crash recovery on start);
6. SIGKILL the complaints and the inspections relays between publishing a pass and marking it;
7. copy delivered events back onto their partitions newest first; inject poison records.

Then the load stops, the platform settles, and `count` compares: accepted items against each
service's records (0 lost, 0 duplicated), poison against the dead-letter topics, deliveries
against what the SMTP server and the webhook receiver got (repeats are re-sends of one delivery,
recognised by its idempotency key, and counted).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.stack import KafkaCluster, Stack, StackConfig
from runtime import kafka
from runtime.auth import Role
from tests.e2e.conftest import Platform, start_platform, stop_platform
from tests.fault import chaos
from tests.fault import test_workload_under_faults as suite
from tests.fault.conftest import FaultReport
from tests.fault.workload import OPEN311_CLIENT, OPEN311_KEY, PROJECTS, SOAK_MIX, Workload
from tests.sinks import MailSink, WebhookSink

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
RESULTS = DOCS / "reliability" / "results.json"
REPORT = DOCS / "reliability.md"
WEBHOOK_SIGNING_KEY = "soak-signing-key-0123456789abcdef"
# a consumer SIGKILLed mid-batch: the table whose insert holds its transaction open
MID_BATCH = {"inspections": "complaint_signals", "notifications": "notices", "exposure": "evidence"}


@dataclass
class SoakConfig:
    per_second: float = 100.0
    duration_s: float = 180.0
    profile: str = "soak"
    kafka_nodes: int = 3
    down_s: float = 10.0  # how long a killed Kafka node or PostgreSQL stays down
    settle_s: float = 600.0  # how long the platform may take to catch up after the load
    # How long a client keeps retrying one item (from the moment it is due). At the machine's
    # limit the intake falls behind during the faults and catches up after the load: a client
    # that waits counts as accepted late, not lost; `accepted_per_s` shows the rate achieved.
    give_up_s: float = 900.0


@dataclass
class SoakResult:
    """One run; `record()` is what results.json keeps."""

    config: SoakConfig
    started_at: str = ""
    machine: dict[str, Any] = field(default_factory=dict)
    commit: str = ""
    report: FaultReport = field(default_factory=lambda: FaultReport(title="soak"))
    items: int = 0
    accepted: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    abandoned: int = 0
    offered_per_s: float = 0.0
    load_s: float = 0.0
    intake_s: float = 0.0  # from the first item until the last one was answered
    counts: list[dict[str, Any]] = field(default_factory=list)
    dead_lettered_expected: int = 0
    dead_lettered_found: int = 0
    dead_letter_problems: list[str] = field(default_factory=list)
    events_off_topic: int = 0
    receivers: dict[str, dict[str, int]] = field(default_factory=dict)
    replication_factor: int = 0
    min_insync_replicas: int = 0
    postgres_fsync: bool = False
    postgres_synchronous_commit: bool = False
    health: dict[str, str] = field(default_factory=dict)
    unpublished: int = -1
    settled_s: float | None = None
    error: str | None = None

    @property
    def lost(self) -> int:
        return sum(int(c["lost"]) for c in self.counts) + self.abandoned

    @property
    def duplicated(self) -> int:
        return sum(int(c["duplicates"]) + int(c["unexpected"]) for c in self.counts)

    def failures(self) -> list[str]:
        """What the run must show; empty when it met every count."""
        out = []
        if self.error:
            out.append(f"scenario failed: {self.error}")
        if not self.counts or any(c["expected"] == 0 for c in self.counts):
            out.append("a count expected nothing: the load did not reach every service")
        if self.lost:
            out.append(f"{self.lost} lost")
        if self.duplicated:
            out.append(f"{self.duplicated} duplicated")
        if self.rejected:
            out.append(f"{self.rejected} requests rejected (4xx)")
        if self.events_off_topic:
            out.append(f"{self.events_off_topic} outbox events never reached Kafka")
        if self.dead_lettered_found != self.dead_lettered_expected or self.dead_letter_problems:
            out.append(
                f"dead letters: {self.dead_lettered_found} of {self.dead_lettered_expected}; "
                f"{self.dead_letter_problems[:5]}"
            )
        for name, r in self.receivers.items():
            if r["distinct"] != r["delivered"] or r["unknown_keys"]:
                out.append(f"{name}: {r}")
        if any(v != "ok" for v in self.health.values()):
            out.append(f"health {self.health}")
        if self.unpublished:
            out.append(f"{self.unpublished} unpublished outbox rows")
        return out

    def record(self) -> dict[str, Any]:
        return {
            "date": self.started_at,
            "machine": self.machine,
            "commit": self.commit,
            "offered_per_s": round(self.offered_per_s, 1),
            "target_per_s": self.config.per_second,
            "accepted_per_s": round(
                sum(self.accepted.values()) / self.intake_s if self.intake_s else 0.0, 1
            ),
            "intake_s": round(self.intake_s, 1),
            "duration_s": round(self.load_s, 1),
            "items": self.items,
            "accepted": self.accepted,
            "rejected": self.rejected,
            "abandoned": self.abandoned,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "dead_lettered_expected": self.dead_lettered_expected,
            "dead_lettered_found": self.dead_lettered_found,
            "faults": list(self.report.faults),
            "kafka_brokers": self.config.kafka_nodes,
            "replication_factor": self.replication_factor,
            "min_insync_replicas": self.min_insync_replicas,
            "producer": {"acks": "all", "enable_idempotence": True},
            "postgres_fsync": self.postgres_fsync,
            "postgres_synchronous_commit": self.postgres_synchronous_commit,
            "receivers": self.receivers,
            "counts": self.counts,
            "notes": list(self.report.notes),
            "settled_s": None if self.settled_s is None else round(self.settled_s, 1),
            "health": self.health,
            "passed": not self.failures(),
            "failures": self.failures(),
        }


# -- the stack ------------------------------------------------------------------------------------


@dataclass
class SoakStack:
    """What start_platform needs of a stack (tests/conftest.py's StackHandle, without pytest)."""

    stack: Stack
    mail: MailSink = field(default_factory=MailSink)
    hooks: WebhookSink = field(default_factory=WebhookSink)

    @property
    def kafka_bootstrap(self) -> str:
        return self.stack.kafka.bootstrap_servers

    @property
    def cluster(self) -> KafkaCluster:
        assert isinstance(self.stack.kafka, KafkaCluster)
        return self.stack.kafka

    def create_database(self, name: str) -> str:
        return self.stack.postgres.create_database(name)


def soak_stack(config: SoakConfig, say: Callable[[str], None]) -> Stack:
    """A fresh stack of the soak's shape under `config.profile` (stopped and wiped first)."""
    stack = Stack(
        StackConfig.for_profile(config.profile),
        reporter=say,
        kafka_nodes=config.kafka_nodes,
        pg_fast=False,
    )
    stack.down()
    stack.wipe()
    stack.up()
    return stack


# -- the faults -----------------------------------------------------------------------------------


async def describe(bootstrap: str, topics: list[str], timeout_s: float = 30.0) -> list[Any]:
    """Describe `topics`, waiting until every one of them has its partitions in the metadata.

    Right after the topics are created the broker that answers may not have the new metadata yet: it
    reports the topic with an error code and no partitions (a fresh-clone CI run met exactly that).
    """
    deadline = time.monotonic() + timeout_s
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        while True:
            described = await admin.describe_topics(topics)
            if all(t["error_code"] == 0 and t["partitions"] for t in described):
                return list(described)
            if time.monotonic() > deadline:
                missing = [t["topic"] for t in described if t["error_code"] or not t["partitions"]]
                raise RuntimeError(f"no partition metadata for {missing} after {timeout_s:.0f} s")
            await asyncio.sleep(0.5)
    finally:
        await admin.close()


async def partition_leaders(bootstrap: str, topic: str) -> dict[int, int]:
    described = await describe(bootstrap, [topic])
    return {p["partition"]: p["leader"] for p in described[0]["partitions"]}


async def replication(bootstrap: str, topics: list[str]) -> int:
    """The smallest replica count of any partition of `topics`."""
    described = await describe(bootstrap, topics)
    return min(len(p["replicas"]) for t in described for p in t["partitions"])


async def busiest_partition(bootstrap: str, topic: str) -> tuple[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(chaos._partitions([topic]))
    finally:
        await kafka.stop_consumer(consumer)
    tp, end = max(ends.items(), key=lambda kv: kv[1])
    return tp.partition, end


async def restart_node(
    handle: SoakStack, node: int, down_s: float, report: FaultReport, what: str
) -> None:
    cluster = handle.cluster
    started = time.monotonic()
    await asyncio.to_thread(cluster.kill_node, node)
    report.fault(f"Kafka node {node} SIGKILLed ({what})")
    await asyncio.sleep(down_s)
    await asyncio.to_thread(cluster.start_node, node)
    await asyncio.to_thread(cluster.node(node).wait_ready)
    report.fault(
        f"Kafka node {node} started again, ready {time.monotonic() - started:.1f} s after the kill"
    )


async def kill_partition_leader(
    platform: Platform, handle: SoakStack, config: SoakConfig, report: FaultReport
) -> None:
    topic = suite.INSPECTIONS_TOPIC
    partition, end = await busiest_partition(platform.bootstrap, topic)
    leader = (await partition_leaders(platform.bootstrap, topic))[partition]
    await restart_node(
        handle, leader, config.down_s, report, f"leader of {topic}-{partition}, {end} records"
    )


async def kill_active_controller(
    platform: Platform, handle: SoakStack, config: SoakConfig, report: FaultReport
) -> None:
    controller = await asyncio.to_thread(handle.cluster.active_controller)
    assert controller is not None, "no active KRaft controller"
    await restart_node(handle, controller, config.down_s, report, "the active KRaft controller")
    after = await asyncio.to_thread(handle.cluster.active_controller)
    report.fault(f"active controller now node {after}")


async def consumers_killed_mid_batch(
    platform: Platform, handle: SoakStack, config: SoakConfig, report: FaultReport
) -> None:
    for service, table in MID_BATCH.items():
        await chaos.add_stall(platform.dsns[service], table, "BEFORE INSERT")
    lines = await asyncio.gather(
        *(
            suite.kill_mid_batch(platform, service, table, since="the stall was armed")
            for service, table in MID_BATCH.items()
        )
    )
    for line in lines:
        report.fault(line)


async def notifications_killed_mid_send(
    platform: Platform, handle: SoakStack, config: SoakConfig, report: FaultReport
) -> None:
    """The SMTP server and the webhook receiver each take the next message, record it and hang
    before answering; notifications is SIGKILLed then: after its lease it sends them again, with
    the same idempotency key (the receivers' `repeats`)."""
    mail, hooks = handle.mail, handle.hooks
    names = sorted(hooks.secrets)
    mail.stall_next_s = 30.0
    with hooks.lock:
        hooks.stall_next_s.update(dict.fromkeys(names, 30.0))

    async def both_taken() -> bool:
        return mail.stall_next_s == 0.0 and len(hooks.stall_next_s) < len(names)

    await chaos.wait_for(both_taken, 120, "an e-mail and a webhook call accepted, unanswered")
    with hooks.lock:
        hooks.stall_next_s.clear()  # one stalled call is enough
    process = platform.processes["notifications"]
    await asyncio.to_thread(process.kill)
    started = time.monotonic()
    await asyncio.to_thread(process.start)
    await asyncio.to_thread(process.wait_ready)
    report.fault(
        "notifications SIGKILLed while an e-mail and a webhook call it sent were accepted by the "
        f"receivers but not yet answered; restarted, ready in {time.monotonic() - started:.1f} s"
    )


async def postgres_crash(
    platform: Platform, handle: SoakStack, config: SoakConfig, report: FaultReport
) -> None:
    pg = handle.stack.postgres
    started = time.monotonic()
    killed = await asyncio.to_thread(pg.kill)
    report.fault(
        f"PostgreSQL SIGKILLed: postmaster and {len(killed) - 1} backend/auxiliary processes"
    )
    await asyncio.sleep(min(config.down_s, 5.0))
    await asyncio.to_thread(pg.start)
    down = time.monotonic() - started
    ready = await chaos.wait_for(
        lambda: suite.all_ready(platform), 120, "every service ready after the PostgreSQL crash"
    )
    report.fault(
        f"PostgreSQL started after {down:.1f} s (crash recovery); every service ready again "
        f"{ready:.1f} s later"
    )


async def relays_killed(
    platform: Platform, handle: SoakStack, config: SoakConfig, report: FaultReport
) -> None:
    await suite.relay_killed_between_publish_and_mark(
        platform, report, "complaints", suite.COMPLAINTS_TOPIC
    )
    await suite.relay_killed_between_publish_and_mark(
        platform, report, "inspections", suite.INSPECTIONS_TOPIC
    )


Fault = Callable[[Platform, SoakStack, SoakConfig, FaultReport], Awaitable[None]]
FAULTS: tuple[Fault, ...] = (
    kill_partition_leader,
    kill_active_controller,
    consumers_killed_mid_batch,
    notifications_killed_mid_send,
    postgres_crash,
    relays_killed,
)


# -- the receivers --------------------------------------------------------------------------------


async def register_receivers(platform: Platform, hooks: WebhookSink) -> dict[str, str]:
    """Every enterprise of the workload's projects registers an e-mail address and a webhook.
    Returns enterprise id -> its e-mail address."""
    rows = await suite.query(
        platform,
        "notifications",
        "SELECT DISTINCT enterprise_id FROM projects WHERE project_id = ANY($1)",
        list(PROJECTS),
    )
    addresses = {}
    async with httpx.AsyncClient(base_url=platform.url("notifications"), timeout=15) as client:
        for r in rows:
            enterprise = r["enterprise_id"]
            token = platform.token(Role.ENTERPRISE, enterprise=enterprise)
            name = hashlib.sha256(enterprise.encode()).hexdigest()[:12]
            address = f"ops-{name}@soak.example.cn"
            for channel, target in (("email", address), ("webhook", hooks.url(name))):
                response = await client.post(
                    "/api/v1/endpoints",
                    json={
                        "recipient_kind": "enterprise",
                        "recipient_id": enterprise,
                        "channel": channel,
                        "address": target,
                    },
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status_code == 201, response.text
                if channel == "webhook":
                    hooks.secrets[name] = response.json()["webhook_secret"].encode()
            addresses[enterprise] = address
    return addresses


async def deliveries_settled(platform: Platform) -> bool:
    pending = await platform.count(
        "notifications",
        "SELECT count(*) FROM deliveries WHERE status IN ('pending', 'sending')",
    )
    return pending == 0


async def count_receivers(
    platform: Platform, mail: MailSink, hooks: WebhookSink
) -> dict[str, dict[str, int]]:
    """Per channel: deliveries the platform recorded as delivered, what the receiver got, how
    many distinct idempotency keys that was, and keys the platform does not know (must be 0)."""
    out = {}
    for channel in ("email", "webhook"):
        rows = await suite.query(
            platform,
            "notifications",
            "SELECT delivery_id, status FROM deliveries WHERE channel = $1",
            channel,
        )
        delivered = {r["delivery_id"] for r in rows if r["status"] == "delivered"}
        if channel == "email":
            with mail.lock:
                keys = [str(m["X-Wuye-Idempotency-Key"]) for _, m in mail.received]
        else:
            with hooks.lock:
                keys = [a.key for a in hooks.arrivals]
        distinct = set(keys)
        out["smtp" if channel == "email" else "webhook"] = {
            "deliveries": len(rows),
            "delivered": len(delivered),
            "failed": sum(1 for r in rows if r["status"] == "failed"),
            "received": len(keys),
            "distinct": len(distinct),
            "repeats": len(keys) - len(distinct),
            "unknown_keys": len(distinct - {r["delivery_id"] for r in rows}),
            "delivered_not_received": len(delivered - distinct),
        }
    out["webhook"]["rejected_signature"] = hooks.rejected
    return out


# -- the run --------------------------------------------------------------------------------------


async def postgres_settings(dsn: str) -> tuple[bool, bool]:
    conn = await asyncpg.connect(dsn)
    try:
        fsync = await conn.fetchval("SHOW fsync")
        sync = await conn.fetchval("SHOW synchronous_commit")
    finally:
        await conn.close()
    return fsync == "on", sync == "on"


async def run(
    config: SoakConfig, handle: SoakStack, tmp: Path, say: Callable[[str], None]
) -> SoakResult:
    result = SoakResult(config=config)
    result.started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    result.machine = machine()
    result.commit = git_commit()
    report = result.report
    bootstrap = handle.kafka_bootstrap
    cluster = handle.cluster
    await kafka.ensure_topics(bootstrap, replication_factor=cluster.replication_factor)
    result.replication_factor = await replication(bootstrap, [s.name for s in kafka.all_topics()])
    result.min_insync_replicas = cluster.min_insync_replicas
    fsync, sync = await postgres_settings(handle.stack.postgres.dsn())
    result.postgres_fsync, result.postgres_synchronous_commit = fsync, sync

    mail, hooks = handle.mail.start(), handle.hooks.start()
    platform = await asyncio.to_thread(
        start_platform,
        handle,
        tmp,
        suite.SERVICES,
        {
            "RATE_LIMIT_ENABLED": "false",
            "OPEN311_API_KEYS": json.dumps(
                {OPEN311_CLIENT: hashlib.sha256(OPEN311_KEY.encode()).hexdigest()}
            ),
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(mail.port),
            "SMTP_STARTTLS": "false",
            "SMTP_SENDER": "notices@wuye.example.cn",
            "WEBHOOK_SIGNING_KEY": WEBHOOK_SIGNING_KEY,
            "WEBHOOK_ALLOW_HTTP": "true",
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",  # the receiver on loopback
            "DELIVERY_INTERVAL_S": "0.2",
            "DELIVERY_LEASE_S": "4",
            "DELIVERY_BACKOFF_BASE_S": "0.3",
        },
    )
    say(f"· platform up: {', '.join(platform.processes)} (logs in {tmp})")
    try:
        await _scenario(config, handle, platform, mail, hooks, result, say)
    except BaseException as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, Exception):
            raise
    finally:
        await asyncio.to_thread(stop_platform, platform)
        mail.stop()
        hooks.stop()
    report.finished = time.monotonic()
    return result


async def _scenario(
    config: SoakConfig,
    handle: SoakStack,
    platform: Platform,
    mail: MailSink,
    hooks: WebhookSink,
    result: SoakResult,
    say: Callable[[str], None],
) -> None:
    report = result.report
    await chaos.wait_for(lambda: suite.registry_copies_complete(platform), 120, "registry copies")
    await register_receivers(platform, hooks)
    report.started = time.monotonic()  # fault times count from the start of the load
    prefix = f"soak-{uuid.uuid4().hex[:6]}"
    workload = Workload(
        platform,
        prefix,
        per_second=config.per_second,
        mix=SOAK_MIX,
        give_up_after_s=config.give_up_s,
    )
    stop = asyncio.Event()
    runner = asyncio.create_task(workload.run(stop), name="workload")
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    poison: list[tuple[chaos.Poison, tuple[str, int, int]]] = []
    try:
        await chaos.wait_for(lambda: suite.flowing(platform, prefix), 120, "the first effects")
        say(f"· load flowing after {loop.time() - t0:.1f} s")
        # the faults spread over the run: the i-th starts at i/(n+1) of the duration
        for i, fault in enumerate(FAULTS, start=1):
            if (wait := t0 + config.duration_s * i / (len(FAULTS) + 1) - loop.time()) > 0:
                await asyncio.sleep(wait)
            say(f"· +{loop.time() - t0:5.1f} s fault: {fault.__name__}")
            await fault(platform, handle, config, report)
        await suite.duplicates_in_reverse_order(platform, prefix, report)
        poison = await suite.inject_poison(platform, report)
        if (wait := t0 + config.duration_s - loop.time()) > 0:
            await asyncio.sleep(wait)
    except BaseException:
        runner.cancel()
        with contextlib.suppress(BaseException):
            await runner
        raise
    stop.set()
    result.load_s = loop.time() - t0
    try:
        await asyncio.wait_for(runner, config.give_up_s + 120)
    except TimeoutError:  # cancelled: what was still unanswered counts as abandoned (lost)
        result.error = f"items still unanswered {config.give_up_s + 120:.0f} s after the load"
        for item in workload.items:
            if not item.submitted and item.rejected is None:
                item.abandoned = True
    result.intake_s = loop.time() - t0
    result.items = len(workload.items)
    result.offered_per_s = workload.offered_per_s
    result.accepted = {
        channel: sum(1 for s in workload.items if s.submitted and s.channel == channel)
        for channel in dict.fromkeys(SOAK_MIX)
    }
    result.rejected = len(workload.rejected)
    result.abandoned = len(workload.abandoned)
    report.note(suite.workload_summary(workload))
    say(f"· load stopped after {result.load_s:.0f} s: {result.items} items; settling…")

    async def settled() -> bool:
        counts = await suite.count_records(platform, prefix, workload)
        return (
            all(c.lost == 0 for c in counts)
            and await suite.unpublished(platform) == 0
            and await deliveries_settled(platform)
        )

    t_settle = loop.time()
    try:
        await chaos.wait_for(
            settled, config.settle_s, "every accepted item recorded everywhere", every=2.0
        )

        async def caught_up() -> bool:
            lags = await chaos.lag(platform.bootstrap, suite.group_ids(platform))
            return not any(lags.values())

        await chaos.wait_for(caught_up, 120, "every consumer group caught up", every=1.0)
        await asyncio.sleep(3)  # a quiet period: late duplicates would show up now
        result.settled_s = loop.time() - t_settle
    finally:
        counts = await suite.count_records(platform, prefix, workload)
        report.counts = counts
        result.counts = [asdict(c) for c in counts]
        result.receivers = await count_receivers(platform, mail, hooks)
        result.unpublished = await suite.unpublished(platform)
        result.health = await suite.health_of(platform)
    events, copies, off_topic = await suite.events_on_topics(platform, prefix)
    result.events_off_topic = len(off_topic)
    report.note(f"Kafka: {events} events of the run in the outboxes, as {copies} records")
    dead = await suite.dead_letters(platform, prefix, poison)
    result.dead_lettered_expected = sum(
        len(p.expected_groups(chaos.consumer_groups())) for p, _ in poison
    )
    result.dead_lettered_found = dead.found
    report.note(
        f"dead letters: {dead.found} of {result.dead_lettered_expected} expected; "
        f"problems: {result.dead_letter_problems or 'none'}"
    )
    for name, r in result.receivers.items():
        report.note(
            f"{name}: {r['delivered']} delivered, {r['received']} received, {r['distinct']} "
            f"distinct keys ({r['repeats']} repeats of a key already received), "
            f"{r['unknown_keys']} unknown keys"
        )
    result.dead_letter_problems = [
        *dead.missing,
        *(f"workload event dead-lettered: {g}" for g in dead.good),
        *([f"{dead.not_expected} dead-lettered that should be skipped"] * bool(dead.not_expected)),
    ]


# -- the report -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu, mem_kb = "unknown CPU", 0
    with contextlib.suppress(OSError, StopIteration, ValueError):
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        mem_kb = next(
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
    return {"nproc": os.cpu_count(), "memory_gib": round(mem_kb / 1024 / 1024, 1), "cpu": cpu}


def git_commit() -> str:
    r = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        cwd=REPO,
    ).stdout.strip()
    return r.stdout.strip() + ("+uncommitted changes" if dirty else "")


def write(result: SoakResult, command: str) -> None:
    """Add the run to results.json (newest first) and render docs/reliability.md from it."""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    try:
        runs: list[dict[str, Any]] = json.loads(RESULTS.read_text())["runs"]
    except (OSError, ValueError, KeyError):
        runs = []
    runs.insert(0, {**result.record(), "command": command})
    RESULTS.write_text(json.dumps({"runs": runs}, ensure_ascii=False, indent=2) + "\n")
    REPORT.write_text(render(runs))


def render(runs: list[dict[str, Any]]) -> str:
    head = (REPO / "docs" / "reliability" / "method.md").read_text()
    if not runs:
        return head + "\n## Results\n\nNo run recorded yet: `make soak`.\n"
    r = runs[0]
    m = r["machine"]
    verdict = "met every count" if r["passed"] else "did NOT meet: " + "; ".join(r["failures"])
    lines = [
        head.rstrip(),
        "",
        "## Results of the latest run",
        "",
        f"`{r['command']}` on {r['date']}, commit {r['commit']}, on {m['nproc']} cores "
        f"({m['cpu']}), {m['memory_gib']} GiB RAM; the stack, the services, the receivers and "
        "the load generator all on this machine. The run " + verdict + ".",
        "",
        "| | |",
        "|---|---|",
        f"| offered | {r['offered_per_s']} items/s (target {r['target_per_s']}) for "
        f"{r['duration_s']} s |",
        f"| items | {r['items']} (accepted per channel: "
        + ", ".join(f"{k} {v}" for k, v in r["accepted"].items())
        + ") |",
        f"| accepted | {r.get('accepted_per_s', '—')} items/s on average until the last "
        f"answer ({r.get('intake_s', '—')} s after the first item) |",
        f"| rejected (4xx) / abandoned | {r['rejected']} / {r['abandoned']} |",
        f"| **lost** | **{r['lost']}** |",
        f"| **duplicated** | **{r['duplicated']}** |",
        f"| dead letters expected / found | {r['dead_lettered_expected']} / "
        f"{r['dead_lettered_found']} |",
        f"| Kafka | {r['kafka_brokers']} brokers, replication factor {r['replication_factor']}, "
        f"min.insync.replicas {r['min_insync_replicas']}, producers acks=all, idempotent |",
        f"| PostgreSQL | fsync {'on' if r['postgres_fsync'] else 'OFF'}, synchronous_commit "
        f"{'on' if r['postgres_synchronous_commit'] else 'OFF'} |",
        f"| settled after the load | "
        f"{'—' if r['settled_s'] is None else round(r['settled_s'], 1)} s |",
        "",
        "Per record (expected = accepted items that must produce it):",
        "",
        "| record | expected | recorded | lost | duplicated | unexpected |",
        "|---|---:|---:|---:|---:|---:|",
        *(
            f"| {c['what']} | {c['expected']} | {c['recorded']} | {c['lost']} | "
            f"{c['duplicates']} | {c['unexpected']} |"
            for c in r["counts"]
        ),
        "",
        "Receivers (a repeat is a re-send of one delivery: same idempotency key, "
        "`X-Wuye-Idempotency-Key` / `Idempotency-Key`):",
        "",
        "| receiver | deliveries | delivered | received | distinct keys | repeats | unknown keys |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(
            f"| {name} | {v['deliveries']} | {v['delivered']} | {v['received']} | "
            f"{v['distinct']} | {v['repeats']} | {v['unknown_keys']} |"
            for name, v in r["receivers"].items()
        ),
        "",
        "Faults injected (time since the start of the load):",
        "",
        *(f"- {f.strip()}" for f in r["faults"]),
        "",
        *(f"- {n}" for n in r["notes"]),
        "",
        f"Earlier runs: {len(runs) - 1} more in `docs/reliability/results.json`.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.fault.soak", description=__doc__)
    parser.add_argument("--rate", type=float, default=100.0, help="items per second offered")
    parser.add_argument("--duration", type=float, default=180.0, help="seconds of load")
    parser.add_argument("--profile", default="soak", help="stack profile (wiped first)")
    parser.add_argument("--down", type=float, default=10.0, help="seconds a killed node stays down")
    parser.add_argument(
        "--no-write", action="store_true", help="print the results, do not write docs/"
    )
    parser.add_argument("--keep", action="store_true", help="leave the stack running afterwards")
    args = parser.parse_args(argv)

    def say(message: str) -> None:
        print(message, flush=True)

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # `kill <pid>`: stop the services and the stack on the way out

    signal.signal(signal.SIGTERM, interrupted)
    config = SoakConfig(
        per_second=args.rate, duration_s=args.duration, profile=args.profile, down_s=args.down
    )
    stack = soak_stack(config, say)
    try:
        with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
            result = asyncio.run(run(config, SoakStack(stack), Path(tmp), say))
    finally:
        if not args.keep:
            stack.down()
    for line in result.report.lines():
        say(line)
    record = result.record()
    say(json.dumps({k: record[k] for k in ("lost", "duplicated", "receivers", "failures")}))
    if not args.no_write:
        command = "make soak" + (f' SOAK_ARGS="{" ".join(argv)}"' if argv else "")
        write(result, command)
        say(f"✓ wrote {RESULTS.relative_to(REPO)} and {REPORT.relative_to(REPO)}")
    return 0 if record["passed"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
