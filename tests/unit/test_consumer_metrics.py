"""The consumer counts each record under its own event type, passed along explicitly: whatever
the logging context holds when the count is taken decides nothing (issue 14, item 7)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from runtime.consumer import EventConsumer
from schemas import cloudevents, topics
from tests.factories import inspection_failed


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]


class ForgetfulDeadLetters:
    """A dead-letter producer that, like any library code might, resets the logging context."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send_and_wait(self, topic: str, **_: Any) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(event_type="cn.tj.wuye.other.Unrelated.v1")
        self.sent.append(topic)


async def never_called(uow: Any, run: Any) -> None:
    raise AssertionError("no record here reaches a handler")


def consumer(handled_type: str) -> tuple[EventConsumer, ForgetfulDeadLetters]:
    dead_letters = ForgetfulDeadLetters()
    found = EventConsumer(
        service="notifications",
        name=f"metrics-{uuid.uuid4().hex[:8]}",
        # never reached: neither a skipped nor an unreadable record touches the database
        pool=cast(asyncpg.Pool, None),
        handlers={handled_type: never_called},
        dead_letters=cast(AIOKafkaProducer, dead_letters),
    )
    return found, dead_letters


def counted(name: str, event_type: str, outcome: str) -> float | None:
    labels = {"consumer": name, "event_type": event_type, "outcome": outcome}
    return REGISTRY.get_sample_value("wuye_events_total", labels)


def record_of(value: bytes | None = None, **header_overrides: bytes) -> Record:
    ce = cloudevents.from_event(inspection_failed(), source="/test")
    headers = dict(cloudevents.to_kafka_headers(ce)) | header_overrides
    return Record(
        topics.INSPECTIONS_EVENTS, 0, 7, ce.key, ce.data if value is None else value,
        list(headers.items()),
    )  # fmt: skip


async def test_an_invalid_body_is_counted_under_its_type_not_the_logging_contexts() -> None:
    record = record_of(value=b'{"project_id": 1}')
    ce_type = cloudevents.from_kafka(record.key, record.value, record.headers).type
    events, dead_letters = consumer(ce_type)

    assert await events.handle(record) == "dead_lettered"

    assert dead_letters.sent == [topics.dead_letter_topic("notifications").name]
    assert counted(events.name, "InspectionFailed", "dead_lettered") == 1
    assert counted(events.name, "Unrelated", "dead_lettered") is None


async def test_a_record_with_no_handler_is_counted_under_its_type() -> None:
    events, _ = consumer("cn.tj.wuye.complaints.ComplaintFiled.v1")
    structlog.contextvars.bind_contextvars(event_type="cn.tj.wuye.other.Unrelated.v1")

    assert await events.handle(record_of()) == "skipped"

    assert counted(events.name, "InspectionFailed", "skipped") == 1


async def test_an_unparsable_record_is_counted_as_unreadable() -> None:
    events, dead_letters = consumer("cn.tj.wuye.complaints.ComplaintFiled.v1")

    assert await events.handle(record_of(ce_specversion=b"0.3")) == "dead_lettered"

    assert dead_letters.sent == [topics.dead_letter_topic("notifications").name]
    assert counted(events.name, "unreadable", "dead_lettered") == 1
    assert counted(events.name, "Unrelated", "dead_lettered") is None
