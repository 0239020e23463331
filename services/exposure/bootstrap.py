"""Composition root of the exposure service: everything it reacts to is listed here."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import Field, HttpUrl

from runtime.service import ConsumerSpec, ServiceSpec
from runtime.settings import Settings
from runtime.subscriptions import Subscription
from services.exposure.domain.cases import Policy
from services.exposure.entrypoints import board
from services.exposure.entrypoints.cases_http import router as cases_router
from services.exposure.entrypoints.http import router as evidence_router
from services.exposure.service import cases, handlers

HERE = Path(__file__).parent


class ExposureSettings(Settings):
    service_name: str = "exposure"
    publication_file: Path = HERE / "data" / "publication.toml"
    publication_interval_s: float = Field(default=30.0, gt=0)
    # Where the public reaches the board: the absolute links of the Atom feed are built from it,
    # never from a request's Host header (anyone can send any Host). Kubernetes sets the ingress
    # host; `make demo` its local address.
    public_base_url: HttpUrl = HttpUrl("http://127.0.0.1:8000")

    def public_base(self) -> str:
        """The base URL without a trailing slash (links append "/feed.atom", "/cases/...")."""
        return str(self.public_base_url).rstrip("/")


def _settings(settings: Settings) -> ExposureSettings:
    if isinstance(settings, ExposureSettings):
        return settings
    return ExposureSettings.model_construct()


def spec(settings: Settings) -> ServiceSpec:
    own = _settings(settings)
    policy = Policy.load(own.publication_file)  # invalid rules stop the service here

    async def extras(_pool: asyncpg.Pool, _settings: Settings) -> Mapping[str, Any]:
        await asyncio.sleep(0)
        return {"publication_policy": policy, "public_base_url": own.public_base()}

    deciders = cases.deciders(policy)

    def consumer(group: str, topic: str, description: str) -> ConsumerSpec:
        return ConsumerSpec(
            Subscription(group=group, topics=(topic,), description=description),
            handlers.live_handlers(topic, deciders),
        )

    return ServiceSpec(
        name="exposure",
        title="公开曝光服务 Exposure",
        version="0.2.0",
        migrations=HERE / "migrations",
        routers=(board.router, board.api, cases_router, evidence_router),
        consumers=(
            consumer(
                "exposure.registry",
                "wuye.registry.projects",
                "Registry copy: project, enterprise and district names for the board",
            ),
            consumer(
                "exposure.inspections",
                "wuye.inspections.events",
                "Evidence and grades from inspections; cases from overdue or inadequate "
                "rectification; rectified cases",
            ),
            consumer(
                "exposure.complaints",
                "wuye.complaints.events",
                "Complaint handling for grades and statistics (ids and times only)",
            ),
            consumer(
                "exposure.surveys",
                "wuye.surveys.events",
                "Satisfaction survey results for grades and statistics",
            ),
            consumer(
                "exposure.notifications",
                "wuye.notifications.events",
                "Criticism notices (通报批评) complete a case's evidence",
            ),
            consumer(
                "exposure.board",
                "wuye.exposure.events",
                "The board applies exposure events it did not emit itself (replays, other regions)",
            ),
        ),
        jobs=(cases.publication_job(policy, own.publication_interval_s),),
        on_startup=(extras,),
    )
