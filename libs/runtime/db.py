"""asyncpg pool and a small SQL migration runner.

Why a hand-written runner and not alembic or yoyo: each service owns a handful of plain SQL files and
never needs an ORM or down-migrations; the runner is ~80 lines, takes a PostgreSQL advisory lock so
several replicas starting at once apply each file exactly once, and refuses to start when an applied
file was edited afterwards (checksum), which is the failure that bites in practice.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import asyncpg
import asyncpg.pool
import structlog

log = structlog.get_logger(__name__)

# What handlers and repositories accept: a plain connection or one borrowed from a pool.
Connection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]"
)

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x77757965  # "wuye": one advisory lock id for migrations in every service database


class MigrationError(RuntimeError):
    pass


@dataclass(frozen=True)
class Migration:
    namespace: str
    version: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def load(namespace: str, directory: Path) -> list[Migration]:
    files = sorted(directory.glob("*.sql"))
    return [Migration(namespace, f.stem, f.read_text(encoding="utf-8")) for f in files]


async def migrate(conn: asyncpg.Connection, migrations: list[Migration]) -> list[str]:
    """Apply what is missing, each file in its own transaction; return the versions applied."""
    applied_now: list[str] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   namespace text NOT NULL, version text NOT NULL, checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now(),
                   PRIMARY KEY (namespace, version))"""
        )
        rows = await conn.fetch("SELECT namespace, version, checksum FROM schema_migrations")
        done = {(r["namespace"], r["version"]): r["checksum"] for r in rows}
        for m in migrations:
            previous = done.get((m.namespace, m.version))
            if previous is not None:
                if previous != m.checksum:
                    raise MigrationError(
                        f"migration {m.namespace}/{m.version} was edited after it was applied; "
                        "add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (namespace, version, checksum) VALUES ($1, $2, $3)",
                    m.namespace,
                    m.version,
                    m.checksum,
                )
            log.info("migration_applied", namespace=m.namespace, version=m.version)
            applied_now.append(f"{m.namespace}/{m.version}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


async def prepare_database(dsn: str, service_migrations: Path, service: str) -> list[str]:
    """Run the runtime's migrations (outbox, inbox) and then the service's own."""
    conn = await asyncpg.connect(dsn)
    try:
        return await migrate(
            conn, load("runtime", RUNTIME_MIGRATIONS) + load(service, service_migrations)
        )
    finally:
        await conn.close()


# Errors that say "the infrastructure is down or busy", not "this message is bad".
_INFRASTRUCTURE_TYPES: tuple[type[BaseException], ...] = (OSError, asyncpg.InterfaceError)
# SQLSTATE classes: 08 connection, 40 serialization/deadlock, 53 resources (disk, memory,
# connections), 57 operator intervention (shutdown, cancel), 58 system error; 25006 is
# read-only transaction, what a writer sees during a failover.
_INFRASTRUCTURE_SQLSTATE_CLASSES = ("08", "40", "53", "57", "58")
_INFRASTRUCTURE_SQLSTATES = ("25006",)


def is_infrastructure_error(exc: BaseException) -> bool:
    if isinstance(exc, _INFRASTRUCTURE_TYPES):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, asyncpg.PostgresError) and isinstance(sqlstate, str):
        return (
            sqlstate[:2] in _INFRASTRUCTURE_SQLSTATE_CLASSES
            or sqlstate in _INFRASTRUCTURE_SQLSTATES
        )
    return False
