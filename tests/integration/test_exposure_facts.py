"""The exposure board's facts, grades and campaign statistics on a real database: events built from
the schemas classes are folded by the fact handlers (twice, and in reverse order), then the grades,
the per-district and per-enterprise statistics and their CSV are checked against hand-computed
values."""

from __future__ import annotations

import csv
import io
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from runtime import db
from runtime.scheduler import SystemClock
from runtime.unit_of_work import Delivered
from schemas import cloudevents
from schemas.base import Event
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.registry import v1 as registry
from schemas.surveys import v1 as surveys
from services.exposure import subscriptions
from services.exposure.adapters import board_stats, policy_file
from services.exposure.adapters.postgres import PgExposureUnitOfWork
from services.exposure.domain.board import CampaignStats

pytestmark = pytest.mark.integration
SERVICE = Path(__file__).resolve().parents[2] / "services" / "exposure"
POLICY = policy_file.load(SERVICE / "data" / "publication.toml")
CST = timezone(timedelta(hours=8))
T0 = datetime(2011, 8, 1, 9, 0, tzinfo=CST)
DISTRICTS = {"120101": "和平区", "120103": "河西区"}
ENTERPRISES = {
    "E-0001": "津城物业服务有限公司",
    # an enterprise chooses its name: commas, quotes and a formula must stay inert in the CSV
    "E-0002": '=HYPERLINK("http://evil.example","渤海, 物业")',
}


async def open_pool(dsn: str) -> asyncpg.Pool:
    applied = await db.prepare_database(dsn, SERVICE / "migrations", "exposure")
    assert {"exposure/0001_evidence", "exposure/0002_cases", "exposure/0003_facts"} <= set(applied)
    return await db.create_pool(dsn, max_size=4)


@pytest.fixture
async def pool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    p = await open_pool(fresh_db)
    yield p
    await p.close()


PROJECTIONS = {t: h for group in subscriptions.GROUPS for t, h in group.replay().items()}
UNIT = PgExposureUnitOfWork(None, source="/wuye/exposure", clock=SystemClock(), policy=POLICY)


async def apply(pool: asyncpg.Pool, events: Sequence[Event]) -> None:
    """Each event in its own transaction, as the consumer's one-by-one fallback does."""
    for event in events:
        handle = PROJECTIONS[event.ce_type]
        ce = cloudevents.from_event(event, source="/test")
        async with pool.acquire() as conn, conn.transaction():
            await handle(UNIT.joined(conn), [Delivered(event, ce)])


async def apply_in_runs(pool: asyncpg.Pool, events: Sequence[Event]) -> None:
    """The events in one transaction, each run of one type handed over at once, as the
    consumer's batches do."""
    async with pool.acquire() as conn, conn.transaction():
        for _, run in itertools.groupby(events, key=lambda e: e.ce_type):
            delivered = [Delivered(e, cloudevents.from_event(e, source="/test")) for e in run]
            await PROJECTIONS[delivered[0].event.ce_type](UNIT.joined(conn), delivered)


# -- event builders (from the schemas classes) --------------------------------------------------


def project(
    pid: str,
    enterprise: str,
    district: str,
    *,
    at: datetime = T0,
    name: str | None = None,
    updated: bool = False,
) -> registry.ProjectRegistered:
    cls = registry.ProjectUpdated if updated else registry.ProjectRegistered
    return cls(
        project_id=pid,
        project_name=name or f"{pid} 小区",
        address="天津市某路 1 号",
        district_code=district,
        district_name=DISTRICTS[district],
        enterprise_id=enterprise,
        enterprise_name=ENTERPRISES.get(enterprise, f"{enterprise} 物业"),
        service_grade="一级",
        occurred_at=at,
    )


