"""The complaints service served in-process on the test stack, shared by its integration tests:
its settings; an API app with only the routers a test is about; the whole app without consumers
or jobs (the outbox relay runs, the clock stands still), two projects in its registry copy, and
people signed in to its pages or holding bearer tokens for its API."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from fastapi import APIRouter

from runtime.auth import DevIssuer, Principal
from runtime.scheduler import FixedClock
from runtime.service import ServiceSpec, build_app
from runtime.settings import Settings
from services.complaints import bootstrap
from services.complaints.settings import ComplaintsSettings
from tests.asgi import served
from tests.factories import register_complaint_project
from tests.workspace_support import Desk, open_sessions

# (project, enterprise, district): ent-a's p-1 in 和平区, ent-b's p-2 in 河西区.
PROJECTS = (("p-1", "ent-a", "120101"), ("p-2", "ent-b", "120103"))

Seed = Callable[[asyncpg.Pool], Awaitable[None]]
OnStartup = Callable[[asyncpg.Pool, Settings], Awaitable[None]]


def complaints_settings(
    dsn: str, kafka_bootstrap: str, issuer: DevIssuer, **more: Any
) -> ComplaintsSettings:
    """The service's settings on the test database and broker, trusting `issuer`'s tokens."""
    return ComplaintsSettings(
        database_url=dsn,
        kafka_bootstrap_servers=kafka_bootstrap,
        auth_jwt_public_key=issuer.public_key_pem,
        **more,
    )


def api_spec(
    settings: ComplaintsSettings,
    *,
    title: str,
    routers: Sequence[APIRouter],
    on_startup: Sequence[OnStartup],
) -> ServiceSpec:
    """A complaints app serving only `routers`, with no consumers or jobs, whose startup runs
    `on_startup` (the test's seeding) in place of the service's own hooks."""
    return dataclasses.replace(
        bootstrap.spec(settings),
        title=title,
        version="0",
        routers=tuple(routers),
        consumers=(),
        jobs=(),
        on_startup=tuple(on_startup),
    )


@dataclass
class ComplaintsDesk(Desk):
    """The complaints pages and API in-process; `issuer` signs the API's bearer tokens."""

    issuer: DevIssuer

    def bearer(self, who: Principal) -> dict[str, str]:
        """Headers that call the API as `who` alone (any page session cookie dropped)."""
        self.client.cookies.clear()
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}


async def register_projects(pool: asyncpg.Pool, now: datetime) -> None:
    """p-1 and p-2 (see PROJECTS) in the registry copy, registered 60 days before `now`."""
    for project, enterprise, district in PROJECTS:
        await register_complaint_project(
            pool, project, enterprise, district, occurred_at=now - timedelta(days=60)
        )


@asynccontextmanager
async def complaints_pages(
    dsn: str,
    kafka_bootstrap: str,
    clock: FixedClock,
    people: Iterable[Principal],
    seed: Seed | None = None,
) -> AsyncIterator[ComplaintsDesk]:
    """The complaints app in-process (redirects not followed) with no consumers or jobs, p-1 and
    p-2 registered, then `seed(pool)` run, and each of `people` signed in to its pages."""
    issuer = DevIssuer.generate()
    settings = complaints_settings(dsn, kafka_bootstrap, issuer)
    spec = dataclasses.replace(bootstrap.spec(settings), consumers=(), jobs=())
    app = build_app(spec, settings, clock=clock)
    async with served(app, follow_redirects=False) as client:
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        try:
            await register_projects(pool, clock.now())
            if seed is not None:
                await seed(pool)
            cookies = await open_sessions(pool, clock, "complaints", people)
        finally:
            await pool.close()
        yield ComplaintsDesk("complaints", client, dsn, cookies, clock, issuer)
