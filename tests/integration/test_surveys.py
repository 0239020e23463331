"""Owner satisfaction surveys on the real PostgreSQL: opening only during a campaign's
implementation phase, one answer per token, closing with the scores, SurveyMissing exactly once
(also with concurrent job runs), scope, and a few HTTP round trips."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from runtime import db
from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.errors import DomainError, NotFound
from runtime.scheduler import FixedClock
from runtime.service import build_app
from runtime.settings import Settings
from runtime.unit_of_work import Delivered, Trace
from schemas import cloudevents
from schemas.campaigns import v1 as campaigns
from services.complaints.entrypoints import jobs, surveys_http
from services.complaints.service import survey_handling
from tests.asgi import served
from tests.complaints_support import api_spec, complaints_settings
from tests.factories import complaints_unit, keep_campaign_phase, register_complaint_project

pytestmark = pytest.mark.integration
MIGRATIONS = Path("services/complaints/migrations")
TRACE = Trace.start()
at = complaints_unit
IMPL_START, IMPL_END = date(2026, 6, 1), date(2026, 6, 30)
IN_PHASE = datetime(2026, 6, 10, 9, 0, tzinfo=CHINA)
AFTER = datetime(2026, 7, 1, 0, 0, tzinfo=CHINA)  # first instant after the phase
ALICE = Principal("alice", Role.ENTERPRISE, enterprise_id="ent-a")
MALLORY = Principal("mallory", Role.ENTERPRISE, enterprise_id="ent-b")
DISTRICT = Principal("do-1", Role.DISTRICT_OFFICE, district_code="120101")
OTHER_DISTRICT = Principal("do-2", Role.DISTRICT_OFFICE, district_code="120102")
CITY = Principal("city-1", Role.CITY_OFFICE)
ALL_FIVE = {"overall": 5, "cleaning": 5, "greenery": 5, "security": 5, "repair": 5, "complaints": 5}


async def _project(pool: asyncpg.Pool, project_id: str, enterprise: str, district: str) -> None:
    await register_complaint_project(
        pool, project_id, enterprise, district, occurred_at=IN_PHASE - timedelta(days=60)
    )


async def _phase(pool: asyncpg.Pool, phase: campaigns.PhaseKind, start: date, end: date) -> None:
    event = campaigns.CampaignPhaseStarted(
        campaign_id="quality-month-2026",
        phase=phase,
        phase_title_zh=f"{phase}阶段",
        starts_on=start,
        ends_on=end,
        title_zh="物业服务质量提升活动",
    )
    await keep_campaign_phase(pool, event)


async def _setup(pool: asyncpg.Pool) -> None:
    await _project(pool, "p-1", "ent-a", "120101")
    await _project(pool, "p-3", "ent-a", "120102")
    await _project(pool, "p-2", "ent-b", "120102")
    await _phase(pool, "planning", date(2026, 5, 1), date(2026, 5, 31))
    await _phase(pool, "implementation", IMPL_START, IMPL_END)


@pytest.fixture
async def spool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    await db.prepare_database(fresh_db, MIGRATIONS, "complaints")
    pool = await db.create_pool(fresh_db, max_size=6)
    await _setup(pool)
    yield pool
    await pool.close()


async def outbox_types(pool: asyncpg.Pool) -> Counter[str]:
    rows = await pool.fetch("SELECT event_type FROM outbox")
    return Counter(r["event_type"].split(".")[-2] for r in rows)


async def outbox_payloads(pool: asyncpg.Pool) -> list[dict[str, object]]:
    rows = await pool.fetch("SELECT payload FROM outbox")
    return [json.loads(bytes(r["payload"]).decode()) for r in rows]


async def _open(pool: asyncpg.Pool, households: int = 4) -> survey_handling.Opened:
    return await survey_handling.open_survey(
        at(pool, IN_PHASE),
        ALICE,
        project_id="p-1",
        households=households,
        closes_at=None,
        issue=None,
        trace=TRACE,
    )


async def test_opens_only_during_the_implementation_phase(spool: asyncpg.Pool) -> None:
    for moment in (datetime(2026, 5, 20, tzinfo=CHINA), AFTER):
        with pytest.raises(DomainError) as refused:
            await survey_handling.open_survey(
                at(spool, moment),
                ALICE,
                project_id="p-1",
                households=3,
                closes_at=None,
                issue=None,
                trace=TRACE,
            )
        assert refused.value.code == "not_in_implementation_phase"
    assert await outbox_types(spool) == Counter()

    opened = await _open(spool)
    assert len(opened.tokens) == 4
    assert opened.survey.closes_at == AFTER
    stored = await spool.fetch("SELECT token_sha256 FROM survey_tokens")
    assert {r["token_sha256"] for r in stored}.isdisjoint(opened.tokens)  # only hashes
    assert await outbox_types(spool) == Counter({"SurveyOpened": 1})
    with pytest.raises(DomainError):  # one survey per project and campaign
        await _open(spool)


async def test_one_answer_per_token_and_close_with_scores(spool: asyncpg.Pool) -> None:
    opened = await _open(spool)
    sid, tokens = opened.survey.survey_id, opened.tokens
    later = IN_PHASE + timedelta(hours=1)
    await survey_handling.answer(at(spool, later), tokens[0], ALL_FIVE, "物业很好,电话 13812345678")
    await survey_handling.answer(
        at(spool, later), tokens[1], {**ALL_FIVE, "overall": 2, "repair": 1}, None
    )
    with pytest.raises(DomainError) as used:
        await survey_handling.answer(at(spool, later), tokens[0], ALL_FIVE, None)
    assert used.value.code == "token_used"
    with pytest.raises(NotFound):
        await survey_handling.answer(at(spool, later), "x" * 22, ALL_FIVE, None)

    with pytest.raises(NotFound):  # another enterprise's survey is not there for it
        await survey_handling.close(at(spool, later), MALLORY, sid, trace=TRACE)
    closed, results = await survey_handling.close(at(spool, later), ALICE, sid, trace=TRACE)
    assert closed.status == "closed"
    assert (results.responses, results.coverage, results.satisfaction_rate) == (2, 0.5, 0.5)
    assert results.means["overall"] == 3.5
    assert results.means["repair"] == 3.0
    with pytest.raises(DomainError):  # answers stop once closed
        await survey_handling.answer(at(spool, later), tokens[2], ALL_FIVE, None)
    assert await outbox_types(spool) == Counter({"SurveyOpened": 1, "SurveyClosed": 1})
    event = next(p for p in await outbox_payloads(spool) if "means" in p)
    assert event["responses"] == 2
    assert event["coverage"] == 0.5
    assert event["how"] == "enterprise"
    raw = json.dumps(await outbox_payloads(spool), ensure_ascii=False)
    assert "13812345678" not in raw
    assert "物业很好" not in raw
    assert tokens[0] not in raw
    # the job finds nothing more to close
    assert await jobs.close_job(spool, AFTER) == 0


async def test_close_job_closes_at_closes_at_once(spool: asyncpg.Pool) -> None:
    await _open(spool)
    assert await jobs.close_job(spool, AFTER - timedelta(seconds=1)) == 0
    runs = await asyncio.gather(jobs.close_job(spool, AFTER), jobs.close_job(spool, AFTER))
    assert sorted(runs) == [0, 1]
    assert await outbox_types(spool) == Counter({"SurveyOpened": 1, "SurveyClosed": 1})


async def test_survey_missing_once_even_with_concurrent_runs(spool: asyncpg.Pool) -> None:
    await _open(spool)  # ent-a surveyed, ent-b did not
    assert await jobs.missing_job(spool, AFTER - timedelta(microseconds=1)) == 0
    runs = await asyncio.gather(*(jobs.missing_job(spool, AFTER) for _ in range(2)))
    assert sorted(runs) == [0, 1]
    assert await jobs.missing_job(spool, AFTER + timedelta(days=1)) == 0
    missing = [p for p in await outbox_payloads(spool) if "deadline" in p]
    assert [(m["enterprise_id"], m["campaign_id"]) for m in missing] == [
        ("ent-b", "quality-month-2026")
    ]
    assert datetime.fromisoformat(str(missing[0]["deadline"])) == AFTER


async def test_results_scope(spool: asyncpg.Pool) -> None:
    opened = await _open(spool)
    sid = opened.survey.survey_id
    await survey_handling.answer(at(spool, IN_PHASE), opened.tokens[0], ALL_FIVE, None)
    with pytest.raises(DomainError):  # still open: no results yet
        await survey_handling.results(at(spool, IN_PHASE), ALICE, sid)
    await survey_handling.close(at(spool, IN_PHASE), ALICE, sid, trace=TRACE)
    for reader in (ALICE, DISTRICT, CITY):
        row = await survey_handling.results(at(spool, IN_PHASE), reader, sid)
        assert row.survey.tally.responses == 1
    for outsider in (MALLORY, OTHER_DISTRICT):
        with pytest.raises(NotFound):
            await survey_handling.results(at(spool, IN_PHASE), outsider, sid)
    with pytest.raises(NotFound):  # not its project
        await survey_handling.open_survey(
            at(spool, IN_PHASE),
            MALLORY,
            project_id="p-1",
            households=2,
            closes_at=None,
            issue=None,
            trace=TRACE,
        )
    pooled, count = await survey_handling.enterprise_results(
        at(spool, IN_PHASE), CITY, "ent-a", None
    )
    assert (count, pooled.responses, pooled.households) == (1, 1, 4)
    with pytest.raises(NotFound):
        await survey_handling.enterprise_results(at(spool, IN_PHASE), MALLORY, "ent-a", None)
    with pytest.raises(NotFound):  # ent-a's survey is in 120101, not 120102
        await survey_handling.enterprise_results(at(spool, IN_PHASE), OTHER_DISTRICT, "ent-a", None)


async def test_a_run_of_campaign_phases_is_kept_in_one_write_newest_first(
    spool: asyncpg.Pool,
) -> None:
    """The campaigns consumer's batch: implementation phases only, the newest record per
    campaign (in the batch and against the table), other phases ignored."""

    def phase(
        kind: campaigns.PhaseKind, campaign: str, start: date
    ) -> campaigns.CampaignPhaseStarted:
        return campaigns.CampaignPhaseStarted(
            campaign_id=campaign,
            phase=kind,
            phase_title_zh=f"{kind}阶段",
            starts_on=start,
            ends_on=start + timedelta(days=29),
            title_zh="物业服务质量提升活动",
        )

    base = datetime(2026, 9, 1, tzinfo=CHINA)
    batch = [
        Delivered(e, cloudevents.from_event(e, source="/test", time=at))
        for e, at in [
            (phase("implementation", "c-2027", date(2027, 6, 1)), base),
            (phase("implementation", "c-2027", date(2027, 7, 1)), base + timedelta(hours=1)),
            (phase("implementation", "c-2027", date(2027, 5, 1)), base - timedelta(hours=1)),
            (phase("planning", "c-2028", date(2028, 1, 1)), base),
            # older than what the table already holds for quality-month-2026: ignored
            (phase("implementation", "quality-month-2026", date(2020, 1, 1)), base.replace(2000)),
        ]
    ]
    unit = complaints_unit(spool, base)
    async with spool.acquire() as conn, conn.transaction():
        await survey_handling.on_phase_started(unit.joined(conn), batch)

    rows = {
        r["campaign_id"]: r["starts_on"]
        for r in await spool.fetch("SELECT campaign_id, starts_on FROM survey_campaigns")
    }
    assert rows == {"c-2027": date(2027, 7, 1), "quality-month-2026": IMPL_START}


# --- HTTP ----------------------------------------------------------------------------------------


async def test_http_open_answer_results(fresh_db: str, kafka_topics: str) -> None:
    issuer = DevIssuer.generate()

    async def setup(pool: asyncpg.Pool, _settings: Settings) -> None:
        await _setup(pool)

    settings = complaints_settings(fresh_db, kafka_topics, issuer)
    spec = api_spec(
        settings, title="surveys test", routers=(surveys_http.router,), on_startup=(setup,)
    )
    clock = FixedClock(datetime(2026, 5, 20, tzinfo=CHINA))
    app = build_app(spec, settings, clock=clock)

    def auth(who: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {issuer.issue(who)}"}

    async with served(app) as client:
        body = {"project_id": "p-1", "households": 3}
        early = await client.post("/api/v1/surveys", json=body, headers=auth(ALICE))
        assert early.status_code == 409, early.text
        assert "实施阶段" in early.text
        assert "implementation phase" in early.text

        clock.advance(IN_PHASE - clock.now())
        owner = auth(Principal("owner-1", Role.OWNER))
        denied = await client.post("/api/v1/surveys", json=body, headers=owner)
        assert denied.status_code == 403
        made = await client.post("/api/v1/surveys", json=body, headers=auth(ALICE))
        assert made.status_code == 201, made.text
        sid, tokens = made.json()["survey_id"], made.json()["tokens"]
        assert len(tokens) == 3

        answer = {"scores": ALL_FIVE, "comment": "好"}
        first = await client.post(
            "/api/v1/surveys/answers", json=answer, headers={"X-Survey-Token": tokens[0]}
        )
        assert first.status_code == 201, first.text
        again = await client.post(
            "/api/v1/surveys/answers", json=answer, headers={"X-Survey-Token": tokens[0]}
        )
        assert again.status_code == 409
        wrong = await client.post(
            "/api/v1/surveys/answers", json=answer, headers={"X-Survey-Token": "y" * 22}
        )
        assert wrong.status_code == 404
        bad = await client.post(
            "/api/v1/surveys/answers",
            json={"scores": {**ALL_FIVE, "overall": 6}},
            headers={"X-Survey-Token": tokens[1]},
        )
        assert bad.status_code == 422
        long = await client.post(
            "/api/v1/surveys/answers",
            json={"scores": ALL_FIVE, "comment": "长" * 501},
            headers={"X-Survey-Token": tokens[1]},
        )
        assert long.status_code == 422

        early = await client.get(f"/api/v1/surveys/{sid}/results", headers=auth(ALICE))
        assert early.status_code == 409  # no results while answers still come in
        assert early.json()["error"]["code"] == "survey_still_open"
        more = await client.post(
            f"/api/v1/surveys/{sid}/tokens", json={"count": 1}, headers=auth(ALICE)
        )
        assert more.status_code == 422  # never more tokens than households (3 issued)
        done = await client.post(f"/api/v1/surveys/{sid}/close", headers=auth(ALICE))
        assert done.status_code == 200
        got = await client.get(f"/api/v1/surveys/{sid}/results", headers=auth(DISTRICT))
        assert got.status_code == 200
        assert got.json()["results"]["responses"] == 1
        hidden = await client.get(f"/api/v1/surveys/{sid}/results", headers=auth(MALLORY))
        assert hidden.status_code == 404
        pooled = await client.get(
            "/api/v1/surveys/results", params={"enterprise_id": "ent-a"}, headers=auth(CITY)
        )
        assert pooled.status_code == 200
        assert pooled.json()["surveys"] == 1
        assert done.json()["results"]["satisfaction_rate"] == 1.0
