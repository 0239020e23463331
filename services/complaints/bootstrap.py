"""Composition root of the complaints service: complaint intake and handling with first-inquiry
responsibility, SLA clocks, satisfaction surveys, and the local project and campaign tables fed
by the registry and campaigns topics (`subscriptions`)."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from datetime import UTC, datetime
from pathlib import Path

import structlog

from runtime.service import Composed, ServiceSpec, Wiring
from services.complaints import subscriptions
from services.complaints.adapters import reference
from services.complaints.adapters.postgres import SOURCE, PgComplaintsUnitOfWork
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.entrypoints import jobs
from services.complaints.entrypoints.complaints_http import router
from services.complaints.entrypoints.deps import ComplaintsDeps
from services.complaints.entrypoints.open311 import router as open311_router
from services.complaints.entrypoints.photos_http import owner_router as photos_owner_router
from services.complaints.entrypoints.photos_http import pages_router as photos_pages_router
from services.complaints.entrypoints.photos_http import router as photos_router
from services.complaints.entrypoints.supervision_http import router as supervision_router
from services.complaints.entrypoints.surveys_http import router as surveys_router
from services.complaints.entrypoints.web import router as web_router
from services.complaints.entrypoints.workspace_pages import router as workspace_router
from services.complaints.entrypoints.workspace_register import router as register_pages
from services.complaints.entrypoints.workspace_surveys import router as surveys_pages
from services.complaints.settings import ComplaintsSettings

HERE = Path(__file__).parent
log = structlog.get_logger(__name__)


def _load_rules(settings: ComplaintsSettings) -> ComplaintRules:
    return reference.load_rules(
        settings.categories_file, settings.sla_file, settings.calendar_dir, settings.seasons
    )


def _session_key(settings: ComplaintsSettings) -> bytes:
    key = settings.web_session_key.get_secret_value().encode()
    if not key:
        key = secrets.token_bytes(32)
        log.warning("web_session_key_ephemeral", action="set WEB_SESSION_KEY (a Secret)")
    return key


def spec(settings: ComplaintsSettings) -> ServiceSpec:
    auto_close_days = _load_rules(settings).policy.auto_close_days

    async def compose(wiring: Wiring) -> Composed:
        rules = await asyncio.to_thread(_load_rules, settings)
        last_year = max(rules.calendar.years)
        if datetime.now(UTC).year >= last_year:
            # Past the last official year deadlines count on the provisional calendar
            # (statutory holidays from the holidays library, no 调休): warn operators early.
            log.warning(
                "calendar_ends_soon",
                last_year=last_year,
                action="add reference/calendars/cn-<next year>.json from the State Council notice",
            )
        pool, clock = wiring.pool, wiring.clock

        def units() -> PgComplaintsUnitOfWork:
            return PgComplaintsUnitOfWork(pool, source=SOURCE, clock=clock)

        deps = ComplaintsDeps(
            units=units,
            clock=clock,
            settings=settings,
            rules=rules,
            session_key=_session_key(settings),
        )
        return Composed(unit=units(), provided=deps)

    return dataclasses.replace(SPEC, jobs=jobs.jobs(auto_close_days), compose=compose)


SPEC = ServiceSpec(
    name="complaints",
    title="投诉与满意度服务 Complaints",
    version="0.2.0",
    sign_in=True,
    migrations=HERE / "migrations",
    routers=(
        router,
        supervision_router,
        photos_router,
        surveys_router,
        open311_router,
        web_router,
        photos_owner_router,
        workspace_router,
        surveys_pages,
        register_pages,
        photos_pages_router,
    ),
    consumers=subscriptions.CONSUMERS,
    jobs=jobs.SURVEY_JOBS,  # spec() adds the SLA job with the configured auto-close period
)

__all__ = ["SPEC", "ComplaintsSettings", "spec"]
