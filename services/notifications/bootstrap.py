"""Composition root of the notifications service: what it reacts to (`subscriptions.py`), its
timers, its routes, and at startup the unit of work and what the routes depend on."""

from __future__ import annotations

from runtime.service import Composed, ServiceSpec, Wiring
from services.notifications import subscriptions
from services.notifications.adapters import rule_file
from services.notifications.adapters.postgres import PgNotificationsUnitOfWork
from services.notifications.adapters.senders import ChannelSettings, WireSender
from services.notifications.entrypoints import jobs, workspace_pages
from services.notifications.entrypoints.deps import NotificationsDeps
from services.notifications.entrypoints.http import router
from services.notifications.service.delivery import DeliveryPolicy, DeliveryWorker
from services.notifications.settings import HERE, NotificationsSettings


def spec(settings: NotificationsSettings) -> ServiceSpec:
    book = rule_file.load(settings.rules_file)  # an invalid rule book stops the service here
    consumers = subscriptions.consumers(book)
    subscriptions.check_rule_book(book, consumers)  # and so does one the list does not match
    signing_key = settings.webhook_signing_key.get_secret_value().encode()
    channels = ChannelSettings(
        smtp=settings.smtp(),
        webhook_key=signing_key,
        destinations=settings.webhook_destinations(),
    )
    worker = DeliveryWorker(
        lambda: WireSender(channels),
        DeliveryPolicy(
            max_attempts=settings.delivery_max_attempts,
            backoff_base_s=settings.delivery_backoff_base_s,
            backoff_max_s=settings.delivery_backoff_max_s,
            lease_s=settings.delivery_lease_s,
        ),
    )

    async def compose(wiring: Wiring) -> Composed:
        def units() -> PgNotificationsUnitOfWork:
            return PgNotificationsUnitOfWork(wiring.pool, clock=wiring.clock)

        return Composed(
            unit=units(),
            provided=NotificationsDeps(
                units=units,
                clock=wiring.clock,
                settings=settings,
                book=book,
                webhook_signing_key=signing_key,
                webhook_destinations=settings.webhook_destinations(),
            ),
        )

    return ServiceSpec(
        name="notifications",
        title="通知服务 Notifications",
        version="0.2.0",
        migrations=HERE / "migrations",
        sign_in=True,
        routers=(router, workspace_pages.router),
        consumers=consumers,
        jobs=(
            jobs.delivery_job(worker, settings.delivery_interval_s),
            jobs.escalation_job(book, settings.escalation_interval_s),
        ),
        compose=compose,
    )
