"""The complaints workspace pages (complaints service, issue 15) in Debian's headless Chromium
against the service as a real process: the enterprise's desk with forty complaints (overdue first),
a complaint with a long description, accepting and replying each on its own confirmation page, the
district office's escalated complaints, a refusal, and the screenshots of every page at 1280 and
390 px for docs/workspace.md.

Signed in by opening a session in the service's own store (tests/browser/test_sign_in.py covers the
real sign-in)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Trace
from schemas.campaigns import v1 as campaigns
from services.complaints.adapters import reference
from services.complaints.service import handling, intake, survey_handling
from tests.browser.conftest import session_context, workspace_service
from tests.browser.conftest import shot as screenshot
from tests.conftest import run_async_in_thread
from tests.factories import complaints_unit, keep_campaign_phase, register_complaint_project
from tests.workspace_support import open_sessions

NOW = datetime(2026, 3, 10, 10, 0, tzinfo=CHINA)  # a Tuesday
BASE = "/workspace/complaints/"
COOKIE = "wuye_complaints_session"
CLERK = Principal("ent-clerk", Role.ENTERPRISE, enterprise_id="E-0009", name="张经理")
OTHER = Principal("other-clerk", Role.ENTERPRISE, enterprise_id="E-0001", name="李经理")
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
OWNER = Principal("owner-1", Role.OWNER)
LONG = (
    "三号楼二单元自上周五起每天晚上七点到十点停水,物业前台登记了三次都说在排查,"
    "至今没有任何书面答复。家里有老人和婴儿,晚上无法洗漱,已经严重影响生活。"
    "请物业公司尽快查明原因、给出恢复供水的时间,并在单元门口张贴通知。"
) * 3
TEXTS = ["电梯运行时一直有异响", "小区绿化长期无人修剪", "单元门禁已经损坏三天", "地下车库照明不足"]


@dataclass
class Site:
    url: str
    cookies: dict[str, str]
    ids: list[str]  # newest last; ids[0] overdue


async def _seed(dsn: str) -> tuple[dict[str, str], list[str]]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        for project, ent, district in (
            ("P-120101-0009", "E-0009", "120101"),
            ("P-120101-0010", "E-0009", "120101"),
            ("P-120103-0001", "E-0001", "120103"),
        ):
            await register_complaint_project(
                pool, project, ent, district, occurred_at=NOW - timedelta(days=90)
            )
        rules = reference.load_rules()
        ids = []
        for n in range(40):
            at = NOW - timedelta(days=6) + timedelta(hours=3 * n)
            filed = await intake.file(
                complaints_unit(pool, at), rules, OWNER,
                intake.Intake(
                    project_id="P-120101-0009" if n % 3 else "P-120101-0010",
                    category="water", description=LONG if n == 0 else TEXTS[n % 4],
                    channel="web", contact_name="张三丰", contact_phone="13812345678",
                    answers={"problem": "no_water"},
                ),
                trace=Trace.start(),
            )  # fmt: skip
            ids.append(filed.complaint.complaint_id)
        for cid in ids[-3:]:  # in hand, one with an extension asked
            await handling.accept(
                complaints_unit(pool, NOW - timedelta(hours=3)), CLERK, cid, trace=Trace.start()
            )
        await handling.request_extension(
            complaints_unit(pool, NOW - timedelta(hours=2)), CLERK, ids[-2],
            working_days=3, reason="等待水泵配件到货,厂家确认周五送达", trace=Trace.start(),
        )  # fmt: skip
        for org in ("E-water-co", "E-0009", "E-water-co"):  # passed on too often: escalated
            await handling.transfer(
                complaints_unit(pool, NOW - timedelta(hours=1)), rules, CLERK, ids[-1],
                to_org=org, reason="供水设施不归本单位维护", trace=Trace.start(),
            )  # fmt: skip
        await keep_campaign_phase(
            pool,
            campaigns.CampaignPhaseStarted(
                campaign_id="quality-month-2026", phase="implementation",
                phase_title_zh="实施阶段", starts_on=date(2026, 3, 1), ends_on=date(2026, 3, 31),
                title_zh="物业服务质量提升活动",
            ),
        )  # fmt: skip
        await survey_handling.open_survey(
            complaints_unit(pool, NOW), CLERK, project_id="P-120101-0009", households=120,
            closes_at=None, issue=1, trace=Trace.start(),
        )  # fmt: skip
        cookies = await open_sessions(pool, FixedClock(NOW), "complaints", (CLERK, OTHER, HEPING))
        return cookies, ids
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def site(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("complaints")
    with workspace_service(stack, folder, "complaints", NOW) as (process, dsn):
        cookies, ids = run_async_in_thread(lambda: _seed(dsn))
        yield Site(url=process.url, cookies=cookies, ids=ids)


def signed_in(browser: Browser, site: Site, who: Principal, width: int) -> BrowserContext:
    return session_context(browser, site.url, (COOKIE, site.cookies[who.subject]), width)


def shot(page: Page, name: str, width: int, *, full: bool = True) -> None:
    screenshot(page, f"complaints-{name}", width, full=full)


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_at_desk_and_phone_width(browser: Browser, site: Site, width: int) -> None:
    ctx = signed_in(browser, site, CLERK, width)
    page = ctx.new_page()
    page.goto(BASE)
    expect(page.locator("body")).to_contain_text("投诉办理")
    first = page.locator("table.queue tbody tr").first
    assert "逾期" in first.inner_text()  # overdue first
    assert page.locator("table.queue tbody tr").count() == 15  # a page at a time
    shot(page, "desk", width, full=False)
    page.locator("details.filters summary").click()
    page.select_option("#project", "P-120101-0010")
    page.get_by_role("button", name="筛选").click()
    assert "project=P-120101-0010" in page.url
    page.goto(BASE + f"c/{site.ids[0]}")
    expect(page.locator("body")).to_contain_text(
        "13812345678"
    )  # the handling enterprise sees the contact
    shot(page, "complaint", width, full=width == 1280)
    if width != 1280:  # the first one was accepted at desk width
        page.goto(BASE + f"c/{site.ids[1]}")
    page.get_by_role("link", name="签收").first.click()
    expect(page.locator("body")).to_contain_text("首问责任人")
    shot(page, "accept-confirm", width)
    if width == 1280:
        page.get_by_role("button", name="确认签收").click()
        expect(page.locator("body")).to_contain_text("您是本投诉的首问责任人")
        page.get_by_role("link", name="答复").click()
        page.get_by_role("button", name="答复业主").click()  # nothing written
        assert page.locator(".error-summary").is_visible()
        shot(page, "reply-errors", width)
        page.fill("#text", "已联系供水公司检修加压泵,今晚起恢复正常供水。")
        page.get_by_role("button", name="答复业主").click()
        expect(page.locator("body")).to_contain_text("已答复")
        page.goto(BASE + f"c/{site.ids[-3]}/transfer")
        shot(page, "transfer-confirm", width)
        page.goto(BASE + f"c/{site.ids[-1]}/extension")
        shot(page, "extension-confirm", width)
        page.goto(BASE + "surveys")
        expect(page.locator("body")).to_contain_text("1 / 120")
        shot(page, "surveys", width)
        page.fill("#count-1", "6")
        page.get_by_role("button", name="生成并打印").click()
        cards = page.locator("ol.token-cards li")
        assert cards.count() == 6
        expect(cards.first).to_contain_text("P-120101-0009 小区")  # the project's name
        expect(cards.first).to_contain_text("/survey")
        assert cards.first.locator("figure.token-qr svg").count() == 1  # the survey URL's QR
        shot(page, "tokens", width, full=False)
        page.emulate_media(media="print")
        assert not page.locator("header.ws nav").is_visible()  # no navigation on paper
        assert not page.get_by_text("返回调查列表").is_visible()
        assert cards.first.is_visible()
        first_box, second_box = cards.nth(0).bounding_box(), cards.nth(1).bounding_box()
        assert first_box is not None
        assert second_box is not None
        assert first_box["y"] == second_box["y"]  # two cards side by side to cut out
        assert first_box["width"] <= width / 2 + 1
        shot(page, "tokens-print", width, full=False)
        page.emulate_media(media="screen")
        page.goto(BASE + "?lang=en")
        expect(page.locator("body")).to_contain_text("Complaint desk")
        shot(page, "desk-en", width, full=False)
        page.goto(BASE + "?lang=zh")
    ctx.close()

    office = signed_in(browser, site, HEPING, width)
    page = office.new_page()
    page.goto(BASE)
    expect(page.locator("body")).to_contain_text("升级投诉")
    expect(page.locator("body")).to_contain_text("延期待批")
    shot(page, "escalated", width, full=False)
    page.goto(BASE + f"c/{site.ids[-2]}")
    expect(page.locator("body")).to_contain_text("待审批的延期申请")
    shot(page, "district-complaint", width, full=width == 1280)
    page.get_by_role("link", name="批准延期").click()
    shot(page, "approve-confirm", width)
    page.goto(BASE + f"c/{site.ids[-1]}")
    expect(page.locator("body")).to_contain_text("多次转办，提请督办")
    page.get_by_role("link", name="指定办理单位").click()
    expect(page.locator("body")).to_contain_text("不得再转办")
    shot(page, "assign-confirm", width)
    office.close()

    other = signed_in(browser, site, OTHER, width)
    page = other.new_page()
    page.goto(BASE + f"c/{site.ids[0]}")
    expect(page.locator("body")).to_contain_text("此投诉不属于贵单位")
    shot(page, "refused", width)
    other.close()
