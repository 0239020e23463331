"""Signing off a circulated criticism (issue 16) in Debian's headless Chromium against the
notifications service as a real process: the district office's drafts list, the sign-off page that
says what happens, signing off (the notice with its number and its PDF), at 1280 and 390 px, with
the screenshots for docs/workspace.md. Drafts are made by the service's own ladder code on its
database; signed in by opening a session in the service's store."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from deploy.local.processes import ServiceProcess, free_port
from runtime import kafka
from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.registry_copy import RegistryCopy
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered
from schemas import cloudevents
from schemas.registry import v1 as registry
from services.notifications.adapters import rule_file
from services.notifications.adapters.postgres import PgNotificationsUnitOfWork
from services.notifications.service import issuing
from tests import factories
from tests.browser.conftest import CHROMIUM, _ensure_chromium
from tests.conftest import run_async_in_thread
from tests.workspace_support import open_sessions

SHOTS = Path(
    os.environ.get("WUYE_SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "wuye-screenshots"
)
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=CHINA)
BASE = "/workspace/notifications/"
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
RULES = Path(__file__).resolve().parents[2] / "services" / "notifications" / "data" / "rules.toml"
PROJECTS = (
    ("P-120101-0001", "和平区·海河花园"),
    ("P-120101-0002", "和平区·五大道睦南道民园西里"),
)


@dataclass
class Site:
    url: str
    cookie: str


async def _seed(dsn: str) -> str:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    clock = FixedClock(NOW)
    try:
        cookies = await open_sessions(pool, clock, "notifications", (HEPING,))
        cookie = cookies[HEPING.subject]
        async with PgNotificationsUnitOfWork(pool, clock=clock) as uow:
            await RegistryCopy("projects").apply(uow.connection, [registry.ProjectRegistered(
                project_id=pid, project_name=name, address="天津市和平区", district_code="120101",
                district_name="和平区", enterprise_id="E-0001",
                enterprise_name="津城物业服务有限公司", service_grade="一级", occurred_at=NOW,
            ) for pid, name in PROJECTS])  # fmt: skip
            events = [
                factories.rectification_rejected(pid, f"RO-browser-{n}")
                for n, (pid, _) in enumerate(PROJECTS * 2)
            ]
            await issuing.notices_for(rule_file.load(RULES))(
                uow, [Delivered(e, cloudevents.from_event(e, source="/test")) for e in events]
            )
            await uow.commit()
        return cookie
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def site(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _ensure_chromium()
    run_async_in_thread(lambda: kafka.ensure_topics(stack.kafka_bootstrap))
    dsn = stack.create_database(f"browser_{uuid.uuid4().hex[:8]}_notifications")
    folder = tmp_path_factory.mktemp("criticisms")
    process = ServiceProcess(
        name="notifications",
        port=free_port(),
        env={
            "DATABASE_URL": dsn,
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
            "CONSUMER_GROUP_PREFIX": f"browser-{uuid.uuid4().hex[:8]}.",
            "CLOCK_START": NOW.isoformat(),
            "CLOCK_SPEED": "1",
        },
        log_path=folder / "notifications.log",
    )
    process.start()
    try:
        process.wait_ready()
        yield Site(url=process.url, cookie=run_async_in_thread(lambda: _seed(dsn)))
    finally:
        process.stop()


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(site: Site, playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
    )
    yield browser
    browser.close()


def signed_in(browser: Browser, site: Site, width: int) -> BrowserContext:
    ctx = browser.new_context(
        base_url=site.url, locale="zh-CN", viewport={"width": width, "height": 844}
    )
    ctx.set_default_timeout(15_000)
    ctx.add_cookies([{"name": "wuye_notifications_session", "value": site.cookie, "url": site.url}])
    return ctx


def shot(page: Page, name: str, width: int) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=False)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.mark.parametrize("width", [1280, 390])
def test_the_district_office_signs_off_a_draft_at_desk_and_phone_width(
    browser: Browser, site: Site, width: int
) -> None:
    ctx = signed_in(browser, site, width)
    page = ctx.new_page()
    page.goto(BASE + "drafts")
    expect(page.locator("body")).to_contain_text("通报批评待签发")
    expect(page.locator("nav")).to_contain_text("通报批评签发")
    shot(page, "criticism-drafts", width)
    # the one waiting longest first; its sign-off page says what happens
    page.locator("table.queue tbody tr").first.locator("a[href$='/sign-off']").click()
    expect(page.locator("body")).to_contain_text("签发后")
    expect(page.locator("body")).to_contain_text("文号不重复、不空缺")
    shot(page, "criticism-sign-off", width)
    page.get_by_role("button", name="签发并编号").click()
    expect(page.locator("body")).to_contain_text("已签发，文号 和平区物业通〔2026〕")
    pdf_link = page.get_by_role("link", name="下载公文（PDF）")
    href = pdf_link.get_attribute("href")
    assert href is not None
    cookie = {"wuye_notifications_session": site.cookie}
    pdf = httpx.get(site.url + href, cookies=cookie, timeout=30)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    if width == 1280:
        shot(page, "criticism-signed", width)
    ctx.close()
