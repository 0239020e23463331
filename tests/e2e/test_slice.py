"""The foundation's vertical slice on the real stack: inspections -> Kafka -> notifications, exposure."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections.abc import Callable

import asyncpg
import httpx
import pytest
from aiokafka import ConsumerRecord

from runtime import kafka
from runtime.auth import Role
from tests.e2e.conftest import FAILED_INSPECTION, Platform, eventually, post_failed_inspection
from tests.integration.conftest import header, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

NOTICES = "SELECT count(*) FROM notices WHERE correlation_id = $1"
EVIDENCE = "SELECT count(*) FROM evidence WHERE correlation_id = $1"


async def both_arrived(platform: Platform, correlation_id: str) -> bool:
    return (
        await platform.count("notifications", NOTICES, correlation_id) >= 1
        and await platform.count("exposure", EVIDENCE, correlation_id) >= 1
    )


async def test_one_http_call_gives_exactly_one_notice_and_one_exposure_record(
    platform: Platform,
) -> None:
    corr = f"happy-{uuid.uuid4().hex[:8]}"
    response = await post_failed_inspection(platform, corr)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["passed"] is False
    assert body["score"] < body["pass_mark"]

    await eventually(lambda: both_arrived(platform, corr))
    await asyncio.sleep(1.5)  # anything duplicated would have arrived by now
    assert await platform.count("notifications", NOTICES, corr) == 1
    assert await platform.count("exposure", EVIDENCE, corr) == 1

    # The enterprise reads its notice in Chinese; another enterprise does not see it. (Looked
    # up by id: the shared test broker fills E-0001's inbox with every earlier test's notices,
    # and a notice handled in the same batch as older ones shares their created_at.)
    conn = await asyncpg.connect(platform.dsns["notifications"])
    try:
        notice_id = await conn.fetchval(
            "SELECT notice_id FROM notices WHERE correlation_id = $1", corr
        )
    finally:
        await conn.close()

    def as_enterprise(enterprise: str) -> dict[str, str]:
        token = platform.token(Role.ENTERPRISE, enterprise=enterprise)
        return {"Authorization": f"Bearer {token}"}

    async with httpx.AsyncClient(base_url=platform.url("notifications")) as client:
        own = await client.get(f"/api/v1/notices/{notice_id}", headers=as_enterprise("E-0001"))
        other = await client.get(f"/api/v1/notices/{notice_id}", headers=as_enterprise("E-0003"))
    assert own.status_code == 200, own.text
    mine = own.json()
    assert mine["correlation_id"] == corr
    assert "检查不合格" in mine["title_zh"]
    assert "夜班门岗空岗" in mine["body_zh"]
    assert other.status_code == 404, other.text  # not even told that it exists


async def test_the_same_event_delivered_twice_gives_one_notice(platform: Platform) -> None:
    corr = f"dup-{uuid.uuid4().hex[:8]}"
    assert (await post_failed_inspection(platform, corr)).status_code == 201
    await eventually(lambda: both_arrived(platform, corr))

    original = await read_topic(
        platform.bootstrap,
        "wuye.inspections.events",
        until=lambda rs: len(rs) >= 1,
        keep=lambda r: (
            header(r, "ce_correlationid") == corr
            and (header(r, "ce_type") or "").endswith("InspectionFailed.v1")
        ),
    )
    assert len(original) == 1
    producer = kafka.make_producer(platform.bootstrap, client_id="test-redeliver")
    await producer.start()
    try:
        record = original[0]
        await producer.send_and_wait(
            record.topic, record.value, key=record.key, headers=list(record.headers)
        )
    finally:
        await producer.stop()

    # A later event on the same partition proves the duplicate was consumed before we count.
    marker = f"dup-marker-{uuid.uuid4().hex[:8]}"
    assert (await post_failed_inspection(platform, marker)).status_code == 201
    await eventually(lambda: both_arrived(platform, marker))
    assert await platform.count("notifications", NOTICES, corr) == 1
    assert await platform.count("exposure", EVIDENCE, corr) == 1


async def test_malformed_message_is_dead_lettered_and_the_next_one_handled(
    platform: Platform,
) -> None:
    marker = uuid.uuid4().hex
    producer = kafka.make_producer(platform.bootstrap, client_id="test-poison")
    await producer.start()
    try:
        await producer.send_and_wait(
            "wuye.inspections.events",
            b"\xff not an event",
            key=b"P-120101-0001",  # the same partition as the good event that follows
            headers=[
                ("ce_id", marker.encode()),
                ("ce_type", b"cn.tj.wuye.inspections.InspectionFailed.v1"),
            ],
        )
    finally:
        await producer.stop()
    corr = f"after-poison-{uuid.uuid4().hex[:8]}"
    assert (await post_failed_inspection(platform, corr)).status_code == 201
    await eventually(lambda: both_arrived(platform, corr))

    for service in ("notifications", "exposure"):
        consumer = f"{service}.inspections"  # the inbox name; the group id may carry a prefix
        dead = await read_topic(
            platform.bootstrap,
            f"wuye.dlq.{service}",
            until=lambda rs: len(rs) >= 1,
            keep=lambda r, consumer=consumer: (
                header(r, "ce_id") == marker and header(r, "x-dlq-consumer") == consumer
            ),
        )
        assert len(dead) == 1, service
        assert (header(dead[0], "x-dlq-reason") or "").startswith("malformed:")
        assert header(dead[0], "x-dlq-original-topic") == "wuye.inspections.events"


async def test_every_service_publishes_the_event_catalog(platform: Platform) -> None:
    async with httpx.AsyncClient() as client:
        for name in platform.processes:
            response = await client.get(f"{platform.url(name)}/asyncapi.json")
            assert response.status_code == 200, name
            document = response.json()
            assert document["asyncapi"] == "3.0.0"
            assert "wuye.inspections.events" in {
                c["address"] for c in document["channels"].values()
            }


async def test_personal_data_in_an_inspectors_note_leaves_the_platform_masked(
    platform: Platform,
) -> None:
    """The note stays whole in inspections; on the public topics, and in the notice quoting it,
    the phone number and the name are masked."""
    corr = f"privacy-{uuid.uuid4().hex[:8]}"
    note = "已联系业主张三 138-0013-8000,垃圾桶满溢"
    masked = "已联系业主某某 138****8000,垃圾桶满溢"
    body = copy.deepcopy(FAILED_INSPECTION)
    for result in body["results"]:
        if result["item_id"] == "waste.daily":
            result["note"] = note
    token = platform.token(Role.DISTRICT_OFFICE, district="120101")
    async with httpx.AsyncClient(base_url=platform.url("inspections"), timeout=20) as client:
        response = await client.post(
            "/api/v1/inspections",
            json=body,
            headers={"Authorization": f"Bearer {token}", "X-Correlation-ID": corr},
        )
    assert response.status_code == 201, response.text
    assert note in response.text  # the inspecting office sees its own note whole

    def of_chain(ce_type: str) -> Callable[[ConsumerRecord[bytes, bytes]], bool]:
        return lambda r: header(r, "ce_correlationid") == corr and header(r, "ce_type") == ce_type

    failed = await read_topic(
        platform.bootstrap,
        "wuye.inspections.events",
        until=lambda rs: len(rs) >= 1,
        keep=of_chain("cn.tj.wuye.inspections.InspectionFailed.v1"),
    )
    assert len(failed) == 1
    notes = {i["item_id"]: i["note"] for i in json.loads(failed[0].value)["failed_items"]}
    assert notes["waste.daily"] == masked
    ordered = await read_topic(
        platform.bootstrap,
        "wuye.inspections.events",
        until=lambda rs: len(rs) >= 3,
        keep=of_chain("cn.tj.wuye.inspections.RectificationOrdered.v1"),
    )
    assert masked in b"".join(r.value for r in ordered).decode()
    notices = await read_topic(
        platform.bootstrap,
        "wuye.notifications.events",
        until=lambda rs: len(rs) >= 1,
        keep=of_chain("cn.tj.wuye.notifications.NoticeIssued.v1"),
    )
    assert len(notices) == 1
    assert masked in json.loads(notices[0].value)["body_zh"]
    everything = b"".join(r.value for r in failed + ordered + notices).decode()
    assert "0013" not in everything
    assert "张三" not in everything
