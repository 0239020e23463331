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


# SQLSTATEs that say "the database cannot be reached or is going away", never "this message is
# bad". Classes: 08 connection exception (connection lost, refused, failure), 28 invalid
# authorization (the server refuses every connection: a rotated password). Single codes: 57P01
# admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting or in recovery), 57P04
# database dropped, 57P05 idle-session timeout, 53300 too many connections, 53100 disk full (every
# write fails alike: dead-lettering good messages would be wrong), 25006 read-only transaction
# (what a writer sees while a standby is being promoted).
_OUTAGE_SQLSTATE_CLASSES = ("08", "28")
_OUTAGE_SQLSTATES = frozenset(
    {"57P01", "57P02", "57P03", "57P04", "57P05", "53300", "53100", "25006"}
)
# asyncpg raises a bare InterfaceError (no SQLSTATE) for a closed connection or pool.
_OUTAGE_INTERFACE_MESSAGES = ("connection is closed", "pool is closing", "pool is closed")


def is_infrastructure_error(exc: BaseException) -> bool:
    """Whether `exc` is an outage — the database (or the network to it) is unavailable — rather
    than a failure of this piece of work.

    The distinction decides what a consumer does: an outage is retried with backoff without limit
    (every message would fail alike, so none is dead-lettered); anything else counts against the
    message, which gets `max_attempts` tries and then goes to the dead-letter topic, so one bad
    record never blocks its partition. HTTP answers 503 with Retry-After for an outage.

    Outages:
    - `OSError` (ConnectionError, refused or reset sockets, DNS failures) and `TimeoutError`
      (connecting, or waiting for a pooled connection);
    - SQLSTATE class 08 (connection exception; asyncpg's ConnectionDoesNotExistError, "connection
      was closed in the middle of operation", is 08003), class 28 (authentication refused);
      57P01-57P05 (shutdown, crash, cannot connect now, database dropped, idle-session timeout),
      53300 too many connections, 53100 disk full, 25006 read-only transaction (failover);
    - asyncpg's bare `InterfaceError` for a closed connection or a closing/closed pool.

    Not outages (the message's bounded retries, then the dead-letter topic):
    - asyncpg's client-side `DataError` (an InterfaceError subclass: a value that cannot be
      encoded for a parameter — bad input) and every other InterfaceError (misuse: a bug);
    - 57014 query canceled, i.e. `statement_timeout`: a query that may never finish for this
      record; retried a few times in case the database was only slow, then dead-lettered;
    - 40001 serialization failure and 40P01 deadlock: transient, and a retry normally succeeds,
      but they are about this transaction, so they use the message's retries, not unlimited ones;
    - 53200 out of memory, 53400 configuration limit, class 58 (system/I-O error), XX (internal
      error): they may well be caused by this record's query; a partition must not wait on them;
    - constraint violations, undefined tables, data exceptions (class 22) and the rest.
    """
    if isinstance(exc, OSError):  # TimeoutError and ConnectionError are OSErrors
        return True
    if type(exc) is asyncpg.InterfaceError:
        message = str(exc)
        return any(text in message for text in _OUTAGE_INTERFACE_MESSAGES)
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(exc, asyncpg.PostgresError) and isinstance(sqlstate, str):
        return sqlstate[:2] in _OUTAGE_SQLSTATE_CLASSES or sqlstate in _OUTAGE_SQLSTATES
    return False


# A request that lost a serialization conflict or a deadlock may simply be sent again.
_RETRY_LATER_SQLSTATES = frozenset({"40001", "40P01"})


def is_retry_later_error(exc: BaseException) -> bool:
    """Whether an HTTP request that failed with `exc` should be answered 503 with Retry-After:
    an outage (`is_infrastructure_error`) or a transaction that lost a serialization conflict or
    a deadlock (40001, 40P01: rolled back, nothing written, a retry normally succeeds). A
    consumer counts the latter against the message; a client is simply told to retry."""
    if is_infrastructure_error(exc):
        return True
    return isinstance(exc, asyncpg.PostgresError) and exc.sqlstate in _RETRY_LATER_SQLSTATES
