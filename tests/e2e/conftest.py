"""Run the service processes against the session's real Kafka and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deploy.local.processes import ServiceProcess, free_port, oidc_env
from deploy.local.samples import FAILED_INSPECTION
from deploy.local.stack import KEYCLOAK_REALM_FILE, Keycloak
from runtime import kafka
from runtime.auth import DevIssuer, Principal, Role
from tests.conftest import run_async_in_thread

WORKSPACE_CLIENT = "wuye-workspace"
SLICE = ("inspections", "notifications", "exposure")
CAMPAIGN_TIME = "2011-08-20T10:00:00+08:00"


@dataclass
class Platform:
    processes: dict[str, ServiceProcess]
    dsns: dict[str, str]
    issuer: DevIssuer
    bootstrap: str
    group_prefix: str = ""
    tokens: dict[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.processes[service].url

    def token(
        self,
        role: Role,
        *,
        district: str | None = None,
        enterprise: str | None = None,
        agency: str | None = None,
    ) -> str:
        key = f"{role}:{district}:{enterprise}:{agency}"
        if key not in self.tokens:
            self.tokens[key] = self.issuer.issue(
                Principal(
                    subject=f"{role.value}-{district or enterprise or agency or 'x'}",
                    role=role,
                    district_code=district,
                    enterprise_id=enterprise,
                    agency_id=agency,
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
    keycloak: Keycloak | None = None,
) -> Platform:
    """The services as real processes. With `keycloak`, as the demo runs them: APIs accept its
    access tokens, the workspace pages sign in through its `wuye-workspace` client, and one
    navigation links the services' pages (WORKSPACE_LINKS)."""
    bootstrap: str = stack.kafka_bootstrap
    run_async_in_thread(lambda: kafka.ensure_topics(bootstrap))
    run_id = uuid.uuid4().hex[:8]
    issuer = DevIssuer.generate()
    # One key for the run, as a Secret gives every replica in production: a restarted
    # complaints service still accepts the forms it signed before.
    session_key = secrets.token_hex(32)
    processes: dict[str, ServiceProcess] = {}
    dsns: dict[str, str] = {}
    ports = {name: free_port() for name in services}
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    if keycloak is not None:
        keycloak.allow_redirects(WORKSPACE_CLIENT, list(urls.values()))
    links = ",".join(f"{name}={url}/workspace/{name}/" for name, url in urls.items())
    for name in services:
        dsns[name] = stack.create_database(f"e2e_{run_id}_{name}")
        sign_in = (
            {
                **oidc_env(keycloak.issuer, keycloak.jwks_url, _workspace_secret(), urls[name]),
                "WORKSPACE_LINKS": links,
            }
            if keycloak is not None
            else {}
        )
        processes[name] = ServiceProcess(
            name=name,
            port=ports[name],
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
                **sign_in,
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
    return Platform(
        processes=processes,
        dsns=dsns,
        issuer=issuer,
        bootstrap=bootstrap,
        group_prefix=f"e2e-{run_id}.",
    )


def _workspace_secret() -> str:
    """The local realm's workspace client secret (deploy/local/keycloak/realm-wuye.json)."""
    realm = json.loads(KEYCLOAK_REALM_FILE.read_text(encoding="utf-8"))
    return str(next(c for c in realm["clients"] if c["clientId"] == WORKSPACE_CLIENT)["secret"])


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


async def unsettled(platform: Platform) -> list[str]:
    """What is still moving: outbox rows not yet published (parked ones aside) and records the
    platform's consumer groups have not committed, on the topics they have committed on (a
    group's topics are known to the broker only through its commits: Kafka 4 no longer answers
    aiokafka's DescribeGroups). Empty when the platform has caught up."""
    moving = []
    for service in platform.processes:
        backlog = await platform.count(
            service, "SELECT count(*) FROM outbox WHERE published_at IS NULL AND parked_at IS NULL"
        )
        if backlog:
            moving.append(f"{service} outbox: {backlog}")
    admin = AIOKafkaAdminClient(bootstrap_servers=platform.bootstrap)
    ends = AIOKafkaConsumer(bootstrap_servers=platform.bootstrap, enable_auto_commit=False)
    await admin.start()
    await ends.start()
    try:
        groups = [
            g[0] if isinstance(g, tuple) else g["group_id"]
            for g in await admin.list_consumer_groups()
        ]
        for group in sorted(g for g in groups if g.startswith(platform.group_prefix)):
            committed = await admin.list_consumer_group_offsets(group)
            # every partition of the topics the group reads, committed to or not yet
            topics = sorted({tp.topic for tp in committed})
            parts = [
                TopicPartition(d["topic"], p["partition"])
                for d in (await admin.describe_topics(topics) if topics else ())
                for p in d.get("partitions", ())
            ]
            if not parts:
                continue
            first, latest = await ends.beginning_offsets(parts), await ends.end_offsets(parts)
            lag = 0
            for tp in parts:
                meta = committed.get(tp)
                done = meta.offset if meta is not None and meta.offset >= 0 else first[tp]
                lag += max(0, latest[tp] - done)
            if lag:
                moving.append(f"{group}: {lag} records")
    finally:
        await ends.stop()
        await admin.close()
    return moving


async def settled(platform: Platform, timeout: float = 300.0) -> None:
    """Wait until every outbox is published and every consumer group has caught up (three times
    in a row, 2 s apart): what a test that reads the services' state needs, on a machine still busy with what
    earlier tests set moving."""
    deadline = asyncio.get_running_loop().time() + timeout
    calm = 0
    while calm < 3:
        moving = await unsettled(platform)
        calm = 0 if moving else calm + 1
        if moving and asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"the platform did not settle in {timeout:.0f} s: {moving}")
        await asyncio.sleep(2.0)


async def eventually(check: Any, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("not reached in time")
        await asyncio.sleep(0.2)


async def owner_files(platform: Platform, complaint: dict[str, Any]) -> dict[str, Any]:
    """An owner (the test issuer's owner token) files `complaint` over the running complaints
    service's API; the filing must answer 201, and the complaint as answered is returned."""
    owner = platform.token(Role.OWNER)
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        r = await c.post(
            "/api/v1/complaints", headers={"Authorization": f"Bearer {owner}"}, json=complaint
        )
    assert r.status_code == 201, r.text
    return dict(r.json())
