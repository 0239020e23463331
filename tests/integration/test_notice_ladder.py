"""The 催办 -> 通报批评 ladder on a real database, with time injected: when a criticism is due, what
calls it off, how criticisms are numbered, and that concurrent schedulers issue each one once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from runtime import db
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered
from schemas import cloudevents
from schemas.base import Event
from services.notifications.adapters import rule_file
from services.notifications.adapters.postgres import PgNotificationsUnitOfWork
from services.notifications.entrypoints import jobs
from services.notifications.service import issuing
from tests import factories

pytestmark = pytest.mark.integration
SERVICE = Path(__file__).resolve().parents[2] / "services" / "notifications"
BOOK = rule_file.load(SERVICE / "data" / "rules.toml")
NOTICES = issuing.notices_for(BOOK)
DETECTED = datetime.fromisoformat("2011-08-22T10:00:00+08:00")


@pytest.fixture
async def pool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    await db.prepare_database(fresh_db, SERVICE / "migrations", "notifications")
    p = await db.create_pool(fresh_db, max_size=6)
    yield p
    await p.close()


async def handle(
    pool: asyncpg.Pool, event: Event, ce: cloudevents.CloudEvent, at: datetime
) -> None:
    """As the consumer does: the handler on a unit joined to the consumer's transaction."""
    unit = PgNotificationsUnitOfWork(pool, clock=FixedClock(at))
    async with pool.acquire() as conn, conn.transaction():
        await NOTICES(unit.joined(conn), [Delivered(event, ce)])


async def deliver(pool: asyncpg.Pool, event: Event, at: datetime = DETECTED) -> None:
    await handle(pool, event, cloudevents.from_event(event, source="/test"), at)


async def kinds(pool: asyncpg.Pool, subject_id: str) -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT kind FROM notices WHERE subject_id = $1 ORDER BY issued_at, kind", subject_id
        )
    return [r["kind"] for r in rows]


async def test_the_criticism_comes_only_after_the_configured_wait(pool: asyncpg.Pool) -> None:
    order = f"O-{uuid.uuid4().hex[:6]}"
    await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=DETECTED))
    job = jobs.escalation_job(BOOK)
    assert await kinds(pool, order) == ["reminder"]

    assert await job.run(pool, DETECTED + timedelta(hours=71, minutes=59)) == 0
    assert await kinds(pool, order) == ["reminder"]
    assert await job.run(pool, DETECTED + timedelta(hours=72)) == 1
    assert await kinds(pool, order) == ["reminder", "criticism"]
    assert await job.run(pool, DETECTED + timedelta(days=30)) == 0  # once, for good
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT notice_no, issued_at, cause_type FROM notices WHERE kind = 'criticism'"
        )
        recipients = await conn.fetch(
            """SELECT recipient_kind, cc FROM notice_copies c JOIN notices n USING (notice_id)
                WHERE n.kind = 'criticism' ORDER BY cc, recipient_kind"""
        )
    assert row["notice_no"] == "和平区物业通〔2011〕1号"
    assert row["issued_at"] == DETECTED + timedelta(hours=72)
    assert row["cause_type"].endswith("RectificationOverdue.v1")
    assert [(r["recipient_kind"], r["cc"]) for r in recipients] == [
        ("enterprise", False),
        ("city", True),
        ("district", True),
    ]


async def test_a_submission_before_the_wait_ends_calls_the_criticism_off(
    pool: asyncpg.Pool,
) -> None:
    order = f"O-{uuid.uuid4().hex[:6]}"
    await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=DETECTED))
    await deliver(pool, factories.rectification_submitted(order_id=order))
    assert await jobs.escalation_job(BOOK).run(pool, DETECTED + timedelta(days=10)) == 0
    # no criticism: the reminder, and the district office's notice of a submission to verify
    assert await kinds(pool, order) == ["notice", "reminder"]  # same moment: by kind


async def test_a_final_rejection_is_criticised_at_once_and_ends_the_pending_ladder(
    pool: asyncpg.Pool,
) -> None:
    order = f"O-{uuid.uuid4().hex[:6]}"
    await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=DETECTED))
    await deliver(pool, factories.rectification_rejected(order_id=order), DETECTED + timedelta(1))
    assert await kinds(pool, order) == ["reminder", "criticism"]
    # the overdue ladder does not add a second criticism for the same order
    assert await jobs.escalation_job(BOOK).run(pool, DETECTED + timedelta(days=10)) == 0
    assert await kinds(pool, order) == ["reminder", "criticism"]


async def test_criticism_numbers_run_per_district_and_year_without_gaps(
    pool: asyncpg.Pool,
) -> None:
    async def criticise(district: str, at: datetime) -> None:
        rejected = factories.rectification_rejected(order_id=uuid.uuid4().hex)
        await deliver(pool, rejected.model_copy(update={"district_code": district}), at)

    await criticise("120101", DETECTED)
    await criticise("120101", DETECTED)
    await criticise("120104", DETECTED)
    await criticise("120101", datetime.fromisoformat("2012-01-05T10:00:00+08:00"))
    async with pool.acquire() as conn:
        numbers = [
            r["notice_no"]
            for r in await conn.fetch("SELECT notice_no FROM notices ORDER BY issued_at, notice_no")
        ]
    assert sorted(numbers) == sorted(
        [
            "和平区物业通〔2011〕1号",
            "和平区物业通〔2011〕2号",
            "南开区物业通〔2011〕1号",
            "和平区物业通〔2012〕1号",
        ]
    )


async def test_concurrent_schedulers_issue_each_criticism_once(pool: asyncpg.Pool) -> None:
    orders = [f"O-{i}-{uuid.uuid4().hex[:6]}" for i in range(12)]
    for order in orders:
        await deliver(pool, factories.rectification_overdue(order_id=order, detected_at=DETECTED))
    job = jobs.escalation_job(BOOK)
    due = DETECTED + timedelta(hours=73)
    counts = await asyncio.gather(*(job.run(pool, due) for _ in range(4)))
    assert sum(counts) == 12
    for order in orders:
        assert await kinds(pool, order) == ["reminder", "criticism"]
    async with pool.acquire() as conn:
        seqs = await conn.fetchval("SELECT last_seq FROM notice_numbers WHERE year = 2011")
        distinct = await conn.fetchval(
            "SELECT count(DISTINCT notice_no) FROM notices WHERE kind = 'criticism'"
        )
    assert seqs == distinct == 12


async def test_a_redelivered_cause_issues_nothing_new_even_without_the_inbox(
    pool: asyncpg.Pool,
) -> None:
    event = factories.rectification_overdue(detected_at=DETECTED)
    ce = cloudevents.from_event(event, source="/test")
    for _ in range(2):
        await handle(pool, event, ce, DETECTED)
    assert await kinds(pool, event.order_id) == ["reminder"]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 1
