"""Complaints filed through the native API, Open311 and the owner web form, on the real stack:
driven to overdue and to reopened, with the events counted on Kafka."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from runtime.auth import Role
from services.complaints.domain import geo
from services.complaints.entrypoints import jobs as complaint_jobs
from tests.e2e.conftest import Platform, eventually, owner_files, start_platform, stop_platform
from tests.integration.conftest import header, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
OPEN311_KEY = "e2e-open311-key"
TOPIC = "wuye.complaints.events"


@pytest.fixture(scope="module")
def platform(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    keys = json.dumps({"e2e-client": hashlib.sha256(OPEN311_KEY.encode()).hexdigest()})
    p = start_platform(
        stack,
        tmp_path_factory.mktemp("complaints"),
        services=("inspections", "complaints"),
        extra_env={"OPEN311_API_KEYS": keys},
    )
    yield p
    stop_platform(p)


async def projects_known(platform: Platform) -> bool:
    return await platform.count("complaints", "SELECT count(*) FROM complaint_projects") >= 4


async def file_native(platform: Platform, description: str) -> dict[str, Any]:
    return await owner_files(
        platform,
        {
            "project_id": "P-120101-0001",
            "category": "water",
            "description": description,
            "answers": {"problem": "no_water"},
            "contact": {"name": "李先生", "phone": "13700000000"},
        },
    )


async def file_open311(platform: Platform) -> str:
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        r = await c.post(
            "/open311/v2/requests.json",
            data={
                "api_key": OPEN311_KEY,
                "service_code": "waste",
                "address_id": "P-120101-0002",
                "description": "垃圾桶满溢两天无人清运",
                "attribute[kind]": "household",
                "phone": "13600000000",
            },
        )
    assert r.status_code == 201, r.text
    return str(r.json()[0]["service_request_id"])


async def file_web(platform: Platform) -> str:
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        form = await c.get("/", params={"project_id": "P-120103-0001", "category": "noise"})
        assert form.status_code == 200, form.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        fields = {"csrf_token": csrf.group(1), "project_id": "P-120103-0001", "category": "noise"}
        for q in re.findall(r'name="(answer-[a-z_]+)" value="([a-z_]+)"', form.text):
            fields.setdefault(q[0], q[1])  # the first offered choice of each question
        fields |= {"description": "夜间施工噪音持续到凌晨一点", "anonymous": "yes"}
        r = await c.post("/", data=fields)
    assert r.status_code == 201, r.text[:500]
    ticket = re.search(r'id="ticket-no">([^<]+)<', r.text)
    assert ticket is not None
    return ticket.group(1)


async def test_three_channels_overdue_and_reopened_counted_on_kafka(platform: Platform) -> None:
    await eventually(lambda: projects_known(platform))  # the registry arrived over Kafka
    marker = uuid.uuid4().hex[:6]
    native = await file_native(platform, f"连续两天停水,请尽快处理 {marker}")
    open311_id = await file_open311(platform)
    web_ticket = await file_web(platform)

    # The native one: accepted, replied, the owner is dissatisfied -> reopened to the same person.
    staff = platform.token(Role.ENTERPRISE, enterprise="E-0001")
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        auth = {"Authorization": f"Bearer {staff}"}
        cid = native["complaint_id"]
        assert (await c.post(f"/api/v1/complaints/{cid}/accept", headers=auth)).status_code == 200
        r = await c.post(
            f"/api/v1/complaints/{cid}/reply", headers=auth, json={"text": "已恢复供水"}
        )
        assert r.status_code == 200, r.text
        r = await c.post(
            "/api/v1/complaints/by-token/feedback",
            headers={"X-Complaint-Token": native["token"]},
            json={"satisfied": False, "rating": 2},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "reopened"

    # Nobody accepts the Open311 one: the SLA scan (two replicas at once) marks it overdue once.
    pool = await asyncpg.create_pool(platform.dsns["complaints"], min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            deadline = await conn.fetchval(
                "SELECT min(next_due) FROM complaints WHERE complaint_id = $1", open311_id
            )
        assert isinstance(deadline, datetime)
        late = deadline + timedelta(days=30)
        await asyncio.gather(complaint_jobs.sla_job(pool, late), complaint_jobs.sla_job(pool, late))
        await complaint_jobs.sla_job(pool, late)
    finally:
        await pool.close()

    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        web_id = (await c.get(f"/open311/v2/tokens/{web_ticket}.json")).json()[0][
            "service_request_id"
        ]
    ids = {native["complaint_id"], open311_id, web_id}
    records = await read_topic(
        platform.bootstrap,
        TOPIC,
        until=lambda _rs: False,  # read for the whole window: duplicates would show up too
        keep=lambda r: (r.key or b"").decode() in ids,
        timeout=8,
    )
    by_complaint: dict[str, list[str]] = {i: [] for i in ids}
    for r in records:
        by_complaint[(r.key or b"").decode()].append((header(r, "ce_type") or "").split(".")[-2])
    assert by_complaint[native["complaint_id"]] == [
        "ComplaintFiled", "ComplaintAccepted", "ComplaintReplied",
        "ComplaintFeedbackReceived", "ComplaintReopened",
        "ComplaintOverdue",  # reopened and still open 30 days later: completion, once
    ]  # fmt: skip
    overdue = [k for k in by_complaint[open311_id] if k == "ComplaintOverdue"]
    assert by_complaint[open311_id][0] == "ComplaintFiled"
    assert len(overdue) == 2  # acceptance and completion clocks, once each despite three scans
    assert by_complaint[web_id][0] == "ComplaintFiled"
    channels = {
        json.loads(r.value)["channel"]
        for r in records
        if (header(r, "ce_type") or "").endswith("ComplaintFiled.v1")
    }
    assert channels == {"web", "open311"}
    for r in records:  # nothing personal on the topic
        assert b"1370000" not in r.value
        assert b"1360000" not in r.value
        assert marker.encode() not in r.value


async def file_web_answers(
    platform: Platform, category: str, answers: dict[str, str], lang: str = "zh"
) -> httpx.Response:
    """The owner's web form, with these answers (`answer-<id>` = value)."""
    query = {"lang": "en"} if lang == "en" else {}
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        form = await c.get("/", params={"project_id": "P-120103-0001", "category": category})
        assert form.status_code == 200, form.text
        if category == "elevator":  # before the owner types: call for help first
            assert "请同时拨打电梯轿厢内张贴的应急救援电话" in shown(form.text, "emergency-first")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert csrf is not None
        fields = {"csrf_token": csrf.group(1), "project_id": "P-120103-0001", "category": category}
        fields |= {f"answer-{k}": v for k, v in answers.items()}
        fields |= {"description": "3号楼2单元电梯停在两层之间,里面有人", "anonymous": "yes"}
        return await c.post("/", data=fields, params=query)


