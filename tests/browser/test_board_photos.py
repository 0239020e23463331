"""Photos of an exposure case in Debian's headless Chromium (issue 15), both services as real
processes on the real Kafka and PostgreSQL: the district office reviews the case on the exposure
service's page with the inspection's photos as thumbnails (served by the inspections service, where
the same person is signed in: each service its own session, as after single sign-on), publishes
it, and the public board's case page shows the photo from the inspections service's public route.
Screenshots at 1280 and 390 px for docs/workspace.md.

The patrol is filed through the inspections workspace over HTTP; the overdue order and its
criticism notice are published to Kafka as the inspections and notifications services would."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from deploy.local.processes import ServiceProcess, free_port
from runtime import kafka
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from schemas.inspections import v1 as inspections
from tests.browser.conftest import _ensure_chromium, shot, wait_until
from tests.conftest import run_async_in_thread
from tests.e2e.test_board_photos import file_patrol, outbox_event
from tests.exposure_world import _criticism, publish
from tests.integration.test_inspections_workspace import HEPING, PROJECT
from tests.workspace_support import fetch_rows, sign_in

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=CHINA)


@dataclass
class Site:
    inspections: str
    exposure: str
    cookies: dict[str, str]  # service -> the district officer's session there
    case_id: str
    photo: str


class _Client:
    """What `file_patrol` needs of the in-process fixture: a signed-in client."""

    def __init__(self, client: httpx.AsyncClient, cookie: str) -> None:
        self.client, self.cookie = client, cookie

    def as_(self, who: Any) -> httpx.AsyncClient:
        self.client.cookies.clear()
        self.client.cookies.set("wuye_inspections_session", self.cookie)
        return self.client


async def _session(dsn: str, service: str) -> str:
    return (await sign_in(dsn, FixedClock(NOW), service, (HEPING,)))[HEPING.subject]


async def _seed(bootstrap: str, dsns: dict[str, str], urls: dict[str, str]) -> Site:
    cookies = {s: await _session(dsns[s], s) for s in dsns}
    async with httpx.AsyncClient(base_url=urls["inspections"], timeout=30) as client:
        filer = _Client(client, cookies["inspections"])
        inspection_id = await file_patrol(filer)

    failed = await outbox_event(
        dsns["inspections"], "InspectionFailed", inspection_id=inspection_id
    )
    photo = next(i for i in failed["failed_items"] if i["item_id"] == "waste.daily")
    ordered = await outbox_event(dsns["inspections"], "RectificationOrdered", item="waste.daily")
    overdue = inspections.RectificationOverdue.model_validate(
        {**ordered, "status": "ordered", "detected_at": NOW - timedelta(days=2)}
    )
    notice = _criticism(ordered["order_id"], PROJECT, ordered["enterprise_id"], "120101")
    notice = notice.model_copy(
        update={"issued_at": NOW - timedelta(days=1), "notice_no": "和平区物业通〔2026〕12号"}
    )
    deadline = asyncio.get_running_loop().time() + 90
    while True:  # the references relayed through Kafka, then the case in review
        kept = await fetch_rows(
            dsns["exposure"],
            "SELECT 1 FROM evidence_photos WHERE inspection_id = $1",
            inspection_id,
        )
        if kept:
            break
        assert asyncio.get_running_loop().time() < deadline, "references not kept in time"
        await asyncio.sleep(0.3)
    await publish(bootstrap, [overdue, notice])
    while True:
        found = await fetch_rows(
            dsns["exposure"],
            "SELECT case_id FROM cases WHERE order_id = $1 AND status = 'in_review'",
            ordered["order_id"],
        )
        if found:
            break
        assert asyncio.get_running_loop().time() < deadline, "no case in review in time"
        await asyncio.sleep(0.3)
    return Site(
        urls["inspections"], urls["exposure"], cookies, found[0]["case_id"],
        photo["attachments"][0]["attachment_id"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _ensure_chromium()
    run_async_in_thread(lambda: kafka.ensure_topics(stack.kafka_bootstrap))
    run = uuid.uuid4().hex[:8]
    folder = tmp_path_factory.mktemp("board-photos")
    ports = {"inspections": free_port(), "exposure": free_port()}
    urls = {s: f"http://127.0.0.1:{p}" for s, p in ports.items()}
    dsns = {s: stack.create_database(f"browser_{run}_{s}") for s in ports}
    extra = {
        "exposure": {
            "WORKSPACE_LINKS": f"inspections={urls['inspections']}/workspace/inspections/",
            "PUBLIC_PHOTOS_URL": f"{urls['inspections']}/public/photos/",
            "PUBLICATION_INTERVAL_S": "0.3",
        },
        "inspections": {"WORKSPACE_LINKS": f"exposure={urls['exposure']}/workspace/exposure/"},
    }
    processes = {
        s: ServiceProcess(
            name=s,
            port=ports[s],
            env={
                "DATABASE_URL": dsns[s],
                "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
                "CONSUMER_GROUP_PREFIX": f"browser-{run}.",
                "CLOCK_START": NOW.isoformat(),
                "CLOCK_SPEED": "1",
                "OUTBOX_POLL_INTERVAL_S": "0.3",
                **extra[s],
            },
            log_path=folder / f"{s}.log",
        )
        for s in ports
    }
    try:
        for p in processes.values():
            p.start()
        for p in processes.values():
            p.wait_ready()
        yield run_async_in_thread(lambda: _seed(stack.kafka_bootstrap, dsns, urls))
    finally:
        for p in processes.values():
            p.stop()


def office(browser: Browser, site: Site, width: int) -> BrowserContext:
    """The district officer, signed in to both services (each its own session cookie)."""
    ctx = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 844})
    ctx.set_default_timeout(20_000)
    ctx.add_cookies(
        [
            {"name": f"wuye_{s}_session", "value": site.cookies[s], "url": url}
            for s, url in (("inspections", site.inspections), ("exposure", site.exposure))
        ]
    )
    return ctx


def loaded_images(page: Page, selector: str) -> int:
    """How many of the images matching `selector` were fetched and decoded."""
    wait_until(page, f"[...document.querySelectorAll('{selector}')].every(i => i.complete)")
    count: int = page.evaluate(
        f"[...document.querySelectorAll('{selector}')].filter(i => i.naturalWidth > 0).length"
    )
    return count


@pytest.mark.parametrize("width", [1280, 390])
def test_the_review_page_shows_the_photos_and_the_board_the_published_one(
    browser: Browser, site: Site, width: int
) -> None:
    ctx = office(browser, site, width)
    page = ctx.new_page()
    page.goto(f"{site.exposure}/workspace/exposure/cases/{site.case_id}")
    expect(page.locator("body")).to_contain_text("证据")
    assert loaded_images(page, "ul.thumbs img") == 2  # from the inspections service's route
    page.locator("ul.thumbs").first.scroll_into_view_if_needed()
    shot(page, "exposure-case-photos", width, full=False)
    if width == 1280:  # publish it on the page (the phone run sees it published)
        page.goto(f"{site.exposure}/workspace/exposure/cases/{site.case_id}/publish")
        page.get_by_role("button", name="确认公开曝光").click()
        expect(page.locator("body")).to_contain_text("已公开曝光")
    ctx.close()

    public = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 844})
    public.set_default_timeout(20_000)
    page = public.new_page()
    deadline = 60
    for _ in range(deadline * 2):  # the inspections service learns it from Kafka
        page.goto(f"{site.exposure}/cases/{site.case_id}")
        expect(page.locator("body")).to_contain_text("现场照片")
        if loaded_images(page, "ul.photos img") == 2:
            break
        page.wait_for_timeout(500)
    else:
        raise AssertionError("the board's photo did not load")
    src = page.locator("ul.photos img").first.get_attribute("src") or ""
    assert src == f"{site.inspections}/public/photos/{site.photo}/thumbnail"
    page.locator("ul.photos").scroll_into_view_if_needed()
    shot(page, "board-case-photos", width, full=False)
    public.close()
