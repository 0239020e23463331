"""The whole story (issue 15, "Tested as a person would"), end to end through the real sign-in.

The inspections and exposure services run as real processes on the session's Kafka and PostgreSQL,
configured against the session's Keycloak as the demo runs them (tests/e2e/conftest.py
`start_platform(keycloak=...)`); the registry is the inspections service's default one, whose
和平区 project 海河花园 (P-120101-0001) is run by E-0001, the realm's `e0001-desk` enterprise.
Every person signs in on Keycloak's own login page in Debian's headless Chromium, each in a browser
context of their own:

1. the city officer (desk) opens the campaign overview and reads 和平区's counts;
2. the 和平区 inspector (`hp-inspector`, a 390-px phone) patrols 海河花园, fails two items with
   notes, one with a camera photo, and files it: two rectification orders, and the inspection fails
   (one of the items is urgent); one sign-in serves the
   exposure service's pages too (single sign-on, no password asked again);
3. the enterprise (`e0001-desk`, desk) sees the orders and submits evidence with a photo;
4. the inspector looks at the evidence photo on the verify page and verifies;
5. the city officer sees 和平区's counts move (inspections, failures, rectified on time), carried
   by the events over the real Kafka.

Screenshots of each step at the width the person uses: `story-*.png` (docs/workspace.md).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from deploy.local.stack import Keycloak
from tests.browser.conftest import shot
from tests.browser.test_inspections_workspace import answer_group, photo
from tests.e2e.conftest import Platform, start_platform, stop_platform

PASSWORD = "demo-pass-2026"  # the demo realm's (deploy/local/keycloak/realm-wuye.json)
INSPECTIONS = "/workspace/inspections/"
EXPOSURE = "/workspace/exposure/"
PHONE, DESK = 390, 1280
EVENTS_TIMEOUT_S = 120  # events travel over the real Kafka on a loaded 2-core machine


@dataclass(frozen=True)
class Counts:
    """和平区's row of the city office's campaign table."""

    inspections: int
    failed: int
    orders_due: int
    orders_on_time: int


@pytest.fixture(scope="module")
def platform(
    stack: Any, keycloak: Keycloak, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    p = start_platform(
        stack,
        tmp_path_factory.mktemp("story"),
        services=("inspections", "exposure"),
        extra_env={"CLOCK_START": "2026-03-03T09:00:00+08:00"},  # a Tuesday of 2026
        keycloak=keycloak,
    )
    yield p
    stop_platform(p)


def person(browser: Browser, width: int) -> BrowserContext:
    """A person's own browser: own cookies, the width of the device they use."""
    ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 844})
    ctx.set_default_timeout(30_000)  # Keycloak answers slowly on a loaded machine
    return ctx


def sign_in(page: Page, keycloak: Keycloak, url: str, user: str, *, screenshot: str = "") -> None:
    """Open a workspace page, be sent to Keycloak's own login page, sign in, come back."""
    page.goto(url)
    page.wait_for_url(f"{keycloak.issuer}/**")  # Keycloak's page, not the service's
    expect(page.locator("#kc-login")).to_be_visible()
    expect(page.locator("body")).to_contain_text("登录")  # the realm's zh-CN theme
    if screenshot:
        width = page.viewport_size["width"] if page.viewport_size else DESK
        shot(page, screenshot, width)
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#kc-login")
    page.wait_for_url(f"{url.split('/workspace/')[0]}/**")


def heping(page: Page) -> Counts:
    row = page.locator("table.queue tbody tr").filter(has_text="和平区")
    expect(row).to_have_count(1)
    # cells by their label (the table's columns may grow), parentheses full-width in Chinese
    cell = row.locator('td[data-label="检查"]').inner_text().strip()
    done = re.fullmatch(r"(\d+)(?:\s*[（(]不合格\s*(\d+)[）)])?", cell)
    assert done, row.inner_text()
    rectified = re.search(
        r"[（(](\d+)/(\d+)[）)]", row.locator('td[data-label="按期整改率"]').inner_text()
    )
    return Counts(
        inspections=int(done.group(1)),
        failed=int(done.group(2) or 0),
        orders_due=int(rectified.group(2)) if rectified else 0,
        orders_on_time=int(rectified.group(1)) if rectified else 0,
    )


def settled(page: Page) -> Counts:
    """和平区's counts once the exposure service has caught up with the events already on the
    topics (a session's other tests may have left some): the same on two readings 3 s apart."""
    deadline = time.monotonic() + EVENTS_TIMEOUT_S
    seen = heping(page)
    while True:
        time.sleep(3)
        page.reload()
        again = heping(page)
        if again == seen:
            return seen
        assert time.monotonic() < deadline, f"和平区's counts keep changing: {seen}, {again}"
        seen = again


def wait_for_counts(page: Page, want: Counts) -> None:
    """The page is rendered on request: reload until the events have arrived."""
    deadline = time.monotonic() + EVENTS_TIMEOUT_S
    while (seen := heping(page)) != want:
        assert time.monotonic() < deadline, f"和平区 shows {seen}, expected {want}"
        time.sleep(1)
        page.reload()
        expect(page.locator("body")).to_contain_text("和平区")


