"""Composition root of the inspections service: its API, what it reacts to and its timers."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from runtime.scheduler import PeriodicJob
from runtime.service import ConsumerSpec, ServiceSpec
from runtime.settings import Settings
from runtime.subscriptions import Subscription
from services.inspections.adapters import reference
from services.inspections.entrypoints.campaigns_http import router as campaigns_router
from services.inspections.entrypoints.http import router
from services.inspections.entrypoints.rectifications_http import router as rectifications_router
from services.inspections.entrypoints.registry_http import router as registry_router
from services.inspections.service import campaigns, complaint_reactions, rectifications, registry

HERE = Path(__file__).parent
log = structlog.get_logger(__name__)
REPO = HERE.parents[1]


class InspectionsSettings(Settings):
    service_name: str = "inspections"
    registry_file: Path = HERE / "data" / "projects.json"
    templates_dir: Path = HERE / "data" / "templates"
    calendar_dir: Path = REPO / "reference" / "calendars"
    deadlines_file: Path = HERE / "data" / "deadlines.json"
    # A project with this many complaints filed within the window gets a patrol scheduled.
    patrol_after_complaints: int = 3
    patrol_window_days: int = 30
    patrol_within_days: int = 7


async def _load_data(pool: asyncpg.Pool, settings: Settings) -> Mapping[str, Any]:
    assert isinstance(settings, InspectionsSettings)
    calendar, deadlines = await asyncio.to_thread(
        lambda: (
            reference.load_calendar(settings.calendar_dir),
            reference.load_deadlines(settings.deadlines_file),
        )
    )
    last_year = max(calendar.years)
    if datetime.now(UTC).year >= last_year:
        # Past the last official year deadlines count on the provisional calendar (statutory
        # holidays from the holidays library, no 调休): warn operators early.
        log.warning(
            "calendar_ends_soon",
            last_year=last_year,
            action="add reference/calendars/cn-<next year>.json from the State Council notice",
        )
    await registry.load_templates(pool, settings.templates_dir)
    await registry.load_projects(pool, settings.registry_file)
    return {"rules": rectifications.Rules(calendar=calendar, deadlines=deadlines)}


def spec(settings: InspectionsSettings) -> ServiceSpec:
    trigger = complaint_reactions.PatrolTrigger(
        complaints=settings.patrol_after_complaints,
        window_days=settings.patrol_window_days,
        patrol_within_days=settings.patrol_within_days,
    )
    return ServiceSpec(
        name="inspections",
        title="检查与整改服务 Inspections",
        version="0.2.0",
        migrations=HERE / "migrations",
        routers=(router, registry_router, rectifications_router, campaigns_router),
        consumers=(
            ConsumerSpec(
                Subscription(
                    group="inspections.complaints",
                    topics=("wuye.complaints.events",),
                    description="Schedule patrols for projects with repeated or overdue complaints",
                ),
                complaint_reactions.handlers(trigger),
            ),
        ),
        jobs=(
            PeriodicJob("rectification-overdue", rectifications.overdue_job, interval_s=30),
            *campaigns.JOBS,
        ),
        on_startup=(_load_data,),
    )
