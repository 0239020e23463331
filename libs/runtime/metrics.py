"""Prometheus metrics of a service process (prometheus-client: the reference client, maintained by
the Prometheus project; its text format is what every scraper reads).

They are served by `serve` on a listener of their own (`METRICS_PORT`, path `/metrics`), never on
the public HTTP port: in Kubernetes only the monitoring namespace may reach that port.

Counters move where things happen (consumer, relay); gauges that need a query — the outbox backlog
and age, consumer lag — are sampled by a periodic job every `interval_s`, so a scrape never waits on
the database or the broker. docs/operations.md lists them with the alerts we suggest.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import Counter, Gauge, start_http_server

from runtime.scheduler import PeriodicJob

log = structlog.get_logger(__name__)

EVENTS = Counter(
    "wuye_events",
    "Events a consumer finished with, by outcome (handled, duplicate, skipped, dead_lettered).",
    ["consumer", "event_type", "outcome"],
)
FAILURES = Counter(
    "wuye_event_failures",
    "Failed attempts to handle an event (kind: handler = counts toward the dead-letter topic, "
    "infrastructure = database or broker unavailable, retried without limit).",
    ["consumer", "event_type", "kind"],
)
PUBLISHED = Counter(
    "wuye_outbox_published", "Events the outbox relay published to Kafka.", ["event_type"]
)
PUBLISH_FAILURES = Counter(
    "wuye_outbox_publish_failures", "Outbox rows that could not be published (retried).", []
)
PARKED = Counter(
    "wuye_outbox_parked",
    "Outbox rows parked: they could not be published after OUTBOX_MAX_ATTEMPTS attempts "
    "(too large, not serialisable) and wait for an operator.",
    [],
)
SLA_BREACHES = Counter(
    "wuye_sla_breaches",
    "Deadlines missed, as published: ComplaintOverdue, RectificationOverdue, PlanOverdue, "
    "SurveyMissing.",
    ["event_type"],
)
OUTBOX_BACKLOG = Gauge(
    "wuye_outbox_backlog", "Outbox rows not yet published (parked rows not included)."
)
OUTBOX_AGE = Gauge(
    "wuye_outbox_oldest_age_seconds",
    "Age of the oldest unpublished outbox row, parked rows not included (0 if none).",
)
OUTBOX_PARKED = Gauge(
    "wuye_outbox_parked_rows", "Outbox rows parked now, waiting for an operator to act."
)
CONSUMER_LAG = Gauge(
    "wuye_consumer_lag",
    "Records on the topic not yet committed by the consumer group (sum over partitions).",
    ["group", "topic"],
)

SLA_TYPES = ("ComplaintOverdue", "RectificationOverdue", "PlanOverdue", "SurveyMissing")


def short_type(ce_type: str) -> str:
    """cn.tj.wuye.complaints.ComplaintOverdue.v1 -> ComplaintOverdue (bounded label values)."""
    parts = ce_type.split(".")
    return parts[-2] if len(parts) >= 2 else ce_type


def published(ce_type: str, count: int = 1) -> None:
    name = short_type(ce_type)
    PUBLISHED.labels(name).inc(count)
    if name in SLA_TYPES:
        SLA_BREACHES.labels(name).inc(count)


def serve(host: str, port: int) -> None:
    """Serve the process's metrics at http://host:port/metrics from a daemon thread (the client
    library's own server; a scrape reads counters only, never the database or the broker)."""
    start_http_server(port, addr=host)
    log.info("metrics_listening", host=host, port=port)


class Sampler:
    """Samples the gauges: the outbox from the database, consumer lag from the broker."""

    def __init__(
        self,
        bootstrap: str,
        client_kwargs: dict[str, Any],
        groups: Sequence[tuple[str, Sequence[str]]],
    ) -> None:
        self.bootstrap = bootstrap
        self.client_kwargs = client_kwargs
        self.groups = groups  # (group id, topics)
        self._admin: AIOKafkaAdminClient | None = None
        self._offsets: AIOKafkaConsumer | None = None
        self._known: dict[str, list[int]] = {}

    def job(self, interval_s: float = 15.0) -> PeriodicJob:
        return PeriodicJob("metrics-sampler", self.run, interval_s=interval_s)

    async def run(self, pool: asyncpg.Pool, _now: datetime) -> int:
        async with pool.acquire() as conn:
            row = await conn.fetchrow(
                """SELECT count(*) FILTER (WHERE parked_at IS NULL) AS backlog,
                          coalesce(extract(epoch FROM now() - min(created_at)
                                   FILTER (WHERE parked_at IS NULL)), 0) AS age,
                          count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked
                     FROM outbox WHERE published_at IS NULL"""
            )
        assert row is not None
        OUTBOX_BACKLOG.set(row["backlog"])
        OUTBOX_AGE.set(float(row["age"]))
        OUTBOX_PARKED.set(row["parked"])
        if self.groups:
            try:
                await self._sample_lag()
            except Exception as exc:  # noqa: BLE001 - the broker may be down; try next time
                log.warning("lag_sample_failed", error=repr(exc))
                await self.close()
        return 0

    async def _sample_lag(self) -> None:
        if self._admin is None or self._offsets is None:
            self._admin = AIOKafkaAdminClient(
                bootstrap_servers=self.bootstrap, client_id="metrics-sampler", **self.client_kwargs
            )
            await self._admin.start()
            self._offsets = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False, **self.client_kwargs
            )
            await self._offsets.start()
        for group, topics in self.groups:
            committed = await self._admin.list_consumer_group_offsets(group)
            for topic in topics:
                parts = [TopicPartition(topic, p) for p in await self._partitions(topic)]
                if not parts:
                    continue
                ends = await self._offsets.end_offsets(parts)
                lag = 0
                for tp in parts:
                    meta = committed.get(tp)
                    done = meta.offset if meta is not None and meta.offset >= 0 else 0
                    lag += max(0, ends[tp] - done)
                CONSUMER_LAG.labels(group, topic).set(lag)

    async def _partitions(self, topic: str) -> list[int]:
        if topic not in self._known:
            assert self._admin is not None
            described = await self._admin.describe_topics([topic])
            self._known[topic] = sorted(
                p["partition"] for d in described for p in d.get("partitions", ())
            )
        return self._known[topic]

    async def close(self) -> None:
        admin, offsets = self._admin, self._offsets
        self._admin = self._offsets = None
        if offsets is not None:
            with contextlib.suppress(Exception):
                await offsets.stop()
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.close()
