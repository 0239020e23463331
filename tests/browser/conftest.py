"""The complaints service as a real process, driven by a real headless Chromium (Debian's package,
never a downloaded browser). The browser on loopback is a trusted proxy here (TRUSTED_PROXIES) so that
each test can be its own client (a distinct X-Forwarded-For per browser context) with a deliberately
low limit."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from deploy.local.processes import ServiceProcess, free_port
from runtime import db, kafka
from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.unit_of_work import Trace
from schemas.campaigns import v1 as campaigns
from services.complaints.service import survey_handling
from tests.conftest import run_async_in_thread
from tests.factories import complaints_unit, keep_campaign_phase

# Where browser tests save their screenshots: `make screenshots` sets WUYE_SCREENSHOT_DIR to
# docs/workspace to refresh the committed pictures; a plain test run writes them to a temporary
# folder and never changes the working tree.
SCREENSHOTS = Path(
    os.environ.get("WUYE_SCREENSHOT_DIR") or Path(tempfile.gettempdir()) / "wuye-screenshots"
)

CHROMIUM = Path("/usr/bin/chromium")
BUSINESS_TIME = datetime(2011, 8, 20, 10, 0, tzinfo=CHINA)
SEEDED_AS_OF = datetime(2999, 1, 1, tzinfo=CHINA)
RATE_LIMIT_BURST = 6  # more than any one test posts, except the rate-limit test
PROJECTS = (  # id, name, district code and name, enterprise id and name, address
    (
        "P-120101-0001",
        "海河花园",
        "120101",
        "和平区",
        "ent-1",
        "津城物业",
        "天津市和平区南京路 100 号",
    ),
    (
        "P-120102-0002",
        "河东新苑",
        "120102",
        "河东区",
        "ent-2",
        "东方物业",
        "天津市河东区十一经路 8 号",
    ),
)


@dataclass
class Site:
    url: str
    dsn: str
    issuer: DevIssuer
    process: ServiceProcess


def wait_until(page: Page, expression: str, timeout: float = 15.0) -> None:
    """Poll a JavaScript expression until it is truthy. Not `page.wait_for_function`: that
    evaluates its predicate inside the page with eval, which the pages' CSP (no 'unsafe-eval')
    refuses: it failed a fresh-clone run. `page.evaluate` goes through the DevTools protocol."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout:.0f} s: {expression}")
        page.wait_for_timeout(100)


def _has_chinese_font() -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    found = subprocess.run([fc_list, ":lang=zh"], capture_output=True, text=True, check=False)
    return bool(found.stdout.strip())


def _ensure_chromium() -> None:
    """Debian's Chromium, plus a small Chinese font so screenshots are legible (CI runs as root
    on a fresh machine)."""
    missing = [] if CHROMIUM.exists() else ["chromium"]
    if not _has_chinese_font():
        missing.append("fonts-wqy-microhei")
    if not missing:
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        if "chromium" in missing:
            pytest.fail("Chromium is missing: install it with `apt-get install -y chromium`")
        return  # no Chinese font: the pages work, screenshots show boxes
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", *missing], check=True, env=env)


async def _seed(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.executemany(
            "INSERT INTO complaint_projects (project_id, project_name, district_code, "
            "district_name, enterprise_id, enterprise_name, address, occurred_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (project_id) DO UPDATE SET "
            "project_name = excluded.project_name, district_code = excluded.district_code, "
            "district_name = excluded.district_name, enterprise_id = excluded.enterprise_id, "
            "enterprise_name = excluded.enterprise_name, address = excluded.address, "
            "occurred_at = excluded.occurred_at",
            # Written over whatever the site's registry consumer already copied, and stamped far
            # in the future: other tests of the session publish registry events for the same
            # project ids on the shared topic, and the registry copy keeps the newest record, so
            # these seeded facts are never replaced during the session.
            [(*p, SEEDED_AS_OF) for p in PROJECTS],
        )
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def site(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    _ensure_chromium()
    dsn = stack.create_database(f"browser_{uuid.uuid4().hex[:8]}_complaints")
    # on a fresh stack nothing else may have made them yet (the service waits for its topics)
    run_async_in_thread(lambda: kafka.ensure_topics(stack.kafka_bootstrap))
    issuer = DevIssuer.generate()
    process = ServiceProcess(
        name="complaints",
        port=free_port(),
        env={
            "DATABASE_URL": dsn,
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
            "CONSUMER_GROUP_PREFIX": f"browser-{uuid.uuid4().hex[:8]}.",
            "AUTH_JWT_PUBLIC_KEY": issuer.public_key_pem,
            "AUTH_ISSUER": issuer.issuer,
            "AUTH_AUDIENCE": issuer.audience,
            "CLOCK_START": BUSINESS_TIME.isoformat(),
            "CLOCK_SPEED": "1",
            "RATE_LIMIT_BURST": str(RATE_LIMIT_BURST),
            "RATE_LIMIT_PER_MINUTE": "1",
            "TRUSTED_PROXIES": "127.0.0.1",
        },
        log_path=tmp_path_factory.mktemp("browser") / "complaints.log",
    )
    process.start()
    try:
        process.wait_ready()
        run_async_in_thread(lambda: _seed(dsn))
        yield Site(url=process.url, dsn=dsn, issuer=issuer, process=process)
    finally:
        process.stop()


# Module scope, not session: Playwright's sync API keeps an event loop running in this thread
# while it is open, which would break every asyncio test collected after this folder.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    _ensure_chromium()
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ],
    )
    yield browser
    browser.close()


