"""FastStream wiring for `EventConsumer`: one subscriber per consumer group, acknowledged by hand.

FastStream 0.7's Kafka default (ACK_FIRST) is at-most-once and ACK commits even when the handler
fails, so subscribers here use `AckPolicy.MANUAL`: the offset is committed only after the record was
handled or safely dead-lettered. If even the dead-letter publish fails, the record is nacked (the
consumer seeks back to it) and tried again after a pause, so nothing is skipped.

Subscribers take what one poll returns, up to `batch_size` records, and hand them to
`EventConsumer.handle_batch` (one transaction for the batch); the offsets are committed after the
whole batch, and a nack rewinds every partition of the batch to its first record.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from runtime.consumer import EventConsumer

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Subscription:
    """What one consumer group of a service reads: listed in one place per service."""

    group: str
    topics: Sequence[str]
    description: str


async def _records(message: KafkaMessage) -> Any:
    """The body is the records themselves: FastStream's batch decoder would decode every value
    as UTF-8 text or JSON first, and one poison record (bytes that are neither) would fail the
    whole batch before `EventConsumer` could dead-letter it."""
    return message.raw_message


def register(
    broker: KafkaBroker,
    consumer: EventConsumer,
    subscription: Subscription,
    *,
    batch_size: int = 200,
    pause_s: float = 1.0,
) -> None:
    @broker.subscriber(
        *subscription.topics,
        group_id=subscription.group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        max_records=batch_size,
        decoder=_records,
        title=f"{subscription.group}:{','.join(subscription.topics)}",
        description=subscription.description,
    )
    async def on_records(message: KafkaMessage) -> None:
        try:
            await consumer.handle_batch(message.raw_message)
        except Exception as exc:
            log.error("record_not_handled_will_retry", error=repr(exc), exc_info=exc)
            await message.nack()
            await asyncio.sleep(pause_s)
            return
        await message.ack()
