"""Complaint signals about one project handled in parallel still schedule exactly one patrol
(the reactions on the asyncpg unit of work, joined to the consumer's transaction)."""

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
from schemas.complaints import v1 as complaints
from services.inspections import subscriptions
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.service.complaint_reactions import PatrolTrigger

pytestmark = pytest.mark.integration
MIGRATIONS = Path(__file__).resolve().parents[2] / "services/inspections/migrations"
START = datetime.fromisoformat("2011-08-21T09:00:00+08:00")


@pytest.fixture
async def inspections_db(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    await db.prepare_database(fresh_db, MIGRATIONS, "inspections")
    pool = await db.create_pool(fresh_db, max_size=8)
    async with pool.acquire() as conn:
        await conn.execute(
            """INSERT INTO projects (project_id, project_name, address, district_code,
                      district_name, enterprise_id, enterprise_name, service_grade)
               VALUES ('P-1', '南开区·测试小区', '天津市南开区', '120104', '南开区',
                       'E-9', '测试物业', '二级')"""
        )
    yield pool
    await pool.close()


def filed(at: datetime) -> complaints.ComplaintFiled:
    return complaints.ComplaintFiled(
        complaint_id=f"C-{uuid.uuid4().hex[:8]}",
        project_id="P-1",
        enterprise_id="E-9",
        district_code="120104",
        category="water",
        urgency="normal",
        channel="web",
        filed_at=at,
    )


async def handle(pool: asyncpg.Pool, event: complaints.ComplaintFiled) -> None:
    """As the consumer does: the unit joined to the transaction that claims the event."""
    consumer = subscriptions.consumers(PatrolTrigger())[0]
    handler = consumer.handlers[event.ce_type]
    unit = PgInspectionsUnitOfWork(pool, source=SOURCE, clock=FixedClock(START))
    async with pool.acquire() as conn, conn.transaction():
        delivered = Delivered(event, cloudevents.from_event(event, source="/test"))
        await handler(unit.joined(conn), [delivered])


async def patrols(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT count(*) FROM scheduled_patrols"))


async def test_parallel_complaints_cross_the_threshold_once(inspections_db: asyncpg.Pool) -> None:
    await handle(inspections_db, filed(START))
    # The second and third arrive on different partitions and are handled at the same time.
    await asyncio.gather(
        *(handle(inspections_db, filed(START + timedelta(hours=h))) for h in (1, 2, 3, 4))
    )
    assert await patrols(inspections_db) == 1
    async with inspections_db.acquire() as conn:
        outbox_rows = await conn.fetchval(
            "SELECT count(*) FROM outbox WHERE event_type LIKE '%PatrolScheduled%'"
        )
    assert outbox_rows == 1
    async with inspections_db.acquire() as conn:
        origin = await conn.fetchrow("SELECT origin, draw_id FROM scheduled_patrols")
    assert (origin["origin"], origin["draw_id"]) == ("complaint", None)  # marked as such


async def test_complaints_later_than_the_one_handled_do_not_count(
    inspections_db: asyncpg.Pool,
) -> None:
    # Two complaints from two months later are processed first; the old one alone is below the
    # threshold within its own window.
    for days in (60, 61):
        await handle(inspections_db, filed(START + timedelta(days=days)))
    await handle(inspections_db, filed(START))
    assert await patrols(inspections_db) == 0
