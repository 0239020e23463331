"""Sending recorded deliveries with fake channels: delivered, retried with backoff, given up
(attempts exhausted or a permanent refusal), waiting while a channel is not configured, a disabled
endpoint, a crashing channel, a lost lease — and what each records and publishes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta

from runtime.unit_of_work import Trace
from schemas.notifications import v1 as notifications
from services.notifications.adapters.memory import MemoryStore
from services.notifications.domain.notices import Claimed, Content, DeliveryResult
from services.notifications.service import delivery, issuing
from tests import factories
from tests.unit.notifications.support import BOOK, NOW, delivered, endpoint, store

POLICY = delivery.DeliveryPolicy(max_attempts=3, backoff_base_s=5, backoff_max_s=600, lease_s=120)


@dataclass
class FakeSender:
    """Answers each send with the next scripted result (None: channel not configured)."""

    results: list[DeliveryResult | Exception | None]
    sent: list[tuple[str, str]] = field(default_factory=list)
    closed: bool = False

    async def send(self, claimed: Claimed, content: Content) -> DeliveryResult | None:
        self.sent.append((claimed.address, content.title_zh))
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    async def aclose(self) -> None:
        self.closed = True


@dataclass
class Channels:
    sender: FakeSender
    opened: int = 0

    def __call__(self) -> FakeSender:
        self.opened += 1
        return self.sender


async def one_delivery(db: MemoryStore) -> str:
    """A failed inspection, with one e-mail endpoint for the enterprise: one delivery row."""
    await endpoint(db, "enterprise", "E-0001", address="office@jincheng.cn")
    uow = db.unit()
    await issuing.notices_for(BOOK)(
        uow, [delivered(factories.inspection_failed(), correlation_id="corr-5")]
    )
    await uow.commit()
    (delivery_id,) = db.tables.deliveries
    return delivery_id


async def run(db: MemoryStore, *results: DeliveryResult | Exception | None) -> FakeSender:
    channels = Channels(FakeSender(list(results)))
    worker = delivery.DeliveryWorker(channels, POLICY)
    await worker.run(db.unit)
    return channels.sender


async def test_a_delivered_send_is_recorded_and_published_with_the_notices_trace() -> None:
    db = store()
    delivery_id = await one_delivery(db)
    notice = next(iter(db.tables.notices.values()))
    published = len(db.published)

    sender = await run(db, DeliveryResult.delivered("accepted"))

    assert sender.sent == [("office@jincheng.cn", notice.title_zh)]
    assert sender.closed
    stored = db.tables.deliveries[delivery_id]
    assert (stored.status, stored.attempts, stored.delivered_at) == ("delivered", 1, NOW)
    (attempt,) = db.tables.attempts.values()
    assert (attempt.attempt_no, attempt.outcome, attempt.detail) == (1, "delivered", "accepted")
    (written,) = db.published[published:]
    assert isinstance(written.event, notifications.NotificationDelivered)
    assert (written.event.delivery_id, written.event.attempts) == (delivery_id, 1)
    assert written.trace == Trace("corr-5", notice.cause_event_id)


async def test_a_transient_failure_is_retried_after_the_backoff() -> None:
    db = store()
    delivery_id = await one_delivery(db)
    published = len(db.published)

    await run(db, DeliveryResult.transient("http 503"))

    stored = db.tables.deliveries[delivery_id]
    assert (stored.status, stored.attempts, stored.last_error) == ("pending", 1, "http 503")
    assert stored.next_attempt_at == NOW + timedelta(seconds=5)
    assert [a.outcome for a in db.tables.attempts.values()] == ["transient"]
    assert db.published[published:] == []  # nothing settled yet


async def test_the_delivery_is_given_up_when_attempts_run_out() -> None:
    db = store()
    delivery_id = await one_delivery(db)
    published = len(db.published)
    stored = db.tables.deliveries[delivery_id]

    for attempt in range(1, POLICY.max_attempts + 1):
        db.tables.deliveries[delivery_id].next_attempt_at = NOW  # due again now
        await run(db, DeliveryResult.transient(f"ConnectError: [Errno 111] 10.0.0.{attempt}"))

    stored = db.tables.deliveries[delivery_id]
    assert (stored.status, stored.attempts, stored.failed_at) == ("failed", 3, NOW)
    assert len(db.tables.attempts) == 3
    (written,) = db.published[published:]
    assert isinstance(written.event, notifications.NotificationFailed)
    assert written.event.reason == "ConnectError"  # no address leaves the service


async def test_a_permanent_refusal_is_given_up_at_once() -> None:
    db = store()
    delivery_id = await one_delivery(db)

    await run(db, DeliveryResult.failed_permanently("http 410"))

    assert db.tables.deliveries[delivery_id].status == "failed"
    failed = db.published[-1].event
    assert isinstance(failed, notifications.NotificationFailed)
    assert failed.reason == "http 410"


async def test_a_channel_not_configured_waits_without_counting_the_attempt() -> None:
    db = store()
    delivery_id = await one_delivery(db)

    await run(db, None)

    stored = db.tables.deliveries[delivery_id]
    assert (stored.status, stored.attempts) == ("pending", 0)
    assert stored.last_error == "channel not configured"
    assert stored.next_attempt_at == NOW + timedelta(seconds=delivery.NOT_CONFIGURED_RETRY_S)
    assert db.tables.attempts == {}


async def test_a_disabled_endpoint_fails_without_a_send() -> None:
    db = store()
    delivery_id = await one_delivery(db)
    for stored_endpoint in db.tables.endpoints.values():
        stored_endpoint.disabled_at = NOW

    sender = await run(db)

    assert sender.sent == []
    assert db.tables.deliveries[delivery_id].status == "failed"
    assert db.tables.deliveries[delivery_id].last_error == "endpoint disabled"


async def test_a_crashing_channel_is_a_transient_failure() -> None:
    db = store()
    delivery_id = await one_delivery(db)

    await run(db, RuntimeError("bug"))

    stored = db.tables.deliveries[delivery_id]
    assert (stored.status, stored.last_error) == ("pending", "internal error: RuntimeError")


async def test_nothing_due_opens_no_channel() -> None:
    db = store()
    channels = Channels(FakeSender([]))

    assert await delivery.DeliveryWorker(channels, POLICY).run(db.unit) == 0
    assert channels.opened == 0


async def test_an_outcome_after_the_lease_was_lost_is_not_recorded() -> None:
    db = store()
    delivery_id = await one_delivery(db)
    uow = db.unit()
    (claimed,) = await uow.deliveries.claim(10, 120)
    content = await uow.deliveries.content(claimed.copy_id)
    assert content is not None
    published = len(db.published)
    # another worker took the row over after the lease ran out: a later attempt holds it
    db.tables.deliveries[delivery_id].attempts += 1

    await delivery.record(
        db.unit(), POLICY, replace(claimed), content, DeliveryResult.delivered("late")
    )

    assert db.tables.deliveries[delivery_id].status == "sending"
    assert db.tables.attempts == {}
    assert db.published[published:] == []
