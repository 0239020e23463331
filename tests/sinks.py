"""Real receivers for the notifications service's channels, each on loopback in its own thread, so
they keep serving while a test sleeps, kills a service process or restarts it.

- `MailSink`: the demo's SMTP catcher (aiosmtpd, `deploy/local/mailcatcher.py`). Keeps every message
  it accepted; `distinct()` groups them by Message-ID, how a mail system recognises a re-sent copy.
- `WebhookSink`: an HTTP receiver written from docs/webhooks.md: verifies the signature against the
  secret of the endpoint (one path per endpoint), refuses a tampered or stale request with 401,
  and treats a repeated `Idempotency-Key` as already handled (200, not counted again).

Both can stall the next request they receive *after* recording it: the sender then dies with the
message accepted but unacknowledged, the crash window the idempotency keys exist for.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from deploy.local.mailcatcher import MailCatcher
from services.notifications.domain import signing

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


MailSink = MailCatcher


@dataclass
class Arrival:
    path: str
    key: str
    payload: dict[str, Any]
    body: bytes
    headers: dict[str, str]


@dataclass
class WebhookSink:
    secrets: dict[str, bytes] = field(default_factory=dict)  # path name -> endpoint secret
    arrivals: list[Arrival] = field(default_factory=list)  # every verified request
    handled: dict[str, Arrival] = field(default_factory=dict)  # Idempotency-Key -> first
    rejected: int = 0
    status_for: dict[str, int] = field(default_factory=dict)  # path name -> forced status
    stall_next_s: dict[str, float] = field(default_factory=dict)  # path name -> stall once
    lock: threading.Lock = field(default_factory=threading.Lock)
    port: int = 0
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    def url(self, name: str) -> str:
        return f"http://{LOOPBACK}:{self.port}/hooks/{name}"

    def app(self) -> Starlette:
        async def hook(request: Request) -> Response:
            name = request.path_params["name"]
            if name in self.status_for:
                return Response(status_code=self.status_for[name])
            body = await request.body()
            secret = self.secrets.get(name)
            ok = secret is not None and signing.verify(
                secret,
                request.headers.get("X-Wuye-Signature"),
                request.headers.get("X-Wuye-Timestamp"),
                body,
                _now(),
            )
            if not ok:
                with self.lock:
                    self.rejected += 1
                return Response(status_code=401)
            key = request.headers["Idempotency-Key"]
            arrival = Arrival(name, key, json.loads(body), body, dict(request.headers))
            with self.lock:
                self.arrivals.append(arrival)
                first = key not in self.handled
                if first:
                    self.handled[key] = arrival
                stall = self.stall_next_s.pop(name, 0.0)
            if stall:
                await asyncio.sleep(stall)
            return Response(status_code=204 if first else 200)

        return Starlette(routes=[Route("/hooks/{name}", hook, methods=["POST"])])

    def start(self) -> WebhookSink:
        sock = socket.socket()
        sock.bind((LOOPBACK, 0))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app(), lifespan="off", log_level="warning", ws="none", timeout_graceful_shutdown=1
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[sock])),  # type: ignore[union-attr]
            daemon=True,
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("webhook sink did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(5)

    def at(self, name: str) -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path == name]

    def distinct(self, name: str) -> dict[str, list[Arrival]]:
        out: dict[str, list[Arrival]] = {}
        for a in self.at(name):
            out.setdefault(a.key, []).append(a)
        return out


def _now() -> datetime:
    return datetime.now(UTC)
