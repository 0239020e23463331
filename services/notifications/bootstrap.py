"""Composition root of the notifications service: everything it reacts to is listed here."""

from __future__ import annotations

from pathlib import Path

from runtime.service import ConsumerSpec, ServiceSpec
from runtime.settings import Settings
from runtime.subscriptions import Subscription
from services.notifications.entrypoints.http import router
from services.notifications.service import handlers

HERE = Path(__file__).parent


class NotificationsSettings(Settings):
    service_name: str = "notifications"


def spec(settings: Settings) -> ServiceSpec:
    return SPEC


SPEC = ServiceSpec(
    name="notifications",
    title="通知服务 Notifications",
    version="0.1.0",
    migrations=HERE / "migrations",
    routers=(router,),
    consumers=(
        ConsumerSpec(
            Subscription(
                group="notifications.inspections",
                topics=("wuye.inspections.events",),
                description="Notices to enterprises about failed inspections",
            ),
            handlers.HANDLERS,
        ),
    ),
)
