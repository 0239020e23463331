"""调查留言 (issue 16) on the real PostgreSQL: the owners' survey comments are read by the
enterprise (its projects), the district office (its district) and the city office, through the
API and the workspace page, once the survey is closed, with phone numbers and names masked, in an
order that says nothing of when each was written; nobody else reads them and no event carries
them. One answer per household still holds, also for two answers sent at once with one token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, datetime

import asyncpg
import httpx
import pytest

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from schemas.campaigns import v1 as campaigns
from tests.complaints_support import ComplaintsDesk, complaints_pages
from tests.factories import keep_campaign_phase
from tests.workspace_support import fetch_rows as fetch

pytestmark = pytest.mark.integration
IN_PHASE = datetime(2026, 6, 10, 9, 0, tzinfo=CHINA)
ALICE = Principal("alice", Role.ENTERPRISE, enterprise_id="ent-a", name="张经理")
MALLORY = Principal("mallory", Role.ENTERPRISE, enterprise_id="ent-b", name="李经理")
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
HEXI = Principal("hexi-officer", Role.DISTRICT_OFFICE, district_code="120103", name="刘科长")
CITY = Principal("city-officer", Role.CITY_OFFICE, name="赵处长")
AGENCY = Principal("agency-1", Role.AGENCY, name="外部机构", agency_id="tj-water")
OWNER = Principal("owner-1", Role.OWNER)
PEOPLE = (ALICE, MALLORY, HEPING, HEXI, CITY, AGENCY)
SCORES = {"overall": 4, "cleaning": 4, "greenery": 3, "security": 5, "repair": 2, "complaints": 4}
COMMENTS = (
    "维修太慢,请联系我 13812345678",
    "保安很负责,业主张三",
    "绿化不错",
)
PAGE = "/workspace/complaints/survey-comments"


Surveys = ComplaintsDesk


async def in_the_implementation_phase(pool: asyncpg.Pool) -> None:
    """The quality month's implementation phase, as the campaigns topic would announce it."""
    await keep_campaign_phase(
        pool,
        campaigns.CampaignPhaseStarted(
            campaign_id="quality-month-2026", phase="implementation",
            phase_title_zh="实施阶段", starts_on=date(2026, 6, 1),
            ends_on=date(2026, 6, 30), title_zh="物业服务质量提升活动",
        ),
    )  # fmt: skip


@pytest.fixture
async def surveys(fresh_db: str, kafka_topics: str) -> AsyncIterator[Surveys]:
    clock = FixedClock(IN_PHASE)
    seed = in_the_implementation_phase
    async with complaints_pages(fresh_db, kafka_topics, clock, PEOPLE, seed) as surveys:
        yield surveys


async def answer(s: Surveys, token: str, comment: str | None) -> httpx.Response:
    s.client.cookies.clear()
    body: dict[str, object] = {"scores": SCORES}
    if comment is not None:
        body["comment"] = comment
    return await s.client.post(
        "/api/v1/surveys/answers", json=body, headers={"X-Survey-Token": token}
    )


async def test_comments_are_read_by_the_enterprise_and_the_offices_masked_once_closed(
    surveys: Surveys,
) -> None:
    s = surveys
    opened = await s.client.post(
        "/api/v1/surveys", json={"project_id": "p-1", "households": 5}, headers=s.bearer(ALICE)
    )
    assert opened.status_code == 201, opened.text
    sid, tokens = opened.json()["survey_id"], opened.json()["tokens"]
    for token, comment in zip(tokens, (*COMMENTS, None), strict=False):
        assert (await answer(s, token, comment)).status_code == 201

    # two answers sent at once with one household's token: one counts, one comment is kept
    both = await asyncio.gather(*(answer(s, tokens[4], "同时提交的留言") for _ in range(2)))
    assert sorted(r.status_code for r in both) == [201, 409]
    assert (await answer(s, tokens[0], "第二次留言")).status_code == 409  # used

    path = f"/api/v1/surveys/{sid}/comments"
    still_open = await s.client.get(path, headers=s.bearer(ALICE))
    assert still_open.status_code == 409  # a comment appearing could be matched to a household
    page = await s.as_(ALICE).get(PAGE)
    assert page.status_code == 200, page.text
    assert "维修太慢" not in page.text
    closed = await s.client.post(f"/api/v1/surveys/{sid}/close", headers=s.bearer(ALICE))
    assert closed.status_code == 200, closed.text
    assert closed.json()["results"]["responses"] == 5

    for who in (ALICE, HEPING, CITY):
        got = await s.client.get(path, headers=s.bearer(who))
        assert got.status_code == 200, (who.subject, got.text)
        body = got.json()
        assert body["responses"] == 5
        assert body["comments"] == sorted(
            ["维修太慢,请联系我 138****5678", "保安很负责,业主某某", "绿化不错", "同时提交的留言"]
        )
    for who, status in ((MALLORY, 404), (HEXI, 404), (AGENCY, 403), (OWNER, 403)):
        assert (await s.client.get(path, headers=s.bearer(who))).status_code == status
    s.client.cookies.clear()
    assert (await s.client.get(path)).status_code == 401

    stored = await fetch(s.dsn, "SELECT comment FROM survey_comments WHERE survey_id = $1", sid)
    assert len(stored) == 4  # one per household that wrote one, kept as written
    assert "维修太慢,请联系我 13812345678" in {r["comment"] for r in stored}

    for who, sees in ((ALICE, True), (HEPING, True), (CITY, True), (MALLORY, False), (HEXI, False)):
        page = await s.as_(who).get(PAGE)
        assert page.status_code == 200, page.text
        assert ("138****5678" in page.text) is sees, who.subject
        assert "13812345678" not in page.text
        assert "张三" not in page.text
    refused = await s.as_(AGENCY).get(PAGE)
    assert refused.status_code == 403

    # no event carries a comment (events are how anything leaves this service)
    events = await fetch(s.dsn, "SELECT payload FROM outbox")
    raw = json.dumps([bytes(r["payload"]).decode() for r in events], ensure_ascii=False)
    for text in ("维修太慢", "保安很负责", "绿化不错", "同时提交"):
        assert text not in raw
