"""Campaigns and activity plans on the real PostgreSQL: plans, versions, the planning deadline, and
the campaign job's exactly-once events (counted in the outbox; the relay is tested elsewhere)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from runtime import db
from runtime.auth import DevIssuer, Principal, Role
from runtime.errors import DomainError, InvalidInput
from runtime.scheduler import FixedClock, SystemClock
from runtime.service import build_app
from runtime.unit_of_work import Trace
from services.inspections.adapters.campaigns import TemplateFiles
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.adapters.registry_tables import PgProjects
from services.inspections.domain import actors, campaign
from services.inspections.domain.campaign import CHINA
from services.inspections.domain.project_registry import ProjectFacts
from services.inspections.entrypoints import campaigns_http, jobs
from services.inspections.service import campaign_handlers
from tests.asgi import served
from tests.inspections_support import MIGRATIONS, api_spec, inspections_settings

pytestmark = pytest.mark.integration
# The demo registry: 3 districts, 3 enterprises.
PROJECTS = json.loads(Path("services/inspections/data/projects.json").read_text("utf-8"))[
    "projects"
]
CAMPAIGN = "quality-month-2011"
TYPES = "cn.tj.wuye.campaigns."


def china(m: int, d: int, hh: int = 0, mm: int = 0, year: int = 2011) -> datetime:
    return datetime(year, m, d, hh, mm, tzinfo=CHINA)


PLANNING = china(8, 8, 10)
BEFORE_DEADLINE = china(8, 13, 23, 59)
AFTER_DEADLINE = china(8, 14, 0, 1)

DISTRICT_120101 = actors.Actor("district_office", "120101", None)
ENTERPRISE_1 = actors.Actor("enterprise", None, "E-0001")
CITY = actors.Actor("city_office", None, None)


def plan(summary: str = "第一版") -> campaign.PlanContent:
    return campaign.PlanContent(
        departments=("综合办公室", "工程部"),
        staff=(
            campaign.StaffMember("张三", "联络员", "13800138000"),
            campaign.StaffMember("李四", "宣传", None),
        ),
        schedule=(campaign.ScheduleItem(date(2011, 8, 20), "张贴宣传海报"),),
        summary=summary,
    )


def unit(pool: asyncpg.Pool, now: datetime | None = None) -> PgInspectionsUnitOfWork:
    """A unit of work whose clock reads `now` (the system clock without)."""
    clock = FixedClock(now) if now is not None else SystemClock()
    return PgInspectionsUnitOfWork(pool, source=SOURCE, clock=clock)


async def _load_projects(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn, conn.transaction():
        for entry in PROJECTS:
            await PgProjects(conn).upsert(ProjectFacts(**entry))


@pytest.fixture
async def inspections_pool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    """The inspections schema, the demo registry, and the 2011 campaign recorded before it began."""
    await db.prepare_database(fresh_db, MIGRATIONS, "inspections")
    pool = await db.create_pool(fresh_db, max_size=6)
    await _load_projects(pool)
    template = await TemplateFiles().get(CAMPAIGN)
    assert template is not None
    await campaign_handlers.create_campaign(unit(pool, china(7, 22)), template, created_by="city-1")
    yield pool
    await pool.close()


async def count(pool: asyncpg.Pool, sql: str, *args: Any) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval(sql, *args))


async def events_of(pool: asyncpg.Pool, name: str) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT payload FROM outbox WHERE event_type = $1 ORDER BY seq", f"{TYPES}{name}.v1"
        )
    return [json.loads(r["payload"]) for r in rows]


# --- plans ----------------------------------------------------------------------------------


async def test_a_plan_submitted_in_the_planning_phase_writes_plan_submitted(
    inspections_pool: asyncpg.Pool,
) -> None:
    saved = await campaign_handlers.submit_plan(
        unit(inspections_pool, PLANNING),
        CAMPAIGN,
        plan(),
        ENTERPRISE_1,
        "ent-user-1",
        trace=Trace.start(),
    )
    assert (saved["version"], saved["submitter_name"]) == (1, "津城物业服务有限公司")
    assert saved["staff"][0]["phone"] == "13800138000"  # the submitter sees its own phones
    [event] = await events_of(inspections_pool, "PlanSubmitted")
    assert event["plan_id"] == saved["plan_id"]
    assert (event["submitter_kind"], event["enterprise_id"], event["version"]) == (
        "enterprise",
        "E-0001",
        1,
    )
    async with inspections_pool.acquire() as conn:
        raw = await conn.fetchval("SELECT convert_from(payload, 'UTF8') FROM outbox")
    assert "13800138000" not in raw
    assert "张三" not in raw


async def test_a_resubmission_replaces_the_plan_as_version_2(
    inspections_pool: asyncpg.Pool,
) -> None:
    first = await campaign_handlers.submit_plan(
        unit(inspections_pool, PLANNING),
        CAMPAIGN,
        plan(),
        DISTRICT_120101,
        "officer-1",
        trace=Trace.start(),
    )
    second = await campaign_handlers.submit_plan(
        unit(inspections_pool, BEFORE_DEADLINE),
        CAMPAIGN,
        plan("第二版"),
        DISTRICT_120101,
        "officer-1",
        trace=Trace.start(),
    )
    assert (second["plan_id"], second["version"], second["summary"]) == (
        first["plan_id"],
        2,
        "第二版",
    )
    assert await count(inspections_pool, "SELECT count(*) FROM activity_plans") == 1
    assert [e["version"] for e in await events_of(inspections_pool, "PlanSubmitted")] == [1, 2]


@pytest.mark.parametrize(
    ("now", "code"),
    [(china(8, 5, 23, 59), "planning_not_started"), (AFTER_DEADLINE, "planning_ended")],
)
async def test_a_plan_outside_the_planning_phase_is_refused_and_nothing_is_written(
    inspections_pool: asyncpg.Pool, now: datetime, code: str
) -> None:
    with pytest.raises(DomainError) as caught:
        await campaign_handlers.submit_plan(
            unit(inspections_pool, now),
            CAMPAIGN,
            plan(),
            ENTERPRISE_1,
            "ent-user-1",
            trace=Trace.start(),
        )
    assert caught.value.code == code
    assert type(caught.value) is DomainError
    assert await count(inspections_pool, "SELECT count(*) FROM activity_plans") == 0
    assert await count(inspections_pool, "SELECT count(*) FROM outbox") == 0


async def test_a_late_request_is_refused_once_the_overdue_scan_ran(
    inspections_pool: asyncpg.Pool,
) -> None:
    """A request stamped before the deadline that arrives after the scan: the scan's list of
    overdue submitters stays true."""
    assert await jobs.campaign_work(inspections_pool, AFTER_DEADLINE) > 0
    with pytest.raises(DomainError) as caught:
        await campaign_handlers.submit_plan(
            unit(inspections_pool, BEFORE_DEADLINE),
            CAMPAIGN,
            plan(),
            ENTERPRISE_1,
            "ent-user-1",
            trace=Trace.start(),
        )
    assert caught.value.code == "planning_ended"


async def test_a_schedule_outside_the_campaign_is_invalid(inspections_pool: asyncpg.Pool) -> None:
    bad = campaign.PlanContent(("办公室",), (), (campaign.ScheduleItem(date(2012, 1, 1), "x"),), "")
    with pytest.raises(InvalidInput) as caught:
        await campaign_handlers.submit_plan(
            unit(inspections_pool, PLANNING),
            CAMPAIGN,
            bad,
            ENTERPRISE_1,
            "ent-user-1",
            trace=Trace.start(),
        )
    assert caught.value.field == "schedule.0.date"


async def test_who_sees_which_plans_and_who_is_missing(inspections_pool: asyncpg.Pool) -> None:
    pool = inspections_pool
    await campaign_handlers.submit_plan(
        unit(pool, PLANNING), CAMPAIGN, plan(), ENTERPRISE_1, "e1", trace=Trace.start()
    )
    nankai_enterprise = actors.Actor("enterprise", None, "E-0003")
    await campaign_handlers.submit_plan(
        unit(pool, PLANNING), CAMPAIGN, plan(), nankai_enterprise, "e3", trace=Trace.start()
    )

    city = await campaign_handlers.list_plans(unit(pool), CAMPAIGN, CITY)
    assert {p["submitter_id"] for p in city} == {"E-0001", "E-0003"}
    assert all("phone" not in s for p in city for s in p["staff"])
    heping = await campaign_handlers.list_plans(unit(pool), CAMPAIGN, DISTRICT_120101)
    assert [p["submitter_id"] for p in heping] == ["E-0001"]  # E-0003 has no project in 和平区
    other = await campaign_handlers.list_plans(
        unit(pool), CAMPAIGN, actors.Actor("enterprise", None, "E-0002")
    )
    assert other == []

    missing = await campaign_handlers.missing_plans(unit(pool, PLANNING), CAMPAIGN, DISTRICT_120101)
    assert [m["submitter_id"] for m in missing["missing"]] == ["120101", "E-0002"]
    assert missing["deadline_on"] == date(2011, 8, 13)
    assert not missing["deadline_passed"]
    everyone = await campaign_handlers.missing_plans(unit(pool, PLANNING), CAMPAIGN, CITY)
    assert [m["submitter_id"] for m in everyone["missing"]] == [
        "120101",
        "120103",
        "120104",
        "E-0002",
    ]


# --- the campaign job -----------------------------------------------------------------------


async def test_no_plan_overdue_before_the_end_of_the_planning_phase(
    inspections_pool: asyncpg.Pool,
) -> None:
    await jobs.campaign_work(inspections_pool, BEFORE_DEADLINE)
    assert await events_of(inspections_pool, "PlanOverdue") == []
    assert await count(inspections_pool, "SELECT count(*) FROM plan_overdue") == 0


async def test_plan_overdue_once_per_missing_submitter_even_run_twice_and_concurrently(
    inspections_pool: asyncpg.Pool, fresh_db: str
) -> None:
    pool = inspections_pool
    await campaign_handlers.submit_plan(
        unit(pool, PLANNING), CAMPAIGN, plan(), ENTERPRISE_1, "e1", trace=Trace.start()
    )
    await campaign_handlers.submit_plan(
        unit(pool, PLANNING), CAMPAIGN, plan(), DISTRICT_120101, "o1", trace=Trace.start()
    )

    # Two replicas (two pools, two connections) reach the deadline at the same moment.
    other_replica = await db.create_pool(fresh_db, max_size=2)
    try:
        await asyncio.gather(
            jobs.campaign_work(pool, AFTER_DEADLINE),
            jobs.campaign_work(other_replica, AFTER_DEADLINE),
        )
        # ... and again after a restart, later.
        assert await jobs.campaign_work(other_replica, china(8, 20)) == 0
    finally:
        await other_replica.close()

    overdue = await events_of(pool, "PlanOverdue")
    owed = sorted((e["submitter_kind"], e["district_code"] or e["enterprise_id"]) for e in overdue)
    assert owed == [
        ("district", "120103"),
        ("district", "120104"),
        ("enterprise", "E-0002"),
        ("enterprise", "E-0003"),
    ]
    by_id = {e["district_code"] or e["enterprise_id"]: e for e in overdue}
    assert by_id["120104"]["submitter_name"] == "南开区"
    assert by_id["E-0002"]["deadline"] == "2011-08-13T23:59:59.999999+08:00"
    assert await count(pool, "SELECT count(*) FROM plan_overdue") == 4


async def test_each_phase_is_announced_once(inspections_pool: asyncpg.Pool, fresh_db: str) -> None:
    pool = inspections_pool
    assert await jobs.campaign_work(pool, china(7, 25, 23, 59)) == 0  # not started yet
    other_replica = await db.create_pool(fresh_db, max_size=2)
    try:
        for moment in (china(7, 26), china(7, 30), PLANNING, BEFORE_DEADLINE, china(9, 1)):
            await asyncio.gather(
                jobs.campaign_work(pool, moment),
                jobs.campaign_work(other_replica, moment),
            )
    finally:
        await other_replica.close()
    started = await events_of(pool, "CampaignPhaseStarted")
    assert [(e["phase"], e["starts_on"], e["ends_on"]) for e in started] == [
        ("mobilisation", "2011-07-26", "2011-08-05"),
        ("planning", "2011-08-06", "2011-08-13"),
        ("implementation", "2011-08-14", "2011-10-31"),
    ]
    assert started[1]["title_zh"] == "2011年物业管理优质服务和宣传月活动"


async def test_a_campaign_recorded_after_its_deadline_flags_nobody(fresh_db: str) -> None:
    await db.prepare_database(fresh_db, MIGRATIONS, "inspections")
    pool = await db.create_pool(fresh_db, max_size=2)
    try:
        await _load_projects(pool)
        await campaign_handlers.ensure_default_campaign(unit(pool), TemplateFiles())
        assert await jobs.campaign_work(pool, datetime.now(CHINA)) == 0
        assert await count(pool, "SELECT count(*) FROM outbox") == 0
        assert await count(pool, "SELECT count(*) FROM campaigns") == 1
    finally:
        await pool.close()


# --- HTTP -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer() -> DevIssuer:
    return DevIssuer.generate()


class SettableClock:
    """The service's clock in these tests: a moment set by the test, else the system clock."""

    def __init__(self) -> None:
        self.moment: datetime | None = None

    def now(self) -> datetime:
        return self.moment or SystemClock().now()


