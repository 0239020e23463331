"""Replaying a dead-letter topic (runtime.dlq) on the real broker: the chosen record goes back to
its original topic unchanged, without the x-dlq-* headers; the others stay where they are."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from types import MappingProxyType

import pytest

from runtime import kafka
from schemas import topics
from tests.integration.conftest import header, read_topic

pytestmark = pytest.mark.integration


async def test_replay_sends_the_chosen_dead_letters_back_unchanged(kafka_topics: str) -> None:
    original = f"test.dlq-origin.{uuid.uuid4().hex[:8]}"
    await kafka.ensure_topics(
        kafka_topics,
        [topics.TopicSpec(original, 1, "k", "test", MappingProxyType({}), public=False)],
    )
    chosen, other = uuid.uuid4().hex, uuid.uuid4().hex
    producer = kafka.make_producer(kafka_topics, client_id="test-dlq")
    await producer.start()
    try:
        for event_id, value in ((chosen, b'{"n": 1}'), (other, b'{"n": 2}')):
            await producer.send_and_wait(
                "wuye.dlq.inspections",
                value,
                key=b"P-1",
                headers=[
                    ("ce_id", event_id.encode()),
                    ("ce_type", b"cn.tj.wuye.inspections.InspectionFailed.v1"),
                    ("x-dlq-reason", b"handler failed after 5 attempts: KeyError('x')"),
                    ("x-dlq-original-topic", original.encode()),
                    ("x-dlq-original-partition", b"0"),
                    ("x-dlq-original-offset", b"7"),
                    ("x-dlq-consumer", b"inspections.test"),
                ],
            )
    finally:
        await producer.stop()

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runtime.dlq", *args, "--service", "inspections",
             "--bootstrap", kafka_topics, "--event-id", chosen],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    listed = await asyncio.to_thread(run, "list")
    assert listed.returncode == 0, listed.stderr
    (summary,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert summary["event_id"] == chosen
    assert "KeyError" in summary["reason"]
    assert summary["original"] == f"{original}/0:7"
    dry = await asyncio.to_thread(run, "replay")
    assert dry.returncode == 2  # nothing sent without --yes
    sent = await asyncio.to_thread(run, "replay", "--yes")
    assert sent.returncode == 0, sent.stderr
    assert "replayed 1 record" in sent.stdout

    back = await read_topic(kafka_topics, original, until=lambda rs: len(rs) >= 1, timeout=15)
    assert len(back) == 1
    (record,) = back
    assert (record.key, record.value) == (b"P-1", b'{"n": 1}')
    assert header(record, "ce_id") == chosen
    assert not [k for k, _ in record.headers if k.startswith("x-dlq-")]
