"""The district inspector's workspace pages (inspections service, issue 15) in Debian's headless
Chromium against the service as a real process: a patrol on a 390-px phone (find the project,
five groups with big pass / fail / N/A, a draft resumed, check, submit), verification on a desk,
and the screenshots of every page at 1280 and 390 px for docs/workspace.md.

Signed in by opening a session in the service's own store (the sign-in flow is another part of
issue 15). Demo data: a project run by an enterprise with a long name and forty orders in a queue."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Trace
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.domain import actors, checklist
from services.inspections.entrypoints import startup
from services.inspections.service import rectifications
from services.inspections.service.record_inspection import RecordInspection, record_inspection
from services.inspections.settings import InspectionsSettings
from tests import images
from tests.browser.conftest import session_context, shot, workspace_service
from tests.conftest import run_async_in_thread
from tests.workspace_support import open_sessions

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=CHINA)
BASE = "/workspace/inspections/"
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
HEXI = Principal("hexi-officer", Role.DISTRICT_OFFICE, district_code="120103", name="李科长")
ENTERPRISE = Principal("ent-clerk", Role.ENTERPRISE, enterprise_id="E-0009", name="张经理")
LONG_NAME = "天津市和平区五大道历史文化街区综合物业服务与设施设备维护管理有限责任公司"
PROJECTS = [
    {"project_id": "P-120101-0001", "project_name": "和平区·海河花园",
     "address": "天津市和平区南京路 101 号", "district_code": "120101", "district_name": "和平区",
     "enterprise_id": "E-0001", "enterprise_name": "津城物业服务有限公司", "service_grade": "一级"},
    {"project_id": "P-120101-0009", "project_name": "和平区·五大道睦南道民园西里历史风貌建筑小区",
     "address": "天津市和平区睦南道 88 号", "district_code": "120101", "district_name": "和平区",
     "enterprise_id": "E-0009", "enterprise_name": LONG_NAME, "service_grade": "一级"},
    {"project_id": "P-120103-0001", "project_name": "河西区·友谊新苑",
     "address": "天津市河西区友谊路 9 号", "district_code": "120103", "district_name": "河西区",
     "enterprise_id": "E-0001", "enterprise_name": "津城物业服务有限公司", "service_grade": "二级"},
]  # fmt: skip


@dataclass
class Site:
    url: str
    dsn: str
    cookies: dict[str, str]
    orders: list[str]


async def _seed(dsn: str) -> tuple[dict[str, str], list[str]]:
    """Sessions for three people, and forty orders: patrols that failed nearly everything."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    clock = FixedClock(NOW)
    try:
        cookies = await open_sessions(pool, clock, "inspections", (HEPING, HEXI, ENTERPRISE))
        rules = await startup.load_rules(InspectionsSettings(database_url=dsn))
        unit = PgInspectionsUnitOfWork(pool, source=SOURCE, clock=clock)
        async with unit:
            template = await unit.templates.get("contract-self-inspection", None)
        assert template is not None
        officer = actors.Actor("district_office", "120101", None)
        for n in range(3):
            results = tuple(
                checklist.ItemResult(i.item_id, checklist.Result.FAIL, f"第 {n + 1} 次巡查:不合格")
                if k < 14 else checklist.ItemResult(i.item_id, checklist.Result.PASS)
                for k, i in enumerate(template.items)
            )  # fmt: skip
            await record_inspection(
                PgInspectionsUnitOfWork(pool, source=SOURCE, clock=clock),
                RecordInspection("P-120101-0009", "patrol", template.template_id, None, results,
                                 NOW, f"seed-{n}"),
                officer, "seed-officer", rules=rules, trace=Trace.start(),
            )  # fmt: skip
        async with pool.acquire() as conn:
            orders = [r["order_id"] for r in await conn.fetch(
                "SELECT order_id FROM rectification_orders ORDER BY deadline, order_id")]  # fmt: skip
            # a few already past their deadline, so the queue shows 逾期 first
            await conn.execute(
                "UPDATE rectification_orders SET deadline = $1, overdue_at = $1 "
                "WHERE order_id = ANY($2::text[])",
                datetime(2026, 3, 2, 18, 0, tzinfo=CHINA), orders[:3],
            )  # fmt: skip
        enterprise = actors.Actor("enterprise", None, "E-0009")
        for order_id in orders[3:6]:
            await rectifications.submit(
                PgInspectionsUnitOfWork(pool, source=SOURCE, clock=clock), order_id, enterprise,
                ENTERPRISE.subject, evidence_text="已清理完毕,更换破损垃圾桶 6 个",
                photo_refs=[], trace=Trace.start(),
            )  # fmt: skip
        return cookies, orders
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def site(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("inspections")
    registry = folder / "projects.json"
    registry.write_text(json.dumps({"projects": PROJECTS}, ensure_ascii=False), "utf-8")
    with workspace_service(stack, folder, "inspections", NOW, REGISTRY_FILE=str(registry)) as (
        process,
        dsn,
    ):
        cookies, orders = run_async_in_thread(lambda: _seed(dsn))
        yield Site(url=process.url, dsn=dsn, cookies=cookies, orders=orders)


def signed_in(browser: Browser, site: Site, who: Principal, width: int) -> BrowserContext:
    cookie = ("wuye_inspections_session", site.cookies[who.subject])
    return session_context(browser, site.url, cookie, width)


def photo(name: str, color: str) -> dict[str, Any]:
    return {"name": name, "mimeType": "image/jpeg", "buffer": images.jpeg(gps=True, color=color)}


def answer_group(
    page: Page, fail: dict[str, str], screenshot: str = "", photos: dict[str, Any] | None = None
) -> None:
    expect(page.locator("input[type=radio][value=pass]").first).to_be_attached()  # a group page
    for radio in page.locator("input[type=radio][value=pass]").all():
        item = (radio.get_attribute("name") or "")[2:]
        if item in fail:
            page.locator(f"label[for='r-{item}-fail']").click()
            page.locator(f"[id='n-{item}']").fill(fail[item])
            if photos and item in photos:
                page.locator(f"[id='p-{item}']").set_input_files(photos[item])
        else:
            page.locator(f"label[for='r-{item}-pass']").click()
    if screenshot:
        shot(page, screenshot, 390)
    # the next group is answered on the next page, not on this one while it is still shown
    with page.expect_navigation():
        page.get_by_role("button", name="保存并继续").click()


def test_a_patrol_on_a_phone(browser: Browser, site: Site) -> None:
    ctx = signed_in(browser, site, HEPING, 390)
    page = ctx.new_page()
    page.goto(BASE + "patrol")
    page.fill("#q", "海河")
    page.get_by_role("button", name="查找").click()
    shot(page, "patrol-find", 390)
    page.get_by_role("link", name="和平区·海河花园").click()
    shot(page, "patrol-tasks", 390)
    page.get_by_role("link", name="继续").click()
    page.get_by_role("button", name="保存并继续").click()  # nothing chosen
    assert page.locator(".error-summary").is_visible()
    shot(page, "patrol-group-errors", 390)
    answer_group(page, {})
    expect(page.locator("body")).to_contain_text("第 2 / 5 组")
    answer_group(
        page, {"waste.daily": "3 号楼垃圾桶满溢", "waste.bins": "果皮箱破损"}, "patrol-group",
        photos={"waste.daily": [photo("bin-1.jpg", "teal"), photo("bin-2.jpg", "orange")]},
    )  # fmt: skip
    # saved: the group shows the photos just kept with the draft, with the way on
    expect(page.locator("body")).to_contain_text("照片已随草稿保存")
    assert page.locator("ul.thumbs img").count() == 2
    page.locator("ul.thumbs img").first.scroll_into_view_if_needed()
    assert page.evaluate("document.querySelector('ul.thumbs img').naturalWidth") > 0
    shot(page, "patrol-photos", 390, full=False)
    # the inspector leaves and comes back: the draft resumes at group 3
    page.goto(BASE + "patrol/P-120101-0001")
    expect(page.locator("body")).to_contain_text("继续上次保存的巡查草稿")
    expect(page.locator("body")).to_contain_text("2 / 5")
    page.get_by_role("link", name="继续").click()
    for _ in range(3):
        answer_group(page, {})
    page.wait_for_url("**/check")  # the last group saved: check your answers
    shot(page, "patrol-check", 390, full=False)
    page.get_by_role("button", name="提交巡查").click()
    expect(page.locator("body")).to_contain_text("巡查已提交")
    expect(page.locator("body")).to_contain_text("生成的整改单（2）")
    assert page.locator("ul.thumbs img").count() == 2  # the photos went with the inspection
    shot(page, "patrol-filed", 390)
    ctx.close()


@pytest.mark.parametrize("width", [390, 1280])
def test_the_enterprise_submits_evidence_and_the_office_sees_it(
    browser: Browser, site: Site, width: int
) -> None:
    order_id = site.orders[7 if width == 390 else 8]
    clerk = signed_in(browser, site, ENTERPRISE, width)
    page = clerk.new_page()
    page.goto(BASE + f"orders/{order_id}")
    page.fill("#evidence_text", "已清理完毕,更换破损垃圾桶 6 个")
    page.locator("#photos").set_input_files(
        [{"name": "fake.jpg", "mimeType": "image/jpeg", "buffer": b"#!/bin/sh\necho hi\n" * 9}]
    )
    page.get_by_role("button", name="提交整改").click()
    expect(page.locator("body")).to_contain_text("不是照片")
    expect(page.locator("body")).to_contain_text("更换破损垃圾桶")  # the note is kept
    if width == 390:
        shot(page, "evidence-refused", width, full=False)
    page.locator("#photos").set_input_files([photo("fixed.jpg", "green")])
    if width == 390:
        shot(page, "evidence-form", width)
    page.get_by_role("button", name="提交整改").click()
    expect(page.locator("body")).to_contain_text("整改已提交")
    clerk.close()

    office = signed_in(browser, site, HEPING, width)
    page = office.new_page()
    page.goto(BASE + f"orders/{order_id}/verify")
    assert page.locator("ul.thumbs img").count() >= 1
    assert page.evaluate("document.querySelector('ul.thumbs img').naturalWidth") > 0
    shot(page, "verify-evidence", width)
    office.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_at_desk_and_phone_width(browser: Browser, site: Site, width: int) -> None:
    ctx = signed_in(browser, site, HEPING, width)
    page = ctx.new_page()
    page.goto(BASE)
    expect(page.locator("body")).to_contain_text("今日待办")
    assert page.locator(".deadline.overdue").first.is_visible()  # overdue first, says 逾期
    assert "逾期" in page.locator("table.queue tbody tr").first.inner_text()
    shot(page, "today", width, full=width == 1280)
    # The navigation: every entry in a row on a desk; on a phone one line that says where you
    # are (菜单 · 今日待办), the entries behind it, one per line, opened without a script.
    menu, row = page.locator("header.ws .ws-menu"), page.locator("header.ws .ws-links")
    if width == 1280:
        assert row.get_by_role("link", name="整改单").is_visible()
        assert not menu.is_visible()
    else:
        assert not row.is_visible()
        summary = menu.locator("summary")
        expect(summary).to_have_text(re.compile(r"菜单\s+今日待办"))
        assert summary.bounding_box()["height"] < 60  # one line, not five  # type: ignore[index]
        assert not menu.get_by_role("link", name="整改单").is_visible()
        summary.click()
        shot(page, "today-menu", width, full=False)
        menu.get_by_role("link", name="整改单").click()
        page.wait_for_url("**/orders")
        expect(page.locator("header.ws .ws-menu summary")).to_have_text(
            re.compile(r"菜单\s+整改单")
        )
    page.goto(BASE + "orders")
    total = re.search(r"共 (\d+) 件", page.content())
    assert total is not None
    assert int(total.group(1)) >= 40  # forty open orders, a page at a time
    assert page.locator("table.queue tbody tr").count() == 15
    shot(page, "orders", width, full=False)
    submitted = site.orders[3 + (0 if width == 1280 else 1)]
    page.goto(BASE + f"orders/{submitted}")
    shot(page, "order", width)
    page.get_by_role("link", name="验收合格").click()
    expect(page.locator("body")).to_contain_text("将关闭此整改单并通知企业")
    shot(page, "verify-confirm", width)
    page.get_by_role("button", name="确认验收合格").click()
    expect(page.locator("body")).to_contain_text("已验收合格")
    page.goto(BASE + f"orders/{site.orders[5]}/reject")
    shot(page, "reject-confirm", width)
    if width == 1280:
        page.goto(BASE + "patrol?q=五大道")
        shot(page, "patrol-find", width)
        page.goto(BASE + "patrol/P-120101-0009/groups/2")
        shot(page, "patrol-group", width)
        page.goto(BASE + "?lang=en")
        expect(page.locator("body")).to_contain_text("Today's work")
        shot(page, "today-en", width)
        page.goto(BASE + "?lang=zh")
    ctx.close()

    other = signed_in(browser, site, HEXI, width)
    page = other.new_page()
    page.goto(BASE + f"orders/{site.orders[0]}")
    expect(page.locator("body")).to_contain_text("此整改单属于和平区，您所在的河西区无权查看或验收")
    shot(page, "refused", width)
    other.close()

    clerk = signed_in(browser, site, ENTERPRISE, width)
    page = clerk.new_page()
    page.goto(BASE)
    page.wait_for_url("**/orders")
    shot(page, "enterprise-orders", width, full=False)
    clerk.close()


def test_a_random_draw_at_desk_and_phone_width(browser: Browser, site: Site) -> None:
    """双随机: the form at both widths, a draw made at the desk, its result (seed, inspectors,
    the re-run that agrees) at both widths."""
    desk = signed_in(browser, site, HEPING, 1280)
    page = desk.new_page()
    page.goto(BASE + "draws")
    expect(page.locator("body")).to_contain_text("检查人员名单")
    page.fill("#roster", "I-101 王明 E-0001\nI-102 李强\nI-103 赵伟 E-0009")
    page.fill("#project_count", "1")
    page.fill("#exclusion_days", "0")
    shot(page, "draw-form", 1280, full=False)
    with page.expect_navigation():
        page.get_by_role("button", name="随机抽取").click()
    expect(page.locator("body")).to_contain_text("结果与上面完全一致")
    expect(page.locator("body")).to_contain_text("随机种子")
    shot(page, "draw-result", 1280, full=False)
    result_url = page.url
    desk.close()
    phone = signed_in(browser, site, HEPING, 390)
    page = phone.new_page()
    page.goto(BASE + "draws")
    expect(page.locator("body")).to_contain_text("抽取记录")
    shot(page, "draw-form", 390, full=False)
    page.goto(result_url)
    expect(page.locator("body")).to_contain_text("结果与上面完全一致")
    shot(page, "draw-result", 390, full=False)
    phone.close()


def test_the_draw_roster_at_desk_and_phone_width(browser: Browser, site: Site) -> None:
    """The district's roster for the draws: two inspectors added through the form (one with the
    enterprises and projects to avoid), one deactivated; the list at both widths."""
    desk = signed_in(browser, site, HEPING, 1280)
    page = desk.new_page()
    page.goto(BASE + "draws")
    expect(page.locator("body")).to_contain_text("抽取记录")
    with page.expect_navigation():
        page.click("#roster-link")
    expect(page.locator("body")).to_contain_text("双随机检查人员名单")
    for staff, name, avoid in [("I-301", "王明", "E-0001 P-120101-0009"), ("I-302", "李强", ""),
                               ("I-303", "赵伟", "E-0009")]:  # fmt: skip
        page.fill("#inspector_id", staff)
        page.fill("#name", name)
        page.fill("#conflicts", avoid)
        with page.expect_navigation():
            page.get_by_role("button", name="添加到名单").click()
        expect(page.locator("#roster")).to_contain_text(staff)
    page.fill("#inspector_id", "I 304")
    page.fill("#name", "钱")
    with page.expect_navigation():
        page.get_by_role("button", name="添加到名单").click()
    expect(page.locator("body")).to_contain_text("检查人员编号须为 1 至 64 个字母")
    expect(page.locator("#inspector_id")).to_have_value("I 304")  # kept for correcting
    page.goto(BASE + "draws/roster")
    with page.expect_navigation():
        page.locator("#inspector-I-303").get_by_role("button", name="停用").click()
    expect(page.locator("#inspector-I-303")).to_contain_text("已停用")
    expect(page.locator("#inspector-I-301")).to_contain_text("E-0001、P-120101-0009")
    expect(page.locator("body")).to_contain_text("（在岗 2 人）")
    shot(page, "draw-roster", 1280, full=False)
    desk.close()
    phone = signed_in(browser, site, HEPING, 390)
    page = phone.new_page()
    page.goto(BASE + "draws/roster")
    expect(page.locator("#inspector-I-303")).to_contain_text("已停用")
    shot(page, "draw-roster", 390, full=False)
    phone.close()


async def _seed_facilities(dsn: str) -> None:
    """E-0009's facilities at 五大道: a lift past its 15 days, fire facilities in time, a water
    tank near its six months; then the sweep, as the service's timer would run it."""
    from datetime import date

    from services.inspections.entrypoints import jobs
    from services.inspections.service import statutory_intervals as si

    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        enterprise = actors.Actor("enterprise", None, "E-0009")
        for kind, name, last in (
            ("lift", "3号楼1单元电梯", date(2026, 2, 10)),
            ("lift", "3号楼2单元电梯", date(2026, 2, 24)),
            ("fire", "全楼消防设施", date(2026, 2, 20)),
            ("water_tank", "2号楼地下生活水箱", date(2025, 9, 15)),
        ):
            await si.register(
                PgInspectionsUnitOfWork(pool, source=SOURCE, clock=FixedClock(NOW)),
                enterprise,
                si.RegisterFacility("P-120101-0009", kind, name, None, last),
                by=ENTERPRISE.subject,
            )
        await jobs.statutory_intervals_missed(pool, NOW)
    finally:
        await pool.close()


def test_statutory_intervals_the_enterprise_records_and_the_district_sees_the_queue(
    browser: Browser, site: Site
) -> None:
    """设施维保: the district office's queue lists the missed lift interval with a link; the
    enterprise's list marks it overdue, a looser contractual interval is refused on its field,
    a facility is registered, and a service recorded closes the miss; both widths."""
    run_async_in_thread(lambda: _seed_facilities(site.dsn))
    for width in (1280, 390):
        office = signed_in(browser, site, HEPING, width)
        page = office.new_page()
        page.goto(BASE + "#missed")
        expect(page.locator("#missed + table")).to_contain_text("3号楼1单元电梯")
        expect(page.locator("#missed + table")).to_contain_text("逾期 6 天")
        shot(page, "today-missed", width, full=False)
        page.get_by_role("link", name="3号楼1单元电梯").click()
        expect(page.locator("body")).to_contain_text("特种设备安全监察条例")
        assert page.locator("#serviced_on").count() == 0  # the office reads, never records
        office.close()

    desk = signed_in(browser, site, ENTERPRISE, 1280)
    page = desk.new_page()
    page.goto(BASE + "facilities")
    expect(page.locator("tr.overdue").first).to_contain_text("3号楼1单元电梯")
    page.select_option("#kind", "lift")
    page.fill("#name", "5号楼电梯")
    page.fill("#interval_days", "20")
    page.fill("#last_serviced_on", "2026-03-01")
    with page.expect_navigation():
        page.get_by_role("button", name="登记").click()
    expect(page.locator(".error-summary")).to_contain_text("不得宽于法定周期")
    expect(page.locator("#interval_days")).to_have_value("20")
    page.fill("#interval_days", "10")
    with page.expect_navigation():
        page.get_by_role("button", name="登记").click()
    expect(page.locator("body")).to_contain_text("设施已登记")
    expect(page.locator("body")).to_contain_text("10 天（合同约定）")
    page.goto(BASE + "facilities")
    expect(page.locator("body")).to_contain_text("5号楼电梯")
    shot(page, "facilities", 1280, full=False)
    desk.close()

    phone = signed_in(browser, site, ENTERPRISE, 390)
    page = phone.new_page()
    page.goto(BASE + "facilities")
    expect(page.locator("tr.overdue").first).to_contain_text("逾期")
    shot(page, "facilities", 390, full=False)
    page.get_by_role("link", name="3号楼1单元电梯").click()
    expect(page.locator("body")).to_contain_text("已超过应维保日期 6 天")
    shot(page, "facility", 390, full=False)
    page.fill("#serviced_by", "津安电梯维保有限公司 <b>")
    page.set_input_files("#photos", [photo("maintenance-sheet.jpg", "teal")])
    with page.expect_navigation():
        page.get_by_role("button", name="记录维保").click()
    expect(page.locator("body")).to_contain_text("维保已记录")
    expect(page.locator("ul.thumbs img")).to_have_count(1)  # the signed sheet, with the service
    page.locator("ul.thumbs img").first.scroll_into_view_if_needed()
    assert page.evaluate("document.querySelector('ul.thumbs img').naturalWidth") > 0
    expect(page.locator("body")).to_contain_text("津安电梯维保有限公司 <b>")  # escaped, shown
    expect(page.locator("body")).to_contain_text("2026-03-18")  # 3 March + 15 days
    phone.close()

    desk = signed_in(browser, site, ENTERPRISE, 1280)
    page = desk.new_page()
    page.goto(BASE + "facilities")
    page.get_by_role("link", name="2号楼地下生活水箱").click()
    expect(page.locator("body")).to_contain_text("二次供水设施卫生规范")
    shot(page, "facility", 1280, full=False)
    desk.close()

    office = signed_in(browser, site, HEPING, 1280)
    page = office.new_page()
    page.goto(BASE + "#missed")
    expect(page.locator("#missed + table, #missed + p")).not_to_contain_text("3号楼1单元电梯")
    office.close()
