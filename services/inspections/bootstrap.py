"""Composition root of the inspections service: its API, what it reacts to, its timers, and the
unit of work and dependencies the handlers and routes receive."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from runtime.scheduler import SystemClock
from runtime.service import Composed, ServiceSpec, Wiring
from services.inspections import subscriptions
from services.inspections.adapters.campaigns import TemplateFiles
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.entrypoints import (
    activities_http,
    campaigns_http,
    draws_http,
    facilities_http,
    http,
    jobs,
    public_photos,
    rectifications_http,
    registry_http,
    startup,
    templates_http,
    workspace_draws,
    workspace_facilities,
    workspace_pages,
    workspace_patrol,
    workspace_photos,
)
from services.inspections.entrypoints.deps import InspectionsDeps
from services.inspections.service.complaint_reactions import PatrolTrigger
from services.inspections.settings import InspectionsSettings

HERE = Path(__file__).parent

__all__ = ["InspectionsSettings", "composer", "spec"]


def composer(settings: InspectionsSettings) -> Callable[[Wiring], Awaitable[Composed]]:
    """The composition: at startup, the shipped templates and registry are loaded and the
    reference data read; routes then receive `InspectionsDeps`, consumers the unit of work."""

    async def compose(wiring: Wiring) -> Composed:
        pool = wiring.pool
        # Startup loads stamp their events with the wall clock, whatever the business clock.
        at_startup = SystemClock()
        await startup.load_templates(
            lambda: PgInspectionsUnitOfWork(pool, source=SOURCE, clock=at_startup),
            settings.templates_dir,
        )
        await startup.load_projects(
            lambda: PgInspectionsUnitOfWork(pool, source=SOURCE, clock=at_startup),
            settings.registry_file,
        )
        unit = PgInspectionsUnitOfWork(pool, source=SOURCE, clock=wiring.clock)
        deps = InspectionsDeps(
            units=lambda: PgInspectionsUnitOfWork(pool, source=SOURCE, clock=wiring.clock),
            clock=wiring.clock,
            settings=settings,
            rules=await startup.load_rules(settings),
            campaign_templates=TemplateFiles(),
        )
        return Composed(unit=unit, provided=deps)

    return compose


def spec(settings: InspectionsSettings) -> ServiceSpec:
    trigger = PatrolTrigger(
        complaints=settings.patrol_after_complaints,
        window_days=settings.patrol_window_days,
        patrol_within_days=settings.patrol_within_days,
    )
    return ServiceSpec(
        name="inspections",
        title="检查与整改服务 Inspections",
        version="0.2.0",
        sign_in=True,
        migrations=HERE / "migrations",
        routers=(
            http.router,
            registry_http.router,
            templates_http.router,
            activities_http.router,
            rectifications_http.router,
            campaigns_http.router,
            draws_http.router,
            facilities_http.router,
            workspace_pages.router,
            workspace_patrol.router,
            workspace_photos.router,
            workspace_draws.router,
            workspace_facilities.router,
            public_photos.router,
        ),
        consumers=subscriptions.consumers(trigger),
        jobs=(*jobs.JOBS, jobs.draft_sweep_job(settings.patrol_draft_max_age_days)),
        compose=composer(settings),
    )
