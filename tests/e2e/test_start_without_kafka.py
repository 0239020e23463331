"""Services start without Kafka: they serve HTTP (readiness degraded, liveness ok), take work into
their outbox, and connect in the background once a broker answers.

Real processes. The broker is a second one of this test's own, on its own ports, that does not run
yet when the services start (the session's broker is shared with other tests and stays up).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local.processes import ServiceProcess, free_port
from deploy.local.stack import Kafka, StackConfig
from runtime import kafka
from runtime.auth import DevIssuer
from tests.e2e.conftest import CAMPAIGN_TIME, Platform, eventually, post_failed_inspection
from tests.integration.conftest import header, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
SERVICES = ("inspections", "notifications")


@pytest.fixture
def late_kafka() -> Any:
    """A broker of this test's own, stopped: the test starts it when it wants."""
    profile = os.environ.get("WUYE_STACK_PROFILE", "test") + "-late"
    broker = Kafka(StackConfig.for_profile(profile))
    broker.ensure_jars()
    broker.stop()
    broker.wipe()
    yield broker
    broker.stop()
    broker.wipe()


async def count(dsn: str, sql: str, *args: object) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval(sql, *args))
    finally:
        await conn.close()


async def test_services_start_without_kafka_take_work_and_deliver_it_when_kafka_comes(
    stack: Any, tmp_path: Path, late_kafka: Kafka
) -> None:
    bootstrap = late_kafka.bootstrap_servers  # nothing listens there yet
    run_id = uuid.uuid4().hex[:8]
    issuer = DevIssuer.generate()
    dsns = {name: stack.create_database(f"late_{run_id}_{name}") for name in SERVICES}
    processes = {
        name: ServiceProcess(
            name=name,
            port=free_port(),
            env={
                "DATABASE_URL": dsns[name],
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "CONSUMER_GROUP_PREFIX": f"late-{run_id}.",
                "AUTH_JWT_PUBLIC_KEY": issuer.public_key_pem,
                "AUTH_ISSUER": issuer.issuer,
                "AUTH_AUDIENCE": issuer.audience,
                "OUTBOX_POLL_INTERVAL_S": "0.5",
                "KAFKA_RECONNECT_MAX_S": "2",
                "CLOCK_START": CAMPAIGN_TIME,
                "CONSUMER_RETRY_BASE_S": "0.05",
            },
            log_path=tmp_path / f"{name}.log",
        )
        for name in SERVICES
    }
    platform = Platform(processes=processes, dsns=dsns, issuer=issuer, bootstrap=bootstrap)
    try:
        for p in processes.values():
            p.start()
        for p in processes.values():
            p.wait_ready(degraded_ok=True)  # it would crash-loop here before

        async with httpx.AsyncClient(base_url=platform.url("inspections"), timeout=10) as client:
            ready = await client.get("/readyz")
            alive = await client.get("/healthz")
        assert alive.status_code == 200
        assert alive.json() == {"status": "ok"}
        assert ready.status_code == 200  # still in the load balancer: it takes work
        body = ready.json()
        assert body["status"] == "degraded", body
        reasons = " ".join(d["reason"] for d in body["degraded"])
        assert "consumers not connected to Kafka" in reasons, reasons
        assert "KafkaConnectionError" in reasons, reasons

        corr = f"late-{run_id}"
        response = await post_failed_inspection(platform, corr)
        assert response.status_code == 201, response.text
        waiting = "SELECT count(*) FROM outbox WHERE correlation_id = $1 AND published_at IS NULL"
        pending = await count(dsns["inspections"], waiting, corr)  # InspectionFailed and more
        assert pending >= 1

        async def failures_logged() -> bool:  # every failed attempt is logged
            log = processes["inspections"].log_path.read_text()
            return '"kafka_connect_failed"' in log and '"outbox_relay_kafka_unavailable"' in log

        await eventually(failures_logged, timeout=15)

        await asyncio.to_thread(late_kafka.start)
        await asyncio.to_thread(late_kafka.wait_ready)
        await kafka.ensure_topics(bootstrap)

        async def notice_made() -> bool:
            sql = "SELECT count(*) FROM notices WHERE correlation_id = $1"
            return await platform.count("notifications", sql, corr) == 1

        await eventually(notice_made, timeout=60)  # published, consumed, handled
        records = await read_topic(
            bootstrap,
            "wuye.inspections.events",
            until=lambda rs: len(rs) >= pending,
            keep=lambda r: header(r, "ce_correlationid") == corr,
        )
        assert len(records) == pending
        assert await count(dsns["inspections"], waiting, corr) == 0

        async def ready_now() -> bool:
            async with httpx.AsyncClient(base_url=platform.url(SERVICES[1])) as client:
                return (await client.get("/readyz")).json().get("status") == "ready"

        await eventually(ready_now, timeout=30)
        assert '"kafka_consumers_started"' in processes["notifications"].log_path.read_text()
    finally:
        for p in processes.values():
            p.stop()
        for name in SERVICES:
            stack.drop_database(f"late_{run_id}_{name}")
