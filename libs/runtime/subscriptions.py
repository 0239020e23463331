"""FastStream wiring for `EventConsumer`: one subscriber per consumer group, acknowledged by hand.

FastStream 0.7's Kafka default (ACK_FIRST) is at-most-once and ACK commits even when the handler
fails, so subscribers here use `AckPolicy.MANUAL`: the offset is committed only after the record was
handled or safely dead-lettered. If even the dead-letter publish fails, the record is nacked (the
consumer seeks back to it) and tried again after a pause, so nothing is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

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


def register(
    broker: KafkaBroker,
    consumer: EventConsumer,
    subscription: Subscription,
    *,
    pause_s: float = 1.0,
) -> None:
    @broker.subscriber(
        *subscription.topics,
        group_id=subscription.group,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        title=f"{subscription.group}:{','.join(subscription.topics)}",
        description=subscription.description,
    )
    async def on_record(message: KafkaMessage) -> None:
        try:
            await consumer.handle(message.raw_message)  # type: ignore[arg-type]
        except Exception as exc:
            log.error("record_not_handled_will_retry", error=repr(exc), exc_info=exc)
            await message.nack()
            await asyncio.sleep(pause_s)
            return
        await message.ack()
