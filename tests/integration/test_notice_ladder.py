"""The 催办 -> 通报批评 ladder on a real database, with time injected: when a criticism is drafted,
what calls it off, that the district office's sign-off numbers and issues it (a withdrawn draft
never has a number, no number is skipped or used twice, also when offices sign off at once), and
that concurrent schedulers draft each one once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from runtime import db
from runtime.errors import DomainError, NotFound
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered
from schemas import cloudevents
from schemas.base import Event
from services.notifications.adapters import rule_file
from services.notifications.adapters.postgres import PgNotificationsUnitOfWork
from services.notifications.entrypoints import jobs
from services.notifications.service import criticisms, issuing
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


def unit(pool: asyncpg.Pool, at: datetime) -> PgNotificationsUnitOfWork:
    return PgNotificationsUnitOfWork(pool, clock=FixedClock(at))


async def drafts(pool: asyncpg.Pool, status: str = "draft") -> list[str]:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT draft_id FROM criticism_drafts WHERE status = $1 ORDER BY drafted_at, draft_id",
            status,
        )
    return [r["draft_id"] for r in rows]


async def sign_off(
    pool: asyncpg.Pool, draft_id: str, at: datetime, district: str = "120101"
) -> str:
    notice = await criticisms.sign_off(
        unit(pool, at), BOOK, draft_id, district_code=district, by="officer-x"
    )
    assert notice.notice_no is not None
    return notice.notice_no


async def sign_off_all(pool: asyncpg.Pool, at: datetime) -> None:
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT draft_id, district_code FROM criticism_drafts WHERE status = 'draft' "
            "ORDER BY drafted_at, draft_id"
        )
    for r in rows:
        await sign_off(pool, r["draft_id"], at, r["district_code"])


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
    assert await kinds(pool, order) == ["reminder"]  # drafted, not issued
    (draft_id,) = await drafts(pool)
    assert await job.run(pool, DETECTED + timedelta(days=30)) == 0  # once, for good
    signed_at = DETECTED + timedelta(days=4)
    assert await sign_off(pool, draft_id, signed_at) == "和平区物业通〔2011〕1号"
    assert await kinds(pool, order) == ["reminder", "criticism"]
    async with pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT notice_no, issued_at, cause_type FROM notices WHERE kind = 'criticism'"
        )
        recipients = await conn.fetch(
            """SELECT recipient_kind, cc FROM notice_copies c JOIN notices n USING (notice_id)
                WHERE n.kind = 'criticism' ORDER BY cc, recipient_kind"""
        )
    assert row["notice_no"] == "和平区物业通〔2011〕1号"
    assert row["issued_at"] == signed_at
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
    assert len(await drafts(pool)) == 1  # drafted at once
    # the overdue ladder does not add a second criticism for the same order
    assert await jobs.escalation_job(BOOK).run(pool, DETECTED + timedelta(days=10)) == 0
    assert len(await drafts(pool)) == 1
    await sign_off_all(pool, DETECTED + timedelta(days=11))
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
    await sign_off_all(pool, DETECTED)
    await criticise("120101", datetime.fromisoformat("2012-01-05T10:00:00+08:00"))
    await sign_off_all(pool, datetime.fromisoformat("2012-01-05T11:00:00+08:00"))
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
    assert len(await drafts(pool)) == 12
    await sign_off_all(pool, due)
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


async def test_a_withdrawn_draft_never_has_a_number_and_none_is_skipped(pool: asyncpg.Pool) -> None:
    for _ in range(3):
        await deliver(pool, factories.rectification_rejected(order_id=uuid.uuid4().hex))
    first, second, third = await drafts(pool)
    later = DETECTED + timedelta(days=1)
    withdrawn = await criticisms.withdraw(
        unit(pool, later), second, district_code="120101", by="officer-x", reason="已当场整改"
    )
    assert (withdrawn.status, withdrawn.notice_no) == ("withdrawn", None)
    assert await sign_off(pool, third, later) == "和平区物业通〔2011〕1号"
    assert await sign_off(pool, first, later) == "和平区物业通〔2011〕2号"
    # a decided draft is decided for good; another district's is not there at all
    with pytest.raises(DomainError) as refused:
        await sign_off(pool, second, later)
    assert refused.value.code == "draft_withdrawn"
    with pytest.raises(DomainError) as refused:
        await criticisms.withdraw(
            unit(pool, later), first, district_code="120101", by="officer-x", reason="x"
        )
    assert refused.value.code == "draft_issued"
    with pytest.raises(NotFound):
        await sign_off(pool, third, later, district="120104")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM notices WHERE notice_id = $1", second) == 0
        types = await conn.fetch(
            "SELECT event_type, convert_from(key, 'UTF8') AS key FROM outbox "
            "WHERE convert_from(key, 'UTF8') = ANY($1::text[]) ORDER BY seq",
            [first, second, third],
        )
    written = [(t["event_type"].split(".")[-2], t["key"]) for t in types]
    assert sorted(written[:3]) == sorted(("CriticismDrafted", d) for d in (first, second, third))
    assert written[3:] == [
        ("CriticismWithdrawn", second),
        ("NoticeIssued", third),
        ("NoticeIssued", first),
    ]


async def test_offices_signing_off_at_once_get_consecutive_numbers_each_draft_once(
    pool: asyncpg.Pool,
) -> None:
    for _ in range(8):
        await deliver(pool, factories.rectification_rejected(order_id=uuid.uuid4().hex))
    ids = await drafts(pool)
    at = DETECTED + timedelta(days=1)
    # every draft signed off twice at the same time: one wins, the other is told it is decided
    outcomes = await asyncio.gather(
        *(sign_off(pool, d, at) for d in ids + ids), return_exceptions=True
    )
    numbers = [o for o in outcomes if isinstance(o, str)]
    refused = [o for o in outcomes if isinstance(o, DomainError)]
    assert len(refused) == 8
    assert {e.code for e in refused} == {"draft_issued"}
    assert sorted(numbers) == sorted(f"和平区物业通〔2011〕{n}号" for n in range(1, 9))
    assert await drafts(pool) == []
