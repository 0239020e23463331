"""Delivery channels: e-mail over SMTP and signed webhooks.

Each send returns a `DeliveryResult` instead of raising, classified so the caller can decide:
`ok`; a transient failure (retry later with backoff); or a permanent one (record, stop retrying).
Both channels carry the caller's idempotency key, so a re-send after a crash can be recognised
by the receiving side: e-mail through a Message-ID derived from the key, webhooks through the
`Idempotency-Key` header.
"""

from __future__ import annotations

import hashlib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from services.notifications.domain import signing

IDEMPOTENCY_HEADER = "X-Wuye-Idempotency-Key"


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    permanent: bool  # meaningful only when not ok: True = do not retry
    detail: str

    @classmethod
    def delivered(cls, detail: str) -> DeliveryResult:
        return cls(ok=True, permanent=False, detail=detail)

    @classmethod
    def transient(cls, detail: str) -> DeliveryResult:
        return cls(ok=False, permanent=False, detail=detail)

    @classmethod
    def failed_permanently(cls, detail: str) -> DeliveryResult:
        return cls(ok=False, permanent=True, detail=detail)


class SmtpSettings(BaseModel):
    """Where and how to send mail; built from the service's settings, never hard-coded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1)
    port: int = Field(default=587, ge=1, le=65535)
    sender: str = Field(min_length=3, description="From: address")
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = True  # upgrade with STARTTLS and refuse to send if the server cannot
    implicit_tls: bool = False  # TLS from the first byte (port 465)
    validate_certs: bool = True
    timeout_s: float = Field(default=15.0, gt=0, le=120)
    message_id_domain: str = Field(
        default="wuye.tj.gov.cn", min_length=1, pattern=r"^[A-Za-z0-9.-]+$"
    )

    @model_validator(mode="after")
    def _one_tls_mode(self) -> SmtpSettings:
        if self.starttls and self.implicit_tls:
            raise ValueError("starttls and implicit_tls are mutually exclusive")
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together")
        return self


def message_id_for(idempotency_key: str, domain: str) -> str:
    """A Message-ID that depends only on the idempotency key, so every re-send of one notice
    carries the same id and mail systems can drop the duplicate."""
    digest = hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:40]
    return f"<{digest}@{domain}>"


def build_email(
    settings: SmtpSettings, *, to: str, subject: str, body_text: str, idempotency_key: str
) -> EmailMessage:
    msg = EmailMessage()  # default policy: non-ASCII headers are RFC 2047-encoded as UTF-8
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = message_id_for(idempotency_key, settings.message_id_domain)
    msg[IDEMPOTENCY_HEADER] = idempotency_key
    msg.set_content(body_text, charset="utf-8")
    return msg


def _by_code(code: int, what: str) -> DeliveryResult:
    detail = f"{what}: {code}"
    return (
        DeliveryResult.failed_permanently(detail)
        if code >= 500
        else DeliveryResult.transient(detail)
    )


async def send_email(
    settings: SmtpSettings, *, to: str, subject: str, body_text: str, idempotency_key: str
) -> DeliveryResult:
    """Send one plain-text UTF-8 mail. 5xx replies are permanent; 4xx replies, refused or lost
    connections, timeouts and TLS failures are transient."""
    msg = build_email(
        settings, to=to, subject=subject, body_text=body_text, idempotency_key=idempotency_key
    )
    try:
        responses, _ = await aiosmtplib.send(
            msg,
            hostname=settings.host,
            port=settings.port,
            username=settings.username,
            password=settings.password.get_secret_value() if settings.password else None,
            start_tls=settings.starttls,
            use_tls=settings.implicit_tls,
            validate_certs=settings.validate_certs,
            timeout=settings.timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as e:
        # a single recipient per call: its reply code decides
        return _by_code(min(r.code for r in e.recipients), "recipient refused")
    except aiosmtplib.SMTPAuthenticationError as e:
        # bad credentials are an operator's fix, not the notice's fault: keep retrying
        return DeliveryResult.transient(f"authentication failed: {e.code}")
    except aiosmtplib.SMTPResponseException as e:
        return _by_code(e.code, f"smtp {type(e).__name__}")
    except (aiosmtplib.SMTPException, OSError, ssl.SSLError) as e:
        # connection refused/reset, timeouts, disconnects, STARTTLS unsupported, TLS errors
        return DeliveryResult.transient(f"{type(e).__name__}: {e}")
    refused = {rcpt: r for rcpt, r in responses.items() if r.code >= 400}
    if refused:  # only reached if the server accepted the message for no recipient at all
        return _by_code(min(r.code for r in refused.values()), "recipient refused")
    return DeliveryResult.delivered(f"accepted, {msg['Message-ID']}")


WEBHOOK_TIMEOUT = httpx.Timeout(5.0, connect=3.0)


def webhook_headers(
    *, secret: bytes, body: bytes, idempotency_key: str, now: datetime
) -> dict[str, str]:
    timestamp = signing.unix_seconds(now)
    return {
        "Content-Type": "application/json",
        "X-Wuye-Timestamp": str(timestamp),
        "X-Wuye-Signature": signing.sign(secret, timestamp, body),
        "Idempotency-Key": idempotency_key,
    }


def classify_status(status: int) -> DeliveryResult:
    detail = f"http {status}"
    if 200 <= status < 300:
        return DeliveryResult.delivered(detail)
    if status in (408, 429) or status >= 500:
        return DeliveryResult.transient(detail)
    # other 4xx, and 1xx/3xx: redirects are not followed (the signature is for the configured URL)
    return DeliveryResult.failed_permanently(detail)


async def post_webhook(
    client: httpx.AsyncClient,
    *,
    url: str,
    secret: bytes,
    body: bytes,
    idempotency_key: str,
    now: datetime,
    http_timeout: httpx.Timeout = WEBHOOK_TIMEOUT,
) -> DeliveryResult:
    """POST a signed JSON body. 2xx ok; 408, 429, 5xx, timeouts and network errors transient;
    other 4xx permanent."""
    headers = webhook_headers(secret=secret, body=body, idempotency_key=idempotency_key, now=now)
    try:
        response = await client.post(
            url, content=body, headers=headers, timeout=http_timeout, follow_redirects=False
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
        return DeliveryResult.failed_permanently(f"bad webhook url: {e}")
    except httpx.TimeoutException as e:
        return DeliveryResult.transient(f"timeout: {type(e).__name__}")
    except httpx.TransportError as e:
        return DeliveryResult.transient(f"{type(e).__name__}: {e}")
    return classify_status(response.status_code)
