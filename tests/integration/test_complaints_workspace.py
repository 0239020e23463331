"""The complaints workspace pages (issue 15), in-process on real PostgreSQL: the enterprise's desk
sorted by SLA time left, a complaint with its contact shown or masked by the policy, refusals that
explain themselves, CSRF, each action through the same handler as the API (the same stored change,
the same event), and the district office's escalated complaints with the extension decision."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Trace
from services.complaints.adapters import reference
from services.complaints.service import intake
from tests import images
from tests.complaints_support import ComplaintsDesk, complaints_pages
from tests.factories import complaints_unit
from tests.workspace_support import csrf_token as token
from tests.workspace_support import fetch_rows as fetch

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 10, 10, 0, tzinfo=CHINA)  # a Tuesday
PHONE = "13812345678"
ALICE = Principal("alice", Role.ENTERPRISE, enterprise_id="ent-a", name="张经理")
MALLORY = Principal("mallory", Role.ENTERPRISE, enterprise_id="ent-b", name="李经理")
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
HEXI = Principal("hexi-officer", Role.DISTRICT_OFFICE, district_code="120103", name="刘科长")
CITY = Principal("city-officer", Role.CITY_OFFICE, name="赵处长")
AGENCY = Principal("agency-1", Role.AGENCY, name="外部机构", agency_id="tj-water")
OWNER = Principal("owner-1", Role.OWNER)
PEOPLE = (ALICE, MALLORY, HEPING, HEXI, CITY, AGENCY)
BASE = "/workspace/complaints/"
COOKIE = "wuye_complaints_session"
LONG = "三号楼整栋停水已经两天了,请尽快处理。" * 20


@dataclass
class Desk(ComplaintsDesk):
    ids: dict[str, str]  # name -> complaint id

    def bearer(self, who: Principal) -> dict[str, str]:
        """Headers that call the API as `who`, leaving the client's page session in place (these
        tests go back to the pages after an API call)."""
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}


async def file(pool: asyncpg.Pool, at: datetime, project: str, text: str, **more: object) -> str:
    rules = reference.load_rules()
    filed = await intake.file(
        complaints_unit(pool, at),
        rules,
        OWNER,
        intake.Intake(
            project_id=project,
            category="water",
            description=text,
            channel="web",
            contact_name="张三丰",
            contact_phone=PHONE,
            answers={"problem": "no_water"},
            **more,  # type: ignore[arg-type]
        ),
        trace=Trace.start(),
    )
    return filed.complaint.complaint_id


@pytest.fixture
async def desk(fresh_db: str, kafka_topics: str) -> AsyncIterator[Desk]:
    ids: dict[str, str] = {}

    async def four_complaints(pool: asyncpg.Pool) -> None:
        ids.update({
            "old": await file(pool, NOW - timedelta(days=10), "p-1", LONG),
            "new": await file(pool, NOW - timedelta(minutes=30), "p-1", "电梯运行时一直有异响"),
            "other": await file(pool, NOW - timedelta(days=1), "p-2", "小区绿化长期无人修剪"),
            "spare": await file(pool, NOW - timedelta(minutes=20), "p-1", "单元门禁已经损坏三天"),
        })  # fmt: skip

    # no consumers or jobs: the registry copy is fed directly, the clock stands still
    clock = FixedClock(NOW)
    async with complaints_pages(fresh_db, kafka_topics, clock, PEOPLE, four_complaints) as pages:
        yield Desk(**vars(pages), ids=ids)


async def stored(dsn: str, complaint_id: str) -> dict[str, object]:
    rows = await fetch(dsn, "SELECT * FROM complaints WHERE complaint_id = $1", complaint_id)
    return dict(rows[0])


async def api_view(desk: Desk, who: Principal, complaint_id: str) -> dict[str, Any]:
    """The complaint as the API shows it to `who`."""
    saved = dict(desk.client.cookies)
    desk.client.cookies.clear()
    got = await desk.client.get(f"/api/v1/complaints/{complaint_id}", headers=desk.bearer(who))
    for name, value in saved.items():
        desk.client.cookies.set(name, value)
    assert got.status_code == 200, got.text
    body: dict[str, Any] = got.json()
    return body


async def events(dsn: str, kind: str) -> list[dict[str, object]]:
    rows = await fetch(
        dsn, "SELECT payload FROM outbox WHERE event_type LIKE $1 ORDER BY seq", f"%{kind}%"
    )
    payloads = [json.loads(bytes(r["payload"])) for r in rows]
    return [p.get("data", p) for p in payloads]


async def test_the_enterprise_desk_sorts_by_time_left_with_filters(desk: Desk) -> None:
    client = desk.as_(ALICE)
    page = await client.get(BASE)
    assert page.status_code == 200, page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    text = page.text
    old, new, other = (f"c/{desk.ids[k]}" for k in ("old", "new", "other"))
    assert old in text
    assert new in text
    assert other not in text  # another enterprise's complaint is not on this desk
    assert text.index(old) < text.index(new)  # overdue first
    assert "逾期" in text
    assert 'class="overdue"' in text
    filtered = await client.get(BASE, params={"project": "p-2", "status": "filed"})
    assert old not in filtered.text
    assert "暂无符合条件的投诉" in filtered.text
    english = await client.get(BASE, params={"lang": "en"})
    assert "Complaint desk" in english.text
    assert "overdue by" in english.text


async def test_a_complaint_shows_the_contact_only_to_whom_the_policy_allows(desk: Desk) -> None:
    url = f"{BASE}c/{desk.ids['old']}"
    mine = await desk.as_(ALICE).get(url)
    assert mine.status_code == 200, mine.text
    assert PHONE in mine.text
    assert "张三丰" in mine.text
    assert LONG in mine.text.replace("\n", "")  # the whole description
    assert "签收" in mine.text
    assert "首问责任人" in mine.text
    city = await desk.as_(CITY).get(url)
    assert city.status_code == 200
    assert PHONE not in city.text
    assert "138****5678" in city.text
    assert "张三丰" not in city.text
    assert "/accept" not in city.text  # the city office reads, never handles


async def test_refusals_explain_themselves(desk: Desk) -> None:
    url = f"{BASE}c/{desk.ids['old']}"
    theirs = await desk.as_(MALLORY).get(url)
    assert theirs.status_code == 403
    assert "此投诉不属于贵单位" in theirs.text
    assert PHONE not in theirs.text
    assert LONG[:20] not in theirs.text
    hexi = await desk.as_(HEXI).get(url)
    assert hexi.status_code == 403
    assert "此投诉属于其他区县" in hexi.text
    agency = await desk.as_(AGENCY).get(BASE)
    assert agency.status_code == 403
    assert "投诉工作台仅供" in agency.text
    district_accepts = await desk.as_(HEPING).get(url + "/accept")
    assert district_accepts.status_code == 403
    assert "只有物业企业工作人员可以办理投诉" in district_accepts.text
    enterprise_decides = await desk.as_(ALICE).get(url + "/approve")
    assert enterprise_decides.status_code == 403
    assert "只有区县物业办可以审批延期" in enterprise_decides.text
    missing = await desk.as_(ALICE).get(f"{BASE}c/no-such-complaint")
    assert missing.status_code == 404
    assert "投诉不存在" in missing.text
    desk.client.cookies.clear()
    desk.client.cookies.set(COOKIE, "forged")
    unsigned = await desk.client.get(BASE)
    assert unsigned.status_code in (302, 303, 401)


async def test_accept_needs_csrf_and_does_what_the_api_does(desk: Desk) -> None:
    client = desk.as_(ALICE)
    url = f"{BASE}c/{desk.ids['old']}/accept"
    confirm = await client.get(url)
    assert confirm.status_code == 200
    assert "首问责任人" in confirm.text
    forged = await client.post(url, data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert (await stored(desk.dsn, desk.ids["old"]))["status"] == "filed"
    assert await events(desk.dsn, "ComplaintAccepted") == []

    done = await client.post(url, data={"csrf_token": token(confirm)})
    assert done.status_code == 303, done.text
    assert done.headers["location"].endswith(f"c/{desk.ids['old']}?done=accept")
    # the same complaint accepted through the API by the same person: the stored change and
    # the event are the API's
    api = await desk.client.post(
        f"/api/v1/complaints/{desk.ids['spare']}/accept", headers=desk.bearer(ALICE)
    )
    assert api.status_code == 200, api.text
    by_page = await stored(desk.dsn, desk.ids["old"])
    by_api = await stored(desk.dsn, desk.ids["spare"])
    for column in ("status", "responsible_staff_id", "handling_org"):
        assert by_page[column] == by_api[column], column
    page_view, api_seen = (
        await api_view(desk, ALICE, desk.ids["old"]),
        await api_view(desk, ALICE, desk.ids["spare"]),
    )
    for key in ("status", "responsible_staff_id", "responsible_org_id", "handling_org"):
        assert page_view[key] == api_seen[key], key
    assert by_page["status"] == "accepted"
    accepted = await events(desk.dsn, "ComplaintAccepted")
    assert [e["complaint_id"] for e in accepted] == [desk.ids["old"], desk.ids["spare"]]
    assert {k for k in accepted[0]} == {k for k in accepted[1]}
    assert accepted[0]["responsible_staff_id"] == "alice"
    shown = await client.get(done.headers["location"])
    assert "您是本投诉的首问责任人" in shown.text


async def accept_on_the_page(client: httpx.AsyncClient, complaint_id: str) -> None:
    """The signed-in enterprise accepts the complaint through its confirm form (what a reply, a
    transfer or an extension needs first)."""
    url = f"{BASE}c/{complaint_id}/accept"
    accepted = await client.post(url, data={"csrf_token": token(await client.get(url))})
    assert accepted.status_code == 303, accepted.text


async def test_reply_refuses_empty_text_then_replies(desk: Desk) -> None:
    client = desk.as_(ALICE)
    await accept_on_the_page(client, desk.ids["new"])
    url = f"{BASE}c/{desk.ids['new']}/reply"
    form = await client.get(url)
    empty = await client.post(url, data={"csrf_token": token(form), "text": "  "})
    assert empty.status_code == 422
    assert "请填写答复内容" in empty.text
    assert await events(desk.dsn, "ComplaintReplied") == []
    done = await client.post(
        url, data={"csrf_token": token(form), "text": '已安排维修 & 复查 "三号楼"'}
    )
    assert done.status_code == 303, done.text
    assert (await stored(desk.dsn, desk.ids["new"]))["status"] == "replied"
    assert len(await events(desk.dsn, "ComplaintReplied")) == 1
    page = await client.get(f"{BASE}c/{desk.ids['new']}")
    assert "已安排维修 &amp; 复查 &#34;三号楼&#34;" in page.text


async def test_transfer_keeps_the_responsible_person(desk: Desk) -> None:
    client = desk.as_(ALICE)
    await accept_on_the_page(client, desk.ids["old"])
    url = f"{BASE}c/{desk.ids['old']}/transfer"
    form = await client.get(url)
    missing = await client.post(url, data={"csrf_token": token(form), "to_org": "", "reason": ""})
    assert missing.status_code == 422
    assert "请填写转办对象" in missing.text
    done = await client.post(
        url, data={"csrf_token": token(form), "to_org": "water-co", "reason": "供水管网问题"}
    )
    assert done.status_code == 303
    assert "done=transfer" in done.headers["location"]
    moved = await events(desk.dsn, "ComplaintTransferred")
    assert [(e["from_org"], e["to_org"]) for e in moved] == [("ent-a", "water-co")]
    page = await client.get(f"{BASE}c/{desk.ids['old']}")
    assert "water-co" in page.text
    assert "供水管网问题" in page.text


async def test_the_district_sees_escalations_and_decides_an_extension(desk: Desk) -> None:
    client = desk.as_(ALICE)
    cid = desk.ids["new"]
    await accept_on_the_page(client, cid)
    url = f"{BASE}c/{cid}/extension"
    form = await client.get(url)
    bad = await client.post(
        url, data={"csrf_token": token(form), "working_days": "99", "reason": "等待水泵配件到货"}
    )
    assert bad.status_code == 422
    assert "延期天数须为" in bad.text
    done = await client.post(
        url, data={"csrf_token": token(form), "working_days": "3", "reason": "等待水泵配件到货"}
    )
    assert done.status_code == 303, done.text
    before = await api_view(desk, HEPING, cid)
    assert before["extensions"][0]["decision"] == "pending"

    office = desk.as_(HEPING)
    escalated = await office.get(BASE)
    assert escalated.status_code == 200
    assert f"c/{cid}" in escalated.text
    assert "延期待批" in escalated.text
    assert f"c/{desk.ids['old']}" in escalated.text  # overdue acceptance
    assert f"c/{desk.ids['other']}" not in escalated.text  # another district's
    detail = await office.get(f"{BASE}c/{cid}")
    assert PHONE in detail.text  # the district office may see the contact
    approve = await office.get(f"{BASE}c/{cid}/approve")
    decided = await office.post(f"{BASE}c/{cid}/approve", data={"csrf_token": token(approve)})
    assert decided.status_code == 303, decided.text
    after = await api_view(desk, HEPING, cid)
    assert after["extensions"][0]["decision"] == "approved"
    assert after["completion_deadline"] > before["completion_deadline"]
    again = await office.post(f"{BASE}c/{cid}/approve", data={"csrf_token": token(approve)})
    assert again.status_code == 409  # nothing pending any more: the domain's refusal


async def test_the_district_assigns_an_escalated_complaint_from_its_page(desk: Desk) -> None:
    client = desk.as_(ALICE)
    cid = desk.ids["spare"]
    await accept_on_the_page(client, cid)
    office = desk.as_(HEPING)
    before = await office.get(f"{BASE}c/{cid}")
    assert f"c/{cid}/assign" not in before.text  # nothing escalated: no button
    client = desk.as_(ALICE)
    for org in ("door-co", "ent-a", "door-co"):  # one past the limit of two transfers
        form = await client.get(f"{BASE}c/{cid}/transfer")
        moved = await client.post(
            f"{BASE}c/{cid}/transfer",
            data={"csrf_token": token(form), "to_org": org, "reason": "门禁不归本单位维护"},
        )
        assert moved.status_code == 303, moved.text
    assert (await client.get(f"{BASE}c/{cid}/assign")).status_code == 403  # the office's action

    office = desk.as_(HEPING)
    page = await office.get(f"{BASE}c/{cid}")
    assert "多次转办，提请督办" in page.text
    assert f"c/{cid}/assign" in page.text
    form = await office.get(f"{BASE}c/{cid}/assign")
    assert form.status_code == 200
    assert "指定办理单位" in form.text
    assert 'value="door-co"' in form.text  # the current organisation, to order it to
    missing = await office.post(
        f"{BASE}c/{cid}/assign", data={"csrf_token": token(form), "to_org": "door-co", "reason": ""}
    )
    assert missing.status_code == 422
    assert "请填写理由" in missing.text
    done = await office.post(
        f"{BASE}c/{cid}/assign",
        data={
            "csrf_token": token(form),
            "to_org": "ent-a",
            "reason": "门禁属物业共用设施,由物业企业办理",
        },
    )
    assert done.status_code == 303, done.text
    (assigned,) = await events(desk.dsn, "ComplaintAssigned")
    assert (assigned["from_org"], assigned["to_org"]) == ("door-co", "ent-a")
    view = await api_view(desk, HEPING, cid)
    assert view["handling_org"] == "ent-a"
    assert view["assignment"]["reason"] == "门禁属物业共用设施,由物业企业办理"
    shown = await office.get(f"{BASE}c/{cid}")
    assert "区县物业办指定办理" in shown.text
    client = desk.as_(ALICE)
    page = await client.get(f"{BASE}c/{cid}")
    assert f"c/{cid}/transfer" not in page.text  # no transfer button any more
    form = await client.get(f"{BASE}c/{cid}/transfer")
    refused = await client.post(
        f"{BASE}c/{cid}/transfer",
        data={"csrf_token": token(form), "to_org": "door-co", "reason": "还是转给门禁公司"},
    )
    assert refused.status_code == 422
    assert "区县物业办已指定办理单位" in refused.text


async def test_survey_tokens_are_handed_out_once_on_a_printable_page(desk: Desk) -> None:
    from datetime import date

    from schemas.campaigns import v1 as campaigns
    from services.complaints.service import survey_handling
    from tests.factories import keep_campaign_phase

    pool = await asyncpg.create_pool(desk.dsn, min_size=1, max_size=2)
    try:
        await keep_campaign_phase(
            pool,
            campaigns.CampaignPhaseStarted(
                campaign_id="quality-month-2026", phase="implementation",
                phase_title_zh="实施阶段", starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 31),
                title_zh="物业服务质量提升活动",
            ),
        )  # fmt: skip
        opened = await survey_handling.open_survey(
            complaints_unit(pool, NOW), ALICE, project_id="p-1", households=5,
            closes_at=None, issue=1, trace=Trace.start(),
        )  # fmt: skip
    finally:
        await pool.close()
    survey_id = opened.survey.survey_id
    client = desk.as_(ALICE)
    listing = await client.get(f"{BASE}surveys")
    assert listing.status_code == 200, listing.text
    assert "1 / 5" in listing.text
    url = f"{BASE}surveys/{survey_id}/tokens"
    forged = await client.post(url, data={"csrf_token": "0" * 64, "count": "3"})
    assert forged.status_code == 403
    printed = await client.post(url, data={"csrf_token": token(listing), "count": "3"})
    assert printed.status_code == 200, printed.text
    assert printed.headers["cache-control"] == "no-store"
    assert printed.text.count("<code>") == 3
    assert printed.text.count('class="token-card"') == 3
    assert printed.text.count("<svg") == 3  # a QR code of the survey address per card
    assert "http://test/survey" in printed.text
    assert printed.text.count("p-1 小区") == 3  # the project's name on every card
    stored_tokens = await fetch(desk.dsn, "SELECT count(*) AS n FROM survey_tokens")
    assert stored_tokens[0]["n"] == 4
    too_many = await client.post(url, data={"csrf_token": token(listing), "count": "500"})
    assert too_many.status_code == 422
    refused = await desk.as_(HEPING).get(f"{BASE}surveys")
    assert refused.status_code == 403
    assert "只有物业企业可以发起和结束满意度调查" in refused.text


async def test_the_complaint_page_shows_the_owners_photos_to_whom_may_see_it(desk: Desk) -> None:
    owner = Principal("owner-photos", Role.OWNER)
    filed = await desk.client.post(
        "/api/v1/complaints/with-photos",
        headers=desk.bearer(owner),
        data={
            "complaint": '{"project_id": "p-1", "category": "other", "description": "楼道灯坏了"}'
        },
        files=[("photos", ("a.jpg", images.jpeg((640, 480), gps=True), "image/jpeg"))],
    )
    assert filed.status_code == 201, filed.text
    complaint_id = filed.json()["complaint_id"]

    shown = await desk.as_(ALICE).get(f"{BASE}c/{complaint_id}")
    assert shown.status_code == 200
    [thumb] = re.findall(rf'src="({BASE}c/{complaint_id}/photos/[^"]+/thumbnail)"', shown.text)
    picture = await desk.as_(ALICE).get(thumb)
    assert picture.status_code == 200
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.headers["cache-control"].startswith("private")
    full = await desk.as_(ALICE).get(thumb.replace("/thumbnail", "/image"))
    assert images.gps_of(full.content) == {}  # stored without EXIF
    # another enterprise: neither the page nor the photo
    assert (await desk.as_(MALLORY).get(thumb)).status_code == 404


async def test_the_district_takes_an_escalated_complaint_over_and_answers_the_owner(
    desk: Desk,
) -> None:
    """自行办理 (issue 16): the office becomes the responsible person, replies itself, and the
    complaint is neither transferred nor assigned again."""
    client = desk.as_(ALICE)
    cid = desk.ids["spare"]
    await accept_on_the_page(client, cid)
    office = desk.as_(HEPING)
    refused = await office.get(f"{BASE}c/{cid}/reply")
    assert refused.status_code == 403  # not taken over: the enterprise's to answer
    not_yet = await office.post(
        f"{BASE}c/{cid}/takeover",
        data={"csrf_token": token(await office.get(f"{BASE}c/{cid}/takeover")), "reason": "推诿"},
    )
    assert not_yet.status_code == 409  # nothing escalated yet
    client = desk.as_(ALICE)
    for org in ("door-co", "ent-a", "door-co"):  # one past the limit of two transfers
        form = await client.get(f"{BASE}c/{cid}/transfer")
        await client.post(
            f"{BASE}c/{cid}/transfer",
            data={"csrf_token": token(form), "to_org": org, "reason": "门禁不归本单位维护"},
        )
    office = desk.as_(HEPING)
    page = await office.get(f"{BASE}c/{cid}")
    assert f"c/{cid}/takeover" in page.text
    assert f"c/{cid}/assign" in page.text
    form = await office.get(f"{BASE}c/{cid}/takeover")
    assert "您成为首问责任人" in form.text
    done = await office.post(
        f"{BASE}c/{cid}/takeover",
        data={"csrf_token": token(form), "reason": "企业之间多次推诿,由本办直接办理"},
    )
    assert done.status_code == 303, done.text
    (taken,) = await events(desk.dsn, "ComplaintAssigned")
    assert (taken["from_org"], taken["to_org"], taken["taken_over"]) == (
        "door-co", "district-office-120101", True,
    )  # fmt: skip
    view = await api_view(desk, HEPING, cid)
    assert (view["responsible_staff_id"], view["handling_org"]) == (
        "heping-officer", "district-office-120101",
    )  # fmt: skip
    shown = await desk.as_(HEPING).get(f"{BASE}c/{cid}?done=takeover")
    assert "已自行办理" in shown.text
    assert f"c/{cid}/reply" in shown.text
    assert f"c/{cid}/takeover" not in shown.text  # taken over: no second decision
    again = await desk.client.post(
        f"/api/v1/complaints/{cid}/assignment",
        json={"to_org": "ent-a", "reason": "改为企业办理"},
        headers=desk.bearer(HEPING),
    )
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "taken_over"
    moved = await desk.client.post(
        f"/api/v1/complaints/{cid}/transfer",
        json={"to_org": "ent-a", "reason": "转回企业"},
        headers=desk.bearer(ALICE),
    )
    assert moved.status_code == 422  # assigned (to the office): no transfer
    by_ent = await desk.client.post(
        f"/api/v1/complaints/{cid}/reply", json={"text": "已修好"}, headers=desk.bearer(ALICE)
    )
    assert by_ent.status_code == 409  # no longer the responsible person
    other = await desk.client.post(
        f"/api/v1/complaints/{cid}/reply", json={"text": "已修好"}, headers=desk.bearer(HEXI)
    )
    assert other.status_code == 404
    office = desk.as_(HEPING)
    form = await office.get(f"{BASE}c/{cid}/reply")
    assert form.status_code == 200, form.text
    replied = await office.post(
        f"{BASE}c/{cid}/reply",
        data={"csrf_token": token(form), "text": "本办已责成物业企业今日更换门禁,请您查看。"},
    )
    assert replied.status_code == 303, replied.text
    (reply,) = await events(desk.dsn, "ComplaintReplied")
    assert reply["complaint_id"] == cid
    assert (await stored(desk.dsn, cid))["status"] == "replied"