def inspection(
    pid: str, enterprise: str, district: str, score: float, *, kind: str = "patrol"
) -> inspections.InspectionCompleted:
    return inspections.InspectionCompleted(
        inspection_id=f"I-{pid}-{enterprise}-{kind}-{score:g}",  # stable: events are re-applied
        project_id=pid,
        project_name=f"{pid} 小区",
        enterprise_id=enterprise,
        enterprise_name=ENTERPRISES.get(enterprise, enterprise),
        district_code=district,
        kind=kind,  # type: ignore[arg-type]
        template_id="contract-self-inspection",
        template_version=1,
        score=score,
        pass_mark=80.0,
        inspected_at=T0 + timedelta(days=1),
        recorded_by="officer-1",
        passed=score >= 80,
        failed_item_count=0 if score >= 80 else 2,
    )


ITEM = inspections.FailedItem(
    item_id="waste.daily",
    group="waste",
    title_zh="生活垃圾日产日清",
    title_en="Household waste cleared daily",
    severity="serious",
    note="",
)
DEADLINE = T0 + timedelta(days=10)


def order(
    cls: type[Event], oid: str, pid: str, enterprise: str, district: str, **extra: Any
) -> Any:
    return cls(
        order_id=oid,
        inspection_id=f"I-{oid}",
        project_id=pid,
        project_name=f"{pid} 小区",
        enterprise_id=enterprise,
        enterprise_name=ENTERPRISES.get(enterprise, enterprise),
        district_code=district,
        items=(ITEM,),
        severity="serious",
        deadline=DEADLINE,
        **extra,
    )


def ordered(oid: str, pid: str, e: str, d: str) -> Any:
    return order(inspections.RectificationOrdered, oid, pid, e, d, ordered_at=T0)


def verified(oid: str, pid: str, e: str, d: str, *, on_time: bool) -> Any:
    return order(
        inspections.RectificationVerified,
        oid,
        pid,
        e,
        d,
        verified_at=DEADLINE + timedelta(days=1),
        on_time=on_time,
    )


def overdue(oid: str, pid: str, e: str, d: str) -> Any:
    return order(
        inspections.RectificationOverdue,
        oid,
        pid,
        e,
        d,
        status="ordered",
        detected_at=DEADLINE + timedelta(hours=1),
    )


def rejected(oid: str, pid: str, e: str, d: str, *, inadequate: bool) -> Any:
    return order(
        inspections.RectificationRejected,
        oid,
        pid,
        e,
        d,
        rejection_no=2 if inadequate else 1,
        reason="仍有满溢",
        inadequate=inadequate,
        rejected_at=DEADLINE - timedelta(days=1),
    )


def complaint(cls: type[Event], cid: str, pid: str, e: str, d: str, **extra: Any) -> Any:
    return cls(
        complaint_id=cid,
        project_id=pid,
        enterprise_id=e,
        district_code=d,
        category="water",
        **extra,
    )


def filed(cid: str, pid: str, e: str, d: str) -> Any:
    return complaint(
        complaints.ComplaintFiled,
        cid,
        pid,
        e,
        d,
        urgency="normal",
        channel="web",
        filed_at=T0,
        ticket_no="TS-0001",
        owner_account="owner-42",
    )


def complaint_overdue(cid: str, pid: str, e: str, d: str, *, clock: str) -> Any:
    return complaint(
        complaints.ComplaintOverdue,
        cid,
        pid,
        e,
        d,
        clock=clock,
        deadline=T0 + timedelta(days=5),
        detected_at=T0 + timedelta(days=5, minutes=1),
    )


def closed(cid: str, pid: str, e: str, d: str) -> Any:
    return complaint(
        complaints.ComplaintClosed, cid, pid, e, d, how="feedback", closed_at=T0 + timedelta(days=3)
    )


def survey(
    sid: str,
    pid: str,
    e: str,
    d: str,
    *,
    responses: int,
    satisfaction: float | None,
    days: int,
    households: int = 100,
) -> surveys.SurveyClosed:
    return surveys.SurveyClosed(
        survey_id=sid,
        campaign_id="C-2011",
        enterprise_id=e,
        project_id=pid,
        district_code=d,
        households=households,
        how="auto",
        responses=responses,
        coverage=responses / households,
        satisfaction_rate=satisfaction,
        means={"overall": 4.2 if responses else None},
        closed_at=T0 + timedelta(days=days),
    )


