"""The rectification lifecycle on the real stack, with the events counted on Kafka."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from runtime.auth import Role
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Trace
from schemas import cloudevents
from schemas.inspections import v1 as events
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.domain import actors
from services.inspections.entrypoints import jobs
from services.inspections.service import rectifications
from tests.e2e.conftest import FAILED_INSPECTION, Platform
from tests.integration.conftest import header, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
TOPIC = "wuye.inspections.events"


class Client:
    def __init__(self, platform: Platform, token: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=platform.url("inspections"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=20,
        )

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()


async def inspect(
    platform: Platform, token: str, body: dict[str, Any], corr: str
) -> dict[str, Any]:
    async with Client(platform, token) as c:
        r = await c.http.post("/api/v1/inspections", json=body, headers={"X-Correlation-ID": corr})
    assert r.status_code == 201, r.text
    return r.json()


async def orders_of(platform: Platform, token: str, inspection_id: str) -> list[dict[str, Any]]:
    async with Client(platform, token) as c:
        r = await c.http.get("/api/v1/rectifications", params={"limit": 500})
    assert r.status_code == 200, r.text
    return [o for o in r.json() if o["inspection_id"] == inspection_id]


async def events_for(platform: Platform, order_ids: set[str], at_least: int) -> list[events.Event]:
    records = await read_topic(
        platform.bootstrap,
        TOPIC,
        until=lambda rs: len(rs) >= at_least,
        keep=lambda r: (header(r, "ce_subject") or "") in order_ids,
        timeout=30,
    )
    await asyncio.sleep(0)
    return [cloudevents.decode(cloudevents.from_kafka(r.key, r.value, r.headers)) for r in records]


async def test_self_inspection_failed_ordered_then_rejected_twice(platform: Platform) -> None:
    enterprise = platform.token(Role.ENTERPRISE, enterprise="E-0001")
    officer = platform.token(Role.DISTRICT_OFFICE, district="120101")
    body = {**FAILED_INSPECTION, "kind": "self"}
    inspection = await inspect(platform, enterprise, body, f"rect-{uuid.uuid4().hex[:6]}")
    orders = await orders_of(platform, enterprise, inspection["inspection_id"])
    assert sorted(o["items"][0]["item_id"] for o in orders) == [
        "facilities.fire",
        "order.night_duty",
        "waste.daily",
    ]
    fire = next(o for o in orders if o["items"][0]["item_id"] == "facilities.fire")
    assert fire["status"] == "ordered"
    assert fire["severity"] == "urgent"

    async with Client(platform, enterprise) as ent, Client(platform, officer) as off:
        url = f"/api/v1/rectifications/{fire['order_id']}"
        # Verifying what was never submitted is refused, with the reason.
        r = await off.http.post(f"{url}/decision", json={"decision": "verify"})
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "not_submitted"
        for round_no in (1, 2):
            r = await ent.http.post(
                f"{url}/submissions",
                json={
                    "evidence_text": f"第{round_no}次:已更换消防栓阀门并试压",
                    "photo_refs": ["fire/a.jpg"],
                },
            )
            assert r.status_code == 201, r.text
            r = await off.http.post(
                f"{url}/decision", json={"decision": "reject", "reason": "水压仍未达到标准要求"}
            )
            assert r.status_code == 200, r.text
        assert r.json()["status"] == "inadequate"
        assert r.json()["status_zh"] == "整改不到位"
        # After 整改不到位 nothing more can be submitted.
        r = await ent.http.post(f"{url}/submissions", json={"evidence_text": "再次提交"})
        assert r.status_code == 409
        detail = (await off.http.get(url)).json()
    assert [h["action"] for h in detail["history"]] == [
        "submitted", "rejected", "submitted", "inadequate",
    ]  # fmt: skip

    received = await events_for(platform, {fire["order_id"]}, at_least=5)
    kinds = [type(e).__name__ for e in received]
    assert kinds == [
        "RectificationOrdered",
        "RectificationSubmitted",
        "RectificationRejected",
        "RectificationSubmitted",
        "RectificationRejected",
    ]
    rejections = [e for e in received if isinstance(e, events.RectificationRejected)]
    assert [r.inadequate for r in rejections] == [False, True]


async def test_an_order_left_alone_is_overdue_exactly_once_with_two_schedulers(
    platform: Platform,
) -> None:
    officer = platform.token(Role.DISTRICT_OFFICE, district="120101")
    body = {**FAILED_INSPECTION, "project_id": "P-120101-0002"}
    inspection = await inspect(platform, officer, body, f"overdue-{uuid.uuid4().hex[:6]}")
    orders = await orders_of(platform, officer, inspection["inspection_id"])
    assert len(orders) == 3
    ids = {o["order_id"] for o in orders}
    latest = max(o["deadline"] for o in orders)

    pools = [
        await asyncpg.create_pool(platform.dsns["inspections"], min_size=1, max_size=2)
        for _ in range(2)
    ]
    try:
        late = datetime.fromisoformat(latest) + timedelta(seconds=1)
        counts = await asyncio.gather(*(jobs.rectification_overdue(p, late) for p in pools))
        again = await jobs.rectification_overdue(pools[0], late + timedelta(days=1))
    finally:
        for p in pools:
            await p.close()
    assert sum(counts) >= 3  # ours, plus any other test's order that was due by then
    assert again == 0

    received = await events_for(platform, ids, at_least=6)
    overdue = [e for e in received if isinstance(e, events.RectificationOverdue)]
    assert sorted(e.order_id for e in overdue) == sorted(ids)  # one each, no duplicates
    async with Client(platform, officer) as off:
        listed = (await off.http.get("/api/v1/rectifications", params={"overdue": "true"})).json()
    assert ids <= {o["order_id"] for o in listed}


async def test_orders_are_scoped(platform: Platform) -> None:
    officer = platform.token(Role.DISTRICT_OFFICE, district="120101")
    inspection = await inspect(
        platform, officer, FAILED_INSPECTION, f"scope-{uuid.uuid4().hex[:6]}"
    )
    order = (await orders_of(platform, officer, inspection["inspection_id"]))[0]
    url = f"/api/v1/rectifications/{order['order_id']}"
    for token in (
        platform.token(Role.ENTERPRISE, enterprise="E-0003"),  # another enterprise
        platform.token(Role.DISTRICT_OFFICE, district="120104"),  # another district
    ):
        async with Client(platform, token) as c:
            assert (await c.http.get(url)).status_code == 404
    async with Client(platform, platform.token(Role.ENTERPRISE, enterprise="E-0003")) as c:
        r = await c.http.post(f"{url}/submissions", json={"evidence_text": "不是我们的项目"})
        assert r.status_code == 404
    async with Client(platform, platform.token(Role.OWNER)) as c:
        assert (await c.http.get(url)).status_code == 403


async def test_a_late_submission_is_recorded_overdue_before_the_scan_sees_it(
    platform: Platform,
) -> None:
    officer = platform.token(Role.DISTRICT_OFFICE, district="120101")
    inspection = await inspect(platform, officer, FAILED_INSPECTION, f"late-{uuid.uuid4().hex[:6]}")
    order = next(
        o
        for o in await orders_of(platform, officer, inspection["inspection_id"])
        if o["items"][0]["item_id"] == "waste.daily"
    )
    late = datetime.fromisoformat(order["deadline"]) + timedelta(hours=1)
    pool = await asyncpg.create_pool(platform.dsns["inspections"], min_size=1, max_size=2)
    try:
        row = await rectifications.submit(
            PgInspectionsUnitOfWork(pool, source=SOURCE, clock=FixedClock(late)),
            order["order_id"],
            actors.Actor(role="enterprise", district_code=None, enterprise_id="E-0001"),
            "E-0001-staff",
            evidence_text="已整改,但晚于期限",
            photo_refs=[],
            trace=Trace.start(),
        )
        assert row.order.overdue_at == late
        assert await jobs.rectification_overdue(pool, late + timedelta(days=1)) >= 0
    finally:
        await pool.close()
    received = await events_for(platform, {order["order_id"]}, at_least=3)
    kinds = [type(e).__name__ for e in received]
    assert kinds == ["RectificationOrdered", "RectificationOverdue", "RectificationSubmitted"]
    submitted = received[-1]
    assert isinstance(submitted, events.RectificationSubmitted)
    assert submitted.before_deadline is False


async def test_an_order_stays_with_the_enterprise_it_was_issued_to(platform: Platform) -> None:
    """A project handed to another enterprise: its old orders (and evidence) do not follow it."""
    officer = platform.token(Role.DISTRICT_OFFICE, district="120104")
    body = {**FAILED_INSPECTION, "project_id": "P-120104-0001"}
    inspection = await inspect(platform, officer, body, f"handover-{uuid.uuid4().hex[:6]}")
    order = (await orders_of(platform, officer, inspection["inspection_id"]))[0]
    city = platform.token(Role.CITY_OFFICE)
    async with Client(platform, city) as c:
        project = (await c.http.get("/api/v1/projects/P-120104-0001")).json()
        handed = {
            **{
                k: project[k] for k in ("project_name", "address", "district_code", "district_name")
            },
            "service_grade": project["service_grade"],
            "enterprise_id": "E-0002",
            "enterprise_name": "海河物业管理有限公司",
        }
        r = await c.http.put("/api/v1/projects/P-120104-0001", json=handed)
        assert r.status_code == 200, r.text
    url = f"/api/v1/rectifications/{order['order_id']}"
    async with Client(platform, platform.token(Role.ENTERPRISE, enterprise="E-0002")) as new:
        assert (await new.http.get(url)).status_code == 404
    async with Client(platform, platform.token(Role.ENTERPRISE, enterprise="E-0003")) as old:
        assert (await old.http.get(url)).status_code == 200
