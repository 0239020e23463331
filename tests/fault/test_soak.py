"""The soak's scenario (tests/fault/soak.py, `make soak`) at a small scale, so every CI run proves
it: its own three-node KRaft cluster (replication factor 3, min.insync.replicas 2) and PostgreSQL
with fsync on, a partition leader and the active controller SIGKILLed, every service SIGKILLed in
the middle of a batch, PostgreSQL crashed, the relays killed between publish and mark, duplicates
and poison; then 0 lost, 0 duplicated, every poison record dead-lettered, every delivery received
(repeats only as re-sends of one idempotency key)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local.stack import Stack
from tests.fault.conftest import FaultReport
from tests.fault.soak import SoakConfig, SoakStack, run, soak_stack

pytestmark = [pytest.mark.integration, pytest.mark.fault]

CONFIG = SoakConfig(
    per_second=8.0,
    duration_s=45.0,
    # its own stack beside the session's: e.g. "test-soak" when the session's is "test"
    profile=os.environ.get("WUYE_STACK_PROFILE", "test") + "-soakci",
    down_s=5.0,
    settle_s=180.0,
)


@pytest.fixture
def soak_cluster() -> Iterator[Stack]:
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or os.environ.get("PG_ADMIN_DSN"):
        pytest.skip("the soak starts its own cluster; Kafka or PostgreSQL is external here")
    stack = soak_stack(CONFIG, print)
    try:
        yield stack
    finally:
        stack.down()
        stack.wipe()


@pytest.mark.timeout(900)
async def test_the_soak_scenario_loses_and_doubles_nothing(
    soak_cluster: Stack, tmp_path: Path, fault_report: FaultReport
) -> None:
    result = await run(CONFIG, SoakStack(soak_cluster), tmp_path, print)
    fault_report.faults = result.report.faults
    fault_report.notes = result.report.notes
    fault_report.counts = result.report.counts
    fault_report.finished = result.report.finished
    record = result.record()
    assert result.error is None, "\n".join([result.error, *result.report.lines()])
    assert record["kafka_brokers"] == 3
    assert record["replication_factor"] == 3
    assert record["postgres_fsync"]
    assert record["postgres_synchronous_commit"]
    assert all(record["accepted"].values()), record["accepted"]
    assert record["receivers"]["smtp"]["received"] > 0
    assert record["receivers"]["webhook"]["received"] > 0
    assert not result.failures(), "\n".join([*result.failures(), *result.report.lines()])
