"""Which failures count against a message (dead-lettered after retries) and which are outages."""

import asyncpg
import pytest

from runtime.consumer import RetryPolicy, is_infrastructure_error


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.CannotConnectNowError(),  # 57P03
        asyncpg.AdminShutdownError(),  # 57P01
        asyncpg.SerializationError(),  # 40001
        asyncpg.DeadlockDetectedError(),  # 40P01
        asyncpg.QueryCanceledError(),  # 57014
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
        asyncpg.UniqueViolationError(),  # 23505: a real conflict, retrying won't help
        asyncpg.UndefinedTableError(),  # 42P01: a bug
    ],
)
def test_handler_failures_count_against_the_message(exc: BaseException) -> None:
    assert not is_infrastructure_error(exc)


def test_retry_delay_is_capped_and_never_overflows() -> None:
    policy = RetryPolicy(base_delay_s=0.2, max_delay_s=5.0)
    assert policy.delay(1) == pytest.approx(0.2)
    assert policy.delay(100_000) == 5.0
