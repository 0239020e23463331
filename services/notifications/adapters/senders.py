"""The real delivery channels of a worker pass: e-mail over SMTP and signed webhooks over one
HTTP client (`service.ports.Sender`), and what each sends for a notice copy."""

from __future__ import annotations

import functools
import json
import ssl
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from services.notifications.adapters import channels
from services.notifications.domain import signing
from services.notifications.domain.notices import Claimed, Content


@dataclass(frozen=True)
class ChannelSettings:
    smtp: channels.SmtpSettings | None
    webhook_key: bytes  # empty: webhooks cannot be signed, so they are not sent
    # Where webhooks may go (public addresses; the allow-list for tests), checked at each send.
    destinations: channels.Destinations = field(default_factory=channels.Destinations)


def webhook_body(delivery_id: str, notice: Content) -> bytes:
    """The JSON a webhook receiver gets (documented in docs/webhooks.md)."""
    payload = {
        "delivery_id": delivery_id,
        "notice_id": notice.notice_id,
        "kind": notice.kind,
        "rule_id": notice.rule_id,
        "reason": notice.reason,
        "notice_no": notice.notice_no,
        "subject": {"kind": notice.subject_kind, "id": notice.subject_id},
        "project_id": notice.project_id,
        "enterprise_id": notice.enterprise_id,
        "district_code": notice.district_code,
        "recipient": {
            "kind": notice.recipient_kind,
            "id": notice.recipient_id,
            "cc": notice.cc,
        },
        "title_zh": notice.title_zh,
        "body_zh": notice.body_zh,
        "title_en": notice.title_en,
        "body_en": notice.body_en,
        "issued_at": notice.issued_at.isoformat(),
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")


def email_text(notice: Content) -> tuple[str, str]:
    subject = notice.title_zh
    if notice.title_en:
        subject = f"{subject} / {notice.title_en}"
    body = notice.body_zh
    if notice.body_en:
        body = f"{body}\n\n---- English ----\n{notice.body_en}"
    return subject, body


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Built once: loading the CA bundle for every pass's HTTP client was 9% of the service's
    CPU under load (py-spy, docs/performance.md)."""
    return httpx.create_ssl_context()  # what httpx.AsyncClient() would build: the same trust


class WireSender:
    """One worker pass's channels; `aclose` when the pass ends."""

    def __init__(self, settings: ChannelSettings) -> None:
        self.settings = settings
        # No keep-alive: requests go to checked addresses (channels.post_webhook), and a
        # connection opened for one host name must not carry another name's request.
        self._client = httpx.AsyncClient(
            verify=_tls_context(), limits=httpx.Limits(max_keepalive_connections=0)
        )

    async def send(self, delivery: Claimed, content: Content) -> channels.DeliveryResult | None:
        key = delivery.delivery_id
        if delivery.channel == "email":
            if self.settings.smtp is None:
                return None
            subject, body = email_text(content)
            return await channels.send_email(
                self.settings.smtp,
                to=delivery.address,
                subject=subject,
                body_text=body,
                idempotency_key=key,
            )
        if not self.settings.webhook_key:
            return None
        return await channels.post_webhook(
            self._client,
            url=delivery.address,
            destinations=self.settings.destinations,
            secret=signing.endpoint_secret(
                self.settings.webhook_key, delivery.endpoint_id
            ).encode(),
            body=webhook_body(key, content),
            idempotency_key=key,
            now=datetime.now(UTC),
        )

    async def aclose(self) -> None:
        await self._client.aclose()
