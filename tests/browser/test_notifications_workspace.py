"""The notices pages of the staff workspace (notifications service, issue 15) in Debian's headless
Chromium against the service as a real process: an enterprise's inbox (unread first, the unread
count in the navigation), a circulated criticism with its 文号, marking it read, at 1280 and 390 px,
with the screenshots for docs/workspace.md. Signed in by opening a session in the service's own
store (tests/browser/test_sign_in.py covers the real sign-in)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, BrowserContext, expect

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.registry_copy import RegistryCopy
from runtime.scheduler import FixedClock
from schemas.registry import v1 as registry
from services.notifications.adapters.postgres import PgNotificationsUnitOfWork
from services.notifications.domain.notices import Copy, Notice
from tests.browser.conftest import session_context, shot, workspace_service
from tests.conftest import run_async_in_thread
from tests.workspace_support import open_sessions

NOW = datetime(2026, 3, 3, 10, 0, tzinfo=CHINA)
BASE = "/workspace/notifications/"
ENTERPRISE = Principal("ent-clerk", Role.ENTERPRISE, enterprise_id="E-0001", name="张经理")
PROJECTS = (("P-120101-0001", "和平区·海河花园"), ("P-120101-0002", "和平区·五大道睦南道民园西里"))
CRITICISM_BODY = """津城物业服务有限公司:
经查,贵单位服务的物业项目“和平区·海河花园”的整改事项(整改单 RO-0001:3 号楼垃圾桶满溢)已超过整改期限(2026年02月27日 18:00)72 小时仍未整改到位。根据《天津市物业服务质量专项整治行动方案》,现予以通报批评,并将在市物业管理协会网站公开曝光。
请于收到本通报之日起 5 个工作日内完成整改,并将整改情况书面报送和平区物业管理办公室。
和平区物业管理办公室
2026年03月03日"""


def _notices() -> list[Notice]:
    """A week of an enterprise's inbox: notices, reminders and one criticism."""
    made: list[Notice] = []
    kinds = [("notice", "检查不合格整改通知", "inspection", "I"),
             ("reminder", "整改催办", "rectification_order", "RO"),
             ("notice", "投诉转办通知", "complaint", "C")]  # fmt: skip
    for n in range(8):
        kind, title, subject_kind, prefix = kinds[n % 3]
        project_id, project = PROJECTS[n % 2]
        notice_id = f"N-{n:03d}"
        made.append(_notice(notice_id, kind, f"{title}:{project}", project_id, hours=6 + 14 * n,
                            body=f"津城物业服务有限公司:\n贵单位服务的物业项目“{project}”……",
                            subject=(subject_kind, f"{prefix}-{n:03d}")))  # fmt: skip
    made.append(
        _notice(
            "N-crit", "criticism", "通报批评:和平区·海河花园逾期未整改", "P-120101-0001",
            hours=1, body=CRITICISM_BODY, notice_no="和平区物业通〔2026〕3号",
            subject=("rectification_order", "RO-0001"),
        )
    )  # fmt: skip
    return made


def _notice(
    notice_id: str, kind: str, title: str, project_id: str, *, hours: int, body: str,
    notice_no: str | None = None, subject: tuple[str, str] = ("inspection", "I-1"),
) -> Notice:  # fmt: skip
    return Notice(
        notice_id=notice_id, rule_id="seed", kind=kind, reason="seed", notice_no=notice_no,
        subject_kind=subject[0], subject_id=subject[1], project_id=project_id,
        enterprise_id="E-0001", district_code="120101", title_zh=title, body_zh=body,
        title_en=f"Notice {notice_id}", body_en=f"Body of {notice_id}",
        cause_event_id=f"ev-{notice_id}", cause_type="seed", correlation_id=f"c-{notice_id}",
        issued_at=NOW - timedelta(hours=hours),
        copies=(Copy(f"{notice_id}-e", notice_id, "enterprise", "E-0001", False),
                Copy(f"{notice_id}-d", notice_id, "district", "120101", True)),
    )  # fmt: skip


@dataclass
class Site:
    url: str
    cookie: str


async def _seed(dsn: str) -> str:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    clock = FixedClock(NOW)
    try:
        cookies = await open_sessions(pool, clock, "notifications", (ENTERPRISE,))
        cookie = cookies[ENTERPRISE.subject]
        async with PgNotificationsUnitOfWork(pool, clock=clock) as uow:
            await RegistryCopy("projects").apply(uow.connection, [registry.ProjectRegistered(
                project_id=pid, project_name=name, address="天津市和平区", district_code="120101",
                district_name="和平区", enterprise_id="E-0001",
                enterprise_name="津城物业服务有限公司", service_grade="一级", occurred_at=NOW,
            ) for pid, name in PROJECTS])  # fmt: skip
            await uow.notices.add(_notices())
            await uow.commit()
        async with pool.acquire() as conn:  # the older half already read
            await conn.execute(
                "UPDATE notice_copies SET read_at = $1 WHERE notice_id = ANY($2::text[])",
                NOW - timedelta(hours=2), [f"N-{n:03d}" for n in range(3, 8)],
            )  # fmt: skip
        return cookie
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def site(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("notifications")
    links = "inspections=http://127.0.0.1:8002/workspace/inspections/"
    with workspace_service(stack, folder, "notifications", NOW, WORKSPACE_LINKS=links) as (
        process,
        dsn,
    ):
        yield Site(url=process.url, cookie=run_async_in_thread(lambda: _seed(dsn)))


def signed_in(browser: Browser, site: Site, width: int) -> BrowserContext:
    return session_context(browser, site.url, ("wuye_notifications_session", site.cookie), width)


@pytest.mark.parametrize("width", [1280, 390])
def test_the_inbox_and_a_criticism_at_desk_and_phone_width(
    browser: Browser, site: Site, width: int
) -> None:
    ctx = signed_in(browser, site, width)
    page = ctx.new_page()
    page.goto(BASE)
    first = page.locator("table.queue tbody tr").first.inner_text()
    # the count, not a fixed number: the service also reads the shared topics, where other tests
    # of the session publish events that may reach this office's inbox
    counted = re.search(r"通知（(\d+) 条未读）", page.locator("nav").inner_text())
    assert counted is not None
    unread = int(counted.group(1))
    if width == 1280:  # the first run: the criticism is among the unread, first of the seeded
        assert "未读" in first
        assert unread >= 4  # the four seeded for this office
    shot(page, "notices", width, full=False)
    page.get_by_role("link", name="通报批评:和平区·海河花园逾期未整改", exact=True).click()
    expect(page.locator("body")).to_contain_text("和平区物业通〔2026〕3号")
    expect(page.locator("body")).to_contain_text("和平区物业管理办公室")
    link = page.locator("main").get_by_role("link", name="办理整改单")
    assert link.get_attribute("href") == (
        "http://127.0.0.1:8002/workspace/inspections/orders/RO-0001"
    )
    if width == 1280:
        shot(page, "notice", width)
        page.get_by_role("button", name="标记已读").click()
        expect(page.locator("body")).to_contain_text("已标记为已读")
        expect(page.locator("nav")).to_contain_text(f"通知（{unread - 1} 条未读）")
    else:
        shot(page, "notice", width)
    ctx.close()
