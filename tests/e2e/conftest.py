"""Run the service processes against the session's real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local.processes import ServiceProcess, free_port
from deploy.local.samples import FAILED_INSPECTION
from runtime import kafka
from runtime.auth import DevIssuer, Principal, Role
from tests.conftest import run_async_in_thread

SLICE = ("inspections", "notifications", "exposure")
CAMPAIGN_TIME = "2011-08-20T10:00:00+08:00"


@dataclass
class Platform:
    processes: dict[str, ServiceProcess]
    dsns: dict[str, str]
    issuer: DevIssuer
    bootstrap: str
    tokens: dict[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.processes[service].url

    def token(
        self, role: Role, *, district: str | None = None, enterprise: str | None = None
    ) -> str:
        key = f"{role}:{district}:{enterprise}"
        if key not in self.tokens:
            self.tokens[key] = self.issuer.issue(
                Principal(
                    subject=f"{role.value}-{district or enterprise or 'x'}",
                    role=role,
                    district_code=district,
                    enterprise_id=enterprise,
                )
            )
        return self.tokens[key]

    async def count(self, service: str, sql: str, *args: Any) -> int:
        conn = await asyncpg.connect(self.dsns[service])
        try:
            return int(await conn.fetchval(sql, *args))
        finally:
            await conn.close()


def start_platform(
    stack: Any,
    tmp: Path,
    services: tuple[str, ...] = SLICE,
    extra_env: dict[str, str] | None = None,
) -> Platform:
    bootstrap: str = stack.kafka_bootstrap
    run_async_in_thread(lambda: kafka.ensure_topics(bootstrap))
    run_id = uuid.uuid4().hex[:8]
    issuer = DevIssuer.generate()
    # One key for the run, as a Secret gives every replica in production: a restarted
    # complaints service still accepts the forms it signed before.
    session_key = secrets.token_hex(32)
    processes: dict[str, ServiceProcess] = {}
    dsns: dict[str, str] = {}
    for name in services:
        dsns[name] = stack.create_database(f"e2e_{run_id}_{name}")
        processes[name] = ServiceProcess(
            name=name,
            port=free_port(),
            env={
                "DATABASE_URL": dsns[name],
                "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                "CONSUMER_GROUP_PREFIX": f"e2e-{run_id}.",
                "AUTH_JWT_PUBLIC_KEY": issuer.public_key_pem,
                "AUTH_ISSUER": issuer.issuer,
                "AUTH_AUDIENCE": issuer.audience,
                "WEB_SESSION_KEY": session_key,
                "OUTBOX_POLL_INTERVAL_S": "0.5",
                # Business time is the 2011 campaign's (the calendar data covers it); tests that
                # need a deadline to pass call the scan with their own `now`.
                "CLOCK_START": CAMPAIGN_TIME,
                "CLOCK_SPEED": "1",
                **(extra_env or {}),
                "CONSUMER_RETRY_BASE_S": "0.05",
            },
            log_path=tmp / f"{name}.log",
        )
    try:
        for p in processes.values():
            p.start()
        for p in processes.values():
            p.wait_ready()
    except BaseException:
        for p in processes.values():  # no fixture teardown will stop them
            p.stop()
        raise
    return Platform(processes=processes, dsns=dsns, issuer=issuer, bootstrap=bootstrap)


def stop_platform(platform: Platform) -> None:
    for p in platform.processes.values():
        p.stop()


@pytest.fixture(scope="module")
def platform(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    p = start_platform(stack, tmp_path_factory.mktemp("platform"))
    yield p
    stop_platform(p)


async def post_failed_inspection(platform: Platform, correlation_id: str) -> httpx.Response:
    token = platform.token(Role.DISTRICT_OFFICE, district="120101")
    async with httpx.AsyncClient(base_url=platform.url("inspections"), timeout=20) as client:
        return await client.post(
            "/api/v1/inspections",
            json=FAILED_INSPECTION,
            headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": correlation_id},
        )


async def eventually(check: Any, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.2)
