"""End to end: the four services as processes on the bench stack, driven over HTTP, open loop.

- complaints: an owner files a complaint (``POST /api/v1/complaints`` on the complaints service);
  the effect is the owner's receipt notice (rule ``complaint-receipt``) in the notifications
  database;
- failed inspections: a district office records a patrol inspection with three failed items
  (``POST /api/v1/inspections`` on the inspections service); the effects are the failed-inspection
  notice (rule ``inspection-failed``) in the notifications database AND the exposure service's
  evidence row (what the board's cases are built from) in the exposure database; the request's
  effect time is the later of the two.

Requests and effects are matched by the X-Correlation-ID header, which the services carry into the
events (``ce_correlationid``) and from there into ``notices.correlation_id`` and
``evidence.correlation_id``.

Set up as ``tests/e2e/conftest.py`` starts the platform (environment, a development token issuer,
a consumer group prefix, the 2011 campaign calendar via ``CLOCK_START``), plus: per-client rate
limiting off (all the load comes from one address), services logging at WARNING, and a registry
of bench projects imported over HTTP so the load spreads over many projects, as real complaints
do (the registry data has four).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench.load import Shot
from bench.sweep import (
    Effect,
    EffectReader,
    Launch,
    Say,
    SweepConfig,
    run_processes,
    sweep,
    warm_up,
)
from deploy.local.processes import SERVICES, ServiceProcess, free_port
from deploy.local.samples import FAILED_INSPECTION
from deploy.local.stack import Stack
from runtime.auth import DevIssuer, Principal, Role

CAMPAIGN_TIME = "2011-08-20T10:00:00+08:00"
DISTRICT = "120101"

COMPLAINT: dict[str, Any] = {  # as tests/e2e/test_complaints_flow.py files one
    "category": "water",
    "description": "连续两天停水,请尽快处理",
    "answers": {"problem": "no_water"},
    "contact": {"name": "李先生", "phone": "13700000000"},
}


@dataclass
class Platform:
    processes: dict[str, ServiceProcess]
    dsns: dict[str, str]
    issuer: DevIssuer
    tokens: dict[str, str] = field(default_factory=dict)

    def url(self, service: str) -> str:
        return self.processes[service].url

    def token(self, role: Role, *, district: str | None = None) -> str:
        key = f"{role}:{district}"
        if key not in self.tokens:
            self.tokens[key] = self.issuer.issue(
                Principal(subject=f"bench-{role.value}", role=role, district_code=district),
                ttl_s=4 * 3600,
            )
        return self.tokens[key]

    def stop(self) -> None:
        for p in self.processes.values():
            p.stop()


def start_platform(stack: Stack, log_dir: Path, *, log_level: str) -> Platform:
    run_id = uuid.uuid4().hex[:8]
    issuer = DevIssuer.generate()
    platform = Platform(processes={}, dsns={}, issuer=issuer)
    for name in SERVICES:
        platform.dsns[name] = stack.postgres.create_database(f"bench_e2e_{run_id}_{name}")
        log_path = log_dir / f"e2e-{name}.log"
        log_path.unlink(missing_ok=True)
        platform.processes[name] = ServiceProcess(
            name=name,
            port=free_port(),
            env={
                "DATABASE_URL": platform.dsns[name],
                "KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
                "CONSUMER_GROUP_PREFIX": f"bench-{run_id}.",
                "AUTH_JWT_PUBLIC_KEY": issuer.public_key_pem,
                "AUTH_ISSUER": issuer.issuer,
                "AUTH_AUDIENCE": issuer.audience,
                "CLOCK_START": CAMPAIGN_TIME,
                "CLOCK_SPEED": "1",
                "RATE_LIMIT_ENABLED": "false",
                "LOG_LEVEL": log_level,
            },
            log_path=log_path,
        )
    try:
        for p in platform.processes.values():
            p.start()
        for p in platform.processes.values():
            p.wait_ready()
    except BaseException:
        platform.stop()
        raise
    return platform


def bench_projects(n: int) -> list[dict[str, str]]:
    return [
        {
            "project_id": f"P-{DISTRICT}-B{i:04d}",
            "project_name": f"和平区·压测小区{i}号",
            "address": f"天津市和平区压测路 {i} 号",
            "district_code": DISTRICT,
            "district_name": "和平区",
            "enterprise_id": f"E-B{i % 50:03d}",
            "enterprise_name": f"压测物业服务有限公司{i % 50}",
            "service_grade": "一级",
        }
        for i in range(n)
    ]


async def _count(dsn: str, sql: str) -> int:
    conn = await asyncpg.connect(dsn, timeout=30)
    try:
        return int(await conn.fetchval(sql))
    finally:
        await conn.close()


async def import_registry(platform: Platform, n: int, timeout_s: float = 90.0) -> list[str]:
    """Register n bench projects (city office, registry import) and wait until the complaints and
    notifications services have them from the registry topic."""
    projects = bench_projects(n)
    token = platform.token(Role.CITY_OFFICE)
    async with httpx.AsyncClient(base_url=platform.url("inspections"), timeout=60) as client:
        r = await client.post(
            "/api/v1/registry/import",
            json={"projects": projects},
            headers={"Authorization": f"Bearer {token}"},
        )
    if r.status_code != 200:
        raise RuntimeError(f"registry import refused: {r.status_code} {r.text[:500]}")
    ids = [p["project_id"] for p in projects]
    where = "WHERE project_id LIKE 'P-%-B%'"
    deadline = time.monotonic() + timeout_s
    while True:
        have = (
            await _count(
                platform.dsns["complaints"], f"SELECT count(*) FROM complaint_projects {where}"
            ),
            await _count(platform.dsns["notifications"], f"SELECT count(*) FROM projects {where}"),
        )
        if min(have) >= n:
            return ids
        if time.monotonic() > deadline:
            raise RuntimeError(f"registry not propagated after {timeout_s:.0f} s: {have} of {n}")
        await asyncio.sleep(0.5)


def http_launcher(
    platform: Platform,
    service: str,
    path: str,
    token: str,
    body: dict[str, Any],
    projects: list[str],
    *,
    generators: int,
    client: str,
    timeout_s: float,
    work_dir: Path,
    log_path: Path,
) -> Launch:
    async def launch(
        rate: float, count: int, prefix: str
    ) -> tuple[float, list[Shot], dict[str, int]]:
        commands = []
        outs = []
        for k in range(generators):
            spec = {
                "base_url": platform.url(service),
                "path": path,
                "headers": {"Authorization": f"Bearer {token}"},
                "body": body,
                "projects": projects,
                "rate": rate,
                "count": count,
                "prefix": prefix,
                "offset": k,
                "stride": generators,
                "timeout_s": timeout_s,
                "client": client,
            }
            spec_path = work_dir / f"{prefix}{k}.spec.json"
            spec_path.write_text(json.dumps(spec, ensure_ascii=False), encoding="utf-8")
            outs.append(work_dir / f"{prefix}{k}.out.json")
            commands.append(["-m", "bench.load", str(spec_path), str(outs[-1])])
        start_at = await run_processes(commands, count / rate, timeout_s + 30, log_path)
        shots: list[Shot] = []
        errors: dict[str, int] = {}
        for out in outs:
            data = json.loads(out.read_text(encoding="utf-8"))
            shots += [tuple(s) for s in data["shots"]]
            for k, v in data["errors"].items():
                errors[k] = errors.get(k, 0) + v
        return start_at, shots, errors

    return launch


async def bench_e2e(
    stack: Stack,
    config: SweepConfig,
    *,
    projects: int,
    generators: int,
    client: str,
    log_level: str,
    say: Say,
) -> dict[str, Any]:
    log_dir = stack.config.state_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    gen_log = log_dir / "e2e-load.log"
    gen_log.unlink(missing_ok=True)
    say(f"    starting {', '.join(SERVICES)} (logs in {log_dir})")
    platform = await asyncio.to_thread(start_platform, stack, log_dir, log_level=log_level)
    run = uuid.uuid4().hex[:6]
    out: dict[str, Any] = {
        "setup": {
            "projects": projects,
            "generators": generators,
            "http_client": client,
            "step_s": config.step_s,
            "drain_s": config.drain_s,
            "service_log_level": log_level,
        }
    }
    try:
        try:
            ids = await import_registry(platform, projects)
        except RuntimeError:
            # keep what the services said: the next run overwrites the logs
            for name in ("complaints", "notifications"):
                log = log_dir / f"e2e-{name}.log"
                tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
                say(f"    {name} log tail ({log}):\n      " + "\n      ".join(tail))
            raise
        say(f"    {projects} bench projects registered and known to every service")
        notifications = platform.dsns["notifications"]
        flows = {
            "complaints": (
                "complaints",
                "/api/v1/complaints",
                platform.token(Role.OWNER),
                COMPLAINT,
                [
                    Effect(
                        "notice",
                        notifications,
                        "notices",
                        "created_at",
                        "rule_id = 'complaint-receipt'",
                    )
                ],
            ),
            "inspections": (
                "inspections",
                "/api/v1/inspections",
                platform.token(Role.DISTRICT_OFFICE, district=DISTRICT),
                FAILED_INSPECTION,
                [
                    Effect(
                        "notice",
                        notifications,
                        "notices",
                        "created_at",
                        "rule_id = 'inspection-failed'",
                    ),
                    Effect(
                        "board",
                        platform.dsns["exposure"],
                        "evidence",
                        "recorded_at",
                        "source_type = 'cn.tj.wuye.inspections.InspectionFailed.v1'",
                    ),
                ],
            ),
        }
        with tempfile.TemporaryDirectory(prefix="wuye-bench-") as tmp:
            for name, (service, path, token, body, effects) in flows.items():
                say(f"    {name}: HTTP {path}, open loop, {config.step_s:.0f} s steps")
                launch = http_launcher(
                    platform,
                    service,
                    path,
                    token,
                    body,
                    ids,
                    generators=generators,
                    client=client,
                    timeout_s=15.0,
                    work_dir=Path(tmp),
                    log_path=gen_log,
                )
                reader = EffectReader(effects)
                await reader.open()
                try:
                    await warm_up(name, launch, reader, f"bench-{run}-w{name[0]}-", 20, 60.0)
                    out[name] = await sweep(
                        name, launch, reader, f"bench-{run}-{name[0]}", config, say
                    )
                finally:
                    await reader.close()
                out["setup"]["commit_timestamps"] = reader.commit_timestamps
    except Exception as exc:  # noqa: BLE001 - what was measured before the failure is kept
        out["error"] = f"{type(exc).__name__}: {exc}"
        say(f"    end to end FAILED: {out['error']}")
        for p in platform.processes.values():
            if p.process is not None and p.process.poll() is not None:
                say(f"    {p.name} exited with {p.process.returncode}; log tail:\n{p.tail()}")
    finally:
        await asyncio.to_thread(platform.stop)
    return out
