"""The district office's workspace pages of the inspections service (issue 15), in-process on real
PostgreSQL: the right page for each role, refusals that explain themselves, CSRF, a patrol walked
group by group with a resumed draft, and a final submit pressed twice that files once."""

from __future__ import annotations

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import httpx
import pypdf
import pytest

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Trace
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.domain import actors
from services.inspections.service import rectifications
from tests.inspections_support import inspections_settings, signed_in_pages
from tests.workspace_support import Desk
from tests.workspace_support import csrf_token as token
from tests.workspace_support import fetch_rows as fetch

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=CHINA)  # a Tuesday
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
HEXI = Principal("hexi-officer", Role.DISTRICT_OFFICE, district_code="120103", name="李科长")
ENTERPRISE = Principal("ent-clerk", Role.ENTERPRISE, enterprise_id="E-0001", name="张经理")
OWNER = Principal("owner-1", Role.OWNER, name="业主")
HOTLINE = Principal("hotline-clerk", Role.AGENCY, agency_id="12345", name="热线坐席")
PROJECT = "P-120101-0001"  # 和平区·海河花园, enterprise E-0001
BASE = "/workspace/inspections/"
DRAFT = re.compile(r'name="draft_id" value="([^"]+)"')


@pytest.fixture
async def desk(fresh_db: str, kafka_topics: str) -> AsyncIterator[Desk]:
    settings = inspections_settings(fresh_db, kafka_topics)
    async with signed_in_pages(
        settings, FixedClock(NOW), (HEPING, HEXI, ENTERPRISE, OWNER, HOTLINE)
    ) as desk:
        yield desk


async def walk_group(
    client: httpx.AsyncClient, n: int, answers: dict[str, tuple[str, str]] | None = None
) -> httpx.Response:
    """Open group n and answer every item (pass unless `answers` says otherwise)."""
    page = await client.get(f"{BASE}patrol/{PROJECT}/groups/{n}")
    assert page.status_code == 200, page.text
    items = re.findall(r'name="r-([^"]+)" value="pass"', page.text)
    form = {"csrf_token": token(page)}
    for item_id in items:
        result, note = (answers or {}).get(item_id, ("pass", ""))
        form[f"r-{item_id}"] = result
        form[f"n-{item_id}"] = note
    return await client.post(f"{BASE}patrol/{PROJECT}/groups/{n}", data=form)


async def patrol_with_two_failures(client: httpx.AsyncClient) -> str:
    """Walk all five groups, failing two waste items; returns the check page's draft id."""
    assert (await walk_group(client, 1)).status_code == 303
    failed = {
        "waste.daily": ("fail", "3 号楼垃圾桶满溢"),
        "waste.bins": ("fail", "果皮箱破损"),
    }
    assert (await walk_group(client, 2, failed)).status_code == 303
    for n in (3, 4, 5):
        saved = await walk_group(client, n)
        assert saved.status_code == 303
    assert saved.headers["location"] == f"{BASE}patrol/{PROJECT}/check"
    check = await client.get(f"{BASE}patrol/{PROJECT}/check")
    assert check.status_code == 200
    assert "3 号楼垃圾桶满溢" in check.text
    found = DRAFT.search(check.text)
    assert found
    return found.group(1)


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(desk: Desk) -> None:
    desk.client.cookies.clear()
    answer = await desk.client.get(BASE)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/auth/login?next=/workspace/inspections/")


