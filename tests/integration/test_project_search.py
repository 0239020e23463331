"""The owners' form finds a project by name or street address in the complaints service's own
registry copy (PostgreSQL): the copy keeps the address from the registry events, the search is
case-insensitive and takes %, _ and \\ literally."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from runtime import db
from schemas.registry import v1 as registry
from services.complaints.subscriptions import PROJECT_COPY
from tests.factories import complaints_unit

MIGRATIONS = Path("services/complaints/migrations")
NOW = datetime(2026, 3, 2, tzinfo=UTC)


def _registered(
    pid: str, name: str, address: str, *, at: datetime = NOW
) -> registry.ProjectRegistered:
    return registry.ProjectRegistered(
        project_id=pid,
        project_name=name,
        address=address,
        district_code="120101",
        district_name="和平区",
        enterprise_id="ent-a",
        enterprise_name="津城物业",
        service_grade="一级",
        occurred_at=at,
    )


@pytest.fixture
async def pool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    await db.prepare_database(fresh_db, MIGRATIONS, "complaints")
    pool = await db.create_pool(fresh_db, max_size=2)
    async with pool.acquire() as conn:
        await PROJECT_COPY.apply(
            conn,
            [
                _registered("P-1", "海河花园", "天津市和平区南京路 100 号"),
                _registered("P-2", "南京路公寓", "天津市和平区营口道 5 号"),
                _registered("P-3", "Riverside 100%_Park", "天津市和平区大沽路 7 号"),
                _registered("P-4", "五大道睦南道民园西里", "天津市和平区睦南道 12 号"),
            ],
        )
    yield pool
    await pool.close()


async def _search(pool: asyncpg.Pool, text: str) -> list[str]:
    async with complaints_unit(pool, NOW) as uow:
        return [p.project_id for p in await uow.projects.search(text, 10)]


async def test_by_name_or_address_literally(pool: asyncpg.Pool) -> None:
    assert await _search(pool, "海河") == ["P-1"]
    assert sorted(await _search(pool, "南京路")) == ["P-1", "P-2"]  # by address, by name
    assert await _search(pool, "睦南道") == ["P-4"]
    assert await _search(pool, "riverside") == ["P-3"]
    assert await _search(pool, "100%_") == ["P-3"]
    assert await _search(pool, "%") == ["P-3"]  # a percent sign, not "anything"
    assert await _search(pool, "_") == ["P-3"]
    assert await _search(pool, "\\") == []
    assert await _search(pool, "不存在的小区") == []


async def test_the_copy_keeps_the_newest_address(pool: asyncpg.Pool) -> None:
    moved = registry.ProjectUpdated(
        **{
            **_registered("P-1", "海河花园", "天津市和平区成都道 1 号").model_dump(),
            "occurred_at": datetime(2026, 3, 3, tzinfo=UTC),
        }
    )
    async with pool.acquire() as conn:
        await PROJECT_COPY.apply(conn, [moved])
        await PROJECT_COPY.apply(conn, [_registered("P-1", "海河花园", "旧地址")])  # older: ignored
    assert await _search(pool, "成都道") == ["P-1"]
    assert await _search(pool, "南京路") == ["P-2"]
    async with complaints_unit(pool, NOW) as uow:
        project = await uow.projects.get("P-1")
    assert project is not None
    assert project.address == "天津市和平区成都道 1 号"
