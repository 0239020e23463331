"""The notifications service's settings, read once from the environment (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from runtime.settings import Settings
from services.notifications.adapters.channels import Destinations, SmtpSettings
from services.notifications.domain import destinations

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