async def test_a_patrol_is_walked_group_by_group_resumed_and_filed_once(desk: Desk) -> None:
    client = desk.as_(HEPING)
    found = await client.get(f"{BASE}patrol", params={"q": "海河"})
    assert found.status_code == 200
    assert PROJECT in found.text
    assert "P-120103-0001" not in found.text  # another district's project is not offered

    # a group left unanswered: the error summary names the item, nothing is saved
    page = await client.get(f"{BASE}patrol/{PROJECT}/groups/1")
    empty = await client.post(f"{BASE}patrol/{PROJECT}/groups/1", data={"csrf_token": token(page)})
    assert empty.status_code == 422
    assert "请修正以下问题" in empty.text
    assert "请选择" in empty.text
    assert await fetch(desk.dsn, "SELECT * FROM patrol_drafts") == []

    # a failed item without a note is refused with the reason
    page = await client.get(f"{BASE}patrol/{PROJECT}/groups/2")
    no_note = await walk_group(client, 2, {"waste.daily": ("fail", "")})
    assert no_note.status_code == 422
    assert "请写明问题" in no_note.text

    # two groups saved, then the inspector comes back later: the draft resumes
    assert (await walk_group(client, 1)).status_code == 303
    assert (await walk_group(client, 2)).status_code == 303
    tasks = await client.get(f"{BASE}patrol/{PROJECT}")
    assert "继续上次保存的巡查草稿" in tasks.text
    assert "2 / 5" in tasks.text
    assert f"{BASE}patrol/{PROJECT}/groups/3" in tasks.text  # "continue" goes to group 3

    draft_id = await patrol_with_two_failures(client)
    check = await client.get(f"{BASE}patrol/{PROJECT}/check")
    form = {"csrf_token": token(check), "draft_id": draft_id}
    first = await client.post(f"{BASE}patrol/{PROJECT}/submit", data=form)
    second = await client.post(f"{BASE}patrol/{PROJECT}/submit", data=form)  # pressed twice
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert [r["n"] for r in await fetch(desk.dsn, "SELECT count(*) AS n FROM inspections")] == [1]
    orders = await fetch(desk.dsn, "SELECT project_id FROM rectification_orders")
    assert len(orders) == 2  # the two failed items, as the API records them
    assert await fetch(desk.dsn, "SELECT * FROM patrol_drafts") == []
    filed = await client.get(first.headers["location"])
    assert filed.status_code == 200
    assert "生成的整改单" in filed.text
    assert "生成的整改单（2）" in filed.text


