"""Which publish failures count towards parking an outbox row (the row's own) and which never do
(the broker's trouble: retried for as long as it lasts)."""

import asyncio

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RecordTooLargeError,
    RequestTimedOutError,
    UnknownTopicOrPartitionError,
)

from runtime.relay import _HELD_BACK, is_row_fault


@pytest.mark.parametrize(
    "error",
    [
        MessageSizeTooLargeError("event larger than a whole batch"),
        RecordTooLargeError(),
        UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
        AttributeError("'int' object has no attribute 'encode'"),  # a header that is no text
        TypeError("not serialisable"),
    ],
)
def test_the_rows_own_failures_count_towards_parking(error: BaseException) -> None:
    assert is_row_fault(error)


@pytest.mark.parametrize(
    "error",
    [
        KafkaConnectionError(),
        KafkaTimeoutError(),
        RequestTimedOutError(),
        NotLeaderForPartitionError(),
        UnknownTopicOrPartitionError(),
        TimeoutError("not acknowledged in 30s"),
        ConnectionRefusedError(),
        asyncio.CancelledError(),
        RuntimeError(_HELD_BACK),
    ],
)
def test_broker_trouble_never_parks_a_row(error: BaseException) -> None:
    assert not is_row_fault(error)
