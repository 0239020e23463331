"""The complaints service on the real PostgreSQL: intake, first-inquiry responsibility, feedback,
the SLA scan (exactly once, also when run concurrently) and what the outbox carries."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from runtime import db
from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.errors import DomainError, InvalidInput, NotFound
from runtime.scheduler import FixedClock
from runtime.service import build_app
from runtime.settings import Settings
from runtime.unit_of_work import Trace
from services.complaints.adapters import reference
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.entrypoints import complaints_http, jobs
from services.complaints.service import handling, intake
from tests.asgi import served
from tests.complaints_support import api_spec, complaints_settings
from tests.factories import complaints_unit, register_complaint_project

pytestmark = pytest.mark.integration
MIGRATIONS = Path("services/complaints/migrations")
TRACE = Trace.start()
at = complaints_unit
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA)  # a Monday, a working day
PHONE = "13812345678"
NAME = "张三丰"
TEXT = "三号楼整栋停水已经两天了,请尽快处理"
OWNER = Principal("owner-1", Role.OWNER)
ALICE = Principal("alice", Role.ENTERPRISE, enterprise_id="ent-a")
BOB = Principal("bob", Role.ENTERPRISE, enterprise_id="ent-a")
MALLORY = Principal("mallory", Role.ENTERPRISE, enterprise_id="ent-b")
DISTRICT = Principal("do-1", Role.DISTRICT_OFFICE, district_code="120101")
OTHER_DISTRICT = Principal("do-2", Role.DISTRICT_OFFICE, district_code="120102")


@pytest.fixture(scope="module")
def rules() -> ComplaintRules:
    return reference.load_rules()


async def _project(pool: asyncpg.Pool, project_id: str, enterprise: str, district: str) -> None:
    await register_complaint_project(
        pool, project_id, enterprise, district, occurred_at=T0 - timedelta(days=30)
    )


@pytest.fixture
async def cpool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    await db.prepare_database(fresh_db, MIGRATIONS, "complaints")
    pool = await db.create_pool(fresh_db, max_size=6)
    await _project(pool, "p-1", "ent-a", "120101")
    await _project(pool, "p-2", "ent-b", "120102")
    yield pool
    await pool.close()


def an_intake(**changes: object) -> intake.Intake:
    base: dict[str, object] = {
        "project_id": "p-1",
        "category": "water",
        "description": TEXT,
        "channel": "web",
        "contact_name": NAME,
        "contact_phone": PHONE,
        "answers": {"problem": "no_water"},
    }
    return intake.Intake(**{**base, **changes})  # type: ignore[arg-type]


async def outbox_types(pool: asyncpg.Pool) -> Counter[str]:
    rows = await pool.fetch("SELECT event_type FROM outbox")
    return Counter(r["event_type"].split(".")[-2] for r in rows)


async def outbox_payloads(pool: asyncpg.Pool) -> list[str]:
    return [bytes(r["payload"]).decode() for r in await pool.fetch("SELECT payload FROM outbox")]


async def test_full_cycle_with_reopening(cpool: asyncpg.Pool, rules: ComplaintRules) -> None:
    filed = await intake.file(at(cpool, T0), rules, OWNER, an_intake(), trace=TRACE)
    assert filed.ticket_no == "TS-20260302-000001"
    cid = filed.complaint.complaint_id
    stored = await cpool.fetchval("SELECT token_sha256 FROM complaints WHERE complaint_id=$1", cid)
    assert stored == intake.token_hash(filed.token)
    assert filed.token not in stored

    accepted = await handling.accept(at(cpool, T0 + timedelta(minutes=10)), ALICE, cid, trace=TRACE)
    assert accepted.complaint.responsible is not None
    assert accepted.complaint.responsible.staff_id == "alice"
    # 首问: a colleague cannot take the complaint over; the same person again is a no-op.
    with pytest.raises(DomainError) as taken:
        await handling.accept(at(cpool, T0 + timedelta(minutes=11)), BOB, cid, trace=TRACE)
    assert taken.value.code == "already_accepted"
    await handling.accept(at(cpool, T0 + timedelta(minutes=12)), ALICE, cid, trace=TRACE)

    await handling.reply(
        at(cpool, T0 + timedelta(hours=1)), rules, ALICE, cid, text="已安排维修", trace=TRACE
    )
    reopened = await handling.feedback(
        at(cpool, T0 + timedelta(hours=2)),
        rules,
        filed.token,
        satisfied=False,
        rating=2,
        comment="还是没水",
        trace=TRACE,
    )
    assert reopened.complaint.status.value == "reopened"
    assert reopened.complaint.responsible is not None
    assert reopened.complaint.responsible.staff_id == "alice"
    with pytest.raises(DomainError) as not_theirs:
        await handling.reply(
            at(cpool, T0 + timedelta(hours=3)), rules, BOB, cid, text="我来答复", trace=TRACE
        )
    assert not_theirs.value.code == "not_responsible"
    await handling.reply(
        at(cpool, T0 + timedelta(hours=3)), rules, ALICE, cid, text="已恢复供水", trace=TRACE
    )
    closed = await handling.feedback(
        at(cpool, T0 + timedelta(hours=4)),
        rules,
        filed.token,
        satisfied=True,
        rating=5,
        comment=None,
        trace=TRACE,
    )
    assert closed.complaint.status.value == "closed"

    assert await outbox_types(cpool) == Counter(
        {
            "ComplaintFiled": 1,
            "ComplaintAccepted": 1,
            "ComplaintReplied": 2,
            "ComplaintFeedbackReceived": 2,
            "ComplaintReopened": 1,
            "ComplaintClosed": 1,
        }
    )
    filed_event = next(json.loads(p) for p in await outbox_payloads(cpool) if '"channel"' in p)
    assert (filed_event["enterprise_id"], filed_event["district_code"]) == ("ent-a", "120101")
    for payload in await outbox_payloads(cpool):
        for secret in (PHONE, NAME, TEXT, "还是没水", "已恢复供水", filed.token):
            assert secret not in payload
    with pytest.raises(DomainError):
        await handling.feedback(
            at(cpool, T0 + timedelta(hours=5)),
            rules,
            filed.token,
            satisfied=True,
            rating=5,
            comment=None,
            trace=TRACE,
        )


async def test_intake_refuses_unknown_or_foreign_projects(
    cpool: asyncpg.Pool, rules: ComplaintRules
) -> None:
    with pytest.raises(InvalidInput) as unknown:
        await intake.file(at(cpool, T0), rules, OWNER, an_intake(project_id="p-404"), trace=TRACE)
    assert unknown.value.field == "project_id"
    staff = an_intake(channel="phone")
    with pytest.raises(InvalidInput) as foreign:
        await intake.file(at(cpool, T0), rules, MALLORY, staff, trace=TRACE)
    assert foreign.value.field == "project_id"
    by_staff = await intake.file(at(cpool, T0), rules, ALICE, staff, trace=TRACE)
    assert by_staff.complaint.filed_by == "alice"
    with pytest.raises(InvalidInput) as web:
        await intake.file(at(cpool, T0), rules, ALICE, an_intake(), trace=TRACE)
    assert web.value.field == "channel"
    with pytest.raises(InvalidInput) as html:
        await intake.file(
            at(cpool, T0), rules, OWNER, an_intake(description="<b>停水</b>啦啦啦"), trace=TRACE
        )
    assert html.value.field == "description"
    assert await outbox_types(cpool) == Counter({"ComplaintFiled": 1})


async def test_scope_and_tokens(cpool: asyncpg.Pool, rules: ComplaintRules) -> None:
    filed = await intake.file(at(cpool, T0), rules, OWNER, an_intake(), trace=TRACE)
    cid = filed.complaint.complaint_id
    assert (await handling.get_by_token(at(cpool, T0), filed.token)).complaint.complaint_id == cid
    with pytest.raises(NotFound):
        await handling.get_by_token(
            at(cpool, T0), filed.token[:-1] + ("A" if filed.token[-1] != "A" else "B")
        )
    for outsider in (MALLORY, OTHER_DISTRICT):
        with pytest.raises(NotFound):
            await handling.get(at(cpool, T0), outsider, cid)
        assert await handling.list_for(at(cpool, T0), outsider, status=None, limit=10) == []
    with pytest.raises(NotFound):
        await handling.accept(at(cpool, T0 + timedelta(minutes=5)), MALLORY, cid, trace=TRACE)
    assert len(await handling.list_for(at(cpool, T0), DISTRICT, status="filed", limit=10)) == 1
    assert await handling.list_for(at(cpool, T0), DISTRICT, status="closed", limit=10) == []


async def test_transfers_escalate_once(cpool: asyncpg.Pool, rules: ComplaintRules) -> None:
    filed = await intake.file(at(cpool, T0), rules, OWNER, an_intake(), trace=TRACE)
    cid = filed.complaint.complaint_id
    await handling.accept(at(cpool, T0 + timedelta(minutes=5)), ALICE, cid, trace=TRACE)
    limit = rules.policy.max_transfers
    targets = ["ent-a-water", "ent-a"] * (limit + 1)
    for n, org in enumerate(targets[: limit + 2], start=1):
        row = await handling.transfer(
            at(cpool, T0 + timedelta(minutes=5 + n)),
            rules,
            ALICE,
            cid,
            to_org=org,
            reason="非本单位职责",
            trace=TRACE,
        )
        assert len(row.complaint.transfers) == n
    payloads = [json.loads(p) for p in await outbox_payloads(cpool) if '"escalated"' in p]
    assert [p["escalated"] for p in payloads] == [False] * limit + [True, False]


async def test_sla_warning_and_overdue_once_even_concurrently(
    cpool: asyncpg.Pool, rules: ComplaintRules
) -> None:
    filed = await intake.file(
        at(cpool, T0), rules, OWNER, an_intake(), trace=TRACE
    )  # water: accept in 30 min
    assert await jobs.sla_job(cpool, T0 + timedelta(minutes=20)) == 0
    assert await jobs.sla_job(cpool, T0 + timedelta(minutes=25)) == 1  # warning at 80 %
    assert await jobs.sla_job(cpool, T0 + timedelta(minutes=26)) == 0
    late = T0 + timedelta(minutes=31)
    results = await asyncio.gather(*(jobs.sla_job(cpool, late) for _ in range(4)))
    assert sum(results) == 1
    assert await jobs.sla_job(cpool, late + timedelta(minutes=1)) == 0
    types = await outbox_types(cpool)
    assert (types["ComplaintWarning"], types["ComplaintOverdue"]) == (1, 1)
    overdue = next(json.loads(p) for p in await outbox_payloads(cpool) if '"acceptance"' in p)
    assert overdue["complaint_id"] == filed.complaint.complaint_id
    # Accepting late stops the acceptance clock; nothing more is emitted for it.
    await handling.accept(at(cpool, late), ALICE, filed.complaint.complaint_id, trace=TRACE)
    assert await jobs.sla_job(cpool, late + timedelta(hours=1)) == 0


async def test_auto_close_after_days_without_feedback(
    cpool: asyncpg.Pool, rules: ComplaintRules
) -> None:
    filed = await intake.file(at(cpool, T0), rules, OWNER, an_intake(), trace=TRACE)
    cid = filed.complaint.complaint_id
    await handling.accept(at(cpool, T0 + timedelta(minutes=5)), ALICE, cid, trace=TRACE)
    replied = T0 + timedelta(hours=1)
    await handling.reply(at(cpool, replied), rules, ALICE, cid, text="已处理", trace=TRACE)
    days = rules.policy.auto_close_days
    assert await jobs.sla_job(cpool, replied + timedelta(days=days, seconds=-1)) == 0
    assert await jobs.sla_job(cpool, replied + timedelta(days=days)) == 1
    assert await jobs.sla_job(cpool, replied + timedelta(days=days + 1)) == 0
    row = await handling.get(at(cpool, T0), DISTRICT, cid)
    assert (row.complaint.status.value, row.complaint.close_reason) == ("closed", "no_feedback")
    closed = [json.loads(p) for p in await outbox_payloads(cpool) if '"how"' in p]
    assert [c["how"] for c in closed] == ["auto"]


# --- HTTP ---------------------------------------------------------------------------------------


class Api:
    def __init__(self, client: httpx.AsyncClient, app: FastAPI, issuer: DevIssuer) -> None:
        self.client, self.app, self.issuer = client, app, issuer

    def auth(self, who: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}


@pytest.fixture
async def api(fresh_db: str, kafka_topics: str) -> AsyncIterator[Api]:
    issuer = DevIssuer.generate()

    async def projects(pool: asyncpg.Pool, _settings: Settings) -> None:
        await _project(pool, "p-1", "ent-a", "120101")
        await _project(pool, "p-2", "ent-b", "120102")

    settings = complaints_settings(fresh_db, kafka_topics, issuer)
    spec = api_spec(
        settings, title="complaints test", routers=(complaints_http.router,), on_startup=(projects,)
    )
    app = build_app(spec, settings, clock=FixedClock(T0))
    async with served(app) as client:
        yield Api(client, app, issuer)


async def test_http_intake_token_and_contact_visibility(api: Api) -> None:
    body = {
        "project_id": "p-1",
        "category": "water",
        "description": TEXT,
        "answers": {"problem": "no_water"},
        "contact": {"name": NAME, "phone": PHONE},
    }
    owner = api.auth(OWNER)
    made = await api.client.post("/api/v1/complaints", json=body, headers=owner)
    assert made.status_code == 201, made.text
    filed = made.json()
    assert filed["ticket_no"].startswith("TS-20260302-")
    cid, token = filed["complaint_id"], filed["token"]

    unknown = await api.client.post(
        "/api/v1/complaints", json={**body, "project_id": "p-404"}, headers=owner
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["fields"][0]["field"] == "project_id"
    scoped = await api.client.post(
        "/api/v1/complaints", json={**body, "district_code": "120102"}, headers=owner
    )
    assert scoped.status_code == 422  # scope never comes from the body

    mine = await api.client.get("/api/v1/complaints/by-token", headers={"X-Complaint-Token": token})
    assert mine.status_code == 200
    assert mine.json()["complaint_id"] == cid
    wrong = await api.client.get(
        "/api/v1/complaints/by-token", headers={"X-Complaint-Token": "x" * 43}
    )
    assert wrong.status_code == 404

    handling = await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(ALICE))
    assert handling.json()["contact"] == {"name": NAME, "phone": PHONE}
    city_office = api.auth(Principal("city-1", Role.CITY_OFFICE))
    city = await api.client.get(f"/api/v1/complaints/{cid}", headers=city_office)
    assert city.status_code == 200
    assert "contact" not in city.json()
    listed = await api.client.get("/api/v1/complaints?status=filed", headers=api.auth(DISTRICT))
    assert [c["complaint_id"] for c in listed.json()] == [cid]
    assert PHONE not in listed.text
    other = await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(MALLORY))
    assert other.status_code == 404
    act = await api.client.post(f"/api/v1/complaints/{cid}/accept", headers=api.auth(MALLORY))
    assert act.status_code == 404

    ok = await api.client.post(f"/api/v1/complaints/{cid}/accept", headers=api.auth(ALICE))
    assert ok.status_code == 200
    assert ok.json()["responsible_staff_id"] == "alice"
    replied = await api.client.post(
        f"/api/v1/complaints/{cid}/reply", json={"text": "已恢复供水"}, headers=api.auth(ALICE)
    )
    assert replied.json()["status"] == "replied"
    rated = await api.client.post(
        "/api/v1/complaints/by-token/feedback",
        json={"satisfied": True, "rating": 5},
        headers={"X-Complaint-Token": token},
    )
    assert rated.status_code == 200
    assert rated.json()["status"] == "closed"
