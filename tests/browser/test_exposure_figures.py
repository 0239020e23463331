"""The campaign's own figures (issue 16) in Debian's headless Chromium against the exposure
service as a real process: the city office's full table by district and a district's table by
enterprise, the board's public cards; screenshots at 1280 and 390 px (docs/workspace.md), and the
board fits a phone without scrolling sideways (`shot` checks it).

Demo data delivered through the live consumers' own handlers (`tests/exposure_workspace_seed.py`)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from playwright.sync_api import Browser, expect

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.surveys import v1 as surveys
from tests import exposure_workspace_seed as seed
from tests import factories
from tests.browser.conftest import session_context, shot, workspace_service
from tests.conftest import run_async_in_thread
from tests.workspace_support import open_sessions

START = date(2026, 5, 1)
NOW = datetime(2026, 5, 20, 10, 0, tzinfo=CHINA)
CITY = Principal("city-officer", Role.CITY_OFFICE, name="赵处长")
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
# A campaign of its own, asked for by id: the service reads the shared topics from the start, where
# other tests announce campaigns (and projects) of their own.
CAMPAIGN = f"figures-{uuid.uuid4().hex[:8]}"
GROUPS = ("waste", "premises", "facilities", "greenery", "order")


@dataclass
class Site:
    url: str
    cookies: dict[str, str]


def _place(project: int) -> dict[str, Any]:
    pid, name, code, _, eid, ename = seed.PROJECTS[project]
    return {"project_id": pid, "project_name": name, "district_code": code,
            "enterprise_id": eid, "enterprise_name": ename}  # fmt: skip


async def _seed(dsn: str) -> dict[str, str]:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    at = NOW - timedelta(days=5)
    try:
        cookies = await open_sessions(pool, FixedClock(NOW), "exposure", (CITY, HEPING))
        await seed.projects(pool, at)
        for phase, first, days in (("mobilisation", 0, 5), ("planning", 5, 5),
                                   ("implementation", 10, 21)):  # fmt: skip
            await seed.deliver(
                pool,
                campaigns.CampaignPhaseStarted(
                    campaign_id=CAMPAIGN, phase=phase, phase_title_zh="阶段",  # type: ignore[arg-type]
                    starts_on=START + timedelta(days=first),
                    ends_on=START + timedelta(days=first + days - 1),
                    title_zh="2026年物业服务质量月",
                ),
                at,
            )  # fmt: skip
        for n, (project, kind, failed) in enumerate(
            [(0, "self", ()), (0, "patrol", ("waste",)), (1, "patrol", ("premises", "waste")),
             (1, "self", ("order",)), (2, "patrol", ()), (2, "self", ("greenery",))]
        ):  # fmt: skip
            iid = f"I-fig-{n}-{uuid.uuid4().hex[:6]}"
            common = {**_place(project), "inspection_id": iid, "kind": kind, "template_id": "t",
                      "template_version": 1, "score": 70 if failed else 92, "pass_mark": 80,
                      "inspected_at": at, "recorded_by": "officer-1"}  # fmt: skip
            await seed.deliver(
                pool,
                inspections.InspectionCompleted(
                    **common, passed=not failed, failed_item_count=len(failed)
                ),
                at,
            )
            if failed:
                item = factories.inspection_failed().failed_items[0]
                items = tuple(item.model_copy(update={"group": g}) for g in failed)
                await seed.deliver(
                    pool, inspections.InspectionFailed(**common, failed_items=items), at
                )
        for project in (0, 1, 2):
            await _complaint(pool, project, at)
            await seed.deliver(
                pool,
                surveys.SurveyClosed(
                    survey_id=str(uuid.uuid4()), campaign_id=CAMPAIGN, households=120,
                    how="auto", responses=48 + 10 * project, coverage=0.4,
                    satisfaction_rate=0.82 + 0.05 * project, means={}, closed_at=at,
                    **{k: v for k, v in _place(project).items() if not k.endswith("name")},
                ),
                at,
            )  # fmt: skip
            await seed.deliver(
                pool,
                campaigns.ActivityHeld(
                    record_id=str(uuid.uuid4()), kind="cultural" if project else "publicity",
                    held_on=at.date(), participants=60, recorded_at=at,
                    **{k: v for k, v in _place(project).items() if not k.endswith("name")},
                ),
                at,
            )  # fmt: skip
        await seed.case_in_review(pool, 1, at)
        await seed.deliver(
            pool,
            campaigns.PlanSubmitted(
                campaign_id=CAMPAIGN, plan_id="plan-e1", version=1, submitter_kind="enterprise",
                submitter_name="津城物业", submitted_at=at, enterprise_id="E-0001",
            ),
            at,
        )  # fmt: skip
        return cookies
    finally:
        await pool.close()


async def _complaint(pool: asyncpg.Pool, project: int, at: datetime) -> None:
    place = {k: v for k, v in _place(project).items() if not k.endswith("name")}
    base = {**place, "complaint_id": str(uuid.uuid4()), "category": "environment"}
    await seed.deliver(
        pool, complaints.ComplaintFiled(**base, urgency="normal", channel="web", filed_at=at), at
    )
    await seed.deliver(
        pool,
        complaints.ComplaintAccepted(
            **base, responsible_org_id=place["enterprise_id"], responsible_staff_id="s-1",
            accepted_at=at + timedelta(hours=1),
        ),
        at,
    )  # fmt: skip
    if project != 1:
        await seed.deliver(
            pool, complaints.ComplaintClosed(**base, how="feedback", closed_at=at), at
        )


@pytest.fixture(scope="module")
def site(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    folder = tmp_path_factory.mktemp("figures")
    with workspace_service(stack, folder, "exposure", NOW) as (process, dsn):
        cookies = run_async_in_thread(lambda: _seed(dsn))
        yield Site(url=process.url, cookies=cookies)


@pytest.mark.parametrize("width", [1280, 390])
def test_campaign_figures_for_the_offices_and_the_public(
    browser: Browser, site: Site, width: int
) -> None:
    cookie = ("wuye_exposure_session", site.cookies[CITY.subject])
    ctx = session_context(browser, site.url, cookie, width)
    try:
        page = ctx.new_page()
        page.goto(f"/workspace/exposure/figures?campaign={CAMPAIGN}")
        expect(page.locator("body")).to_contain_text("2026年物业服务质量月")
        expect(page.locator("body")).to_contain_text("2026-05-01 — 2026-05-31")
        expect(page.locator("body")).to_contain_text("和平区")
        # 和平区: E-0001's plan (of those due: the registry copy may hold other tests' projects)
        expect(page.locator("body")).to_contain_text(re.compile(r"\b1 / \d+"))
        shot(page, "exposure-figures", width, full=False)
        page.get_by_role("link", name=re.compile("^和平区")).click()
        page.wait_for_url("**district=120101**")
        expect(page.locator("h1")).to_contain_text("和平区")
        expect(page.locator("body")).to_contain_text(seed.LONG_NAME)
        shot(page, "exposure-figures-district", width, full=False)

        board = ctx.new_page()
        board.goto(f"/figures?campaign={CAMPAIGN}")
        expect(board.locator("body")).to_contain_text("2026年物业服务质量月")
        expect(board.locator(".figure-card").first).to_contain_text("巡查")
        expect(board.locator("body")).not_to_contain_text("企业自查")  # not public
        expect(board.locator("body")).not_to_contain_text("活动方案")
        shot(board, "board-figures", width, full=False)
    finally:
        ctx.close()