async def owner_view(platform: Platform, token: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        r = await c.get("/api/v1/complaints/by-token", headers={"X-Complaint-Token": token})
    assert r.status_code == 200, r.text
    return dict(r.json())


def shown(html: str, element_id: str) -> str:
    """The inside of the <div> or <p> with this id (neither nests its own kind here)."""
    found = re.search(rf'<(div|p) [^>]*id="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert found is not None, element_id
    return found.group(2)


async def test_someone_trapped_in_a_lift_is_an_emergency_and_a_normal_complaint_stays_normal(
    platform: Platform,
) -> None:
    """Issue 13: a lift entrapment was filed with normal urgency and a next-day deadline."""
    await eventually(lambda: projects_known(platform))
    trapped = await file_web_answers(platform, "elevator", {"trapped": "yes"})
    assert trapped.status_code == 201, trapped.text[:500]
    advice = shown(trapped.text, "safety-advice")
    assert "请同时拨打电梯轿厢内张贴的应急救援电话" in advice
    assert "119" in advice
    assert "110" in advice
    assert "危及人身安全" in shown(trapped.text, "tier")
    english = await file_web_answers(platform, "elevator", {"trapped": "yes"}, lang="en")
    assert english.status_code == 201, english.text[:500]
    assert "emergency rescue number posted inside the lift car" in english.text
    stopped = await file_web_answers(platform, "elevator", {"trapped": "no"})
    assert stopped.status_code == 201, stopped.text[:500]
    assert 'id="safety-advice"' not in stopped.text
    assert 'id="tier"' not in stopped.text

    tokens = {
        name: re.search(r'id="token" class="token">([^<]+)<', r.text)
        for name, r in (("trapped", trapped), ("stopped", stopped))
    }
    views = {}
    for name, found in tokens.items():
        assert found is not None, name
        views[name] = await owner_view(platform, found.group(1))
    lift, calm = views["trapped"], views["stopped"]
    filed_at = datetime.fromisoformat(lift["filed_at"])
    assert lift["urgency"] == "emergency"
    assert datetime.fromisoformat(lift["acceptance_deadline"]) - filed_at == timedelta(minutes=5)
    assert datetime.fromisoformat(lift["completion_deadline"]) - filed_at == timedelta(hours=24)
    assert calm["urgency"] == "normal"
    calm_filed = datetime.fromisoformat(calm["filed_at"])
    assert datetime.fromisoformat(calm["acceptance_deadline"]) - calm_filed > timedelta(hours=12)

    # Through the native API too, and what the platform publishes about each.
    native = await owner_files(
        platform,
        {
            "project_id": "P-120101-0001",
            "category": "elevator",
            "urgency": "normal",  # the owner's choice cannot lower what the answers say
            "description": "1号楼电梯困人,已经十分钟了",
            "answers": {"trapped": True},
        },
    )
    assert native["status"] == "filed"
    ids = {native["complaint_id"]: "emergency", await _complaint_id(platform, calm): "normal"}
    records = await read_topic(
        platform.bootstrap,
        TOPIC,
        until=lambda rs: len(rs) >= 2,
        keep=lambda r: (
            (r.key or b"").decode() in ids
            and (header(r, "ce_type") or "").endswith("ComplaintFiled.v1")
        ),
    )
    published = {(r.key or b"").decode(): json.loads(r.value) for r in records}
    lift_event = published[native["complaint_id"]]
    assert (lift_event["urgency"], lift_event["tier"], lift_event["safety"]) == (
        "urgent",  # what subscribers that predate `tier` understand
        "emergency",
        ["lift_entrapment"],
    )
    calm_event = published[next(k for k, v in ids.items() if v == "normal")]
    assert (calm_event["urgency"], calm_event["tier"], calm_event["safety"]) == (
        "normal",
        "normal",
        [],
    )


async def _complaint_id(platform: Platform, view: dict[str, Any]) -> str:
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        found = (await c.get(f"/open311/v2/tokens/{view['ticket_no']}.json")).json()
    return str(found[0]["service_request_id"])


async def test_open311_by_lat_long_finds_the_project_the_registry_located(
    platform: Platform,
) -> None:
    """inspections' registry (projects.json, WGS-84) -> Kafka -> complaints' located copy ->
    PostGIS: a city app's GCJ-02 point 80 m from P-120101-0002's gate files against it."""
    await eventually(lambda: projects_known(platform))
    gate = geo.Point(39.111, 117.195)  # services/inspections/data/projects.json
    seen = geo.wgs84_to_gcj02(geo.Point(gate.latitude + 80 / 111_195, gate.longitude))
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        r = await c.post(
            "/open311/v2/requests.json",
            data={
                "api_key": OPEN311_KEY,
                "service_code": "waste",
                "lat": f"{seen.latitude:.6f}",
                "long": f"{seen.longitude:.6f}",
                "description": "垃圾桶满溢两天无人清运",
                "attribute[kind]": "household",
            },
        )
        assert r.status_code == 201, r.text
        cid = r.json()[0]["service_request_id"]
        [one] = (await c.get(f"/open311/v2/requests/{cid}.json")).json()
    assert one["address_id"] == "P-120101-0002"
    assert (one["lat"], one["long"]) == (gate.latitude, gate.longitude)
