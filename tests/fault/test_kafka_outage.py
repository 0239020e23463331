"""Kafka stopped while failed inspections keep being recorded, then restarted: nothing lost or doubled."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    Platform,
    eventually,
    post_failed_inspection,
    start_platform,
    stop_platform,
)

pytestmark = [pytest.mark.integration, pytest.mark.fault]
RECORDED_DURING_OUTAGE = 12


@pytest.fixture
def outage_platform(stack: Any, tmp_path: Path) -> Iterator[Platform]:
    if stack.kafka is None:
        pytest.skip("KAFKA_BOOTSTRAP_SERVERS points at an external broker this test cannot stop")
    p = start_platform(stack, tmp_path)
    yield p
    stop_platform(p)


async def test_events_recorded_while_kafka_is_down_all_arrive_once(
    outage_platform: Platform, stack: Any
) -> None:
    platform = outage_platform
    run = uuid.uuid4().hex[:6]
    stack.kafka.stop()
    try:
        for i in range(RECORDED_DURING_OUTAGE):
            response = await post_failed_inspection(platform, f"outage-{run}-{i}")
            assert response.status_code == 201, (
                response.text
            )  # the outbox takes writes without Kafka
        pending = await platform.count(
            "inspections", "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )
        assert pending >= 2 * RECORDED_DURING_OUTAGE  # InspectionCompleted + InspectionFailed each
        await asyncio.sleep(2)  # the relay tries, fails and backs off meanwhile
    finally:
        stack.kafka.start()
        stack.kafka.wait_ready()

    like = f"outage-{run}-%"
    notices = "SELECT count(*) FROM notices WHERE correlation_id LIKE $1"
    distinct_notices = (
        "SELECT count(DISTINCT correlation_id) FROM notices WHERE correlation_id LIKE $1"
    )
    evidence = "SELECT count(*) FROM evidence WHERE correlation_id LIKE $1"

    async def all_arrived() -> bool:
        return (
            await platform.count("notifications", notices, like) >= RECORDED_DURING_OUTAGE
            and await platform.count("exposure", evidence, like) >= RECORDED_DURING_OUTAGE
        )

    await eventually(all_arrived, timeout=120)
    await asyncio.sleep(2)
    assert await platform.count("notifications", notices, like) == RECORDED_DURING_OUTAGE
    assert await platform.count("notifications", distinct_notices, like) == RECORDED_DURING_OUTAGE
    assert await platform.count("exposure", evidence, like) == RECORDED_DURING_OUTAGE
    assert (
        await platform.count(
            "inspections", "SELECT count(*) FROM outbox WHERE published_at IS NULL"
        )
        == 0
    )