class Api:
    def __init__(self, client: httpx.AsyncClient, clock: SettableClock, issuer: DevIssuer) -> None:
        self.client, self.clock, self.issuer = client, clock, issuer

    def at(self, moment: datetime | None) -> None:
        self.clock.moment = moment

    def auth(
        self, role: Role, *, district: str | None = None, enterprise: str | None = None
    ) -> dict[str, str]:
        who = Principal(f"{role.value}-1", role, district_code=district, enterprise_id=enterprise)
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}


@pytest.fixture
async def api(fresh_db: str, kafka_topics: str, issuer: DevIssuer) -> AsyncIterator[Api]:
    settings = inspections_settings(fresh_db, kafka_topics, issuer)
    spec = api_spec(settings, title="campaigns test", routers=(campaigns_http.router,))
    clock = SettableClock()
    async with served(build_app(spec, settings, clock=clock)) as client:
        yield Api(client, clock, issuer)


async def test_http_campaign_from_template_then_plans(api: Api) -> None:
    city = api.auth(Role.CITY_OFFICE)
    api.at(datetime(2012, 7, 1, tzinfo=CHINA))
    created = await api.client.post(
        "/api/v1/campaigns/from-template",
        json={"template": CAMPAIGN, "year": 2012},
        headers=city,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["campaign_id"] == "quality-month-2012"
    assert [p["starts_on"] for p in body["phases"]] == ["2012-07-26", "2012-08-06", "2012-08-14"]
    assert body["current_phase"] is None
    again = await api.client.post(
        "/api/v1/campaigns/from-template", json={"template": CAMPAIGN, "year": 2012}, headers=city
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "campaign_exists")

    api.at(datetime(2012, 8, 10, 9, tzinfo=CHINA))
    shown = await api.client.get("/api/v1/campaigns/quality-month-2012", headers=city)
    assert shown.json()["current_phase"] == "planning"

    plan_body = {
        "departments": ["综合办公室"],
        "staff": [{"name": "王五", "role": "联络员", "phone": "022-23456789"}],
        "schedule": [{"date": "2012-08-20", "activity_zh": "社区文化活动"}],
        "summary": "按通知要求开展",
    }
    enterprise = api.auth(Role.ENTERPRISE, enterprise="E-0002")
    submitted = await api.client.post(
        "/api/v1/campaigns/quality-month-2012/plans", json=plan_body, headers=enterprise
    )
    assert submitted.status_code == 201, submitted.text
    assert submitted.json()["staff"][0]["phone"] == "022-23456789"

    heping = api.auth(Role.DISTRICT_OFFICE, district="120101")
    listed = await api.client.get("/api/v1/campaigns/quality-month-2012/plans", headers=heping)
    assert [p["submitter_id"] for p in listed.json()] == ["E-0002"]
    assert "phone" not in listed.json()[0]["staff"][0]
    missing = await api.client.get(
        "/api/v1/campaigns/quality-month-2012/plans/missing", headers=heping
    )
    assert [m["submitter_id"] for m in missing.json()["missing"]] == ["120101", "E-0001"]
    owner = api.auth(Role.OWNER)
    refused = await api.client.get("/api/v1/campaigns/quality-month-2012/plans", headers=owner)
    assert refused.status_code == 403

    api.at(datetime(2012, 8, 14, 0, 0, 1, tzinfo=CHINA))
    late = await api.client.post(
        "/api/v1/campaigns/quality-month-2012/plans", json=plan_body, headers=enterprise
    )
    assert late.status_code == 409
    assert late.json()["error"]["message"] == "制定方案阶段已结束"


async def test_http_invalid_campaign_is_422_with_the_field(api: Api) -> None:
    body = {
        "campaign_id": "flood-2012",
        "title_zh": "2012年防汛专项检查",
        "activity_window": {"starts_on": "2012-06-01", "ends_on": "2012-06-30"},
        "phases": [
            {"kind": "planning", "starts_on": "2012-06-01", "ends_on": "2012-06-10"},
            {"kind": "implementation", "starts_on": "2012-06-10", "ends_on": "2012-06-30"},
        ],
    }
    city = api.auth(Role.CITY_OFFICE)
    response = await api.client.post("/api/v1/campaigns", json=body, headers=city)
    assert response.status_code == 422
    [field] = response.json()["error"]["fields"]
    assert field["field"] == "phases.1.starts_on"
    assert "重叠" in field["reason"]

    wrong_kind = {**body, "phases": [{**body["phases"][0], "kind": "celebration"}]}
    response = await api.client.post("/api/v1/campaigns", json=wrong_kind, headers=city)
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "phases.0.kind"

    enterprise = api.auth(Role.ENTERPRISE, enterprise="E-0001")
    fixed = {
        **body,
        "phases": [body["phases"][0]],
        "activity_window": {"starts_on": "2012-06-01", "ends_on": "2012-06-10"},
    }
    assert (
        await api.client.post("/api/v1/campaigns", json=fixed, headers=enterprise)
    ).status_code == 403
    created = await api.client.post("/api/v1/campaigns", json=fixed, headers=city)
    assert created.status_code == 201, created.text

    unknown = await api.client.post(
        "/api/v1/campaigns/from-template", json={"template": "nope", "year": 2012}, headers=city
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["fields"][0]["field"] == "template"


async def test_http_request_time_defaults_to_the_service_clock(api: Api) -> None:
    """The routes ask the service's clock (here the system clock once the test lets go)."""
    city = api.auth(Role.CITY_OFFICE)
    api.at(datetime(2011, 7, 1, tzinfo=CHINA))
    await api.client.post(
        "/api/v1/campaigns/from-template", json={"template": CAMPAIGN, "year": 2011}, headers=city
    )
    api.at(None)
    shown = await api.client.get(f"/api/v1/campaigns/{CAMPAIGN}", headers=city)
    assert shown.status_code == 200
    assert shown.json()["current_phase"] is None  # 2011 is long over by the system clock
