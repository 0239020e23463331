"""Composition root of the exposure service: its settings, publication rules, unit of work,
consumers (listed in `subscriptions.py`), publication job and routes."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from runtime.scheduler import FixedClock
from runtime.service import Composed, ServiceSpec, Wiring
from services.exposure import subscriptions
from services.exposure.adapters import policy_file
from services.exposure.adapters.board_queries import board_queries
from services.exposure.adapters.case_queries import case_queries
from services.exposure.adapters.figure_queries import figure_queries
from services.exposure.adapters.postgres import PgExposureUnitOfWork
from services.exposure.entrypoints import board as board_pages
from services.exposure.entrypoints import (
    board_api,
    board_figures,
    jobs,
    workspace_campaign,
    workspace_figures,
    workspace_pages,
)
from services.exposure.entrypoints.cases_http import router as cases_router
from services.exposure.entrypoints.deps import ExposureDeps
from services.exposure.entrypoints.http import router as evidence_router
from services.exposure.settings import ExposureSettings

HERE = Path(__file__).parent
SOURCE = "/wuye/exposure"


def spec(settings: ExposureSettings) -> ServiceSpec:
    policy = policy_file.load(settings.publication_file)  # invalid rules stop the service here

    def job_unit(pool: Any, now: datetime) -> PgExposureUnitOfWork:
        return PgExposureUnitOfWork(pool, source=SOURCE, clock=FixedClock(now), policy=policy)

    async def compose(wiring: Wiring) -> Composed:
        await asyncio.sleep(0)  # nothing to wait for: the rules were loaded (and checked) above

        def units() -> PgExposureUnitOfWork:
            return PgExposureUnitOfWork(
                wiring.pool, source=SOURCE, clock=wiring.clock, policy=policy
            )

        deps = ExposureDeps(
            units=units,
            case_queries=lambda: case_queries(wiring.pool),
            board_queries=lambda: board_queries(wiring.pool),
            figure_queries=lambda: figure_queries(wiring.pool),
            clock=wiring.clock,
            settings=settings,
            policy=policy,
        )
        return Composed(unit=units(), provided=deps)

    return ServiceSpec(
        name="exposure",
        title="公开曝光服务 Exposure",
        version="0.2.0",
        migrations=HERE / "migrations",
        routers=(
            board_pages.router,
            board_api.api,
            cases_router,
            evidence_router,
            workspace_pages.router,
            workspace_campaign.router,
            workspace_figures.router,
            board_figures.router,
        ),
        sign_in=True,
        consumers=tuple(group.consumer() for group in subscriptions.GROUPS),
        jobs=(jobs.publication_job(job_unit, settings.publication_interval_s),),
        compose=compose,
    )
