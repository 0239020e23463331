"""What operators rely on, on the real stack with all four services: one complaint's correlation id
followed through the JSON logs of every service it touches, and the Prometheus metrics each
service serves."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from runtime.auth import Role
from tests.e2e.conftest import Platform, eventually, start_platform, stop_platform

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
SERVICES = ("inspections", "complaints", "notifications", "exposure")
FILED = "cn.tj.wuye.complaints.ComplaintFiled.v1"


@pytest.fixture(scope="module")
def platform(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    p = start_platform(
        stack,
        tmp_path_factory.mktemp("operations"),
        services=SERVICES,
        extra_env={"METRICS_INTERVAL_S": "0.5"},
    )
    yield p
    stop_platform(p)


def log_lines(platform: Platform, service: str) -> list[dict[str, Any]]:
    lines = []
    for raw in platform.processes[service].log_path.read_text(errors="replace").splitlines():
        try:
            lines.append(json.loads(raw))
        except json.JSONDecodeError:
            continue  # e.g. a JVM or C library writing to the same stream
    return lines


def of(platform: Platform, service: str, correlation_id: str) -> list[dict[str, Any]]:
    return [
        line
        for line in log_lines(platform, service)
        if line.get("correlation_id") == correlation_id
    ]


async def test_one_complaint_is_followed_through_every_service_by_its_correlation_id(
    platform: Platform,
) -> None:
    await eventually(
        lambda: platform.count("complaints", "SELECT count(*) FROM complaint_projects"), 60
    )
    corr = f"ops-{uuid.uuid4().hex[:12]}"
    owner = platform.token(Role.OWNER)
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as client:
        response = await client.post(
            "/api/v1/complaints",
            headers={"Authorization": f"Bearer {owner}", "X-Correlation-ID": corr},
            json={
                "project_id": "P-120101-0001",
                "category": "water",
                "description": "3 号楼停水两天",
                "answers": {"problem": "no_water"},
            },
        )
    assert response.status_code == 201, response.text
    assert response.headers["X-Correlation-ID"] == corr

    async def everywhere() -> bool:
        return all(
            any(line.get("event") == "event_handled" for line in of(platform, s, corr))
            for s in ("inspections", "notifications", "exposure")
        )

    await eventually(everywhere, 60)
    complaints = of(platform, "complaints", corr)
    assert {"http_request", "event_enqueued"} <= {line["event"] for line in complaints}
    enqueued = next(line for line in complaints if line["event"] == "event_enqueued")
    assert enqueued["event_type"] == FILED
    for service in ("inspections", "notifications", "exposure"):
        handled = [line for line in of(platform, service, corr) if line["event"] == "event_handled"]
        assert handled, service
        line = handled[0]
        assert line["service"] == service
        assert line["event_type"] == FILED
        assert line["event_id"] == enqueued["event_id"]  # the same event, three consumers
        assert {"consumer", "topic", "partition", "offset", "timestamp", "level"} <= set(line)
    # the owner's receipt, issued by notifications, carries the same correlation id
    assert any(line["event"] == "notice_issued" for line in of(platform, "notifications", corr))
    # nothing personal in any service's log lines about it
    for service in SERVICES:
        assert "3 号楼停水两天" not in json.dumps(of(platform, service, corr), ensure_ascii=False)


async def test_every_service_serves_its_metrics(platform: Platform) -> None:
    """On the metrics port only: the public port answers 404 for /metrics."""

    async def scrape(service: str) -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.get(platform.processes[service].metrics_url)

    async def sampled(service: str) -> bool:
        text = (await scrape(service)).text
        return "wuye_consumer_lag{" in text and "wuye_outbox_backlog " in text

    for service in SERVICES:
        await eventually(lambda s=service: sampled(s), 30)  # type: ignore[misc]
        response = await scrape(service)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        for name in (
            "wuye_events_total",
            "wuye_event_failures_total",
            "wuye_outbox_published_total",
            "wuye_sla_breaches_total",
            "wuye_outbox_oldest_age_seconds",
        ):
            assert f"# TYPE {name.removesuffix('_total')}" in text, (service, name)
        async with httpx.AsyncClient(base_url=platform.url(service)) as client:
            public = await client.get("/metrics")
        assert public.status_code == 404, service
        assert "wuye_" not in public.text
    text = (await scrape("inspections")).text
    published = [
        line for line in text.splitlines() if line.startswith("wuye_outbox_published_total{")
    ]
    assert published  # the registry seed went out through the relay
    exposure_metrics = (await scrape("exposure")).text
    handled = [
        line
        for line in exposure_metrics.splitlines()
        if line.startswith("wuye_events_total{") and 'outcome="handled"' in line
    ]
    assert handled
