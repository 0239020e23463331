"""The runtime's unit of work and registry copy on real PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from runtime import db
from runtime.registry_copy import ProjectEvent, RegistryCopy
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered, PgUnitOfWork, Trace
from schemas import cloudevents
from schemas.registry import v1 as registry
from tests.factories import inspection_failed

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
PROJECTS = """CREATE TABLE projects (
    project_id text PRIMARY KEY, project_name text NOT NULL, enterprise_id text NOT NULL,
    enterprise_name text NOT NULL, district_code text NOT NULL, district_name text NOT NULL,
    occurred_at timestamptz NOT NULL, updated_at timestamptz NOT NULL DEFAULT 'epoch')"""


def unit(pool: asyncpg.Pool) -> PgUnitOfWork:
    return PgUnitOfWork(pool, source="/wuye/test", clock=FixedClock(T0))


async def outbox_rows(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    async with pool.acquire() as conn:
        return list(await conn.fetch("SELECT event_id, headers FROM outbox ORDER BY seq"))


async def test_a_committed_unit_writes_its_events_with_the_trace_it_was_given(
    pool: asyncpg.Pool,
) -> None:
    trace = Trace("corr-1", "cause-1")
    async with unit(pool) as uow:
        ce = await uow.outbox.add(inspection_failed(), trace)
        await uow.commit()

    rows = await outbox_rows(pool)
    assert [r["event_id"] for r in rows] == [ce.id]
    headers = dict(json.loads(rows[0]["headers"]))
    assert headers["ce_correlationid"] == "corr-1"
    assert headers["ce_causationid"] == "cause-1"
    assert ce.source == "/wuye/test"


async def test_leaving_without_commit_rolls_back_and_an_error_too(pool: asyncpg.Pool) -> None:
    async with unit(pool) as uow:
        await uow.outbox.add(inspection_failed(), Trace.start())

    async def refused() -> None:
        async with unit(pool) as uow:
            await uow.outbox.add(inspection_failed(), Trace.start())
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"):
        await refused()
    assert await outbox_rows(pool) == []
    # the connections went back to the pool: all of them can be taken again
    conns = [await pool.acquire() for _ in range(pool.get_max_size())]
    for conn in conns:
        await pool.release(conn)


async def test_a_joined_unit_leaves_the_transaction_to_its_owner(pool: asyncpg.Pool) -> None:
    template = unit(pool)
    async with pool.acquire() as conn:
        with pytest.raises(RuntimeError, match="open transaction"):
            template.joined(conn)
        tx = conn.transaction()
        await tx.start()
        joined = template.joined(conn)
        async with joined as uow:
            await uow.outbox.add(inspection_failed(), Trace.start())
            await uow.commit()  # a no-op: the owner decides
        assert conn.is_in_transaction()
        await tx.rollback()
    assert await outbox_rows(pool) == []


async def test_a_unit_is_entered_once(pool: asyncpg.Pool) -> None:
    uow = unit(pool)
    async with uow:
        with pytest.raises(RuntimeError, match="entered once"):
            await uow.__aenter__()


def project(pid: str, name: str, at: datetime, *, new: bool = True) -> ProjectEvent:
    kind = registry.ProjectRegistered if new else registry.ProjectUpdated
    return kind(
        project_id=pid,
        project_name=name,
        address="和平区南京路1号",
        district_code="120101",
        district_name="和平区",
        enterprise_id="E-1",
        enterprise_name="海河物业",
        service_grade="一级",
        occurred_at=at,
    )


async def names(conn: db.Connection) -> dict[str, str]:
    rows = await conn.fetch("SELECT project_id, project_name FROM projects")
    return {r["project_id"]: r["project_name"] for r in rows}


async def test_the_registry_copy_keeps_the_newest_facts_in_one_statement(
    pool: asyncpg.Pool,
) -> None:
    copy = RegistryCopy("projects", touch=("updated_at",))
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(PROJECTS)
        batch = [
            project("P-1", "一号", T0),
            project("P-2", "二号", T0),
            project("P-1", "一号改名", T0 + timedelta(hours=1), new=False),
            project("P-1", "一号旧名", T0 - timedelta(hours=1), new=False),  # late, older
        ]
        assert await copy.apply(conn, batch) == 2  # P-1 once (its newest), P-2
        assert await names(conn) == {"P-1": "一号改名", "P-2": "二号"}
        # an older record arriving in a later batch (a replay, compaction) changes nothing
        assert await copy.apply(conn, [project("P-2", "二号旧", T0 - timedelta(days=1))]) == 0
        assert await names(conn) == {"P-1": "一号改名", "P-2": "二号"}
        # `touch`: the columns set to now() on a change (inserts take the table's default)
        touched = await conn.fetch("SELECT project_id FROM projects WHERE updated_at > 'epoch'")
        assert [r["project_id"] for r in touched] == []
        await copy.apply(conn, [project("P-2", "二号新", T0 + timedelta(days=1), new=False)])
        touched = await conn.fetch("SELECT project_id FROM projects WHERE updated_at > 'epoch'")
        assert [r["project_id"] for r in touched] == ["P-2"]


async def test_the_registry_copy_handlers_run_on_a_joined_unit(pool: asyncpg.Pool) -> None:
    handlers = RegistryCopy("projects").handlers()
    assert set(handlers) == {registry.ProjectRegistered.ce_type, registry.ProjectUpdated.ce_type}
    events = [project("P-7", "七号", T0), project("P-8", "八号", T0)]
    batch = [Delivered(e, cloudevents.from_event(e, source="/wuye/inspections")) for e in events]
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(PROJECTS)
        await handlers[registry.ProjectRegistered.ce_type](unit(pool).joined(conn), batch)
        assert await names(conn) == {"P-7": "七号", "P-8": "八号"}


def test_the_registry_copy_refuses_a_table_name_that_is_not_a_plain_identifier() -> None:
    with pytest.raises(ValueError, match="identifier"):
        RegistryCopy("projects; DROP TABLE outbox")
