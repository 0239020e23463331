"""Composition root of the complaints service: complaint intake and handling with first-inquiry
responsibility, SLA clocks, and the local project table fed by the registry topic."""

from __future__ import annotations

import asyncio
import dataclasses
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog
from pydantic import SecretStr

from runtime.service import ConsumerSpec, ServiceSpec
from runtime.settings import Settings
from runtime.subscriptions import Subscription
from services.complaints.adapters import reference
from services.complaints.entrypoints.complaints_http import router
from services.complaints.entrypoints.open311 import router as open311_router
from services.complaints.entrypoints.surveys_http import router as surveys_router
from services.complaints.entrypoints.web import router as web_router
from services.complaints.service import complaints, sla_job, surveys

HERE = Path(__file__).parent
REPO = HERE.parents[1]
log = structlog.get_logger(__name__)


class ComplaintsSettings(Settings):
    service_name: str = "complaints"
    categories_file: Path = HERE / "data" / "categories.json"
    sla_file: Path = HERE / "data" / "sla.json"
    calendar_dir: Path = REPO / "reference" / "calendars"
    # Open311 client applications: {"client-id": "<SHA-256 hex of its api_key>"} (a Secret).
    open311_api_keys: Mapping[str, str] = {}
    # Behind a TLS-terminating proxy the request scheme is http: say so here, so the owners'
    # pages mark their cookies Secure anyway.
    public_https: bool = False
    # Signs the owners' pages' CSRF tokens (entrypoints/csrf.py); a Secret, the same on every
    # replica. Unset: a random key per process (fine for one process; with several replicas a
    # form served by one is refused by another, so Kubernetes sets it).
    web_session_key: SecretStr = SecretStr("")


async def _load_data(_pool: asyncpg.Pool, settings: Settings) -> Mapping[str, Any]:
    files = (
        settings
        if isinstance(settings, ComplaintsSettings)
        else ComplaintsSettings.model_construct()
    )
    rules = await asyncio.to_thread(
        reference.load_rules, files.categories_file, files.sla_file, files.calendar_dir
    )
    last_year = max(rules.calendar.years)
    if datetime.now(UTC).year >= last_year:
        # Past the last official year deadlines count on the provisional calendar (statutory
        # holidays from the holidays library, no 调休): warn operators early.
        log.warning(
            "calendar_ends_soon",
            last_year=last_year,
            action="add reference/calendars/cn-<next year>.json from the State Council notice",
        )
    key = files.web_session_key.get_secret_value().encode()
    if not key:
        key = secrets.token_bytes(32)
        log.warning("web_session_key_ephemeral", action="set WEB_SESSION_KEY (a Secret)")
    return {"complaint_rules": rules, "web_session_key": key}


def spec(settings: Settings) -> ServiceSpec:
    files = (
        settings
        if isinstance(settings, ComplaintsSettings)
        else ComplaintsSettings.model_construct()
    )
    auto_close_days = reference.load_rules(
        files.categories_file, files.sla_file, files.calendar_dir
    ).policy.auto_close_days
    return dataclasses.replace(SPEC, jobs=sla_job.jobs(auto_close_days) + surveys.JOBS)


SPEC = ServiceSpec(
    name="complaints",
    title="投诉与满意度服务 Complaints",
    version="0.2.0",
    migrations=HERE / "migrations",
    routers=(router, surveys_router, open311_router, web_router),
    consumers=(
        ConsumerSpec(
            Subscription(
                group="complaints.registry",
                topics=("wuye.registry.projects",),
                description="Keep the local project table (district, enterprise) for intake",
            ),
            complaints.REGISTRY_HANDLERS,
        ),
        ConsumerSpec(
            Subscription(
                group="complaints.campaigns",
                topics=("wuye.campaigns.events",),
                description="Keep the campaigns' implementation phases for satisfaction surveys",
            ),
            surveys.CAMPAIGN_HANDLERS,
        ),
    ),
    jobs=surveys.JOBS,  # spec() adds the SLA job with the configured auto-close period
    on_startup=(_load_data,),
)
