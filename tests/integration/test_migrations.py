"""The migration runner against the real PostgreSQL server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from runtime import db

pytestmark = pytest.mark.integration


def write(directory: Path, name: str, sql: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / name).write_text(sql, encoding="utf-8")


async def test_applies_each_file_once_in_order(fresh_db: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (id int); INSERT INTO a VALUES (1);")
    first = await db.prepare_database(fresh_db, tmp_path, "svc")
    runtime_files = sorted(f"runtime/{f.stem}" for f in db.RUNTIME_MIGRATIONS.glob("*.sql"))
    assert runtime_files[0] == "runtime/0001_outbox_inbox"
    assert first == [*runtime_files, "svc/0001_a", "svc/0002_b"]
    assert await db.prepare_database(fresh_db, tmp_path, "svc") == []
    conn = await asyncpg.connect(fresh_db)
    try:
        assert await conn.fetchval("SELECT count(*) FROM a") == 1
    finally:
        await conn.close()


async def test_concurrent_replicas_apply_once(fresh_db: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int); INSERT INTO a VALUES (1);")
    results = await asyncio.gather(
        *(db.prepare_database(fresh_db, tmp_path, "svc") for _ in range(4))
    )
    expected = len(list(db.RUNTIME_MIGRATIONS.glob("*.sql"))) + 1
    assert sorted(len(r) for r in results) == [0, 0, 0, expected]


async def test_edited_migration_is_refused(fresh_db: str, tmp_path: Path) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id int);")
    await db.prepare_database(fresh_db, tmp_path, "svc")
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (id bigint);")
    with pytest.raises(db.MigrationError, match="edited after it was applied"):
        await db.prepare_database(fresh_db, tmp_path, "svc")


async def test_failed_migration_rolls_back_and_is_not_recorded(
    fresh_db: str, tmp_path: Path
) -> None:
    write(tmp_path, "0001_bad.sql", "CREATE TABLE a (id int); SELECT 1/0;")
    with pytest.raises(asyncpg.DivisionByZeroError):
        await db.prepare_database(fresh_db, tmp_path, "svc")
    conn = await asyncpg.connect(fresh_db)
    try:
        assert await conn.fetchval("SELECT to_regclass('a')") is None
        assert (
            await conn.fetchval("SELECT count(*) FROM schema_migrations WHERE namespace='svc'") == 0
        )
    finally:
        await conn.close()