async def test_a_post_without_the_sessions_token_is_refused_and_writes_nothing(
    desk: Desk,
) -> None:
    client = desk.as_(HEPING)
    refused = await client.post(
        f"{BASE}patrol/{PROJECT}/groups/1",
        data={"csrf_token": "0" * 64, "r-premises.office": "pass"},
    )
    assert refused.status_code == 403
    assert "表单已失效或来源不明" in refused.text
    cross = await client.post(
        f"{BASE}patrol/{PROJECT}/groups/1",
        data={"csrf_token": "x"},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert await fetch(desk.dsn, "SELECT * FROM patrol_drafts") == []


async def test_verify_refusals_and_the_enterprises_view(desk: Desk) -> None:
    client = desk.as_(HEPING)
    draft_id = await patrol_with_two_failures(client)
    check = await client.get(f"{BASE}patrol/{PROJECT}/check")
    await client.post(
        f"{BASE}patrol/{PROJECT}/submit", data={"csrf_token": token(check), "draft_id": draft_id}
    )
    order_ids = [
        r["order_id"]
        for r in await fetch(
            desk.dsn, "SELECT order_id FROM rectification_orders ORDER BY order_id"
        )
    ]
    order_id = order_ids[0]
    enterprise = actors.Actor("enterprise", None, "E-0001")
    pool = await asyncpg.create_pool(desk.dsn, min_size=1, max_size=1)
    try:
        await rectifications.submit(
            PgInspectionsUnitOfWork(pool, source=SOURCE, clock=desk.clock),
            order_id, enterprise, ENTERPRISE.subject,
            evidence_text="已清理并更换垃圾桶", photo_refs=[], trace=Trace.start(),
        )  # fmt: skip
    finally:
        await pool.close()

    # the district office's queue: waiting for verification, with deadline and time left
    today = await client.get(BASE)
    assert today.status_code == 200
    assert "验收整改" in today.text
    assert "剩余" in today.text

    # another district's officer opening the order by URL is told why
    other = desk.as_(HEXI)
    refused = await other.get(f"{BASE}orders/{order_id}")
    assert refused.status_code == 403
    assert "此整改单属于和平区，您所在的河西区无权查看或验收" in refused.text
    refused_post = await other.post(f"{BASE}orders/{order_id}/verify", data={"csrf_token": "x"})
    assert refused_post.status_code == 403

    # the enterprise sees its orders read-only and may not verify
    clerk = desk.as_(ENTERPRISE)
    assert (await clerk.get(BASE)).headers["location"] == f"{BASE}orders"
    listing = await clerk.get(f"{BASE}orders")
    assert listing.status_code == 200
    assert "和平区·海河花园" in listing.text
    page = await clerk.get(f"{BASE}orders/{order_id}")
    assert page.status_code == 200
    assert "验收合格</a>" not in page.text
    no = await clerk.get(f"{BASE}orders/{order_id}/verify")
    assert no.status_code == 403
    assert "只有区县物业办或市物业办可以验收整改" in no.text

    # neither an owner nor an outside agency reads orders (the API's Party rule): the refusal
    # page, never the city's list of open orders
    for outsider in (OWNER, HOTLINE):
        browser = desk.as_(outsider)
        for url in (BASE, f"{BASE}orders"):
            refused = await browser.get(url)
            assert refused.status_code == 403, (outsider.role, url, refused.status_code)
            assert order_id not in refused.text
            assert "和平区·海河花园" not in refused.text

    # one action, one page, one confirmation
    client = desk.as_(HEPING)
    confirm = await client.get(f"{BASE}orders/{order_id}/verify")
    assert "将关闭此整改单并通知企业" in confirm.text
    # what is being verified, on the page that verifies it: the problem and what was done
    assert "企业整改说明" in confirm.text
    assert "已清理并更换垃圾桶" in confirm.text
    assert "整改期限" in confirm.text
    done = await client.post(f"{BASE}orders/{order_id}/verify", data={"csrf_token": token(confirm)})
    assert done.status_code == 303
    status = await fetch(
        desk.dsn, f"SELECT status FROM rectification_orders WHERE order_id = '{order_id}'"
    )
    assert status[0]["status"] == "verified"
    events = await fetch(
        desk.dsn, "SELECT event_type FROM outbox WHERE event_type LIKE '%RectificationVerified%'"
    )
    assert len(events) == 1

    # a rejection needs its reason: the error names the field, nothing changes
    second = order_ids[1]
    confirm = await client.get(f"{BASE}orders/{second}/reject")
    assert confirm.status_code == 200
    not_yet = await client.post(
        f"{BASE}orders/{second}/reject", data={"csrf_token": token(confirm), "reason": "不行"}
    )
    assert not_yet.status_code == 409  # nothing submitted yet: refused with the domain's reason
    assert "refusal" in not_yet.text
    status = await fetch(
        desk.dsn, f"SELECT status FROM rectification_orders WHERE order_id = '{second}'"
    )
    assert status[0]["status"] == "ordered"


async def test_each_order_is_an_official_document_numbered_per_district_and_year(
    desk: Desk,
) -> None:
    """整改通知书 (issue 16): the order's PDF, numbered from the district-year sequence when the
    order was made, opens for its district office and its enterprise, not for another district;
    its text reads back with the number, the office, the enterprise and the date."""
    client = desk.as_(HEPING)
    draft_id = await patrol_with_two_failures(client)
    check = await client.get(f"{BASE}patrol/{PROJECT}/check")
    await client.post(
        f"{BASE}patrol/{PROJECT}/submit", data={"csrf_token": token(check), "draft_id": draft_id}
    )
    rows = await fetch(
        desk.dsn,
        "SELECT order_id, doc_year, doc_seq FROM rectification_orders ORDER BY doc_seq",
    )
    assert [(r["doc_year"], r["doc_seq"]) for r in rows] == [(2026, 1), (2026, 2)]
    order_id = rows[1]["order_id"]
    page = await client.get(f"{BASE}orders/{order_id}")
    link = f"{BASE}orders/{order_id}/document.pdf"
    assert f'href="{link}"' in page.text
    pdf = await client.get(link)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in ("和平区物业整改〔2026〕2号", "天津市和平区物业管理办公室", "津城物业",
                     "2026年3月3日", "限期整改", "（印章位置）"):  # fmt: skip
        assert expected in text, (expected, text)
    assert (await desk.as_(ENTERPRISE).get(link)).status_code == 200
    refused = await desk.as_(HEXI).get(link)
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("text/html")


async def test_a_flood_season_patrol_is_walked_in_the_workspace_and_filed(desk: Desk) -> None:
    """汛期检查 from the patrol page: the office picks the flood checklist, the draft keeps it,
    the roof-leak and downpipe items failed become urgent orders of a flood-season inspection."""
    client = desk.as_(HEPING)
    tasks = await client.get(f"{BASE}patrol/{PROJECT}")
    assert "contract-grade-1 第 2 版" in tasks.text  # 海河花园 is contracted at 一级
    offered = f"{BASE}patrol/{PROJECT}?checklist=flood-season"
    assert offered in tasks.text  # the other checklist is offered while nothing is drafted
    flood = await client.get(offered)
    assert flood.status_code == 200
    assert "flood-season 第 2 版" in flood.text
    assert "屋面（2）" in flood.text
    assert "排水（3）" in flood.text
    assert "1 / 4" not in flood.text
    assert "0 / 4" in flood.text

    q = "?checklist=flood-season"
    failures = {
        "flood.roof_leak": ("fail", "5 号楼顶层屋面漏雨"),
        "flood.downpipe_blocked": ("fail", "3 号楼雨水管堵塞"),
    }
    for n in (1, 2, 3, 4):
        page = await client.get(f"{BASE}patrol/{PROJECT}/groups/{n}{q}")
        assert page.status_code == 200, page.text
        form = {"csrf_token": token(page)}
        for item_id in re.findall(r'name="r-([^"]+)" value="pass"', page.text):
            result, note = failures.get(item_id, ("pass", ""))
            form[f"r-{item_id}"], form[f"n-{item_id}"] = result, note
        saved = await client.post(f"{BASE}patrol/{PROJECT}/groups/{n}{q}", data=form)
        assert saved.status_code == 303, saved.text
    assert saved.headers["location"] == f"{BASE}patrol/{PROJECT}/check{q}"
    # the draft keeps its checklist: the plain task page now shows the flood checks, done
    resumed = await client.get(f"{BASE}patrol/{PROJECT}")
    assert "4 / 4" in resumed.text
    assert "flood-season" in resumed.text
    check = await client.get(f"{BASE}patrol/{PROJECT}/check")
    found = DRAFT.search(check.text)
    assert found
    filed = await client.post(
        f"{BASE}patrol/{PROJECT}/submit",
        data={"csrf_token": token(check), "draft_id": found.group(1)},
    )
    assert filed.status_code == 303
    [row] = await fetch(desk.dsn, "SELECT template_id, passed FROM inspections")
    assert (row["template_id"], row["passed"]) == ("flood-season", False)
    orders = await fetch(desk.dsn, "SELECT severity FROM rectification_orders")
    assert sorted(r["severity"] for r in orders) == ["urgent", "urgent"]


async def test_an_unknown_checklist_is_refused_with_the_reason(desk: Desk) -> None:
    client = desk.as_(HEPING)
    refused = await client.get(f"{BASE}patrol/{PROJECT}", params={"checklist": "nope"})
    assert refused.status_code == 404
    assert "没有这份巡查检查表" in refused.text


async def test_the_patrol_follows_the_projects_contracted_service_grade(desk: Desk) -> None:
    """五大道公寓 is contracted at 二级: its patrol walks the 二级 checklist, each item showing the
    二级 pass criterion, and the inspection (and its event) names the 二级 template."""
    client = desk.as_(HEPING)
    second = "P-120101-0002"
    tasks = await client.get(f"{BASE}patrol/{second}")
    assert tasks.status_code == 200
    assert "合同约定服务等级：<strong>二级</strong>" in tasks.text
    assert "contract-grade-2 第 2 版" in tasks.text
    waste = await client.get(f"{BASE}patrol/{second}/groups/2")
    assert "合格标准（二级）：生活垃圾每日清运 1 次，日产日清" in waste.text
    assert "每日清运至少 2 次" not in waste.text  # that is what 一级 owners pay for
    first = await client.get(f"{BASE}patrol/{PROJECT}/groups/2")
    assert "合格标准（一级）：生活垃圾每日清运至少 2 次" in first.text

    for n in range(1, 6):
        page = await client.get(f"{BASE}patrol/{second}/groups/{n}")
        form = {"csrf_token": token(page)}
        for item_id in re.findall(r'name="r-([^"]+)" value="pass"', page.text):
            result = "fail" if item_id == "waste.daily" else "pass"
            form[f"r-{item_id}"], form[f"n-{item_id}"] = result, "垃圾当日未清运"
        assert (
            await client.post(f"{BASE}patrol/{second}/groups/{n}", data=form)
        ).status_code == 303
    check = await client.get(f"{BASE}patrol/{second}/check")
    found = DRAFT.search(check.text)
    assert found
    filed = await client.post(
        f"{BASE}patrol/{second}/submit",
        data={"csrf_token": token(check), "draft_id": found.group(1)},
    )
    assert filed.status_code == 303
    [row] = await fetch(desk.dsn, "SELECT template_id FROM inspections")
    assert row["template_id"] == "contract-grade-2"
    payloads = [
        json.loads(bytes(r["payload"]))
        for r in await fetch(
            desk.dsn, "SELECT payload FROM outbox WHERE event_type LIKE '%InspectionCompleted%'"
        )
    ]
    assert [(e["template_id"], e["template_version"]) for e in payloads] == [
        ("contract-grade-2", 2)
    ]
