"""The sweep of abandoned patrols on real PostgreSQL with a fixed clock: the job the service runs
(its spec's `patrol-draft-sweep`, age from PATROL_DRAFT_MAX_AGE_DAYS) deletes drafts not saved for
that long with their photos, and draft photos whose draft is gone; a live draft's photos, a filed
inspection's photos and a photo written within the grace period stay; a second pass finds
nothing; the counts are logged."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from structlog.testing import capture_logs

from runtime import attachments, db
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock, PeriodicJob
from services.inspections import bootstrap
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.service.ports import PatrolDraft
from services.inspections.service.record_inspection import DRAFT_KIND, ITEM_KIND, photo_owner
from tests import images

pytestmark = pytest.mark.integration
MIGRATIONS = Path(__file__).resolve().parents[2] / "services/inspections/migrations"
NOW = datetime(2026, 6, 1, 9, 0, tzinfo=CHINA)


@pytest.fixture
async def pool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    await db.prepare_database(fresh_db, MIGRATIONS, "inspections")
    p = await db.create_pool(fresh_db, max_size=4)
    yield p
    await p.close()


def sweep_job(max_age_days: int = 30) -> PeriodicJob:
    settings = bootstrap.InspectionsSettings(
        database_url="postgresql://unused/unused", patrol_draft_max_age_days=max_age_days
    )
    [job] = [j for j in bootstrap.spec(settings).jobs if j.name == "patrol-draft-sweep"]
    return job


def photo() -> list[attachments.Prepared]:
    return [attachments.prepare(attachments.Upload(images.jpeg(), "p.jpg"), keep_original=True)]


async def put_photo(pool: asyncpg.Pool, kind: str, owner: str, at: datetime) -> None:
    async with PgInspectionsUnitOfWork(pool, source=SOURCE, clock=FixedClock(at)) as uow:
        await uow.attachments.put(kind, owner, photo(), at)
        await uow.commit()


async def draft(pool: asyncpg.Pool, saved_at: datetime, *, photos: int = 1) -> str:
    """A draft last saved at `saved_at`, with `photos` photos on one item (written then)."""
    draft_id = str(uuid.uuid4())
    async with PgInspectionsUnitOfWork(pool, source=SOURCE, clock=FixedClock(saved_at)) as uow:
        for _ in range(photos):
            await uow.attachments.put(DRAFT_KIND, photo_owner(draft_id, "waste.daily"), photo(),
                                      saved_at)  # fmt: skip
        await uow.drafts.save(
            PatrolDraft(
                draft_id=draft_id, recorded_by=f"inspector-{draft_id[:6]}", project_id="P-1",
                template_id="patrol", template_version=1,
                results={"waste.daily": {"result": "fail", "note": "满溢"}},
                started_at=saved_at, updated_at=saved_at,
            )
        )  # fmt: skip
        await uow.commit()
    return draft_id


async def photo_owners(pool: asyncpg.Pool) -> list[tuple[str, str]]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT owner_kind, owner_id FROM attachments ORDER BY owner_id")
    return [(r["owner_kind"], r["owner_id"]) for r in rows]


async def draft_ids(pool: asyncpg.Pool) -> set[str]:
    async with pool.acquire() as conn:
        return {r["draft_id"] for r in await conn.fetch("SELECT draft_id FROM patrol_drafts")}


async def test_abandoned_drafts_and_orphaned_photos_are_swept_and_logged(
    pool: asyncpg.Pool,
) -> None:
    live = await draft(pool, NOW - timedelta(days=29))  # within the 30 days: kept
    stale = await draft(pool, NOW - timedelta(days=31), photos=2)  # abandoned
    gone = "0d7a6f1e-draft-that-was-deleted"
    await put_photo(pool, DRAFT_KIND, photo_owner(gone, "waste.bins"), NOW - timedelta(hours=2))
    fresh = "5b1c2d3e-draft-being-written"  # within the grace: a save may be in flight
    await put_photo(pool, DRAFT_KIND, photo_owner(fresh, "waste.bins"), NOW - timedelta(minutes=10))
    filed = photo_owner("I-0001", "waste.daily")  # a filed inspection's: not a draft photo
    await put_photo(pool, ITEM_KIND, filed, NOW - timedelta(days=400))

    with capture_logs() as logs:
        count = await sweep_job().run(pool, NOW)

    assert count == 1 + 3  # one draft; its two photos and the orphan
    assert await draft_ids(pool) == {live}
    assert await photo_owners(pool) == sorted(
        [(DRAFT_KIND, photo_owner(fresh, "waste.bins")), (ITEM_KIND, filed),
         (DRAFT_KIND, photo_owner(live, "waste.daily"))],
        key=lambda o: o[1],
    )  # fmt: skip
    assert stale not in str(await photo_owners(pool))
    [swept] = [e for e in logs if e["event"] == "patrol_drafts_swept"]
    assert (swept["drafts"], swept["photos"], swept["max_age_days"]) == (1, 3, 30)
    assert swept["log_level"] == "info"

    assert await sweep_job().run(pool, NOW) == 0  # nothing left to sweep
    # an hour later the photo of the draft being written is past its grace, and no draft owns it
    assert await sweep_job().run(pool, NOW + timedelta(hours=1)) == 1
    assert (DRAFT_KIND, photo_owner(fresh, "waste.bins")) not in await photo_owners(pool)


async def test_the_age_is_the_configured_one(pool: asyncpg.Pool) -> None:
    week_old = await draft(pool, NOW - timedelta(days=8))
    assert await sweep_job(max_age_days=30).run(pool, NOW) == 0
    assert await draft_ids(pool) == {week_old}
    assert await sweep_job(max_age_days=7).run(pool, NOW) == 2  # the draft and its photo
    assert await draft_ids(pool) == set()
    assert await photo_owners(pool) == []
