"""代业主登记 (issue 16) on the real PostgreSQL and Kafka: the district office (its district's
projects, phone or walk-in) and the 12345 hotline (the outside agency whose token's `agency` claim
is the configured hotline, city-wide, its own channel; any other agency is refused) register an owner's complaint on the workspace page and through the API. The same
intake as an owner's: the same deadlines and tier for the same complaint at the same moment, the
safety questions raise the tier, the enterprise accepts it as first-inquiry handler, the owner
follows it with the token the clerk reads out; ComplaintFiled on the broker says the channel and
who registered it, never the owner's name or phone."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from schemas import topics
from tests.complaints_support import ComplaintsDesk, complaints_pages
from tests.integration.conftest import header, read_topic
from tests.workspace_support import fetch_rows as fetch

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=CHINA)  # a Tuesday
PHONE = "13812345678"
NAME = "张三丰"
ALICE = Principal("alice", Role.ENTERPRISE, enterprise_id="ent-a", name="张经理")
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
HEXI = Principal("hexi-officer", Role.DISTRICT_OFFICE, district_code="120103", name="刘科长")
CITY = Principal("city-officer", Role.CITY_OFFICE, name="赵处长")
HOTLINE = Principal("hotline-clerk-7", Role.AGENCY, name="12345 热线 孙专员", agency_id="12345")
WATER = Principal("water-clerk", Role.AGENCY, name="市水务局 钱专员", agency_id="tj-water")
OWNER = Principal("owner-1", Role.OWNER)
PEOPLE = (ALICE, HEPING, HEXI, CITY, HOTLINE, WATER)
PAGE = "/workspace/complaints/register"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
SUBMISSION = re.compile(r'name="submission_id" value="([^"]*)"')
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


def read_token(page: httpx.Response) -> str:
    """The token as shown for reading out: groups of four characters."""
    shown = re.search(r'id="token">(.*?)</dd>', page.text, re.S)
    assert shown, page.text
    groups = re.findall(r'<span class="group">([^<]+)</span>', shown.group(1))
    assert all(len(g) == 4 for g in groups[:-1])
    return "".join(groups)


@dataclass
class Desk(ComplaintsDesk):
    bootstrap: str  # the broker the outbox relay publishes to


@pytest.fixture
async def desk(fresh_db: str, kafka_topics: str) -> AsyncIterator[Desk]:
    # the outbox relay runs (events reach Kafka); no consumers or jobs, the clock stands still
    async with complaints_pages(fresh_db, kafka_topics, FixedClock(NOW), PEOPLE) as pages:
        yield Desk(**vars(pages), bootstrap=kafka_topics)


async def on_the_broker(desk: Desk, complaint_ids: list[str]) -> dict[str, dict[str, Any]]:
    """ComplaintFiled of each complaint as read back from Kafka (data, by complaint id)."""
    wanted = set(complaint_ids)
    records = await read_topic(
        desk.bootstrap,
        topics.COMPLAINTS_EVENTS,
        keep=lambda r: r.key is not None and r.key.decode() in wanted,
        until=lambda rs: {r.key.decode() for r in rs if r.key} >= wanted,
        timeout=60,
    )
    found = {}
    for r in records:
        assert r.value is not None
        assert PHONE not in r.value.decode()  # personal data never travels
        assert NAME not in r.value.decode()
        if (header(r, "ce_type") or "").endswith("ComplaintFiled.v1"):
            data = json.loads(r.value)
            found[data["complaint_id"]] = data
    return found


async def step2(client: httpx.AsyncClient, project: str, category: str) -> httpx.Response:
    page = await client.get(PAGE, params={"project_id": project, "category": category})
    assert page.status_code == 200, page.text
    return page


def form(page: httpx.Response, **fields: str) -> dict[str, str]:
    (submission,) = SUBMISSION.findall(page.text)
    return {"csrf_token": CSRF.findall(page.text)[-1], "submission_id": submission, **fields}


async def test_the_district_office_registers_a_phone_call_as_an_owner_would_file_it(
    desk: Desk,
) -> None:
    office = desk.as_(HEPING)
    start = await office.get(PAGE)
    assert start.status_code == 200, start.text
    assert "p-1 小区" in start.text
    assert "p-2 小区" not in start.text  # another district's project is not offered
    assert "代业主登记" in start.text  # the navigation entry
    page = await step2(office, "p-1", "elevator")
    assert "受理渠道" in page.text
    assert 'value="hotline"' not in page.text  # the hotline's channel is not the office's
    assert "answer-trapped" in page.text  # the category's safety questions, as owners answer

    missing = await office.post(
        PAGE, data=form(page, project_id="p-1", category="elevator", channel="phone")
    )
    assert missing.status_code == 422
    assert "请填写投诉内容" in missing.text
    assert "请回答" in missing.text

    fields = form(
        page, project_id="p-1", category="elevator", channel="phone",
        description="二号楼电梯停在八楼,有人被困", contact_name=NAME, contact_phone=PHONE,
        **{"answer-trapped": "yes"},
    )  # fmt: skip
    done = await office.post(PAGE, data=fields)
    assert done.status_code == 201, done.text
    assert done.headers["cache-control"] == "no-store"
    ticket = re.search(r'id="ticket-no">([^<]+)<', done.text)
    assert ticket
    token = read_token(done)
    assert "危及人身安全" in done.text  # the answers raised the tier to emergency
    again = await desk.as_(HEPING).post(PAGE, data=fields)  # a double click files nothing new
    assert again.status_code == 201
    (row,) = await fetch(
        desk.dsn, "SELECT * FROM complaints WHERE ticket_no = $1", ticket.group(1).strip()
    )
    assert (row["channel"], row["contact_name"], row["contact_phone"]) == ("phone", NAME, PHONE)
    doc = json.loads(row["doc"])
    assert (doc["filed_by"], doc["registered_by"], doc["urgency"]) == (
        "heping-officer", "district_office", "emergency",
    )  # fmt: skip
    assert len(await fetch(desk.dsn, "SELECT 1 FROM complaints")) == 1
    cid = row["complaint_id"]

    # an owner filing the same complaint at the same moment gets the same clocks and tier
    owner = await desk.client.post(
        "/api/v1/complaints",
        json={
            "project_id": "p-1", "category": "elevator", "channel": "web",
            "description": "二号楼电梯停在八楼,有人被困", "answers": {"trapped": True},
        },
        headers=desk.bearer(OWNER),
    )  # fmt: skip
    assert owner.status_code == 201, owner.text
    by_owner = owner.json()
    latest = read_token(again)  # the replay's token replaces the first: the owner hears it
    follow = await desk.client.get(
        "/api/v1/complaints/by-token", headers={"X-Complaint-Token": latest}
    )
    assert follow.status_code == 200, follow.text
    first = await desk.client.get(
        "/api/v1/complaints/by-token", headers={"X-Complaint-Token": token}
    )
    assert first.status_code == 404  # replaced by the replay's: only its hash was kept
    # the owner types what was read out, in groups of four: the owners' page finds it
    desk.client.cookies.clear()
    csrf = dict(HIDDEN.findall((await desk.client.get("/track")).text))["csrf_token"]
    spaced = " ".join(latest[i : i + 4] for i in range(0, len(latest), 4))
    tracked = await desk.client.post(
        "/track", data={"csrf_token": csrf, "ticket_no": ticket.group(1).strip(), "token": spaced}
    )
    assert tracked.status_code == 200, tracked.text
    assert "二号楼电梯停在八楼" in tracked.text  # the complaint itself, not the form again
    mine = follow.json()
    assert mine["ticket_no"] == ticket.group(1).strip()
    for clock in ("acceptance_deadline", "completion_deadline"):
        assert mine[clock] == by_owner[clock]
    assert mine["urgency"] == "emergency"

    # first inquiry: the project's enterprise accepts and is responsible, as for any complaint
    accepted = await desk.client.post(
        f"/api/v1/complaints/{cid}/accept", headers=desk.bearer(ALICE)
    )
    assert accepted.status_code == 200, accepted.text
    detail = await desk.client.get(f"/api/v1/complaints/{cid}", headers=desk.bearer(HEPING))
    assert detail.json()["responsible_staff_id"] == "alice"
    assert detail.json()["registered_by"] == "district_office"
    assert detail.json()["contact"] == {"name": NAME, "phone": PHONE}

    events = await on_the_broker(desk, [cid, by_owner["complaint_id"]])
    filed = events[cid]
    assert (filed["channel"], filed["intake_channel"], filed["registered_by"]) == (
        "phone", "phone", "district_office",
    )  # fmt: skip
    assert filed["tier"] == "emergency"
    assert filed["owner_account"] is None
    owners = events[by_owner["complaint_id"]]
    assert (owners["intake_channel"], owners["registered_by"]) == ("web", None)
    assert filed["acceptance_deadline"] == owners["acceptance_deadline"]


async def test_a_district_office_registers_only_in_its_district_and_only_by_phone_or_walk_in(
    desk: Desk,
) -> None:
    body = {"project_id": "p-2", "category": "other", "description": "楼道灯坏了一周"}
    elsewhere = await desk.client.post(
        "/api/v1/complaints", json={**body, "channel": "phone"}, headers=desk.bearer(HEPING)
    )
    assert elsewhere.status_code == 422, elsewhere.text
    assert elsewhere.json()["error"]["fields"][0]["field"] == "project_id"
    online = await desk.client.post(
        "/api/v1/complaints",
        json={**body, "project_id": "p-1", "channel": "web"},
        headers=desk.bearer(HEPING),
    )
    assert online.status_code == 422
    assert online.json()["error"]["fields"][0]["field"] == "channel"
    hotline = await desk.client.post(
        "/api/v1/complaints",
        json={**body, "project_id": "p-1", "channel": "hotline"},
        headers=desk.bearer(HEPING),
    )
    assert hotline.status_code == 422
    city = await desk.client.post(
        "/api/v1/complaints", json={**body, "channel": "phone"}, headers=desk.bearer(CITY)
    )
    assert city.status_code == 403
    walk_in = await desk.client.post(
        "/api/v1/complaints", json={**body, "channel": "counter"}, headers=desk.bearer(HEXI)
    )
    assert walk_in.status_code == 201, walk_in.text

    # the page: another district's project posted by hand is refused, nothing is filed
    office = desk.as_(HEPING)
    page = await step2(office, "p-1", "other")
    forged = await office.post(
        PAGE,
        data=form(page, project_id="p-2", category="other", channel="phone",
                  description="楼道灯坏了一周"),
    )  # fmt: skip
    assert forged.status_code == 422
    assert "请选择本辖区内的项目" in forged.text
    assert len(await fetch(desk.dsn, "SELECT 1 FROM complaints")) == 1
    for refused in (ALICE, CITY):
        answer = await desk.as_(refused).get(PAGE)
        assert answer.status_code == 403
        assert "仅供区县物业办和 12345 热线使用" in answer.text


async def test_the_hotline_registers_for_any_project_on_its_own_channel(desk: Desk) -> None:
    clerk = desk.as_(HOTLINE)
    found = await clerk.get(PAGE, params={"q": "p-2"})
    assert found.status_code == 200, found.text
    assert "p-2 小区" in found.text
    assert "p-1 小区" not in found.text  # the search narrows the city's projects
    page = await step2(clerk, "p-2", "gas")
    assert 'value="hotline"' in page.text
    assert 'value="phone"' not in page.text
    done = await clerk.post(
        PAGE,
        data=form(page, project_id="p-2", category="gas", channel="hotline",
                  description="单元门口有燃气味", **{"answer-smell": "no"}),
    )  # fmt: skip
    assert done.status_code == 201, done.text
    assert "12345 热线" in done.text
    assert "紧急" in done.text  # gas is an urgent category: the same tier as online
    (row,) = await fetch(desk.dsn, "SELECT complaint_id, channel, doc FROM complaints")
    assert row["channel"] == "hotline"
    assert json.loads(row["doc"])["registered_by"] == "hotline"

    as_phone = await desk.client.post(
        "/api/v1/complaints",
        json={"project_id": "p-1", "category": "other", "description": "楼道灯坏了一周",
              "channel": "phone"},
        headers=desk.bearer(HOTLINE),
    )  # fmt: skip
    assert as_phone.status_code == 422
    assert as_phone.json()["error"]["code"] == "hotline_channel"

    filed = (await on_the_broker(desk, [row["complaint_id"]]))[row["complaint_id"]]
    # consumers built before the hotline channel read a phone call; the new field says which
    assert (filed["channel"], filed["intake_channel"], filed["registered_by"]) == (
        "phone", "hotline", "hotline",
    )  # fmt: skip
    assert filed["urgency"] == "urgent"


async def test_only_the_agency_configured_as_the_hotline_registers(desk: Desk) -> None:
    body = {"project_id": "p-1", "category": "other", "description": "楼道灯坏了一周",
            "channel": "hotline", "contact": {"name": NAME, "phone": PHONE}}  # fmt: skip
    refused = await desk.client.post("/api/v1/complaints", json=body, headers=desk.bearer(WATER))
    assert refused.status_code == 403, refused.text
    error = refused.json()["error"]
    assert error["code"] == "not_the_hotline"
    assert "12345" in error["message"]
    assert "无权" in error["message"]
    assert "12345" in error["message_en"]
    assert "may not" in error["message_en"]
    page = await desk.as_(WATER).get(PAGE)
    assert page.status_code == 403
    assert "只有 12345 市民服务热线" in page.text
    assert "p-1 小区" not in page.text
    assert await fetch(desk.dsn, "SELECT 1 FROM complaints") == []  # nothing half-written

    filed = await desk.client.post("/api/v1/complaints", json=body, headers=desk.bearer(HOTLINE))
    assert filed.status_code == 201, filed.text
    complaint_id = filed.json()["complaint_id"]
    detail = await desk.client.get(
        f"/api/v1/complaints/{complaint_id}", headers=desk.bearer(HEPING)
    )
    assert detail.status_code == 200, detail.text
    shown = detail.json()
    assert (shown["channel"], shown["filed_by"]) == ("hotline", "hotline-clerk-7")
    assert (shown["registered_by"], shown["registered_org"]) == ("hotline", "12345")
    (row,) = await fetch(desk.dsn, "SELECT doc FROM complaints")
    assert json.loads(row["doc"])["registered_org"] == "12345"