# -- the scenario ------------------------------------------------------------------------------
#
# 和平区 120101: P1 (E1, good), P2 (E1, mediocre), P4 (E2, bad survey, no inspection),
#                P5 (E3 until handed over to E1; E3's inspection scored 40)
# 河西区 120103: P3 (E2, inadequate rectification and a published case)

H, X = "120101", "120103"
E1, E2, E3 = "E-0001", "E-0002", "E-0003"


def scenario() -> list[Event]:
    return [
        # registry: P1 renamed later; P5 handed over from E3 to E1
        project("P1", E1, H, name="海河花园"),
        project("P1", E1, H, name="海河花园(新)", at=T0 + timedelta(days=2), updated=True),
        project("P2", E1, H),
        project("P3", E2, X),
        project("P4", E2, H),
        project("P5", E3, H),
        project("P5", E1, H, at=T0 + timedelta(days=5), updated=True),
        # inspections
        inspection("P1", E1, H, 90.0),
        inspection("P1", E1, H, 88.0, kind="self"),
        inspection("P2", E1, H, 80.0),
        inspection("P3", E2, X, 70.0),
        inspection("P5", E3, H, 40.0),  # the former enterprise's
        # rectification orders
        verified("O1", "P1", E1, H, on_time=True),  # verified before its order arrives
        ordered("O1", "P1", E1, H),
        ordered("O2", "P1", E1, H),  # not due yet
        ordered("O3", "P2", E1, H),
        overdue("O3", "P2", E1, H),
        verified("O3", "P2", E1, H, on_time=False),
        verified("O4", "P2", E1, H, on_time=True),
        verified("O5", "P2", E1, H, on_time=True),
        verified("O6", "P2", E1, H, on_time=True),
        rejected("O7", "P3", E2, X, inadequate=False),
        rejected("O7", "P3", E2, X, inadequate=True),  # 整改不到位, never overdue
        rejected("O8", "P3", E2, X, inadequate=False),  # just a first rejection: no fact
        # complaints
        closed("C1", "P1", E1, H),  # closed before its filing arrives
        filed("C1", "P1", E1, H),
        filed("C2", "P2", E1, H),
        complaint_overdue("C2", "P2", E1, H, clock="completion"),  # still open: due, late
        filed("C3", "P2", E1, H),
        complaint_overdue("C3", "P2", E1, H, clock="acceptance"),  # acceptance does not count
        closed("C3", "P2", E1, H),
        # surveys
        survey("S1", "P1", E1, H, responses=10, satisfaction=0.5, days=10),
        survey("S2", "P1", E1, H, responses=30, satisfaction=0.9, days=20),
        survey("S3", "P1", E1, H, responses=0, satisfaction=None, days=30),  # latest, empty
        survey("S4", "P3", E2, X, responses=20, satisfaction=0.7, days=20),
        survey("S5", "P4", E2, H, responses=10, satisfaction=0.5, days=20),
    ]


