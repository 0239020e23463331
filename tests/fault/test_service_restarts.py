"""A consumer stopped gracefully, or killed, and restarted: what was published meanwhile arrives once."""

from __future__ import annotations

import asyncio
import signal
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
NOTICES = "SELECT count(*) FROM notices WHERE correlation_id LIKE $1"
DISTINCT = "SELECT count(DISTINCT correlation_id) FROM notices WHERE correlation_id LIKE $1"


@pytest.fixture
def platform(stack: Any, tmp_path: Path) -> Iterator[Platform]:
    p = start_platform(stack, tmp_path)
    yield p
    stop_platform(p)


async def record_while_down(platform: Platform, prefix: str, n: int) -> None:
    for i in range(n):
        response = await post_failed_inspection(platform, f"{prefix}-{i}")
        assert response.status_code == 201, response.text


async def arrives_once(platform: Platform, prefix: str, n: int) -> None:
    like = f"{prefix}-%"

    async def arrived() -> bool:
        return await platform.count("notifications", NOTICES, like) >= n

    await eventually(arrived)
    await asyncio.sleep(1.5)
    assert await platform.count("notifications", NOTICES, like) == n
    assert await platform.count("notifications", DISTINCT, like) == n


async def test_graceful_stop_exits_cleanly_and_resumes_where_it_left_off(
    platform: Platform,
) -> None:
    notifications = platform.processes["notifications"]
    notifications.stop()
    assert notifications.process is not None
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it captured (as a process with
    # default handlers would end); the log shows the shutdown completed.
    assert notifications.process.returncode in (0, -signal.SIGTERM)
    log = notifications.tail(50)
    assert '"service_stopping"' in log
    assert '"service_stopped"' in log
    assert "shutdown_step_failed" not in log

    prefix = f"graceful-{uuid.uuid4().hex[:6]}"
    await record_while_down(platform, prefix, 5)
    notifications.start()
    notifications.wait_ready()
    await arrives_once(platform, prefix, 5)


async def test_a_killed_consumer_loses_and_duplicates_nothing(platform: Platform) -> None:
    notifications = platform.processes["notifications"]
    before = f"before-kill-{uuid.uuid4().hex[:6]}"
    await record_while_down(platform, before, 3)  # in flight around the kill
    notifications.kill()
    during = f"killed-{uuid.uuid4().hex[:6]}"
    await record_while_down(platform, during, 5)
    notifications.start()
    notifications.wait_ready()
    await arrives_once(platform, before, 3)
    await arrives_once(platform, during, 5)
