"""The example outside consumer (examples/agency_consumer.py) against the real local broker: it
reads the public topics only, checks every event against the published JSON Schemas, and drops
the repeats of at-least-once delivery."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runtime import kafka
from schemas import cloudevents
from schemas.base import Event
from schemas.complaints import v1 as complaints
from tests import factories

pytestmark = pytest.mark.integration
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agency_consumer.py"


async def publish(
    bootstrap: str, event: Event, *, times: int = 1, data: bytes | None = None
) -> str:
    ce = cloudevents.from_event(event, source="/wuye/test")
    producer = kafka.make_producer(bootstrap, client_id="test-agency")
    await producer.start()
    try:
        for _ in range(times):
            await producer.send_and_wait(
                event.topic, data or ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
            )
    finally:
        await producer.stop()
    return ce.id


async def test_an_agency_reads_public_events_once_each_and_checked(kafka_topics: str) -> None:
    failed = factories.inspection_failed(project_id=f"P-{uuid.uuid4().hex[:6]}")
    twice = await publish(kafka_topics, failed, times=2)
    overdue = await publish(kafka_topics, factories.rectification_overdue())
    broken = factories.rectification_overdue()
    invalid = await publish(
        kafka_topics,
        broken,
        data=json.dumps({**json.loads(broken.model_dump_json()), "severity": "mild"}).encode(),
    )
    poison = await publish(kafka_topics, factories.inspection_failed(), data=b"\xff not json")
    internal = await publish(
        kafka_topics,
        complaints.ComplaintFiled(
            complaint_id=f"C-{uuid.uuid4().hex[:6]}",
            project_id="P-1",
            enterprise_id="E-1",
            district_code="120101",
            category="water",
            urgency="normal",
            channel="web",
            filed_at=datetime(2011, 8, 20, tzinfo=UTC),
        ),
    )
    result = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable, str(EXAMPLE), "--bootstrap", kafka_topics,
            "--agency", f"test{uuid.uuid4().hex[:6]}", "--idle-exit", "3",
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_id: dict[str, list[dict[str, object]]] = {}
    for line in lines:
        by_id.setdefault(str(line["id"]), []).append(line)
    assert len(by_id[twice]) == 1  # delivered twice, handled once
    assert by_id[twice][0]["valid"] is True
    assert by_id[twice][0]["topic"] == "wuye.inspections.events"
    assert by_id[overdue][0]["valid"] is True
    assert by_id[invalid][0]["valid"] is False
    assert "severity" in str(by_id[invalid][0]["problem"])
    assert by_id[poison][0]["valid"] is False  # reported, and the consumer went on
    assert "not JSON" in str(by_id[poison][0]["problem"])
    assert internal not in by_id  # wuye.complaints.events is not public
