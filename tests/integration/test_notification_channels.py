"""Delivery channels against real servers on loopback: aiosmtpd for e-mail, a uvicorn-served
receiver for webhooks (written from docs/webhooks.md). Needs no Kafka or PostgreSQL."""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notifications.adapters import channels
from services.notifications.domain import destinations, signing

pytestmark = pytest.mark.integration

LOOPBACK = "127.0.0.1"
# The receivers here listen on loopback, which webhooks may not reach unless allowed explicitly.
TEST_RECEIVERS = channels.Destinations(allowed=destinations.parse_networks("127.0.0.1/32"))
SUBJECT = "关于和平区某小区物业服务的通报批评（津和平〔2025〕3号）"
BODY_TEXT = "贵公司未按期完成整改。\n请于5个工作日内提交整改报告。\nRésumé ✓"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


# --- e-mail -----------------------------------------------------------------------------------


@dataclass
class Mailbox:
    refuse_rcpt: str | None = None  # e.g. "550 5.1.1 mailbox unavailable"
    received: list[tuple[str, list[str], bytes]] = field(default_factory=list)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt is not None:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        assert envelope.mail_from is not None
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Mailbox, channels.SmtpSettings]]:
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname=LOOPBACK, port=free_port())
    controller.start()
    settings = channels.SmtpSettings(
        host=LOOPBACK,
        port=controller.port,
        sender="notices@wuye.example.cn",
        starttls=False,  # the loopback test server offers no TLS
        timeout_s=5,
    )
    try:
        yield mailbox, settings
    finally:
        controller.stop()


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


async def test_email_arrives_utf8_with_deterministic_message_id(
    smtp_server: tuple[Mailbox, channels.SmtpSettings],
) -> None:
    mailbox, settings = smtp_server
    send = {
        "to": "manager@enterprise.example.cn",
        "subject": SUBJECT,
        "body_text": BODY_TEXT,
    }
    first = await channels.send_email(settings, idempotency_key="evt-42:notice:ent-7", **send)
    again = await channels.send_email(settings, idempotency_key="evt-42:notice:ent-7", **send)
    other = await channels.send_email(settings, idempotency_key="evt-43:notice:ent-7", **send)

    assert (first.ok, again.ok, other.ok) == (True, True, True), (first, again, other)
    assert len(mailbox.received) == 3
    mail_from, rcpts, raw = mailbox.received[0]
    assert mail_from == "notices@wuye.example.cn"
    assert rcpts == ["manager@enterprise.example.cn"]
    msgs = [parse(r) for _, _, r in mailbox.received]
    assert str(msgs[0]["Subject"]) == SUBJECT
    assert msgs[0]["X-Wuye-Idempotency-Key"] == "evt-42:notice:ent-7"
    body = msgs[0].get_body(preferencelist=("plain",))
    assert body is not None
    assert body.get_content_charset() == "utf-8"
    assert body.get_content().replace("\r\n", "\n").rstrip("\n") == BODY_TEXT  # CRLF on the wire
    # the server offers no SMTPUTF8, so the Chinese subject travels RFC 2047-encoded, pure ASCII
    raw_headers = raw.split(b"\r\n\r\n", 1)[0]
    assert raw_headers.isascii()
    assert b"Subject: =?utf-8?" in raw_headers
    # one key -> one Message-ID on every re-send; another key -> another id
    assert msgs[0]["Message-ID"] == msgs[1]["Message-ID"]
    assert msgs[0]["Message-ID"] != msgs[2]["Message-ID"]
    assert msgs[0]["Message-ID"] == channels.message_id_for(
        "evt-42:notice:ent-7", settings.message_id_domain
    )


async def test_recipient_refused_with_5xx_is_permanent(
    smtp_server: tuple[Mailbox, channels.SmtpSettings],
) -> None:
    mailbox, settings = smtp_server
    mailbox.refuse_rcpt = "550 5.1.1 mailbox unavailable"
    result = await channels.send_email(
        settings, to="gone@example.cn", subject=SUBJECT, body_text="x", idempotency_key="k1"
    )
    assert not result.ok
    assert result.permanent
    assert "550" in result.detail
    assert mailbox.received == []


async def test_recipient_refused_with_4xx_is_transient(
    smtp_server: tuple[Mailbox, channels.SmtpSettings],
) -> None:
    mailbox, settings = smtp_server
    mailbox.refuse_rcpt = "451 4.3.0 try again later"
    result = await channels.send_email(
        settings, to="busy@example.cn", subject=SUBJECT, body_text="x", idempotency_key="k2"
    )
    assert (result.ok, result.permanent) == (False, False)
    assert "451" in result.detail


async def test_smtp_connection_refused_is_transient() -> None:
    settings = channels.SmtpSettings(
        host=LOOPBACK, port=free_port(), sender="n@wuye.example.cn", starttls=False, timeout_s=2
    )
    result = await channels.send_email(
        settings, to="a@example.cn", subject=SUBJECT, body_text="x", idempotency_key="k3"
    )
    assert (result.ok, result.permanent) == (False, False), result