@contextmanager
def workspace_service(
    stack: Any, folder: Path, name: str, now: datetime, **env: str
) -> Iterator[tuple[ServiceProcess, str]]:
    """One service as a real process for its workspace pages: a database of its own, the
    session's Kafka, business time from `now` at real speed; `env` adds or overrides settings.
    Yields the process once it is ready, and its database's DSN (for seeding)."""
    _ensure_chromium()
    run_async_in_thread(lambda: kafka.ensure_topics(stack.kafka_bootstrap))
    dsn = stack.create_database(f"browser_{uuid.uuid4().hex[:8]}_{name}")
    process = ServiceProcess(
        name=name,
        port=free_port(),
        env={
            "DATABASE_URL": dsn,
            "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
            "CONSUMER_GROUP_PREFIX": f"browser-{uuid.uuid4().hex[:8]}.",
            "CLOCK_START": now.isoformat(),
            "CLOCK_SPEED": "1",
            **env,
        },
        log_path=folder / f"{name}.log",
    )
    process.start()
    try:
        process.wait_ready()
        yield process, dsn
    finally:
        process.stop()


def session_context(
    browser: Browser, url: str, cookie: tuple[str, str], width: int
) -> BrowserContext:
    """A person's browser at `width` px, already signed in to the service at `url` with a session
    cookie (name, value) opened in its store (tests/browser/test_sign_in.py and
    test_whole_story.py sign in through Keycloak instead)."""
    ctx = browser.new_context(
        base_url=url, locale="zh-CN", viewport={"width": width, "height": 844}
    )
    ctx.set_default_timeout(15_000)
    ctx.add_cookies([{"name": cookie[0], "value": cookie[1], "url": url}])
    return ctx


def shot(page: Page, name: str, width: int, *, full: bool = True) -> None:
    """A screenshot `<name>-<width>.png` into SCREENSHOTS (docs/workspace.md links them); a long
    page only its first screen (`full=False`, the PNGs stay small). Nothing scrolls sideways."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=full)
    assert page.evaluate("document.documentElement.scrollWidth") <= width


@pytest.fixture
def context(browser: Browser, site: Site) -> Iterator[BrowserContext]:
    """A fresh client: own cookies and, for the rate limiter, its own address."""
    # Only a header value for the limiter's client key (loopback range; no traffic goes there).
    address = f"127.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    ctx = browser.new_context(
        base_url=site.url,
        locale="zh-CN",
        extra_http_headers={"X-Forwarded-For": address},
    )
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


async def _open_survey(dsn: str, households: int) -> list[str]:
    pool = await db.create_pool(dsn, max_size=2)
    try:
        event = campaigns.CampaignPhaseStarted(
            campaign_id="quality-month-2011",
            phase="implementation",
            phase_title_zh="实施阶段",
            starts_on=date(2011, 8, 1),
            ends_on=date(2011, 12, 31),
            title_zh="物业服务质量提升活动",
        )
        await keep_campaign_phase(pool, event)
        opened = await survey_handling.open_survey(
            complaints_unit(pool, BUSINESS_TIME),
            Principal("staff-1", Role.ENTERPRISE, enterprise_id=PROJECTS[0][4]),
            project_id=PROJECTS[0][0],
            households=households,
            closes_at=None,
            issue=None,
            trace=Trace.start(),
        )
        return opened.tokens
    finally:
        await pool.close()


@pytest.fixture(scope="session")
def survey_tokens(site: Site) -> list[str]:
    return run_async_in_thread(lambda: _open_survey(site.dsn, 3))
