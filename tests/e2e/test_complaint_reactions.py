"""Repeated complaints about a project schedule one patrol inspection for it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta

import httpx
import pytest

from runtime import kafka
from runtime.auth import Role
from schemas import cloudevents
from schemas.complaints import v1 as complaints
from tests.e2e.conftest import Platform, eventually
from tests.integration.conftest import header, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
PROJECT = "P-120104-0001"  # 南开区·水上公园小区


async def file_complaints(platform: Platform, n: int, start: datetime) -> list[str]:
    producer = kafka.make_producer(platform.bootstrap, client_id="test-complaints")
    await producer.start()
    ids = []
    try:
        for i in range(n):
            event = complaints.ComplaintFiled(
                complaint_id=f"C-{uuid.uuid4().hex[:10]}",
                project_id=PROJECT,
                enterprise_id="E-0003",
                district_code="120104",
                category="water",
                urgency="normal",
                channel="web",
                filed_at=start + timedelta(hours=i),
            )
            ce = cloudevents.from_event(event, source="/wuye/complaints")
            await producer.send_and_wait(
                event.topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
            )
            ids.append(event.complaint_id)
    finally:
        await producer.stop()
    return ids


async def test_three_complaints_in_the_window_schedule_one_patrol(platform: Platform) -> None:
    officer = platform.token(Role.DISTRICT_OFFICE, district="120104")
    start = datetime.fromisoformat("2011-08-21T09:00:00+08:00")
    await file_complaints(platform, 5, start)

    async def scheduled() -> list[dict[str, object]]:
        async with httpx.AsyncClient(base_url=platform.url("inspections")) as client:
            r = await client.get(
                "/api/v1/patrols/scheduled",
                params={"status": "open"},
                headers={"Authorization": f"Bearer {officer}"},
            )
        assert r.status_code == 200, r.text
        return [p for p in r.json() if p["project_id"] == PROJECT]

    async def one_scheduled() -> bool:
        return len(await scheduled()) == 1

    await eventually(one_scheduled)
    await asyncio.sleep(1.0)
    patrols = await scheduled()
    assert len(patrols) == 1  # five complaints, one open patrol
    assert patrols[0]["reason"] == "repeated_complaints"
    # The complaints travel on 12 partitions and are handled out of filing order: the patrol is
    # scheduled by whichever event first sees three in the window, which may already count more.
    assert 3 <= patrols[0]["complaint_count"] <= 5

    records = await read_topic(
        platform.bootstrap,
        "wuye.inspections.events",
        until=lambda rs: len(rs) >= 1,
        keep=lambda r: header(r, "ce_subject") == patrols[0]["patrol_id"],
    )
    assert [header(r, "ce_type") for r in records] == ["cn.tj.wuye.inspections.PatrolScheduled.v1"]

    # Another district office does not see it.
    other = platform.token(Role.DISTRICT_OFFICE, district="120101")
    async with httpx.AsyncClient(base_url=platform.url("inspections")) as client:
        r = await client.get(
            "/api/v1/patrols/scheduled", headers={"Authorization": f"Bearer {other}"}
        )
    assert [p for p in r.json() if p["project_id"] == PROJECT] == []