async def test_required_starttls_on_a_server_without_it_is_transient(
    smtp_server: tuple[Mailbox, channels.SmtpSettings],
) -> None:
    """Never falls back to plain text when TLS is configured."""
    mailbox, settings = smtp_server
    tls_required = settings.model_copy(update={"starttls": True})
    result = await channels.send_email(
        tls_required, to="a@example.cn", subject=SUBJECT, body_text="x", idempotency_key="k4"
    )
    assert (result.ok, result.permanent) == (False, False), result
    assert mailbox.received == []


# --- webhooks ---------------------------------------------------------------------------------

SECRET = b"s3cret-shared-with-the-agency"


@dataclass
class Receiver:
    base_url: str
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: int = 0
    hosts: list[str] = field(default_factory=list)  # the Host header of every call


def receiver_app(receiver: Receiver) -> Starlette:
    """A receiver implemented from docs/webhooks.md only."""

    async def hook(request: Request) -> Response:
        receiver.hosts.append(request.headers.get("host", ""))
        body = await request.body()
        timestamp = request.headers.get("X-Wuye-Timestamp")
        signature = request.headers.get("X-Wuye-Signature")
        now = datetime.now(UTC)
        ok = signing.verify(SECRET, signature, timestamp, body, now)
        # the documented recipe, by hand: HMAC-SHA256(secret, "<timestamp>." + raw body), hex
        by_hand = (
            timestamp is not None
            and signature is not None
            and timestamp.isdigit()
            and abs(int(now.timestamp()) - int(timestamp)) <= 300
            and hmac.compare_digest(
                "v1=" + hmac.new(SECRET, timestamp.encode() + b"." + body, "sha256").hexdigest(),
                signature,
            )
        )
        assert ok == by_hand, "signing.verify disagrees with the documented scheme"
        if not ok:
            receiver.rejected += 1
            return Response(status_code=401)
        assert request.headers["Content-Type"] == "application/json"
        receiver.accepted.append(
            {
                "idempotency_key": request.headers["Idempotency-Key"],
                "payload": json.loads(body),
            }
        )
        return Response(status_code=204)

    async def status(request: Request) -> Response:
        return Response(status_code=int(request.path_params["code"]))

    async def slow(request: Request) -> Response:
        await asyncio.sleep(1.5)
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/hook", hook, methods=["POST"]),
            Route("/status/{code:int}", status, methods=["POST"]),
            Route("/slow", slow, methods=["POST"]),
        ]
    )


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    sock = socket.socket()
    sock.bind((LOOPBACK, 0))
    port = sock.getsockname()[1]
    rec = Receiver(base_url=f"http://{LOOPBACK}:{port}")
    config = uvicorn.Config(
        receiver_app(rec),
        lifespan="off",
        log_level="warning",
        ws="none",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn exposes only a flag)
                await asyncio.sleep(0.02)
        yield rec
    finally:
        server.should_exit = True
        await task
        sock.close()


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def payload(notice_id: str) -> bytes:
    return json.dumps({"notice_id": notice_id, "title": SUBJECT}, ensure_ascii=False).encode()


async def post(
    client: httpx.AsyncClient,
    url: str,
    notice_id: str,
    *,
    destinations: channels.Destinations = TEST_RECEIVERS,
    secret: bytes = SECRET,
    idempotency_key: str = "k",
    now: datetime | None = None,
    http_timeout: httpx.Timeout = channels.WEBHOOK_TIMEOUT,
) -> channels.DeliveryResult:
    """One signed webhook call of notice `notice_id` (the defaults: the test receivers, the
    shared secret, now)."""
    return await channels.post_webhook(
        client,
        url=url,
        destinations=destinations,
        secret=secret,
        body=payload(notice_id),
        idempotency_key=idempotency_key,
        now=now or datetime.now(UTC),
        http_timeout=http_timeout,
    )


async def test_signed_webhook_is_accepted(receiver: Receiver, client: httpx.AsyncClient) -> None:
    result = await post(
        client, f"{receiver.base_url}/hook", "n-1", idempotency_key="evt-42:webhook:agency-3"
    )
    assert result == channels.DeliveryResult(ok=True, permanent=False, detail="http 204")
    assert receiver.accepted == [
        {"idempotency_key": "evt-42:webhook:agency-3", "payload": json.loads(payload("n-1"))}
    ]


class TamperInTransit(httpx.AsyncBaseTransport):
    """A man in the middle that changes the body but keeps the signature headers."""

    def __init__(self) -> None:
        self._inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = (await request.aread()).replace(b"n-2", b"n-9")
        headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
        forged = httpx.Request(
            request.method,
            request.url,
            headers=headers,
            content=body,
            extensions=request.extensions,
        )
        return await self._inner.handle_async_request(forged)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def test_tampered_body_is_rejected_and_permanent(receiver: Receiver) -> None:
    async with httpx.AsyncClient(transport=TamperInTransit()) as tampering:
        result = await post(tampering, f"{receiver.base_url}/hook", "n-2")
    assert (result.ok, result.permanent, result.detail) == (False, True, "http 401")
    assert receiver.rejected == 1
    assert receiver.accepted == []


