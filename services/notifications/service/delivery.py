"""Sending the recorded deliveries: e-mail and webhooks, with retries, backoff and a cap.

A delivery row exists before any send (written with its notice). A worker claims due rows
(`FOR UPDATE SKIP LOCKED`), marks them `sending` with a lease and commits *before* sending, so two
replicas never send the same row at once. After the send it records the outcome only if it still
holds the lease (same attempt number): delivered, a retry at `base * 2^(n-1)` capped, or failed for
good (a permanent refusal, or attempts exhausted). A crash between sending and recording leaves the
row `sending`; when the lease runs out it is sent again with the same idempotency key (the
delivery id: e-mail Message-ID and `X-Wuye-Idempotency-Key`, webhook `Idempotency-Key`), which is
how receivers drop the repeat. That window is the only way a person can be sent a copy twice, and
the copy is recognisably the same message.

Technical timing (leases, backoff) is the database's wall-clock time, whatever the business clock
says.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from runtime.unit_of_work import Trace
from schemas.notifications import v1 as notifications
from services.notifications.domain import rules
from services.notifications.domain.notices import Claimed, Content, DeliveryResult, Outcome
from services.notifications.service.ports import NotificationsUnitOfWork, Sender

log = structlog.get_logger(__name__)

# What may leave the service in NotificationFailed and the logs: the kind of failure and a status
# code, never a host name or an address from an exception message.
_PUBLIC_REASON = re.compile(r"^[A-Za-z][A-Za-z ]*(?::? ?[0-9]{3})?")
NOT_CONFIGURED_RETRY_S = 60.0


def public_reason(detail: str) -> str:
    found = _PUBLIC_REASON.match(detail)
    return found.group(0).strip() if found else "failed"


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    backoff_base_s: float = 5.0
    backoff_max_s: float = 600.0
    lease_s: float = 120.0  # longer than any channel's timeout
    batch_size: int = 50
    concurrency: int = 10


Units = Callable[[], NotificationsUnitOfWork]


class DeliveryWorker:
    def __init__(self, channels: Callable[[], Sender], policy: DeliveryPolicy) -> None:
        self.channels = channels  # opened for a pass that has something to send
        self.policy = policy

    async def run(self, units: Units) -> int:
        """One pass: claim due rows, send them concurrently, record each outcome."""
        done = 0
        sender: Sender | None = None
        try:
            while True:
                async with units() as uow:
                    claimed = await uow.deliveries.claim(
                        self.policy.batch_size, self.policy.lease_s
                    )
                    await uow.commit()
                if not claimed:
                    return done
                sender = sender or self.channels()
                await asyncio.gather(*(self._deliver(units, sender, d) for d in claimed))
                done += len(claimed)
        finally:
            if sender is not None:
                await sender.aclose()

    async def _deliver(self, units: Units, sender: Sender, delivery: Claimed) -> None:
        async with units() as uow:
            content = await uow.deliveries.content(delivery.copy_id)
        assert content is not None
        with structlog.contextvars.bound_contextvars(correlation_id=content.correlation_id):
            try:
                if delivery.endpoint_disabled:
                    result: DeliveryResult | None = DeliveryResult.failed_permanently(
                        "endpoint disabled"
                    )
                else:
                    # Whatever a server does (trickling bytes, slow replies), the send ends well
                    # before the lease, so no other replica can take the row over while it runs.
                    async with asyncio.timeout(self.policy.lease_s * 0.8):
                        result = await sender.send(delivery, content)
            except TimeoutError:
                result = DeliveryResult.transient("timeout: lease")
            except Exception as exc:  # a bug in a channel must not stop the other deliveries
                log.error("delivery_crashed", delivery_id=delivery.delivery_id, exc_info=exc)
                result = DeliveryResult.transient(f"internal error: {type(exc).__name__}")
            if result is None:
                await self._not_configured(units(), delivery)
            else:
                await record(units(), self.policy, delivery, content, result)

    async def _not_configured(self, uow: NotificationsUnitOfWork, delivery: Claimed) -> None:
        """The channel is not configured (no SMTP host, no signing key): an operator's fix, not
        the notice's failure. The delivery waits, and the attempt is not counted."""
        async with uow:
            await uow.deliveries.wait(delivery, NOT_CONFIGURED_RETRY_S)
            await uow.commit()
        log.warning("delivery_waits", channel=delivery.channel, reason="channel not configured")


async def record(
    uow: NotificationsUnitOfWork,
    policy: DeliveryPolicy,
    delivery: Claimed,
    notice: Content,
    result: DeliveryResult,
) -> None:
    """Record one attempt's outcome (if the lease still holds) and, when the delivery is settled,
    `NotificationDelivered` or `NotificationFailed`."""
    attempts = delivery.attempts
    give_up = not result.ok and (result.permanent or attempts >= policy.max_attempts)
    outcome: Outcome = (
        "delivered" if result.ok else "permanent" if result.permanent else "transient"
    )
    detail = result.detail[:500]
    async with uow:
        if result.ok:
            updated = await uow.deliveries.delivered(delivery)
        elif give_up:
            updated = await uow.deliveries.failed(delivery, detail)
        else:
            delay = rules.backoff_s(attempts, policy.backoff_base_s, policy.backoff_max_s)
            updated = await uow.deliveries.retry(delivery, detail, delay)
        if updated is None:
            # The lease ran out and another worker took the row over: its outcome counts.
            log.warning("delivery_lease_lost", delivery_id=delivery.delivery_id)
            await uow.commit()
            return
        await uow.deliveries.attempted(delivery, outcome, detail)
        trace = Trace(notice.correlation_id, notice.cause_event_id)
        common: dict[str, Any] = {
            "notice_id": notice.notice_id,
            "delivery_id": delivery.delivery_id,
            "kind": notice.kind,
            "recipient_kind": notice.recipient_kind,
            "recipient_id": notice.recipient_id,
            "channel": delivery.channel,
            "attempts": attempts,
        }
        if result.ok:
            await uow.outbox.add(
                notifications.NotificationDelivered(**common, delivered_at=updated), trace
            )
        elif give_up:
            await uow.outbox.add(
                notifications.NotificationFailed(
                    **common, reason=public_reason(result.detail), failed_at=updated
                ),
                trace,
            )
        await uow.commit()
    log_method = log.info if result.ok else log.error if give_up else log.warning
    log_method(
        f"delivery_{outcome if not give_up else 'failed'}",
        delivery_id=delivery.delivery_id,
        notice_id=notice.notice_id,
        channel=delivery.channel,
        recipient_kind=notice.recipient_kind,
        attempt=attempts,
        reason=public_reason(result.detail),
    )
