"""Delivery channels: e-mail over SMTP and signed webhooks.

Each send returns a `DeliveryResult` instead of raising, classified so the caller can decide:
`ok`; a transient failure (retry later with backoff); or a permanent one (record, stop retrying).
Both channels carry the caller's idempotency key, so a re-send after a crash can be recognised
by the receiving side: e-mail through a Message-ID derived from the key, webhooks through the
`Idempotency-Key` header.

Webhooks go only to public addresses (`Destinations`, the rules in `domain/destinations.py`): at each
send the host name is resolved, every address it resolves to is checked, and the connection is
made to the checked address itself (the URL's host replaced by it; `Host` header and TLS server
name, so certificate verification, stay the registered name). A name cannot resolve to a public
address for the check and to an internal one for the connection (DNS rebinding): there is no
second lookup.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib
import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from services.notifications.domain import destinations as addresses
from services.notifications.domain import signing
from services.notifications.domain.destinations import (
    DestinationRefused as DestinationRefused,  # re-exported: what a send or a check raises
)
from services.notifications.domain.destinations import (
    DestinationUnresolved as DestinationUnresolved,
)
from services.notifications.domain.notices import DeliveryResult as DeliveryResult

IDEMPOTENCY_HEADER = "X-Wuye-Idempotency-Key"


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
Resolver = Callable[[str, int], Awaitable[list[str]]]


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for `host` (IPv4 and IPv6)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


@dataclass(frozen=True)
class Destinations:
    """Where webhooks may go: public addresses, plus the `allowed` ranges
    (`WEBHOOK_ALLOWED_NETWORKS`, for tests and local development); metadata endpoints never."""

    allowed: tuple[addresses.Network, ...] = ()
    resolver: Resolver = system_resolver
    resolve_timeout_s: float = 5.0

    def check_address(self, ip: addresses.Address) -> None:
        reason = addresses.refusal(ip, self.allowed)
        if reason is not None:
            raise DestinationRefused(reason)

    async def resolve(self, host: str, port: int) -> addresses.Address:
        """The address to connect to: `host` itself when it is an IP address, else the first
        address it resolves to, once EVERY address it resolves to has been checked."""
        try:
            literal: addresses.Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            self.check_address(literal)
            return literal
        try:
            async with asyncio.timeout(self.resolve_timeout_s):
                found = await self.resolver(host, port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise DestinationUnresolved(type(exc).__name__) from exc
        checked: list[addresses.Address] = []
        for text in found:
            ip = ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 zone id
            self.check_address(ip)
            if ip not in checked:
                checked.append(ip)
        if not checked:
            raise DestinationUnresolved("no address")
        return checked[0]


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
    destinations: Destinations,
    secret: bytes,
    body: bytes,
    idempotency_key: str,
    now: datetime,
    http_timeout: httpx.Timeout = WEBHOOK_TIMEOUT,
) -> DeliveryResult:
    """POST a signed JSON body to the checked address of `url`. 2xx ok; 408, 429, 5xx, timeouts,
    network errors and names that do not resolve now transient; other 4xx, and destinations that
    are (or resolve to) refused addresses, permanent.

    The client must not keep connections alive across requests (the worker's does not): its pool
    is keyed by the address connected to, and a connection opened for one host name must not
    carry a request for another name that resolves to the same address."""
    try:
        target = httpx.URL(url)
        host = target.host
    except (httpx.InvalidURL, UnicodeError) as e:
        return DeliveryResult.failed_permanently(f"bad webhook url: {e}")
    if target.scheme not in ("http", "https") or not host:
        return DeliveryResult.failed_permanently("bad webhook url: scheme or host")
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        address = await destinations.resolve(host, port)
    except DestinationRefused as e:
        return DeliveryResult.failed_permanently(f"destination refused: {e.reason}")
    except DestinationUnresolved as e:
        return DeliveryResult.transient(f"destination unresolved: {e}")
    headers = webhook_headers(secret=secret, body=body, idempotency_key=idempotency_key, now=now)
    headers["Host"] = target.netloc.decode("ascii")  # the registered name (and port)
    try:
        response = await client.post(
            target.copy_with(host=str(address)),
            content=body,
            headers=headers,
            timeout=http_timeout,
            follow_redirects=False,
            # TLS: server name indication and certificate verification for the registered name
            extensions={"sni_hostname": target.raw_host.decode("ascii")},
        )
    except (httpx.UnsupportedProtocol, httpx.InvalidURL) as e:
        return DeliveryResult.failed_permanently(f"bad webhook url: {e}")
    except httpx.TimeoutException as e:
        return DeliveryResult.transient(f"timeout: {type(e).__name__}")
    except httpx.TransportError as e:
        return DeliveryResult.transient(f"{type(e).__name__}: {e}")
    return classify_status(response.status_code)
