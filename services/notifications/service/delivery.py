"""Sending the recorded deliveries: e-mail and webhooks, with retries, backoff and a cap.

A delivery row exists before any send (written with its notice). A worker claims due rows with
`FOR UPDATE SKIP LOCKED`, marks them `sending` with a lease and commits *before* sending, so two
replicas never send the same row at once. After the send it records the outcome only if it still
holds the lease (same attempt number): delivered, a retry at `base * 2^(n-1)` capped, or failed for
good (a permanent refusal, or attempts exhausted). A crash between sending and recording leaves the
row `sending`; when the lease runs out it is sent again with the same idempotency key (the
delivery id: e-mail Message-ID and `X-Wuye-Idempotency-Key`, webhook `Idempotency-Key`), which is
how receivers drop the repeat. That window is the only way a person can be sent a copy twice, and
the copy is recognisably the same message.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx
import structlog

from runtime import outbox
from runtime.scheduler import PeriodicJob
from schemas.notifications import v1 as events
from services.notifications.adapters import channels
from services.notifications.domain import rules as r
from services.notifications.domain import signing
from services.notifications.service.issuing import SOURCE

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_base_s: float = 5.0
    backoff_max_s: float = 600.0
    lease_s: float = 120.0  # longer than any channel's timeout
    batch_size: int = 50
    concurrency: int = 10


@dataclass(frozen=True)
class Channels:
    smtp: channels.SmtpSettings | None
    webhook_key: bytes  # empty: webhooks cannot be signed, so they are not sent
    # Where webhooks may go (public addresses; the allow-list for tests), checked at each send.
    destinations: channels.Destinations = field(default_factory=channels.Destinations)


CLAIM = """
UPDATE deliveries d
   SET status = 'sending', attempts = d.attempts + 1,
       lease_until = now() + make_interval(secs => $2),
       next_attempt_at = now() + make_interval(secs => $2)
  FROM endpoints e
 WHERE e.endpoint_id = d.endpoint_id
   AND d.delivery_id IN (
       SELECT delivery_id FROM deliveries
        WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING d.delivery_id, d.copy_id, d.notice_id, d.endpoint_id, d.channel, d.address,
          d.attempts, (e.disabled_at IS NOT NULL) AS endpoint_disabled, now() AS started_at
"""

# What may leave the service in NotificationFailed and the logs: the kind of failure and a status
# code, never a host name or an address from an exception message.
_PUBLIC_REASON = re.compile(r"^[A-Za-z][A-Za-z ]*(?::? ?[0-9]{3})?")
NOT_CONFIGURED_RETRY_S = 60.0


def public_reason(detail: str) -> str:
    found = _PUBLIC_REASON.match(detail)
    return found.group(0).strip() if found else "failed"


CONTENT = """
SELECT n.notice_id, n.kind, n.rule_id, n.reason, n.notice_no, n.subject_kind, n.subject_id,
       n.project_id, n.enterprise_id, n.district_code, n.title_zh, n.body_zh, n.title_en,
       n.body_en, n.issued_at, n.correlation_id, n.cause_event_id, c.recipient_kind, c.recipient_id, c.cc
  FROM notices n JOIN notice_copies c USING (notice_id)
 WHERE c.copy_id = $1
"""


def webhook_body(delivery_id: str, notice: Mapping[str, Any]) -> bytes:
    """The JSON a webhook receiver gets (documented in docs/webhooks.md)."""
    payload = {
        "delivery_id": delivery_id,
        "notice_id": notice["notice_id"],
        "kind": notice["kind"],
        "rule_id": notice["rule_id"],
        "reason": notice["reason"],
        "notice_no": notice["notice_no"],
        "subject": {"kind": notice["subject_kind"], "id": notice["subject_id"]},
        "project_id": notice["project_id"],
        "enterprise_id": notice["enterprise_id"],
        "district_code": notice["district_code"],
        "recipient": {
            "kind": notice["recipient_kind"],
            "id": notice["recipient_id"],
            "cc": notice["cc"],
        },
        "title_zh": notice["title_zh"],
        "body_zh": notice["body_zh"],
        "title_en": notice["title_en"],
        "body_en": notice["body_en"],
        "issued_at": notice["issued_at"].isoformat(),
    }
    return json.dumps(payload, ensure_ascii=False, sort_keys=True).encode("utf-8")


def email_text(notice: Mapping[str, Any]) -> tuple[str, str]:
    subject = notice["title_zh"]
    if notice["title_en"]:
        subject = f"{subject} / {notice['title_en']}"
    body = notice["body_zh"]
    if notice["body_en"]:
        body = f"{body}\n\n---- English ----\n{notice['body_en']}"
    return subject, body


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """Built once: loading the CA bundle for every pass's HTTP client was 9% of the service's
    CPU under load (py-spy, docs/performance.md)."""
    return httpx.create_ssl_context()  # what httpx.AsyncClient() would build: the same trust


class DeliveryWorker:
    def __init__(self, channels_: Channels, policy: DeliveryPolicy) -> None:
        self.channels = channels_
        self.policy = policy

    def job(self, interval_s: float = 1.0) -> PeriodicJob:
        return PeriodicJob("notice-delivery", self.run, interval_s=interval_s)

    async def run(self, pool: asyncpg.Pool, _now: datetime) -> int:
        """One pass: claim due rows, send them concurrently, record each outcome. Technical
        timing (leases, backoff) is wall-clock time, whatever the business clock says."""
        done = 0
        client: httpx.AsyncClient | None = None  # only when there is something to send
        try:
            while True:
                async with pool.acquire() as conn, conn.transaction():
                    claimed = await conn.fetch(CLAIM, self.policy.batch_size, self.policy.lease_s)
                if not claimed:
                    return done
                # No keep-alive: requests go to checked addresses (channels.post_webhook), and a
                # connection opened for one host name must not carry another name's request.
                client = client or httpx.AsyncClient(
                    verify=_tls_context(), limits=httpx.Limits(max_keepalive_connections=0)
                )
                await asyncio.gather(*(self._deliver(pool, client, row) for row in claimed))
                done += len(claimed)
        finally:
            if client is not None:
                await client.aclose()

    async def _deliver(
        self, pool: asyncpg.Pool, client: httpx.AsyncClient, row: asyncpg.Record
    ) -> None:
        async with pool.acquire() as conn:
            notice = await conn.fetchrow(CONTENT, row["copy_id"])
        assert notice is not None
        structlog.contextvars.bind_contextvars(correlation_id=notice["correlation_id"])
        try:
            if row["endpoint_disabled"]:
                result: channels.DeliveryResult | None = channels.DeliveryResult.failed_permanently(
                    "endpoint disabled"
                )
            else:
                # Whatever a server does (trickling bytes, slow replies), the send ends well
                # before the lease, so no other replica can take the row over while it runs.
                async with asyncio.timeout(self.policy.lease_s * 0.8):
                    result = await self._send(client, row, notice)
        except TimeoutError:
            result = channels.DeliveryResult.transient("timeout: lease")
        except Exception as exc:  # a bug in a channel must not stop the other deliveries
            log.error("delivery_crashed", delivery_id=row["delivery_id"], exc_info=exc)
            result = channels.DeliveryResult.transient(f"internal error: {type(exc).__name__}")
        try:
            if result is None:
                await self._not_configured(pool, row)
            else:
                await self._record(pool, row, notice, result)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")

    async def _not_configured(self, pool: asyncpg.Pool, row: asyncpg.Record) -> None:
        """The channel is not configured (no SMTP host, no signing key): an operator's fix, not
        the notice's failure. The delivery waits, and the attempt is not counted."""
        async with pool.acquire() as conn:
            await conn.execute(
                """UPDATE deliveries SET status = 'pending', attempts = attempts - 1,
                          lease_until = NULL, last_error = 'channel not configured',
                          next_attempt_at = now() + make_interval(secs => $3)
                    WHERE delivery_id = $1 AND status = 'sending' AND attempts = $2""",
                row["delivery_id"],
                row["attempts"],
                NOT_CONFIGURED_RETRY_S,
            )
        log.warning("delivery_waits", channel=row["channel"], reason="channel not configured")

    async def _send(
        self, client: httpx.AsyncClient, row: asyncpg.Record, notice: asyncpg.Record
    ) -> channels.DeliveryResult | None:
        """The outcome, or None when the channel is not configured at all."""
        key = row["delivery_id"]
        if row["channel"] == "email":
            if self.channels.smtp is None:
                return None
            subject, body = email_text(dict(notice))
            return await channels.send_email(
                self.channels.smtp,
                to=row["address"],
                subject=subject,
                body_text=body,
                idempotency_key=key,
            )
        if not self.channels.webhook_key:
            return None
        return await channels.post_webhook(
            client,
            url=row["address"],
            destinations=self.channels.destinations,
            secret=signing.endpoint_secret(self.channels.webhook_key, row["endpoint_id"]).encode(),
            body=webhook_body(key, dict(notice)),
            idempotency_key=key,
            now=datetime.now(UTC),
        )

    async def _record(
        self,
        pool: asyncpg.Pool,
        row: asyncpg.Record,
        notice: asyncpg.Record,
        result: channels.DeliveryResult,
    ) -> None:
        attempts: int = row["attempts"]
        give_up = not result.ok and (result.permanent or attempts >= self.policy.max_attempts)
        outcome = "delivered" if result.ok else "permanent" if result.permanent else "transient"
        async with pool.acquire() as conn, conn.transaction():
            if result.ok:
                updated = await conn.fetchval(
                    """UPDATE deliveries SET status = 'delivered', delivered_at = now(),
                              lease_until = NULL, last_error = NULL
                        WHERE delivery_id = $1 AND status = 'sending' AND attempts = $2
                       RETURNING delivered_at""",
                    row["delivery_id"],
                    attempts,
                )
            elif give_up:
                updated = await conn.fetchval(
                    """UPDATE deliveries SET status = 'failed', failed_at = now(),
                              lease_until = NULL, last_error = $3
                        WHERE delivery_id = $1 AND status = 'sending' AND attempts = $2
                       RETURNING failed_at""",
                    row["delivery_id"],
                    attempts,
                    result.detail[:500],
                )
            else:
                delay = r.backoff_s(attempts, self.policy.backoff_base_s, self.policy.backoff_max_s)
                updated = await conn.fetchval(
                    """UPDATE deliveries SET status = 'pending', lease_until = NULL,
                              last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
                        WHERE delivery_id = $1 AND status = 'sending' AND attempts = $2
                       RETURNING next_attempt_at""",
                    row["delivery_id"],
                    attempts,
                    result.detail[:500],
                    delay,
                )
            if updated is None:
                # The lease ran out and another worker took the row over: its outcome counts.
                log.warning("delivery_lease_lost", delivery_id=row["delivery_id"])
                return
            await conn.execute(
                """INSERT INTO delivery_attempts (delivery_id, attempt_no, started_at,
                          finished_at, outcome, detail)
                   VALUES ($1, $2, $3, now(), $4, $5) ON CONFLICT DO NOTHING""",
                row["delivery_id"],
                attempts,
                row["started_at"],
                outcome,
                result.detail[:500],
            )
            common = {
                "notice_id": notice["notice_id"],
                "delivery_id": row["delivery_id"],
                "kind": notice["kind"],
                "recipient_kind": notice["recipient_kind"],
                "recipient_id": notice["recipient_id"],
                "channel": row["channel"],
                "attempts": attempts,
            }
            if result.ok:
                await outbox.enqueue(
                    conn,
                    events.NotificationDelivered(**common, delivered_at=updated),
                    source=SOURCE,
                    correlation_id=notice["correlation_id"],
                    causation_id=notice["cause_event_id"],
                )
            elif give_up:
                await outbox.enqueue(
                    conn,
                    events.NotificationFailed(
                        **common, reason=public_reason(result.detail), failed_at=updated
                    ),
                    source=SOURCE,
                    correlation_id=notice["correlation_id"],
                    causation_id=notice["cause_event_id"],
                )
        log_method = log.info if result.ok else log.error if give_up else log.warning
        log_method(
            f"delivery_{outcome if not give_up else 'failed'}",
            delivery_id=row["delivery_id"],
            notice_id=notice["notice_id"],
            channel=row["channel"],
            recipient_kind=notice["recipient_kind"],
            attempt=attempts,
            reason=public_reason(result.detail),
        )
