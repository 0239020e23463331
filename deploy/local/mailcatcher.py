"""A real SMTP server on loopback that keeps what it receives: the demo's stand-in for the city's
mail relay (so notices travel the same SMTP path as in production) and the tests' mailbox.

It can stall the next message (to anyone, or to one recipient) after recording it, which is how the tests crash a sender between
"the server has the message" and "the sender heard 250".
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

LOOPBACK = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


@dataclass
class MailCatcher:
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    stall_next_s: float = 0.0
    stall_next_to: dict[str, float] = field(default_factory=dict)  # recipient -> seconds, once
    lock: threading.Lock = field(default_factory=threading.Lock)
    controller: Controller | None = None

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        msg = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), msg))
            stall, self.stall_next_s = self.stall_next_s, 0.0
            for rcpt in envelope.rcpt_tos:
                stall = max(stall, self.stall_next_to.pop(rcpt, 0.0))
        if stall:
            await asyncio.sleep(stall)
        return "250 Message accepted"

    def start(self, port: int | None = None) -> MailCatcher:
        self.controller = Controller(self, hostname=LOOPBACK, port=port or _free_port())
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def port(self) -> int:
        assert self.controller is not None
        return int(self.controller.port)

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpts, m in self.received if address in rcpts]

    def distinct(self, address: str) -> dict[str, list[EmailMessage]]:
        """Messages to `address` grouped by Message-ID: a re-sent copy lands in the same group."""
        out: dict[str, list[EmailMessage]] = {}
        for m in self.to(address):
            out.setdefault(str(m["Message-ID"]), []).append(m)
        return out

    def count(self) -> int:
        with self.lock:
            return len(self.received)
