"""Composition root of the exposure service: everything it reacts to is listed here."""

from __future__ import annotations

from pathlib import Path

from runtime.service import ConsumerSpec, ServiceSpec
from runtime.settings import Settings
from runtime.subscriptions import Subscription
from services.exposure.entrypoints.http import router
from services.exposure.service import handlers

HERE = Path(__file__).parent


class ExposureSettings(Settings):
    service_name: str = "exposure"


def spec(settings: Settings) -> ServiceSpec:
    return SPEC


SPEC = ServiceSpec(
    name="exposure",
    title="公开曝光服务 Exposure",
    version="0.1.0",
    migrations=HERE / "migrations",
    routers=(router,),
    consumers=(
        ConsumerSpec(
            Subscription(
                group="exposure.inspections",
                topics=("wuye.inspections.events",),
                description="Evidence of failed inspections for the exposure board",
            ),
            handlers.HANDLERS,
        ),
    ),
)
