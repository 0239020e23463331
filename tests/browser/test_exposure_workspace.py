"""The exposure service's workspace pages (issue 15) in Debian's headless Chromium against the
service as a real process: a district office reviews its cases (publish confirmed on its own
page), an enterprise objects, the office decides, the city office reads the campaign overview;
screenshots of every page at 1280 and 390 px for docs/workspace.md.

Signed in by opening a session in the service's own store (tests/browser/test_sign_in.py covers
the real sign-in). Demo data delivered through the live consumers' handlers
(`tests/exposure_workspace_seed.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from tests import exposure_workspace_seed as seed
from tests.browser.conftest import session_context, shot, workspace_service
from tests.conftest import run_async_in_thread
from tests.workspace_support import open_sessions

T0 = datetime(2026, 3, 1, 10, 0, tzinfo=CHINA)
NOW = T0 + timedelta(days=2)
BASE = "/workspace/exposure/"
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
HEXI = Principal("hexi-officer", Role.DISTRICT_OFFICE, district_code="120103", name="李科长")
ENTERPRISE = Principal("ent-clerk", Role.ENTERPRISE, enterprise_id="E-0009", name="张经理")
CITY = Principal("city-officer", Role.CITY_OFFICE, name="赵处长")


@dataclass
class Site:
    url: str
    cookies: dict[str, str]
    cases: list[str]  # 和平区: two of E-0009's long-named project, one of E-0001's


async def _seed(dsn: str) -> tuple[dict[str, str], list[str]]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        cookies = await open_sessions(
            pool, FixedClock(NOW), "exposure", (HEPING, HEXI, ENTERPRISE, CITY)
        )
        await seed.projects(pool, T0)
        cases = [
            await seed.case_in_review(pool, 1, T0),
            await seed.case_in_review(pool, 1, T0 + timedelta(hours=5)),
            await seed.case_in_review(pool, 0, T0 + timedelta(hours=9)),
        ]
        await seed.case_in_review(pool, 2, T0)
        await seed.overdue_order(pool, 0, T0)
        await seed.overdue_order(pool, 2, T0)
        for project, passed in ((0, True), (0, False), (1, False), (1, True), (2, False)):
            await seed.inspection(pool, project, passed, T0)
        return cookies, cases
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def site(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("exposure")
    with workspace_service(stack, folder, "exposure", NOW) as (process, dsn):
        cookies, cases = run_async_in_thread(lambda: _seed(dsn))
        yield Site(url=process.url, cookies=cookies, cases=cases)


def signed_in(browser: Browser, site: Site, who: Principal, width: int) -> BrowserContext:
    cookie = ("wuye_exposure_session", site.cookies[who.subject])
    return session_context(browser, site.url, cookie, width)


@pytest.mark.parametrize("width", [1280, 390])
def test_exposure_pages_at_desk_and_phone_width(browser: Browser, site: Site, width: int) -> None:
    mine, to_publish, other = site.cases
    ctx = signed_in(browser, site, HEPING, width)
    page = ctx.new_page()
    page.goto(BASE)
    expect(page.locator("body")).to_contain_text("曝光案件")
    expect(page.locator("body")).to_contain_text("复核期至")
    shot(page, "exposure-cases", width, full=width == 1280)
    shown = mine if width == 1280 else other  # at 390 `mine` has the objection filed at 1280
    page.goto(BASE + f"cases/{shown}")
    expect(page.locator("body")).to_contain_text("津物业通〔2026〕7号")
    shot(page, "exposure-case", width)
    page.get_by_role("link", name="确认公开").click()
    expect(page.locator("body")).to_contain_text("将在协会网站公开曝光")
    shot(page, "exposure-publish-confirm", width)
    if width == 1280:  # publish one for real (the phone run sees it published)
        page.goto(BASE + f"cases/{to_publish}/publish")
        page.get_by_role("button", name="确认公开曝光").click()
        expect(page.locator("body")).to_contain_text("已公开曝光")
    page.goto(BASE + f"cases/{other}/withdraw")
    shot(page, "exposure-withdraw-confirm", width)
    ctx.close()

    hexi = signed_in(browser, site, HEXI, width)
    page = hexi.new_page()
    page.goto(BASE + f"cases/{mine}")
    expect(page.locator("body")).to_contain_text("此案件属于和平区，您所在的河西区无权查看或处理")
    shot(page, "exposure-refused", width)
    hexi.close()

    clerk = signed_in(browser, site, ENTERPRISE, width)
    page = clerk.new_page()
    page.goto(BASE)
    expect(page.locator("body")).to_contain_text("本企业的案件")
    shot(page, "exposure-enterprise", width, full=False)
    if width == 1280:
        page.goto(BASE + f"cases/{mine}/object")
        page.fill("#text", "已于 3 月 2 日完成整改,附验收记录")
        page.get_by_role("button", name="提出异议").click()
        expect(page.locator("body")).to_contain_text("异议已提交")
    clerk.close()

    office = signed_in(browser, site, HEPING, width)
    page = office.new_page()
    page.goto(BASE + f"cases/{mine}")
    page.get_by_role("link", name="异议不成立").click()
    page.get_by_role("button", name="确认异议不成立").click()  # no reason
    assert page.locator(".error-summary").is_visible()
    shot(page, "exposure-objection", width)
    office.close()

    city = signed_in(browser, site, CITY, width)
    page = city.new_page()
    page.goto(BASE + "campaign")
    expect(page.locator("body")).to_contain_text("和平区")
    expect(page.locator("body")).to_contain_text("河西区")
    assert page.locator("figure.chart svg").is_visible()
    shot(page, "exposure-campaign", width)
    page.goto(BASE + "campaign/120101/overdue")
    expect(page.locator("body")).to_contain_text("逾期")
    shot(page, "exposure-overdue", width)
    city.close()
