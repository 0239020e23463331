"""FastStream wiring for `EventConsumer`: one subscriber per consumer group, acknowledged by hand.

FastStream 0.7's Kafka default (ACK_FIRST) is at-most-once and ACK commits even when the handler
fails, so subscribers here use `AckPolicy.MANUAL`: the offset is committed only after the record was
handled or safely dead-lettered. If even the dead-letter publish fails, the record is nacked (the
consumer seeks back to it) and tried again after a pause, so nothing is skipped.

Subscribers take what one poll returns, up to `batch_size` records, and hand them to
`EventConsumer.handle_batch` (one transaction for the batch); the offsets are committed after the
whole batch, and a nack rewinds every partition of the batch to its first record.

Staying in the group during a long outage: FastStream does not poll while the handler runs, and
aiokafka puts a consumer that has not polled for `max_poll_interval_ms` out of its group. That
interval is set here explicitly (Settings.consumer_max_poll_interval_s, 300 s by default) and each
batch gets half of it as its deadline: when a batch runs out of time (an outage being waited out,
or many records each using their retries), the records finished are committed, the partitions are
rewound to the first unfinished record and the subscriber returns, so the next poll happens in
time and re-delivers the rest (`runtime.consumer.BatchInterrupted`). We chose this over pausing
the partitions: a pause needs polls to keep the membership alive, which FastStream's subscriber
loop only makes between handler calls, so it comes to the same thing with more machinery.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import structlog
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from runtime.consumer import BatchInterrupted, EventConsumer

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
    max_poll_interval_s: float = 300.0,
    listener: ConsumerRebalanceListener | None = None,
) -> None:
    budget_s = max_poll_interval_s / 2

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
        max_poll_interval_ms=int(max_poll_interval_s * 1000),
        listener=listener,
    )
    async def on_records(message: KafkaMessage) -> None:
        records = message.raw_message
        deadline = asyncio.get_running_loop().time() + budget_s
        try:
            await consumer.handle_batch(records, deadline=deadline)
        except BatchInterrupted as cut:
            await _resume_later(message, records, len(cut.outcomes), cut.__cause__)
            return
        except Exception as exc:
            log.error("record_not_handled_will_retry", error=repr(exc), exc_info=exc)
            await message.nack()
            await asyncio.sleep(pause_s)
            return
        await message.ack()


async def _resume_later(
    message: KafkaMessage, records: Sequence[Any], finished: int, cause: BaseException | None
) -> None:
    """Commit the first `finished` records and rewind each partition to its first unfinished
    record, so the next poll (made now, well within max_poll_interval) re-delivers the rest."""
    log.warning(
        "batch_interrupted_resuming_after_poll",
        finished=finished,
        remaining=len(records) - finished,
        error=repr(cause) if cause is not None else "deadline passed",
    )
    done: dict[TopicPartition, int] = {}
    for record in records[:finished]:
        tp = TopicPartition(record.topic, record.partition)
        done[tp] = max(done.get(tp, 0), record.offset + 1)
    rewind: dict[TopicPartition, int] = {}
    for record in records[finished:]:
        tp = TopicPartition(record.topic, record.partition)
        rewind[tp] = min(rewind.get(tp, record.offset), record.offset)
    consumer = cast(AIOKafkaConsumer, message.consumer)  # FastStream types it as a protocol
    try:
        if done:
            await consumer.commit(done)
    except Exception as exc:  # noqa: BLE001 - the finished records come again; the inbox skips them
        log.warning("batch_partial_commit_failed", error=repr(exc))
        await message.nack()
        return
    for tp, offset in rewind.items():
        consumer.seek(tp, offset)
