"""Deadlines reaching past the last official calendar year, on the real PostgreSQL (issue 13 #4).

In December 2026 `reference/calendars` ends with 2026: a complaint filed on 2026-12-25 gets its
deadline on the provisional 2027 calendar (the holidays library) and stores that basis; adding the
official 2027 file later changes only deadlines computed after it; a year nobody can provide is an
honest 503 that says it is the platform's problem, not the owner's input.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from deploy.local.samples import FAILED_INSPECTION
from runtime import db, provisional_calendar
from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from runtime.settings import Settings
from runtime.unit_of_work import Trace
from services.complaints.adapters import reference
from services.complaints.entrypoints import complaints_http, web
from services.complaints.service import intake
from services.inspections import bootstrap as inspections
from tests.asgi import served
from tests.complaints_support import api_spec, complaints_settings
from tests.factories import complaints_unit, register_complaint_project

pytestmark = pytest.mark.integration
MIGRATIONS = Path("services/complaints/migrations")
CALENDARS = Path("reference/calendars")
CHRISTMAS = datetime(2026, 12, 25, 10, 0, tzinfo=CHINA)  # a Friday
OWNER = Principal("owner-1", Role.OWNER)
ALICE = Principal("alice", Role.ENTERPRISE, enterprise_id="ent-a")
PROVISIONAL_2027 = f"provisional:{provisional_calendar.SOURCE}:2027"
# the shipped official 2026 file's label: the year and the fingerprint of its dates
OFFICIAL_2026 = reference.load_calendar(CALENDARS).label(2026)
BODY = {"project_id": "p-1", "category": "other", "description": "楼道灯坏了一个月没人修"}

Service = Callable[[datetime], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def calendar_dir(tmp_path: Path) -> Path:
    """The official files as shipped (ending with 2026), in a directory a test may add to."""
    target = tmp_path / "calendars"
    shutil.copytree(CALENDARS, target)
    assert max(int(f.stem[3:]) for f in target.glob("cn-*.json")) == 2026
    return target


@pytest.fixture
def issuer() -> DevIssuer:
    return DevIssuer.generate()


@pytest.fixture
def service(fresh_db: str, kafka_topics: str, calendar_dir: Path, issuer: DevIssuer) -> Service:
    """Start the complaints API (reading `calendar_dir` at start, as production does) at a
    fixed time; each start is a new process as far as the calendar goes."""

    async def projects(pool: asyncpg.Pool, _settings: Settings) -> None:
        await register_complaint_project(
            pool, "p-1", "ent-a", "120101", occurred_at=CHRISTMAS - timedelta(days=30)
        )

    @asynccontextmanager
    async def start(now: datetime) -> AsyncIterator[httpx.AsyncClient]:
        settings = complaints_settings(fresh_db, kafka_topics, issuer, calendar_dir=calendar_dir)
        spec = api_spec(
            settings,
            title="complaints test",
            routers=(complaints_http.router, web.router),
            on_startup=(projects,),
        )
        app = build_app(spec, settings, clock=FixedClock(now))
        async with served(app) as client:
            yield client

    return start


def auth(issuer: DevIssuer, who: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.issue(who)}"}


async def stored(dsn: str, complaint_id: str) -> dict[str, Any]:
    conn = await asyncpg.connect(dsn)
    try:
        doc = await conn.fetchval(
            "SELECT doc FROM complaints WHERE complaint_id = $1", complaint_id
        )
    finally:
        await conn.close()
    data: dict[str, Any] = json.loads(doc)
    return data


def end_of(y: int, m: int, d: int) -> str:
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=CHINA).isoformat()


async def test_a_complaint_filed_at_christmas_2026_gets_a_provisional_deadline(
    service: Service, issuer: DevIssuer, fresh_db: str
) -> None:
    async with service(CHRISTMAS) as client:
        made = await client.post("/api/v1/complaints", json=BODY, headers=auth(issuer, OWNER))
    assert made.status_code == 201, made.text  # was 503: no calendar for 2027
    filed = made.json()
    # 5 working days from Fri Dec 25: Mon 28 .. Thu 31 (4), Jan 1 2027 New Year's Day, Mon Jan 4
    assert datetime.fromisoformat(filed["completion_deadline"]) == datetime.fromisoformat(
        end_of(2027, 1, 4)
    )
    assert filed["completion_deadline_calendar"] == f"{OFFICIAL_2026}+{PROVISIONAL_2027}"
    assert filed["acceptance_deadline_calendar"] == OFFICIAL_2026  # Mon Dec 28
    doc = await stored(fresh_db, filed["complaint_id"])
    assert doc["completion"]["deadline"] == end_of(2027, 1, 4)
    assert doc["completion"]["calendar"] == f"{OFFICIAL_2026}+{PROVISIONAL_2027}"
    assert doc["acceptance"]["calendar"] == OFFICIAL_2026


async def test_adding_the_official_file_later_leaves_earlier_deadlines_as_they_were(
    service: Service, issuer: DevIssuer, fresh_db: str, calendar_dir: Path
) -> None:
    async with service(CHRISTMAS) as client:
        made = await client.post("/api/v1/complaints", json=BODY, headers=auth(issuer, OWNER))
    assert made.status_code == 201, made.text
    early_id = made.json()["complaint_id"]
    early = await stored(fresh_db, early_id)
    assert early["completion"]["calendar"] == f"{OFFICIAL_2026}+{PROVISIONAL_2027}"

    # The State Council's notice arrives (here one that differs from the library: Jan 4 off too)
    # and the operator adds the file; the service restarts and reads it.
    (calendar_dir / "cn-2027.json").write_text(
        json.dumps(
            {
                "year": 2027,
                "source": "test notice for 2027",
                "holidays": [
                    {"date": f"2027-01-0{d}", "name_zh": "元旦", "name_en": "New Year's Day"}
                    for d in (1, 2, 3, 4)
                ],
                "working_days": [],
            }
        ),
        encoding="utf-8",
    )
    later_at = CHRISTMAS + timedelta(hours=1)
    async with service(later_at) as client:
        made = await client.post("/api/v1/complaints", json=BODY, headers=auth(issuer, OWNER))
        assert made.status_code == 201, made.text
        later = made.json()
        # the earlier complaint is handled after the restart: its deadline is not recomputed
        accepted = await client.post(
            f"/api/v1/complaints/{early_id}/accept", headers=auth(issuer, ALICE)
        )
        assert accepted.status_code == 200, accepted.text
    official_2027 = reference.load_calendar(calendar_dir).label(2027)
    assert re.fullmatch(r"official:2027@[0-9a-f]{8}", official_2027)
    assert later["completion_deadline_calendar"] == f"{OFFICIAL_2026}+{official_2027}"
    assert datetime.fromisoformat(later["completion_deadline"]) == datetime.fromisoformat(
        end_of(2027, 1, 5)
    )
    after = await stored(fresh_db, early_id)
    assert after["status"] == "accepted"
    assert after["completion"] == early["completion"]
    assert after["completion"]["deadline"] == end_of(2027, 1, 4)


async def test_a_year_no_calendar_can_provide_is_the_platforms_503_not_the_owners_error(
    service: Service, issuer: DevIssuer, fresh_db: str
) -> None:
    # The library ends with 2100: a deadline in 2101 has no calendar at all.
    async with service(datetime(2100, 12, 28, 10, 0, tzinfo=CHINA)) as client:
        made = await client.post("/api/v1/complaints", json=BODY, headers=auth(issuer, OWNER))
    assert made.status_code == 503, made.text
    error = made.json()["error"]
    assert error["code"] == "year_not_loaded"
    assert "平台的问题" in error["message"]
    assert "不是您填写的内容有误" in error["message"]
    assert "not with what you entered" in error["message_en"]
    assert not error.get("fields")  # nothing in the owner's input is marked wrong
    conn = await asyncpg.connect(fresh_db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM complaints") == 0
    finally:
        await conn.close()


async def test_the_owners_form_says_the_gap_is_the_platforms_not_the_owners(
    service: Service,
) -> None:
    async with service(datetime(2100, 12, 28, 10, 0, tzinfo=CHINA)) as client:
        page = await client.get("/", params={"project_id": "p-1", "category": "other"})
        assert page.status_code == 200, page.text
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
        fields = {**hidden, "description": BODY["description"], "anonymous": "yes"}
        answer = await client.post("/", data=fields)
    assert answer.status_code == 503, answer.text
    assert "暂时无法受理" in answer.text
    assert "这是平台的问题" in answer.text
    assert "您填写的内容没有问题" in answer.text
    assert "请修正以下问题" not in answer.text  # no error summary pointing at the owner's fields


async def test_the_service_layer_stores_the_basis_with_the_deadline(
    fresh_db: str, calendar_dir: Path
) -> None:
    await db.prepare_database(fresh_db, MIGRATIONS, "complaints")
    pool = await db.create_pool(fresh_db, max_size=2)
    try:
        await register_complaint_project(
            pool, "p-1", "ent-a", "120101", occurred_at=CHRISTMAS - timedelta(days=30)
        )
        rules = reference.load_rules(calendar_dir=calendar_dir)
        what = intake.Intake(
            project_id="p-1", category="other", description=BODY["description"], channel="web"
        )
        filed = await intake.file(
            complaints_unit(pool, CHRISTMAS), rules, OWNER, what, trace=Trace.start()
        )
        basis = await pool.fetchval(
            "SELECT doc->'completion'->>'calendar' FROM complaints WHERE complaint_id = $1",
            filed.complaint.complaint_id,
        )
        assert basis == f"{OFFICIAL_2026}+{PROVISIONAL_2027}"
    finally:
        await pool.close()


# --- inspections: rectification deadlines ---------------------------------------------------------


async def test_rectification_orders_store_the_calendar_of_their_deadline(
    fresh_db: str, kafka_topics: str, issuer: DevIssuer
) -> None:
    at = datetime(2026, 12, 29, 10, 0, tzinfo=CHINA)  # a Tuesday
    settings = inspections.InspectionsSettings(
        database_url=fresh_db,
        kafka_bootstrap_servers=kafka_topics,
        auth_jwt_public_key=issuer.public_key_pem,
    )
    app = build_app(inspections.spec(settings), settings, clock=FixedClock(at))
    body = {**FAILED_INSPECTION, "inspected_at": at.isoformat()}
    district = Principal("heping-officer-01", Role.DISTRICT_OFFICE, district_code="120101")
    async with served(app) as client:
        made = await client.post("/api/v1/inspections", json=body, headers=auth(issuer, district))
    assert made.status_code == 201, made.text  # was 503: the serious items reach into 2027
    conn = await asyncpg.connect(fresh_db)
    try:
        rows = await conn.fetch(
            "SELECT severity, deadline, deadline_calendar FROM rectification_orders"
        )
        payloads = [
            json.loads(bytes(r["payload"]))
            for r in await conn.fetch(
                "SELECT payload FROM outbox WHERE event_type LIKE '%RectificationOrdered%'"
            )
        ]
    finally:
        await conn.close()
    by_severity = {r["severity"]: r for r in rows}
    # serious: 3 working days from Tue Dec 29: Wed 30, Thu 31, (Jan 1 off) Mon Jan 4
    serious = by_severity["serious"]
    assert serious["deadline"] == datetime(2027, 1, 4, 23, 59, 59, 999999, tzinfo=CHINA)
    assert serious["deadline_calendar"] == f"{OFFICIAL_2026}+{PROVISIONAL_2027}"
    assert by_severity["urgent"]["deadline_calendar"] == "elapsed"  # 24 hours, no calendar
    assert sorted(p["deadline_calendar"] for p in payloads) == sorted(
        r["deadline_calendar"] for r in rows
    )
