"""Composition root of the notifications service: everything it reacts to is listed here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import asyncpg
from pydantic import Field, SecretStr, field_validator

from runtime.scheduler import clock_from
from runtime.service import ConsumerSpec, ServiceSpec
from runtime.settings import Settings
from runtime.subscriptions import Subscription
from services.notifications.adapters.channels import Destinations, SmtpSettings
from services.notifications.domain import destinations
from services.notifications.domain.rules import RuleBook
from services.notifications.entrypoints.http import router
from services.notifications.service import handlers, issuing
from services.notifications.service.delivery import Channels, DeliveryPolicy, DeliveryWorker

HERE = Path(__file__).parent


class NotificationsSettings(Settings):
    service_name: str = "notifications"
    rules_file: Path = HERE / "data" / "rules.toml"

    # E-mail (SMTP). Unset host: e-mail deliveries wait (and retry) until it is configured.
    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_sender: str = "notices@wuye.tj.gov.cn"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None  # from a Secret
    smtp_starttls: bool = True
    smtp_implicit_tls: bool = False
    smtp_validate_certs: bool = True

    # Webhooks: each endpoint's secret is derived from this key (a Secret). Unset: webhooks can
    # be neither registered nor sent.
    webhook_signing_key: SecretStr = SecretStr("")
    # Plain-http callback URLs are for local development and tests only.
    webhook_allow_http: bool = False
    # Webhooks never go to loopback, private, link-local, CGNAT, multicast or metadata addresses
    # (domain/destinations.py). Comma-separated ranges allowed all the same, e.g. "127.0.0.0/8"
    # for a test receiver on loopback; empty in production. Metadata addresses stay refused.
    webhook_allowed_networks: str = ""

    @field_validator("webhook_allowed_networks")
    @classmethod
    def _networks(cls, value: str) -> str:
        destinations.parse_networks(value)  # a ValueError stops the service at start
        return value

    def webhook_destinations(self) -> Destinations:
        return Destinations(allowed=destinations.parse_networks(self.webhook_allowed_networks))

    delivery_max_attempts: int = Field(default=8, ge=1, le=50)
    delivery_backoff_base_s: float = Field(default=5.0, gt=0)
    delivery_backoff_max_s: float = Field(default=600.0, gt=0)
    delivery_lease_s: float = Field(default=120.0, gt=0)
    delivery_interval_s: float = Field(default=1.0, gt=0)
    escalation_interval_s: float = Field(default=30.0, gt=0)

    def smtp(self) -> SmtpSettings | None:
        if not self.smtp_host:
            return None
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            sender=self.smtp_sender,
            username=self.smtp_username,
            password=self.smtp_password,
            starttls=self.smtp_starttls,
            implicit_tls=self.smtp_implicit_tls,
            validate_certs=self.smtp_validate_certs,
        )


def _settings(settings: Settings) -> NotificationsSettings:
    if isinstance(settings, NotificationsSettings):
        return settings
    return NotificationsSettings.model_construct()


def spec(settings: Settings) -> ServiceSpec:
    own = _settings(settings)
    book = RuleBook.load(own.rules_file)  # an invalid rule book stops the service here
    clock = clock_from(own.clock_start, own.clock_anchor, own.clock_speed, own.clock_control_file)
    worker = DeliveryWorker(
        Channels(
            smtp=own.smtp(),
            webhook_key=own.webhook_signing_key.get_secret_value().encode(),
            destinations=own.webhook_destinations(),
        ),
        DeliveryPolicy(
            max_attempts=own.delivery_max_attempts,
            backoff_base_s=own.delivery_backoff_base_s,
            backoff_max_s=own.delivery_backoff_max_s,
            lease_s=own.delivery_lease_s,
        ),
    )

    async def extras(_pool: asyncpg.Pool, _settings: Settings) -> Mapping[str, Any]:
        return {
            "rule_book": book,
            "webhook_signing_key": own.webhook_signing_key.get_secret_value().encode(),
            "webhook_destinations": own.webhook_destinations(),
        }

    def rules_on(topic: str, group: str, description: str) -> ConsumerSpec:
        return ConsumerSpec(
            Subscription(group=group, topics=(topic,), description=description),
            handlers.for_topic(topic, book, clock),
        )

    return ServiceSpec(
        name="notifications",
        title="通知服务 Notifications",
        version="0.2.0",
        migrations=HERE / "migrations",
        routers=(router,),
        consumers=(
            ConsumerSpec(
                Subscription(
                    group="notifications.registry",
                    topics=("wuye.registry.projects",),
                    description="Keep the registry copy: who runs and supervises each project",
                ),
                handlers.REGISTRY,
            ),
            rules_on(
                "wuye.inspections.events",
                "notifications.inspections",
                "Notices on failed inspections; rectification reminders and criticisms",
            ),
            rules_on(
                "wuye.complaints.events",
                "notifications.complaints",
                "Receipts to owners; overdue complaint reminders and criticisms",
            ),
            rules_on(
                "wuye.campaigns.events",
                "notifications.campaigns",
                "Reminders for activity plans not submitted in time",
            ),
            rules_on(
                "wuye.surveys.events",
                "notifications.surveys",
                "Reminders for satisfaction surveys not run",
            ),
        ),
        jobs=(
            worker.job(own.delivery_interval_s),
            issuing.escalation_job(book, own.escalation_interval_s),
        ),
        on_startup=(extras,),
    )
