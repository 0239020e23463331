"""The public exposure board in a real headless Chromium: load it, filter by district, open a
case; nothing personal and no injected HTML ever shows (or runs)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Playwright, expect

from tests.browser.conftest import CHROMIUM, SCREENSHOTS, _ensure_chromium
from tests.conftest import run_async_in_thread
from tests.exposure_world import HOSTILE_ENTERPRISE, HOSTILE_PROJECT, PERSONAL_NOTE, World, build

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


@pytest.fixture(scope="module")
def world(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("board")
    w = run_async_in_thread(lambda: build(stack, tmp))
    yield w
    w.platform.processes["exposure"].stop()


@pytest.fixture(scope="module")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    _ensure_chromium()
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu", "--no-first-run"]
    )
    yield browser
    browser.close()


@pytest.fixture
def page_context(chromium: Browser, world: World) -> Iterator[BrowserContext]:
    ctx = chromium.new_context(base_url=world.url, locale="zh-CN")
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


def _no_dialogs(dialogs: list[str]) -> Any:
    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    return on_dialog


def test_load_filter_by_district_and_open_a_case(
    page_context: BrowserContext, world: World
) -> None:
    page = page_context.new_page()
    dialogs: list[str] = []
    page.on("dialog", _no_dialogs(dialogs))
    page.goto("/")
    assert page.locator("h1").inner_text() == "物业服务公开曝光"
    rows = page.locator("tr.case")
    assert rows.count() >= 2

    page.select_option("#district", "120104")
    page.click("button[type=submit]")
    page.wait_for_url("**/?district=120104*")
    districts = page.locator("tr.case").evaluate_all("rs => rs.map(r => r.dataset.district)")
    assert districts
    assert set(districts) == {"120104"}

    # The hostile project name is shown as text, and its <script> never ran.
    link = page.get_by_role("link", name=HOSTILE_PROJECT)
    assert link.count() >= 1
    link.first.click()
    page.wait_for_url("**/cases/*")
    assert page.locator("h1").inner_text() == HOSTILE_PROJECT
    assert page.locator("#notice-no").inner_text().startswith("南开区物业通〔2011〕")
    assert "消防设施运行正常" in page.locator("ul.items").inner_text()
    timeline = page.locator("ol.timeline").inner_text()
    assert "通报批评" in timeline
    assert "公开曝光" in timeline
    body = page.locator("body").inner_text()
    assert HOSTILE_ENTERPRISE in body  # as text
    assert PERSONAL_NOTE not in page.content()
    assert "13812345678" not in page.content()
    assert "夜班睡岗" not in page.content()  # not even masked: notes stay with inspections
    assert page.locator("script").count() == 0
    assert page.locator("img").count() == 0
    assert dialogs == []


def test_enterprise_page_grades_and_english(page_context: BrowserContext, world: World) -> None:
    page = page_context.new_page()
    dialogs: list[str] = []
    page.on("dialog", _no_dialogs(dialogs))
    page.goto(f"/enterprises/{world.enterprises['a']}")
    assert page.locator("#enterprise-grade").inner_text() == "红色（问题突出）"
    assert page.locator("#enterprise-list").inner_text() == "黑榜"  # the worst, never 红榜
    page.goto("/grades")
    assert "评级办法" in page.locator("main").inner_text()
    assert page.locator("#formula").inner_text().startswith("红色（列入黑榜）")
    assert page.locator("#list-green").inner_text().startswith("红榜：绿色")
    assert page.locator("#list-red").inner_text().startswith("黑榜：红色")
    assert "津城物业服务有限公司" in page.locator(".grades-red").inner_text()
    page.goto("/stats")
    assert page.locator("svg").count() == 4
    page.goto("/?lang=en")
    assert page.locator("h1").inner_text() == "Publicly exposed property services"
    page.goto("/?district=<script>alert(1)</script>")
    assert "查询条件无效" in page.locator("main").inner_text()
    page.goto("/cases/no-such-case")
    assert "未找到该曝光信息" in page.locator("main").inner_text()
    assert dialogs == []


@pytest.mark.parametrize("width", [1280, 390])
def test_public_pages_fit_a_phone_without_sideways_scrolling(
    chromium: Browser, world: World, width: int
) -> None:
    """Every public page at desk and phone width: the page itself never scrolls sideways (a wide
    table scrolls inside its own box, the charts scale down); no "n/a" in Chinese."""
    ctx = chromium.new_context(
        base_url=world.url, locale="zh-CN", viewport={"width": width, "height": 844}
    )
    ctx.set_default_timeout(15_000)
    page = ctx.new_page()
    page.goto("/")
    expect(page.locator("tr.case").first).to_be_visible()
    case = page.locator("tr.case a").first.get_attribute("href")
    assert case is not None
    paths = {
        "board-list": "/",
        "board-case": case,
        "board-grades": "/grades",
        "board-stats": "/stats",
        "board-enterprise": f"/enterprises/{world.enterprises['a']}",
        "board-enterprise-hostile": f"/enterprises/{world.enterprises['b']}",
        "board-stats-en": "/stats?lang=en",
        "board-grades-en": "/grades?lang=en",
        "board-draws": "/draws",
    }
    for name, path in paths.items():
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        page.wait_for_load_state("load")
        if name in ("board-grades", "board-stats", "board-enterprise", "board-draws"):
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"))
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= width, f"{path} is {scroll} px wide at {width}"
        text = page.locator("body").inner_text()
        if not name.endswith("-en"):
            assert "n/a" not in text.lower(), path
    ctx.close()
