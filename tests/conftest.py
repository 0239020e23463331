"""Root fixtures: one real Kafka + PostgreSQL per test session (deploy/local/stack.py, "test").

Set KAFKA_BOOTSTRAP_SERVERS and/or PG_ADMIN_DSN to use existing servers instead (Kubernetes, a
shared cluster): nothing is started for those. WUYE_STACK_PROFILE picks another local profile
(own ports and data), e.g. to run two sessions of one checkout fully isolated.

All fixtures here are sync (subprocess-based) so they work under pytest-asyncio in any mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

# `deploy` is not an installed package: importable even without pytest's `pythonpath` setting
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from deploy.local.stack import Kafka, Keycloak, Postgres, Stack, StackConfig  # noqa: E402

T = TypeVar("T")


def run_async_in_thread(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion on a private event loop in a helper thread, so a sync fixture
    never touches (or closes) the event loop pytest-asyncio manages in the main thread."""
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(make())  # type: ignore[arg-type]
        except BaseException as e:  # noqa: BLE001 (re-raised in the caller's thread)
            result["error"] = e

    t = threading.Thread(target=target, name="fixture-async")
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    value: T = result["value"]
    return value


async def _admin_execute(admin_dsn: str, sql: str) -> None:
    import asyncpg  # test dependency; imported lazily so collection never needs it

    conn = await asyncpg.connect(admin_dsn, timeout=30)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass
class StackHandle:
    kafka_bootstrap: str
    admin_dsn: str
    kafka: Kafka | None  # None when Kafka is external (KAFKA_BOOTSTRAP_SERVERS)
    postgres: Postgres | None  # None when PostgreSQL is external (PG_ADMIN_DSN)

    def database_dsn(self, name: str) -> str:
        parts = urlsplit(self.admin_dsn)
        return urlunsplit(parts._replace(path="/" + quote(name, safe="")))

    def create_database(self, name: str) -> str:
        run_async_in_thread(
            lambda: _admin_execute(self.admin_dsn, f'CREATE DATABASE "{_ident(name)}"')
        )
        return self.database_dsn(name)

    def drop_database(self, name: str) -> None:
        run_async_in_thread(
            lambda: _admin_execute(
                self.admin_dsn, f'DROP DATABASE IF EXISTS "{_ident(name)}" WITH (FORCE)'
            )
        )


def _ident(name: str) -> str:
    if not name or '"' in name or "\0" in name:
        raise ValueError(f"bad database name {name!r}")
    return name


@pytest.fixture(scope="session")
def stack() -> Iterator[StackHandle]:
    ext_kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
    ext_pg = os.environ.get("PG_ADMIN_DSN") or None
    if ext_kafka and ext_pg:
        yield StackHandle(kafka_bootstrap=ext_kafka, admin_dsn=ext_pg, kafka=None, postgres=None)
        return

    local = Stack(StackConfig.for_profile(os.environ.get("WUYE_STACK_PROFILE", "test")))
    if ext_kafka or ext_pg:
        # only one of the two is external: run the other locally (not shared; stopped at the end)
        started: list[Kafka | Postgres] = []
        if not ext_kafka:
            local.kafka.ensure_jars()
            if not local.kafka.is_running():
                local.kafka.start()
                started.append(local.kafka)
            local.kafka.wait_ready()
        if not ext_pg:
            local.postgres.ensure_installed()
            if not local.postgres.is_running():
                local.postgres.start()
                started.append(local.postgres)
        try:
            yield StackHandle(
                kafka_bootstrap=ext_kafka or local.kafka.bootstrap_servers,
                admin_dsn=ext_pg or local.postgres.dsn(),
                kafka=None if ext_kafka else local.kafka,
                postgres=None if ext_pg else local.postgres,
            )
        finally:
            for server in started:
                server.stop()
        return

    # Shared by concurrent sessions / xdist workers of this checkout: the first starts it (fresh
    # data), the last stops it; a stack started by hand (`python -m deploy.local.stack up
    # --profile test`) is reused and left running.
    with local.shared(fresh=True):
        yield StackHandle(
            kafka_bootstrap=local.kafka.bootstrap_servers,
            admin_dsn=local.postgres.dsn(),
            kafka=local.kafka,
            postgres=local.postgres,
        )


@pytest.fixture
def db_factory(stack: StackHandle) -> Iterator[Callable[[], str]]:
    """Callable creating a new, uniquely named, empty database per call and returning its DSN.
    All are dropped after the test."""
    created: list[str] = []

    def make() -> str:
        name = f"t_{uuid.uuid4().hex[:8]}"
        dsn = stack.create_database(name)
        created.append(name)
        return dsn

    yield make
    for name in created:
        with contextlib.suppress(Exception):  # best effort: the session's data is wiped anyway
            stack.drop_database(name)


@pytest.fixture
def fresh_db(db_factory: Callable[[], str]) -> str:
    """DSN of a new empty database, dropped after the test."""
    return db_factory()


@pytest.fixture
def unique() -> str:
    """Short unique token for topic / consumer-group names (the broker is shared by the session)."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def keycloak() -> Iterator[Keycloak]:
    """The identity provider of the profile, started only when a test asks for it (it takes
    30-60 s to boot on a small machine; `make test` without such a test never starts it), and
    stopped at the end if this session started it.."""
    local = Stack(StackConfig.for_profile(os.environ.get("WUYE_STACK_PROFILE", "test")))
    server = local.keycloak
    started = not server.is_running()
    local.up_keycloak()
    try:
        yield server
    finally:
        if started:
            server.stop()
