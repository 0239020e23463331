"""The inspections service served in-process on the test stack, shared by its integration and
end-to-end tests: its settings, an API app with only the routers a test is about, and the whole
app with people signed in to its staff pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter

from runtime.auth import DevIssuer, Principal
from runtime.scheduler import Clock
from runtime.service import ServiceSpec, build_app
from services.inspections import bootstrap
from tests.asgi import served
from tests.workspace_support import Desk, sign_in

MIGRATIONS = Path("services/inspections/migrations")


def inspections_settings(
    dsn: str, kafka_bootstrap: str, issuer: DevIssuer | None = None, **more: Any
) -> bootstrap.InspectionsSettings:
    """The service's settings on the test database and broker; with `issuer`, the API trusts
    the bearer tokens it issues."""
    if issuer is not None:
        more["auth_jwt_public_key"] = issuer.public_key_pem
    return bootstrap.InspectionsSettings(
        database_url=dsn, kafka_bootstrap_servers=kafka_bootstrap, **more
    )


def api_spec(
    settings: bootstrap.InspectionsSettings, *, title: str, routers: Sequence[APIRouter]
) -> ServiceSpec:
    """An inspections app serving only `routers`, composed as the service composes itself (which
    loads the demo registry)."""
    return ServiceSpec(
        name="inspections",
        title=title,
        version="0",
        migrations=MIGRATIONS,
        routers=tuple(routers),
        compose=bootstrap.composer(settings),
    )


@asynccontextmanager
async def signed_in_pages(
    settings: bootstrap.InspectionsSettings, clock: Clock, people: Iterable[Principal]
) -> AsyncIterator[Desk]:
    """The whole inspections app in-process (redirects not followed, so a test sees each 303),
    with each of `people` holding a session on its staff pages."""
    app = build_app(bootstrap.spec(settings), settings, clock=clock)
    async with served(app, follow_redirects=False) as client:
        cookies = await sign_in(settings.database_url, clock, "inspections", people)
        yield Desk("inspections", client, settings.database_url, cookies, clock)
