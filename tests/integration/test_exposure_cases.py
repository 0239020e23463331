"""Exposure cases on a real database, time injected: from an overdue rectification to a published
case after its criticism notice, rectified, withdrawn on an upheld objection, ended by its periods.
The handlers are the live consumers' own (`subscriptions.GROUPS`), on the asyncpg unit of work."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import asyncpg
import pytest

from runtime import db
from runtime.errors import DomainError, NotFound
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered, Trace
from schemas import catalog, cloudevents
from schemas.base import Event
from schemas.notifications import v1 as notifications
from services.exposure import subscriptions
from services.exposure.adapters import policy_file
from services.exposure.adapters.case_store import PgCaseRepository
from services.exposure.adapters.postgres import PgExposureUnitOfWork
from services.exposure.entrypoints import jobs
from services.exposure.service import commands
from tests import factories

pytestmark = pytest.mark.integration
SERVICE = Path(__file__).resolve().parents[2] / "services" / "exposure"
POLICY = policy_file.load(SERVICE / "data" / "publication.toml")
T0 = datetime.fromisoformat("2011-08-22T10:00:00+08:00")
LIVE = {t: h for group in subscriptions.GROUPS for t, h in group.live().items()}


def unit(pool: asyncpg.Pool, now: datetime = T0) -> PgExposureUnitOfWork:
    return PgExposureUnitOfWork(pool, source="/wuye/exposure", clock=FixedClock(now), policy=POLICY)


JOB = jobs.publication_job(unit)


async def object_to(
    pool: asyncpg.Pool, case_id: str, *, enterprise_id: str, grounds: str, now: datetime
) -> str:
    return await commands.object_to(
        unit(pool, now), case_id, enterprise_id=enterprise_id, grounds=grounds, trace=Trace.start()
    )


async def decide_objection(
    pool: asyncpg.Pool,
    case_id: str,
    objection_id: str,
    *,
    upheld: bool,
    reason: str,
    district_code: str | None,
    now: datetime,
) -> None:
    await commands.decide_objection(
        unit(pool, now),
        case_id,
        objection_id,
        upheld=upheld,
        reason=reason,
        district_code=district_code,
        trace=Trace.start(),
    )


async def review(
    pool: asyncpg.Pool,
    case_id: str,
    *,
    decision: Literal["hold", "confirm"],
    note: str,
    district_code: str | None,
    now: datetime,
) -> None:
    await commands.review(
        unit(pool, now),
        case_id,
        decision=decision,
        note=note,
        district_code=district_code,
        trace=Trace.start(),
    )


async def withdraw(
    pool: asyncpg.Pool, case_id: str, *, district_code: str | None, now: datetime
) -> None:
    await commands.withdraw(
        unit(pool, now), case_id, district_code=district_code, trace=Trace.start()
    )


async def _pool(dsn: str) -> asyncpg.Pool:
    await db.prepare_database(dsn, SERVICE / "migrations", "exposure")
    return await db.create_pool(dsn, max_size=4)


@pytest.fixture
async def pool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    p = await _pool(fresh_db)
    yield p
    await p.close()


async def deliver(pool: asyncpg.Pool, event: Event) -> cloudevents.CloudEvent:
    ce = cloudevents.from_event(event, source="/test")
    handler = LIVE.get(ce.type)
    assert handler is not None, ce.type
    async with pool.acquire() as conn, conn.transaction():
        await handler(unit(pool).joined(conn), [Delivered(event, ce)])
    return ce


def criticism(order_id: str, at: datetime, project_id: str = "P-120101-0001") -> Event:
    return notifications.NoticeIssued(
        notice_id=str(uuid.uuid4()),
        kind="criticism",
        rule_id="rectification-overdue-criticism",
        notice_no="和平区物业通〔2011〕7号",
        reason="rectification_overdue",
        subject_kind="rectification_order",
        subject_id=order_id,
        project_id=project_id,
        project_name="和平区·海河花园",
        enterprise_id="E-0001",
        enterprise_name="津城物业服务有限公司",
        district_code="120101",
        recipients=(notifications.Recipient(kind="enterprise", id="E-0001", cc=False),),
        title_zh="通报批评",
        body_zh="正文",
        title_en="criticism",
        body_en="body",
        cause_event_id=str(uuid.uuid4()),
        cause_type="cn.tj.wuye.inspections.RectificationOverdue.v1",
        issued_at=at,
    )


async def case_of(pool: asyncpg.Pool, order_id: str) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM cases WHERE order_id = $1", order_id)
    assert row is not None
    return dict(row)


async def published_case(pool: asyncpg.Pool, severity: str = "urgent") -> tuple[str, str]:
    """An overdue order whose criticism came and whose review window passed: published at
    T0 + 3 days + 120 h. Returns (order id, case id)."""
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(
        pool, factories.rectification_overdue(order_id=order, detected_at=T0, severity=severity)
    )
    await deliver(pool, criticism(order, T0 + timedelta(days=3)))
    await JOB.run(pool, T0 + timedelta(days=3, hours=120))
    case = await case_of(pool, order)
    assert case["status"] == "published"
    return order, case["case_id"]


async def test_an_overdue_order_is_published_only_after_its_criticism_and_the_review_window(
    pool: asyncpg.Pool,
) -> None:
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=T0))
    case = await case_of(pool, order)
    assert (case["status"], case["tier"], case["reason"]) == (
        "opened",
        "general",  # an urgent item, late
        "rectification_overdue",
    )
    assert await JOB.run(pool, T0 + timedelta(days=30)) == 0  # no notice, no publication

    notice_at = T0 + timedelta(days=3)
    await deliver(pool, criticism(order, notice_at))
    case = await case_of(pool, order)
    assert case["status"] == "in_review"
    assert case["notice_no"] == "和平区物业通〔2011〕7号"
    assert case["review_ends_at"] == notice_at + timedelta(hours=120)

    assert await JOB.run(pool, notice_at + timedelta(hours=119)) == 0
    published_at = notice_at + timedelta(hours=120)
    assert await JOB.run(pool, published_at) == 1
    case = await case_of(pool, order)
    assert case["status"] == "published"
    assert case["published_at"] == published_at
    assert case["min_until"] == published_at + timedelta(days=90)
    assert case["max_until"] == published_at + timedelta(days=365)


async def test_a_verified_rectification_marks_it_rectified_and_ends_it_after_the_minimum(
    pool: asyncpg.Pool,
) -> None:
    order, _ = await published_case(pool)
    case = await case_of(pool, order)
    verified_at = case["published_at"] + timedelta(days=10)
    await deliver(
        pool,
        inspections_verified(order, verified_at),
    )
    case = await case_of(pool, order)
    assert case["rectified_at"] == verified_at
    assert case["status"] == "published"  # still shown, as rectified
    assert await JOB.run(pool, case["min_until"] - timedelta(seconds=1)) == 0
    assert await JOB.run(pool, case["min_until"]) == 1
    case = await case_of(pool, order)
    assert (case["status"], case["withdraw_reason"]) == ("withdrawn", "rectified_period_served")


def inspections_verified(order_id: str, at: datetime) -> Event:
    fields = factories._order_fields("P-120101-0001", order_id)
    return catalog.EVENT_TYPES["cn.tj.wuye.inspections.RectificationVerified.v1"].model_validate(
        {**fields, "verified_at": at, "on_time": False}
    )


async def test_the_maximum_period_ends_an_unrectified_case(pool: asyncpg.Pool) -> None:
    order, _ = await published_case(pool)
    case = await case_of(pool, order)
    assert await JOB.run(pool, case["max_until"] - timedelta(minutes=1)) == 0
    assert await JOB.run(pool, case["max_until"]) == 1
    case = await case_of(pool, order)
    assert (case["status"], case["withdraw_reason"]) == ("withdrawn", "display_period_ended")


async def test_an_upheld_objection_withdraws_the_case(pool: asyncpg.Pool) -> None:
    order, case_id = await published_case(pool)
    now = T0 + timedelta(days=20)
    with pytest.raises(NotFound):  # another enterprise learns nothing about the case
        await object_to(pool, case_id, enterprise_id="E-0002", grounds="x", now=now)
    objection = await object_to(
        pool, case_id, enterprise_id="E-0001", grounds="已于期限内整改,有照片为证", now=now
    )
    with pytest.raises(DomainError) as second:
        await object_to(pool, case_id, enterprise_id="E-0001", grounds="again", now=now)
    assert second.value.code == "objection_pending"
    with pytest.raises(NotFound):  # another district's office
        await decide_objection(
            pool, case_id, objection, upheld=True, reason="x", district_code="120104", now=now
        )
    await decide_objection(
        pool, case_id, objection, upheld=True, reason="核实整改已按期完成", district_code="120101",
        now=now,
    )  # fmt: skip
    case = await case_of(pool, order)
    assert (case["status"], case["withdraw_reason"]) == ("withdrawn", "objection_upheld")


async def test_a_pending_objection_holds_publication_and_a_rejected_one_lets_it_go_ahead(
    pool: asyncpg.Pool,
) -> None:
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=T0))
    await deliver(pool, criticism(order, T0))
    case_id = (await case_of(pool, order))["case_id"]
    objection = await object_to(
        pool, case_id, enterprise_id="E-0001", grounds="期限计算有误", now=T0 + timedelta(hours=1)
    )
    assert await JOB.run(pool, T0 + timedelta(days=10)) == 0  # the window passed, but pending
    await decide_objection(
        pool, case_id, objection, upheld=False, reason="期限计算无误", district_code=None,
        now=T0 + timedelta(days=10),
    )  # fmt: skip
    assert await JOB.run(pool, T0 + timedelta(days=10)) == 1
    assert (await case_of(pool, order))["status"] == "published"


async def test_the_district_may_hold_then_confirm_within_its_own_district(
    pool: asyncpg.Pool,
) -> None:
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=T0))
    await deliver(pool, criticism(order, T0))
    case_id = (await case_of(pool, order))["case_id"]
    with pytest.raises(NotFound):
        await review(pool, case_id, decision="hold", note="", district_code="120104",
                           now=T0)  # fmt: skip
    await review(pool, case_id, decision="hold", note="核查中", district_code="120101",
                       now=T0 + timedelta(hours=2))  # fmt: skip
    assert await JOB.run(pool, T0 + timedelta(days=30)) == 0  # held: the window does not publish
    assert (await case_of(pool, order))["status"] == "held"
    confirm_at = T0 + timedelta(days=31)
    await review(pool, case_id, decision="confirm", note="", district_code="120101",
                       now=confirm_at)  # fmt: skip
    case = await case_of(pool, order)
    assert (case["status"], case["published_at"]) == ("published", confirm_at)
    with pytest.raises(DomainError) as refused:
        await review(pool, case_id, decision="hold", note="", district_code=None,
                           now=confirm_at)  # fmt: skip
    assert refused.value.code == "not_in_review"


async def test_a_light_case_is_recorded_but_never_published(pool: asyncpg.Pool) -> None:
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(
        pool, factories.rectification_overdue(order_id=order, detected_at=T0, severity="general")
    )
    await deliver(pool, criticism(order, T0))
    assert await JOB.run(pool, T0 + timedelta(days=400)) == 0
    case = await case_of(pool, order)
    assert (case["tier"], case["status"]) == ("light", "opened")


async def test_inadequate_rectification_raises_the_tier_before_publication(
    pool: asyncpg.Pool,
) -> None:
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=T0))
    await deliver(pool, factories.rectification_rejected(order_id=order))
    case = await case_of(pool, order)
    assert (case["tier"], case["status"]) == ("serious", "opened")
    await deliver(pool, criticism(order, T0 + timedelta(days=4)))
    await JOB.run(pool, T0 + timedelta(days=10))
    case = await case_of(pool, order)
    assert case["status"] == "published"
    assert case["max_until"] - case["published_at"] == timedelta(days=1095)  # serious: 3 years


async def test_redelivered_events_change_nothing(pool: asyncpg.Pool) -> None:
    order = f"O-{uuid.uuid4().hex[:8]}"
    overdue = factories.rectification_overdue(order_id=order, detected_at=T0)
    notice = criticism(order, T0)
    for _ in range(2):
        await deliver(pool, overdue)
        await deliver(pool, notice)
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM cases WHERE order_id = $1", order) == 1
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 2  # opened, evidence


async def test_the_emitted_events_alone_rebuild_the_same_cases(
    pool: asyncpg.Pool, db_factory: Callable[[], str]
) -> None:
    """Apply the outbox (what went to Kafka) to an empty database: same cases, same timeline."""
    await published_case(pool)
    _, case_id = await published_case(pool)
    objection = await object_to(pool, case_id, enterprise_id="E-0001", grounds="理由",
                                      now=T0 + timedelta(days=9))  # fmt: skip
    await decide_objection(pool, case_id, objection, upheld=True, reason="成立",
                                 district_code=None, now=T0 + timedelta(days=9))  # fmt: skip
    async with pool.acquire() as conn:
        emitted = await conn.fetch("SELECT event_id, event_type, payload FROM outbox ORDER BY seq")
    replica = await _pool(db_factory())
    try:
        async with replica.acquire() as conn:
            for row in emitted:
                event = catalog.EVENT_TYPES[row["event_type"]].model_validate(
                    json.loads(row["payload"])
                )
                async with conn.transaction():
                    await PgCaseRepository(conn).apply(event, row["event_id"])
        assert await snapshot(replica) == await snapshot(pool)
    finally:
        await replica.close()


async def snapshot(pool: asyncpg.Pool) -> list[list[dict[str, Any]]]:
    async with pool.acquire() as conn:
        return [
            [dict(r) for r in await conn.fetch(sql)]
            for sql in (
                "SELECT * FROM cases ORDER BY case_id",
                "SELECT * FROM case_timeline ORDER BY event_id",
                "SELECT * FROM objections ORDER BY objection_id",
            )
        ]


async def test_a_criticism_consumed_before_the_overdue_event_still_counts(
    pool: asyncpg.Pool,
) -> None:
    """Two topics, two consumers: the notice may be handled first."""
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(pool, criticism(order, T0 + timedelta(days=3)))
    await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=T0))
    case = await case_of(pool, order)
    assert (case["status"], case["notice_no"]) == ("in_review", "和平区物业通〔2011〕7号")
    assert case["review_ends_at"] == T0 + timedelta(days=3, hours=120)


async def test_a_light_case_criticised_first_is_reviewed_once_found_inadequate(
    pool: asyncpg.Pool,
) -> None:
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(
        pool, factories.rectification_overdue(order_id=order, detected_at=T0, severity="general")
    )
    await deliver(pool, criticism(order, T0 + timedelta(days=1)))  # light: no review
    assert (await case_of(pool, order))["status"] == "opened"
    rejected = factories.rectification_rejected(order_id=order)
    await deliver(pool, rejected.model_copy(update={"severity": "serious"}))
    case = await case_of(pool, order)
    assert (case["tier"], case["status"]) == ("serious", "in_review")
    assert case["review_ends_at"] == T0 + timedelta(days=1, hours=120)


async def test_an_objection_upheld_after_the_case_left_the_board_withdraws_it_only_once(
    pool: asyncpg.Pool,
) -> None:
    order, case_id = await published_case(pool)
    objection = await object_to(
        pool, case_id, enterprise_id="E-0001", grounds="理由", now=T0 + timedelta(days=9)
    )
    await withdraw(pool, case_id, district_code="120101", now=T0 + timedelta(days=10))
    await decide_objection(pool, case_id, objection, upheld=True, reason="成立",
                                 district_code=None, now=T0 + timedelta(days=11))  # fmt: skip
    case = await case_of(pool, order)
    assert (case["withdraw_reason"], case["withdrawn_at"]) == (
        "withdrawn_by_district",
        T0 + timedelta(days=10),
    )
    async with pool.acquire() as conn:
        withdrawals = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type = $1",
            "cn.tj.wuye.exposure.ExposureWithdrawn.v1",
        )
    assert withdrawals == 1


async def test_inspector_notes_never_travel_with_a_case(pool: asyncpg.Pool) -> None:
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=T0))
    async with pool.acquire() as conn:
        payload = await conn.fetchval("SELECT convert_from(payload, 'UTF8') FROM outbox")
    assert "消防栓水压不足" not in payload  # factories.ITEM's note
    assert "消防设施运行正常" in payload


async def test_a_rebuild_waits_for_unpublished_decisions(pool: asyncpg.Pool) -> None:
    from services.exposure import rebuild

    await deliver(pool, factories.rectification_overdue(detected_at=T0))
    with pytest.raises(rebuild.RebuildRefused, match="not published yet"):
        await rebuild.rebuild(pool, "127.0.0.1:1")
    assert await pool.fetchval("SELECT count(*) FROM cases") == 1  # nothing emptied