async def publish_case(pool: asyncpg.Pool, case_id: str, pid: str, e: str, status: str) -> None:
    """A case as the case lifecycle leaves it (inserted directly: its events are tested elsewhere)."""
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO cases (case_id, project_id, project_name, enterprise_id, enterprise_name,
                      district_code, reason, tier, order_id, inspection_id, items, deadline, status,
                      opened_at, updated_at)
               VALUES ($1, $2, $2, $3, $3, '120103', 'rectification_inadequate', 'general',
                      $4, 'I-x', '[]'::jsonb, $5, $6, $5, $5)""",
            case_id,
            pid,
            e,
            f"O-{case_id}",
            DEADLINE,
            status,
        )


async def snapshot(pool: asyncpg.Pool) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    async with pool.acquire() as conn:
        for table, key in (
            ("projects", "project_id"),
            ("inspection_facts", "project_id, score"),
            ("order_facts", "order_id"),
            ("complaint_facts", "complaint_id"),
            ("survey_facts", "survey_id"),
        ):
            rows = await conn.fetch(f"SELECT * FROM {table} ORDER BY {key}")
            out[table] = [tuple(r.values()) for r in rows]
    return out


@pytest.fixture
async def board(pool: asyncpg.Pool) -> asyncpg.Pool:
    await apply(pool, scenario())
    await publish_case(pool, "K1", "P3", E2, "published")
    await publish_case(pool, "K2", "P1", E1, "withdrawn")  # no longer public: does not count
    return pool


# -- the facts ---------------------------------------------------------------------------------


async def test_every_event_applied_twice_changes_nothing(board: asyncpg.Pool) -> None:
    before = await snapshot(board)
    assert len(before["order_facts"]) == 7  # O1..O7; O8 was only rejected once
    await apply(board, scenario())
    assert await snapshot(board) == before


async def test_arrival_order_does_not_matter(
    board: asyncpg.Pool, db_factory: Callable[[], str]
) -> None:
    other = await open_pool(db_factory())
    try:
        await apply(other, list(reversed(scenario())))
        assert await snapshot(other) == await snapshot(board)
    finally:
        await other.close()


def with_repeats() -> list[Event]:
    """The scenario sorted into runs of one type, with events of one row repeated inside a run
    (one INSERT may not touch a row twice: the batch merges them as one-by-one would)."""
    later = DEADLINE + timedelta(days=2)
    extra: list[Event] = [
        ordered("O9", "P1", E1, H),
        order(inspections.RectificationOrdered, "O9", "P1", E1, H, ordered_at=T0 + timedelta(1)),
        verified("O4", "P2", E1, H, on_time=False),
        order(
            inspections.RectificationVerified, "O9", "P1", E1, H, verified_at=later, on_time=True
        ),
        overdue("O9", "P1", E1, H),
        overdue("O9", "P1", E1, H),
        filed("C2", "P2", E1, H),
        closed("C1", "P1", E1, H),
        complaint_overdue("C1", "P1", E1, H, clock="completion"),
        inspection("P1", E1, H, 90.0),
        survey("S1", "P1", E1, H, responses=11, satisfaction=0.1, days=10),
    ]
    return sorted([*scenario(), *extra], key=lambda e: e.ce_type)


async def test_runs_written_in_one_statement_leave_the_rows_one_by_one_leaves(
    pool: asyncpg.Pool, db_factory: Callable[[], str]
) -> None:
    await apply(pool, with_repeats())
    other = await open_pool(db_factory())
    try:
        await apply_in_runs(other, with_repeats())
        assert await snapshot(other) == await snapshot(pool)
    finally:
        await other.close()


async def test_an_older_registry_record_never_overwrites_a_newer_one(board: asyncpg.Pool) -> None:
    await apply(board, [project("P1", E1, H, name="旧名", at=T0 + timedelta(days=1), updated=True)])
    async with board.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT project_name, occurred_at FROM projects WHERE project_id='P1'"
        )
        owner = await conn.fetchval("SELECT enterprise_id FROM projects WHERE project_id = 'P5'")
    assert row["project_name"] == "海河花园(新)"
    assert row["occurred_at"] == T0 + timedelta(days=2)
    assert owner == E1
    await apply(board, [project("P1", E1, H, name="更新", at=T0 + timedelta(days=3), updated=True)])
    async with board.acquire() as conn:
        name = await conn.fetchval("SELECT project_name FROM projects WHERE project_id = 'P1'")
    assert name == "更新"


async def test_order_and_complaint_facts_combine_their_events(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        o1 = await conn.fetchrow("SELECT * FROM order_facts WHERE order_id = 'O1'")
        o3 = await conn.fetchrow("SELECT * FROM order_facts WHERE order_id = 'O3'")
        o7 = await conn.fetchrow("SELECT * FROM order_facts WHERE order_id = 'O7'")
        c1 = await conn.fetchrow("SELECT * FROM complaint_facts WHERE complaint_id = 'C1'")
        c3 = await conn.fetchrow("SELECT * FROM complaint_facts WHERE complaint_id = 'C3'")
    assert (o1["ordered_at"], o1["on_time"], o1["overdue"]) == (T0, True, False)
    assert o1["verified_at"] == DEADLINE + timedelta(days=1)
    assert (o3["overdue"], o3["on_time"]) == (True, False)
    assert o7["inadequate_at"] == DEADLINE - timedelta(days=1)
    assert o7["verified_at"] is None
    assert (c1["filed_at"], c1["closed_at"]) == (T0, T0 + timedelta(days=3))
    assert (c3["completion_overdue"], c3["category"]) == (False, "water")


async def test_nothing_personal_is_stored(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        columns = {
            r["column_name"]
            for r in await conn.fetch(
                """SELECT column_name FROM information_schema.columns
                    WHERE table_name IN ('complaint_facts', 'survey_facts')"""
            )
        }
        dump = await conn.fetchval("SELECT string_agg(t::text, ' ') FROM complaint_facts t")
    assert not columns & {"owner_account", "ticket_no", "address", "phone", "name", "text"}
    assert "owner-42" not in dump
    assert "TS-0001" not in dump


# -- grades ------------------------------------------------------------------------------------


async def test_project_grades(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        rows = {p.project_id: p for p in await board_stats.project_grades(conn)}
    assert list(rows) == ["P1", "P2", "P5", "P4", "P3"]  # by district, enterprise, project

    p1 = rows["P1"]
    assert (p1.inspections, p1.mean_score) == (2, 89.0)
    assert (p1.orders_due, p1.orders_on_time, p1.on_time_rectification_rate) == (1, 1, 1.0)
    assert (p1.complaints_due, p1.complaints_on_time) == (1, 1)
    # the latest survey with responses, not the later empty one, not the older one
    assert (p1.satisfaction_rate, p1.survey_responses) == (0.9, 30)
    assert p1.published_cases == 0  # its case was withdrawn
    assert p1.project_name == "海河花园(新)"
    assert p1.grade == "green"

    p2 = rows["P2"]
    assert (p2.orders_due, p2.orders_on_time, p2.on_time_rectification_rate) == (4, 3, 0.75)
    assert (p2.complaints_due, p2.complaints_on_time, p2.complaint_on_time_rate) == (2, 1, 0.5)
    assert p2.satisfaction_rate is None
    assert p2.grade == "yellow"
    assert [r.code for r in p2.assessment.reasons] == [
        "score_below_green",
        "rectification_below_green",
        "completion_below_green",
    ]

    p3 = rows["P3"]
    assert (p3.orders_due, p3.orders_on_time) == (1, 0)
    assert p3.published_cases == 1
    assert p3.grade == "red"
    assert [r.code for r in p3.assessment.reasons] == ["published_case", "rectification_low"]

    p4 = rows["P4"]
    assert (p4.inspections, p4.mean_score, p4.satisfaction_rate) == (0, None, 0.5)
    assert p4.grade == "red"
    assert [r.code for r in p4.assessment.reasons] == ["satisfaction_low"]

    # handed over: the former enterprise's score of 40 is not the new enterprise's
    p5 = rows["P5"]
    assert (p5.enterprise_id, p5.inspections, p5.mean_score) == (E1, 0, None)
    assert p5.grade == "yellow"


async def test_grades_filter_by_district_enterprise_and_project(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        in_x = await board_stats.project_grades(conn, district_code=X)
        of_e1 = await board_stats.project_grades(conn, enterprise_id=E1)
        both = await board_stats.project_grades(conn, district_code=H, enterprise_id=E2)
        one = await board_stats.project_grades(conn, project_id="P2")
        none = await board_stats.project_grades(conn, project_id="P-unknown")
    assert [p.project_id for p in in_x] == ["P3"]
    assert [p.project_id for p in of_e1] == ["P1", "P2", "P5"]
    assert [p.project_id for p in both] == ["P4"]
    assert [(p.project_id, p.grade) for p in one] == [("P2", "yellow")]
    assert none == []


async def test_enterprise_grades(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        grades_ = await board_stats.enterprise_grades(conn)
        in_x = await board_stats.enterprise_grades(conn, district_code=X)
    by_id = {e.enterprise_id: e for e in grades_}
    assert set(by_id) == {E1, E2}  # E3 runs no registered project any more
    e1, e2 = by_id[E1], by_id[E2]
    assert (e1.projects, e1.green, e1.yellow, e1.red, e1.grade) == (3, 1, 2, 0, "yellow")
    assert (e2.projects, e2.red, e2.grade) == (2, 2, "red")
    assert e2.assessment.reasons[0].zh == "2 个项目为红色"
    assert e2.enterprise_name == ENTERPRISES[E2]
    assert [(e.enterprise_id, e.projects) for e in in_x] == [(E2, 1)]


# -- statistics --------------------------------------------------------------------------------


async def test_statistics_per_district(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        rows = await board_stats.district_stats(conn)
    assert [r.key for r in rows] == [H, X]
    h, x = rows
    assert (h.by, h.name, h.projects) == ("district", "和平区", 4)
    assert (h.inspections, h.mean_score) == (4, 74.5)  # facts count where they happened: E3's too
    assert (h.orders_due, h.orders_on_time, h.on_time_rectification_rate) == (5, 4, 0.8)
    assert (h.complaints_due, h.complaints_on_time) == (3, 2)
    assert h.complaint_on_time_rate == pytest.approx(2 / 3)
    # responses-weighted: (0.9 * 30 + 0.5 * 10) / 40, not the plain mean 0.7
    assert (h.surveys_counted, h.survey_responses) == (2, 40)
    assert h.satisfaction_rate == pytest.approx(0.8)
    assert (h.surveyed_projects, h.survey_coverage) == (2, 0.5)

    assert (x.name, x.projects, x.inspections, x.mean_score) == ("河西区", 1, 1, 70.0)
    assert (x.orders_due, x.orders_on_time, x.on_time_rectification_rate) == (1, 0, 0.0)
    assert (x.complaints_due, x.complaint_on_time_rate) == (0, None)
    assert x.satisfaction_rate == pytest.approx(0.7)
    assert x.survey_coverage == 1.0


async def test_statistics_per_enterprise(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        rows = await board_stats.enterprise_stats(conn)
        in_x = await board_stats.enterprise_stats(conn, district_code=X)
    by_id = {r.key: r for r in rows}
    assert list(by_id) == [E1, E2, E3]
    e1, e2, e3 = by_id[E1], by_id[E2], by_id[E3]
    assert (e1.name, e1.projects, e1.inspections, e1.mean_score) == (ENTERPRISES[E1], 3, 3, 86.0)
    assert (e1.orders_due, e1.orders_on_time, e1.complaints_due, e1.complaints_on_time) == (
        5,
        4,
        3,
        2,
    )
    assert (e1.satisfaction_rate, e1.surveyed_projects) == (0.9, 1)
    assert e1.survey_coverage == pytest.approx(1 / 3)

    assert (e2.projects, e2.survey_responses) == (2, 30)
    assert e2.satisfaction_rate == pytest.approx((0.7 * 20 + 0.5 * 10) / 30)
    assert (e2.on_time_rectification_rate, e2.complaint_on_time_rate) == (0.0, None)
    assert e2.survey_coverage == 1.0

    # facts without a registered project still count, under the id
    assert (e3.name, e3.projects, e3.inspections, e3.mean_score) == (E3, 0, 1, 40.0)
    assert (e3.survey_coverage, e3.satisfaction_rate) == (None, None)

    assert [(r.key, r.projects, r.inspections, r.survey_responses) for r in in_x] == [
        (E2, 1, 1, 20)
    ]


async def test_district_totals_are_the_sums_of_their_enterprises(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        districts = await board_stats.district_stats(conn)
        for d in districts:
            parts = await board_stats.enterprise_stats(conn, district_code=d.key)
            for field in ("projects", "inspections", "orders_due", "orders_on_time"):
                assert getattr(d, field) == sum(getattr(p, field) for p in parts), (d.key, field)
            assert d.complaints_due == sum(p.complaints_due for p in parts)
            assert d.surveyed_projects == sum(p.surveyed_projects for p in parts)


async def test_an_empty_board(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        assert await board_stats.project_grades(conn) == []
        assert await board_stats.enterprise_grades(conn) == []
        assert await board_stats.district_stats(conn) == []
        assert await board_stats.enterprise_stats(conn) == []
    assert board_stats.stats_csv([], "enterprise").splitlines() == [
        ",".join(("企业编号 Enterprise id", "企业名称 Enterprise", *board_stats._COLUMNS))
    ]


# -- CSV ---------------------------------------------------------------------------------------


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_csv_per_district(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        text = board_stats.stats_csv(await board_stats.district_stats(conn), "district")
    header, h, x = read_csv(text)
    assert header[:3] == [
        "区划代码 District code",
        "区名称 District",
        "登记项目数 Registered projects",
    ]
    assert all(any("\u4e00" <= c <= "\u9fff" for c in name) for name in header)
    assert all(any(c.isascii() and c.isalpha() for c in name) for name in header)
    row = dict(zip(header, h, strict=True))
    assert row["区划代码 District code"] == H
    assert row["区名称 District"] == "和平区"
    assert row["检查平均得分 Mean inspection score"] == "74.5"
    assert row["按期整改率（%） On-time rectification (%)"] == "80.0"
    assert row["按期办结率（%） On-time completion (%)"] == "66.7"
    assert row["满意率（%） Satisfaction (%)"] == "80.0"
    assert row["调查覆盖率（%） Survey coverage (%)"] == "50.0"
    assert row["到期整改单 Orders due"] == "5"
    xrow = dict(zip(header, x, strict=True))
    assert xrow["按期办结率（%） On-time completion (%)"] == ""  # no data
    assert text.encode("utf-8").decode("utf-8") == text
    assert not text.startswith("\ufeff")
    assert board_stats.stats_csv([], "district", excel_bom=True).startswith("\ufeff区划代码")


async def test_csv_per_enterprise_quotes_and_defuses_hostile_names(board: asyncpg.Pool) -> None:
    async with board.acquire() as conn:
        text = board_stats.stats_csv(await board_stats.enterprise_stats(conn), "enterprise")
    header, e1, e2, e3 = read_csv(text)
    assert header[:2] == ["企业编号 Enterprise id", "企业名称 Enterprise"]
    assert e1[1] == ENTERPRISES[E1]
    # commas and quotes survive the round trip, and the formula is defused
    assert e2[1] == "'" + ENTERPRISES[E2]
    assert len(e2) == len(header)
    assert e3[:2] == [E3, E3]


def _stats(key: str, name: str) -> CampaignStats:
    return CampaignStats(
        by="enterprise",
        key=key,
        name=name,
        projects=1,
        inspections=0,
        mean_score=None,
        orders_due=0,
        orders_on_time=0,
        on_time_rectification_rate=None,
        complaints_due=0,
        complaints_on_time=0,
        complaint_on_time_rate=None,
        surveys_counted=0,
        survey_responses=0,
        satisfaction_rate=None,
        surveyed_projects=0,
        survey_coverage=0.0,
    )


@pytest.mark.parametrize(
    "name",
    ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\t=1", "\r=1"],
)
def test_csv_defuses_every_formula_start(name: str) -> None:
    (_, row) = read_csv(board_stats.stats_csv([_stats("E-9", name)], "enterprise"))
    assert row[1] == "'" + name
    assert row[-1] == "0.0"


def test_csv_keeps_newlines_and_quotes_inside_one_cell() -> None:
    name = '海河 "物业",\n第二行'
    text = board_stats.stats_csv([_stats("E-9", name), _stats("E-10", "安全")], "enterprise")
    rows = read_csv(text)
    assert len(rows) == 3
    assert rows[1][1] == name
    assert rows[2][:2] == ["E-10", "安全"]


def test_csv_refuses_statistics_of_the_other_kind() -> None:
    with pytest.raises(ValueError, match="another kind"):
        board_stats.stats_csv([_stats("E-9", "x")], "district")


# -- scale -------------------------------------------------------------------------------------


async def test_the_queries_stay_fast_with_5000_projects(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(
            """
            INSERT INTO projects
            SELECT 'P' || i, 'P' || i || ' 小区', 'E' || (i % 200), 'E' || (i % 200) || ' 物业',
                   (120101 + i % 16)::text, '区' || (i % 16), '2011-08-01+08'
              FROM generate_series(1, 5000) i;
            INSERT INTO inspection_facts
            SELECT 'I' || i, 'P' || (i % 5000 + 1), 'E' || ((i % 5000 + 1) % 200),
                   (120101 + (i % 5000 + 1) % 16)::text, 'patrol', 50 + i % 50, 80, i % 50 >= 30,
                   '2011-08-02+08'
              FROM generate_series(1, 20000) i;
            INSERT INTO order_facts
            SELECT 'O' || i, 'P' || (i % 5000 + 1), 'E' || ((i % 5000 + 1) % 200),
                   (120101 + (i % 5000 + 1) % 16)::text, '2011-08-10+08', '2011-08-02+08',
                   CASE WHEN i % 3 > 0 THEN '2011-08-09+08'::timestamptz END,
                   CASE WHEN i % 3 > 0 THEN i % 3 = 1 END, i % 3 = 0, NULL, NULL
              FROM generate_series(1, 15000) i;
            INSERT INTO complaint_facts
            SELECT 'C' || i, 'P' || (i % 5000 + 1), 'E' || ((i % 5000 + 1) % 200),
                   (120101 + (i % 5000 + 1) % 16)::text, 'water', '2011-08-02+08', i % 7 = 0,
                   CASE WHEN i % 5 > 0 THEN '2011-08-04+08'::timestamptz END
              FROM generate_series(1, 40000) i;
            INSERT INTO survey_facts
            SELECT 'S' || i, 'P' || (i % 5000 + 1), 'E' || ((i % 5000 + 1) % 200),
                   (120101 + (i % 5000 + 1) % 16)::text, 100, 50, 0.5, (i % 10) / 10.0,
                   '2011-08-20+08'::timestamptz + i * interval '1 minute'
              FROM generate_series(1, 8000) i;
            ANALYZE;
            """
        )
        timings: dict[str, float] = {}
        queries: dict[str, Callable[[], Awaitable[Sequence[object]]]] = {
            "project_grades": lambda: board_stats.project_grades(conn),
            "project_grades_district": lambda: board_stats.project_grades(
                conn, district_code="120105"
            ),
            "enterprise_grades": lambda: board_stats.enterprise_grades(conn),
            "district_stats": lambda: board_stats.district_stats(conn),
            "enterprise_stats": lambda: board_stats.enterprise_stats(conn),
        }
        for name, query in queries.items():
            started = time.perf_counter()
            result = await query()
            timings[name] = time.perf_counter() - started
            assert result
        everything = await board_stats.project_grades(conn)
        districts = await board_stats.district_stats(conn)
    assert len(everything) == 5000
    assert len(districts) == 16
    assert sum(d.projects for d in districts) == 5000
    assert sum(d.inspections for d in districts) == 20000
    # generous bounds (a shared test machine); they are tens of milliseconds when healthy
    slow = {name: t for name, t in timings.items() if t > 3.0}
    assert not slow, timings