@pytest.mark.parametrize(
    ("secret", "age"),
    [
        (b"wrong-secret", timedelta(0)),
        (SECRET, timedelta(minutes=10)),
        (SECRET, -timedelta(minutes=10)),
    ],
    ids=["wrong-secret", "replayed-stale", "future"],
)
async def test_bad_signature_or_timestamp_is_rejected(
    receiver: Receiver, client: httpx.AsyncClient, secret: bytes, age: timedelta
) -> None:
    result = await post(
        client, f"{receiver.base_url}/hook", "n-3", secret=secret, now=datetime.now(UTC) - age
    )
    assert (result.ok, result.permanent) == (False, True)
    assert receiver.rejected == 1
    assert receiver.accepted == []


@pytest.mark.parametrize(
    ("code", "permanent"),
    [
        (503, False),
        (500, False),
        (408, False),
        (429, False),
        (400, True),
        (404, True),
        (410, True),
        (302, True),
    ],
)
async def test_status_classification(
    receiver: Receiver, client: httpx.AsyncClient, code: int, permanent: bool
) -> None:
    result = await post(client, f"{receiver.base_url}/status/{code}", "n-4")
    assert (result.ok, result.permanent, result.detail) == (False, permanent, f"http {code}")


async def test_timeout_is_transient(receiver: Receiver, client: httpx.AsyncClient) -> None:
    result = await post(client, f"{receiver.base_url}/slow", "n-5", http_timeout=httpx.Timeout(0.3))
    assert (result.ok, result.permanent) == (False, False)
    assert result.detail.startswith("timeout")


async def test_webhook_connection_refused_is_transient(client: httpx.AsyncClient) -> None:
    result = await post(client, f"http://{LOOPBACK}:{free_port()}/hook", "n-6")
    assert (result.ok, result.permanent) == (False, False)
    assert "ConnectError" in result.detail


# -- where webhooks may go (SSRF) -------------------------------------------------------------------


async def test_loopback_is_refused_unless_allowed_and_nothing_is_sent(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    """The attack run's finding: an endpoint on https://127.0.0.1/... was called."""
    for url in (f"{receiver.base_url}/hook", receiver.base_url.replace(LOOPBACK, "[::1]")):
        # production: no allow-list
        result = await post(client, url, "n-7", destinations=channels.Destinations())
        assert (result.ok, result.permanent) == (False, True), url
        assert result.detail == "destination refused: loopback address"
    assert receiver.accepted == []
    assert receiver.hosts == []


async def _resolving_to(*answers: str) -> channels.Resolver:
    """A DNS answer (the names below do not exist): every address the lookup returns."""

    async def resolve(_host: str, _port: int) -> list[str]:
        await asyncio.sleep(0)
        return list(answers)

    return resolve


async def test_every_resolved_address_is_checked_at_send_time(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    """A name that answers a public address AND an internal one is refused: the check is on what
    DNS says now, at the send, not what it said at registration."""
    port = receiver.base_url.rsplit(":", 1)[1]
    for answers in (("93.184.215.14", "127.0.0.1"), ("169.254.169.254",), ("::ffff:10.0.0.1",)):
        guard = channels.Destinations(resolver=await _resolving_to(*answers))
        result = await post(
            client, f"http://hooks.rebind.test:{port}/hook", "n-8", destinations=guard
        )
        assert (result.ok, result.permanent) == (False, True), answers
        assert result.detail.startswith("destination refused"), result.detail
    assert receiver.accepted == []


async def test_the_connection_goes_to_the_checked_address_under_the_registered_name(
    receiver: Receiver, client: httpx.AsyncClient
) -> None:
    """No second lookup: the name exists only in the answer the check saw, and the call still
    arrives, with the registered name in the Host header (DNS rebinding has no window)."""
    port = receiver.base_url.rsplit(":", 1)[1]
    guard = channels.Destinations(
        allowed=TEST_RECEIVERS.allowed, resolver=await _resolving_to(LOOPBACK)
    )
    result = await post(
        client,
        f"http://hooks.rebind.test:{port}/hook",
        "n-9",
        destinations=guard,
        idempotency_key="evt-9",
    )
    assert result.ok, result.detail
    assert receiver.hosts == [f"hooks.rebind.test:{port}"]
    assert [a["idempotency_key"] for a in receiver.accepted] == ["evt-9"]


async def test_a_name_that_does_not_resolve_is_transient(client: httpx.AsyncClient) -> None:
    result = await post(
        client, "https://no-such-host.invalid/hook", "n-10", destinations=channels.Destinations()
    )
    assert (result.ok, result.permanent) == (False, False)
    assert result.detail.startswith("destination unresolved")