def test_the_whole_story(browser: Browser, platform: Platform, keycloak: Keycloak) -> None:
    insp, expo = platform.url("inspections"), platform.url("exposure")

    # 1. The city office (desk) reads where 和平区 stands before the patrol.
    city = person(browser, DESK).new_page()
    sign_in(city, keycloak, expo + EXPOSURE + "campaign", "city-officer")
    city.wait_for_url(expo + EXPOSURE + "campaign")
    # the registry reaches the exposure service as events: 和平区 appears once they arrive
    expect(city.locator("table.queue")).to_contain_text("和平区", timeout=EVENTS_TIMEOUT_S * 1000)
    before = settled(city)
    shot(city, "story-01-city-before", DESK)

    # 2. The 和平区 inspector patrols 海河花园 on a phone.
    inspector_ctx = person(browser, PHONE)
    inspector = inspector_ctx.new_page()
    sign_in(inspector, keycloak, insp + INSPECTIONS + "patrol", "hp-inspector",
            screenshot="story-02-sign-in")  # fmt: skip
    inspector.wait_for_url(insp + INSPECTIONS + "patrol")
    expect(inspector.locator("header")).to_contain_text("和平区 王检查")
    inspector.fill("#q", "海河")
    inspector.get_by_role("button", name="查找").click()
    expect(inspector.locator("body")).to_contain_text("和平区·海河花园")
    shot(inspector, "story-03-patrol-find", PHONE)
    inspector.get_by_role("link", name="和平区·海河花园").click()
    inspector.get_by_role("link", name="继续").click()
    answer_group(inspector, {})
    expect(inspector.locator("body")).to_contain_text("第 2 / 5 组")
    # two items fail: the bins (with a photo from the camera) and the fire hydrant (urgent: the
    # whole inspection fails)
    answer_group(
        inspector, {"waste.daily": "3 号楼北侧垃圾桶满溢,未日产日清"}, "story-04-patrol-fail-photo",
        photos={"waste.daily": [photo("bins.jpg", "teal")]},
    )  # fmt: skip
    expect(inspector.locator("body")).to_contain_text("照片已随草稿保存")
    assert inspector.locator("ul.thumbs img").count() == 1
    inspector.get_by_role("link", name="继续下一步").click()
    expect(inspector.locator("body")).to_contain_text("第 3 / 5 组")
    answer_group(inspector, {})
    answer_group(inspector, {})
    expect(inspector.locator("body")).to_contain_text("第 5 / 5 组")
    answer_group(inspector, {"facilities.fire": "2 号楼消防栓水压不足"})
    inspector.wait_for_url("**/check")
    inspector.get_by_role("button", name="提交巡查").click()
    expect(inspector.locator("body")).to_contain_text("巡查已提交")
    expect(inspector.locator("body")).to_contain_text("生成的整改单（2）")
    shot(inspector, "story-05-patrol-filed", PHONE)

    # Single sign-on: the exposure service's pages, through Keycloak, with no password asked.
    passed: list[str] = []
    landed: list[str] = []
    inspector.on("request", lambda r: passed.append(r.url))
    inspector.on("framenavigated", lambda frame: landed.append(frame.url))
    # on a phone the navigation is behind the 菜单 line: open it, as the inspector would
    inspector.locator("header.ws .ws-menu summary").click()
    inspector.locator("header.ws .ws-menu").get_by_role("link", name="曝光案件待审").click()
    inspector.wait_for_url(expo + EXPOSURE)
    expect(inspector.locator("header")).to_contain_text("和平区 王检查")
    assert any(u.startswith(expo + "/auth/login") for u in passed)  # a sign-in of its own …
    assert any(u.startswith(f"{keycloak.issuer}/protocol/openid-connect/auth") for u in passed)
    assert not [u for u in landed if u.startswith(keycloak.issuer)]  # … with no login page shown
    shot(inspector, "story-06-sso-exposure", PHONE)

    # 3. The enterprise (desk) sees its two orders and submits evidence with a photo.
    clerk = person(browser, DESK).new_page()
    sign_in(clerk, keycloak, insp + INSPECTIONS, "e0001-desk")
    clerk.wait_for_url("**/orders")
    orders = clerk.locator("table.queue tbody tr").filter(has_text="和平区·海河花园")
    expect(orders).to_have_count(2)
    shot(clerk, "story-07-enterprise-orders", DESK)
    orders.get_by_role("link", name=re.compile("生活垃圾日产日清")).click()
    clerk.fill("#evidence_text", "已清运满溢垃圾,北侧增设垃圾桶 2 个")
    clerk.locator("#photos").set_input_files([photo("fixed.jpg", "green")])
    shot(clerk, "story-08-evidence-form", DESK)
    clerk.get_by_role("button", name="提交整改").click()
    expect(clerk.locator("body")).to_contain_text("整改已提交")
    order_url = clerk.url.split("?")[0]
    clerk.context.close()

    # 4. The inspector finds it in today's work, reads the evidence, looks at its photo, verifies.
    inspector.goto(insp + INSPECTIONS)
    inspector.get_by_role("link", name=re.compile("验收整改")).click()
    inspector.wait_for_url(order_url)
    expect(inspector.locator("body")).to_contain_text("北侧增设垃圾桶 2 个")
    shot(inspector, "story-09-order-evidence", PHONE)
    inspector.get_by_role("link", name="验收合格").click()
    expect(inspector.locator("body")).to_contain_text("将关闭此整改单并通知企业")
    evidence = inspector.get_by_alt_text("企业整改照片 1")
    expect(evidence).to_be_visible()
    assert evidence.evaluate("img => img.complete && img.naturalWidth > 0")
    shot(inspector, "story-10-verify-evidence", PHONE)
    inspector.get_by_role("button", name="确认验收合格").click()
    expect(inspector.locator("body")).to_contain_text("已验收合格")
    inspector_ctx.close()

    # 5. The city office sees 和平区's counts move: one more inspection, failed; one order due
    # (verified), rectified on time (the other is still within its deadline: not yet due).
    wait_for_counts(city, Counts(
        inspections=before.inspections + 1, failed=before.failed + 1,
        orders_due=before.orders_due + 1, orders_on_time=before.orders_on_time + 1,
    ))  # fmt: skip
    shot(city, "story-11-city-after", DESK)
    city.context.close()
