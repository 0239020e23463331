"""Which failures count against a message (dead-lettered after retries) and which are outages."""

import asyncpg
import asyncpg.exceptions
import pytest

from runtime.consumer import RetryPolicy, is_infrastructure_error
from runtime.db import is_retry_later_error


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        ConnectionResetError(),
        TimeoutError(),  # connecting, or waiting for a pooled connection
        asyncpg.InterfaceError("cannot perform operation: connection is closed"),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.ConnectionFailureError(),  # 08006
        asyncpg.CannotConnectNowError(),  # 57P03
        asyncpg.AdminShutdownError(),  # 57P01
        asyncpg.CrashShutdownError(),  # 57P02
        asyncpg.TooManyConnectionsError(),  # 53300
        asyncpg.InvalidPasswordError(),  # 28P01: every connection is refused
        asyncpg.ReadOnlySQLTransactionError(),  # 25006, during a failover
        asyncpg.DiskFullError(),  # 53100
    ],
)
def test_outages_are_not_the_messages_fault(exc: BaseException) -> None:
    assert is_infrastructure_error(exc)


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad data"),
        KeyError("missing"),
        # asyncpg's client-side DataError: a value that cannot be encoded (bad input)
        asyncpg.exceptions._base.DataError("invalid input for query argument $1"),
        asyncpg.InterfaceError("cannot call Connection.fetch(): connection has been released"),
        asyncpg.QueryCanceledError(),  # 57014: statement_timeout, may never finish
        asyncpg.SerializationError(),  # 40001: transient, but the message's retries
        asyncpg.DeadlockDetectedError(),  # 40P01: likewise
        asyncpg.OutOfMemoryError(),  # 53200: may be this record's query
        asyncpg.InternalServerError(),  # XX000
        asyncpg.UniqueViolationError(),  # 23505: a real conflict, retrying won't help
        asyncpg.UndefinedTableError(),  # 42P01: a bug
        asyncpg.CharacterNotInRepertoireError(),  # 22021: a NUL byte in text
    ],
)
def test_handler_failures_count_against_the_message(exc: BaseException) -> None:
    assert not is_infrastructure_error(exc)


def test_retry_delay_is_capped_and_never_overflows() -> None:
    policy = RetryPolicy(base_delay_s=0.2, max_delay_s=5.0)
    assert policy.delay(1) == pytest.approx(0.2)
    assert policy.delay(100_000) == 5.0


@pytest.mark.parametrize(
    ("exc", "retry_later"),
    [
        (asyncpg.SerializationError(), True),  # rolled back: the client may send it again
        (asyncpg.DeadlockDetectedError(), True),
        (asyncpg.CannotConnectNowError(), True),  # an outage
        (asyncpg.QueryCanceledError(), False),  # statement timeout: a 500 with an error id
        (asyncpg.UniqueViolationError(), False),
    ],
)
def test_http_answers_retry_later_for_outages_and_lost_conflicts(
    exc: BaseException, retry_later: bool
) -> None:
    assert is_retry_later_error(exc) is retry_later
