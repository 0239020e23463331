"""The notifications service as a process on the real stack, with a real SMTP server and a real
webhook receiver: the 催办 -> 通报批评 ladder, exactly once per person per cause when the cause is
delivered twice and when the service is killed in the middle of a send.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pypdf
import pytest

from runtime import kafka
from runtime.auth import Role
from schemas import cloudevents
from schemas.base import Event
from schemas.complaints import v1 as complaints_v1
from schemas.registry import v1 as registry
from services.notifications.domain import signing
from tests import factories
from tests.e2e.conftest import CAMPAIGN_TIME, Platform, eventually, start_platform, stop_platform
from tests.integration.conftest import header, read_topic
from tests.sinks import MailSink, WebhookSink

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

NOTIFICATIONS = "wuye.notifications.events"
NOW = datetime.fromisoformat(CAMPAIGN_TIME)
SIGNING_KEY = "test-signing-key-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def sinks() -> Iterator[tuple[MailSink, WebhookSink]]:
    mail, hooks = MailSink().start(), WebhookSink().start()
    yield mail, hooks
    mail.stop()
    hooks.stop()


@pytest.fixture(scope="module")
def platform(
    stack: Any, tmp_path_factory: pytest.TempPathFactory, sinks: tuple[MailSink, WebhookSink]
) -> Iterator[Platform]:
    mail, _ = sinks
    p = start_platform(
        stack,
        tmp_path_factory.mktemp("notifications"),
        services=("notifications",),
        extra_env={
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(mail.port),
            "SMTP_STARTTLS": "false",
            "SMTP_SENDER": "notices@wuye.example.cn",
            "WEBHOOK_SIGNING_KEY": SIGNING_KEY,
            "WEBHOOK_ALLOW_HTTP": "true",
            # The receiver listens on loopback, which webhooks may not reach unless allowed; only
            # its address is, so the other loopback addresses below stay refused.
            "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
            "DELIVERY_INTERVAL_S": "0.2",
            "DELIVERY_LEASE_S": "4",
            "DELIVERY_BACKOFF_BASE_S": "0.3",
            "DELIVERY_MAX_ATTEMPTS": "3",
            "ESCALATION_INTERVAL_S": "0.3",
        },
    )
    yield p
    stop_platform(p)


async def publish(platform: Platform, event: Event, *, times: int = 1) -> cloudevents.CloudEvent:
    """Publish as the producing service would; `times` > 1 redelivers the very same record."""
    ce = cloudevents.from_event(event, source="/wuye/test", correlation_id=uuid.uuid4().hex)
    producer = kafka.make_producer(platform.bootstrap, client_id="test-notifications")
    await producer.start()
    try:
        for _ in range(times):
            await producer.send_and_wait(
                event.topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
            )
    finally:
        await producer.stop()
    return ce


async def register_project(platform: Platform, project_id: str, enterprise_id: str) -> None:
    await publish(
        platform,
        registry.ProjectRegistered(
            project_id=project_id,
            project_name="海河花园",
            address="和平区南京路 1 号",
            district_code="120101",
            district_name="和平区",
            enterprise_id=enterprise_id,
            enterprise_name="津城物业服务有限公司",
            service_grade="一级",
            occurred_at=NOW - timedelta(days=30),
        ),
    )
    await eventually(
        lambda: platform.count(
            "notifications", "SELECT count(*) FROM projects WHERE project_id = $1", project_id
        )
    )


async def add_endpoint(
    platform: Platform,
    hooks: WebhookSink,
    token: str,
    recipient: tuple[str, str],
    channel: str,
    address: str,
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=platform.url("notifications")) as client:
        response = await client.post(
            "/api/v1/endpoints",
            json={
                "recipient_kind": recipient[0],
                "recipient_id": recipient[1],
                "channel": channel,
                "address": hooks.url(address) if channel == "webhook" else address,
            },
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    if channel == "webhook":
        assert body["webhook_secret"].startswith("whsec_")
        hooks.secrets[address] = body["webhook_secret"].encode()
    else:
        assert body["webhook_secret"] is None
    return body


async def enterprise_reachable_at(
    platform: Platform,
    hooks: WebhookSink,
    project: str,
    enterprise: str,
    *channels: tuple[str, str],
) -> None:
    """A registered project whose enterprise registered these (channel, address) pairs."""
    await register_project(platform, project, enterprise)
    token = platform.token(Role.ENTERPRISE, enterprise=enterprise)
    for channel, address in channels:
        await add_endpoint(platform, hooks, token, ("enterprise", enterprise), channel, address)


async def deliveries_about(platform: Platform, subject_id: str) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(platform.dsns["notifications"])
    try:
        rows = await conn.fetch(
            """SELECT d.delivery_id, d.channel, d.address, n.kind, c.recipient_kind
                 FROM deliveries d JOIN notices n USING (notice_id)
                 JOIN notice_copies c USING (copy_id) WHERE n.subject_id = $1""",
            subject_id,
        )
    finally:
        await conn.close()
    return [dict(r) for r in rows]


async def notices_about(platform: Platform, subject_id: str) -> int:
    return await platform.count(
        "notifications", "SELECT count(*) FROM notices WHERE subject_id = $1", subject_id
    )


async def deliveries_settled(platform: Platform, subject_id: str) -> bool:
    pending = await platform.count(
        "notifications",
        """SELECT count(*) FROM deliveries d JOIN notices n USING (notice_id)
            WHERE n.subject_id = $1 AND d.status IN ('pending', 'sending')""",
        subject_id,
    )
    total = await platform.count(
        "notifications",
        "SELECT count(*) FROM deliveries d JOIN notices n USING (notice_id) WHERE subject_id = $1",
        subject_id,
    )
    return total > 0 and pending == 0


async def test_overdue_rectification_brings_one_reminder_then_one_criticism_to_every_channel(
    platform: Platform, sinks: tuple[MailSink, WebhookSink]
) -> None:
    mail, hooks = sinks
    enterprise, project = "E-N1", "P-120101-N001"
    await register_project(platform, project, enterprise)
    ent = platform.token(Role.ENTERPRISE, enterprise=enterprise)
    await add_endpoint(platform, hooks, ent, ("enterprise", enterprise), "email", "boss@n1.cn")
    await add_endpoint(platform, hooks, ent, ("enterprise", enterprise), "webhook", "n1")
    await add_endpoint(platform, hooks, ent, ("manager", project), "email", "manager@n1.cn")
    district = platform.token(Role.DISTRICT_OFFICE, district="120101")
    await add_endpoint(platform, hooks, district, ("district", "120101"), "webhook", "hp")
    city = platform.token(Role.CITY_OFFICE)
    await add_endpoint(platform, hooks, city, ("city", "city"), "email", "city@wuye.tj.cn")

    # Overdue for a week already: the 72-hour ladder is due as soon as the reminder is out.
    order = f"O-{uuid.uuid4().hex[:8]}"
    overdue = factories.rectification_overdue(
        project, order, enterprise_id=enterprise, detected_at=NOW - timedelta(days=7)
    )
    ce = await publish(platform, overdue, times=2)  # the same record twice: at-least-once

    # The ladder drafts the criticism; the district office signs it off over the API (the city
    # office reads the draft but may not sign it off); its official document is a PDF.
    found: list[str] = []

    async def drafted() -> bool:
        draft = await _draft_of(platform, district, order)
        found.extend([draft] if draft else [])
        return draft is not None

    await eventually(drafted)
    draft_id = found[-1]
    async with httpx.AsyncClient(base_url=platform.url("notifications")) as client:
        refused = await client.post(
            f"/api/v1/criticism-drafts/{draft_id}/sign-off",
            headers={"Authorization": f"Bearer {city}"},
        )
        assert refused.status_code == 403
        signed = await client.post(
            f"/api/v1/criticism-drafts/{draft_id}/sign-off",
            headers={"Authorization": f"Bearer {district}"},
        )
        assert signed.status_code == 200, signed.text
        assert re.fullmatch(r"和平区物业通〔2011〕\d+号", signed.json()["notice_no"])
        pdf = await client.get(
            f"/api/v1/criticisms/{draft_id}/document.pdf",
            headers={"Authorization": f"Bearer {ent}"},
        )
        assert pdf.status_code == 200
        assert pdf.headers["content-type"] == "application/pdf"
        text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
        assert signed.json()["notice_no"] in text
        assert "天津市和平区物业管理办公室" in text

    await eventually(lambda: _count_is(platform, order, 2))
    await eventually(lambda: deliveries_settled(platform, order))
    await asyncio.sleep(1.5)  # anything duplicated would have arrived by now
    assert await notices_about(platform, order) == 2

    # What was recorded for this order's notices: the broker is shared with other tests, so the
    # offices' mailboxes and hooks also receive notices about other projects.
    deliveries = await deliveries_about(platform, order)
    assert sorted((d["recipient_kind"], d["channel"], d["kind"]) for d in deliveries) == [
        ("city", "email", "criticism"),
        ("district", "webhook", "criticism"),
        ("district", "webhook", "reminder"),
        ("enterprise", "email", "criticism"),
        ("enterprise", "email", "reminder"),
        ("enterprise", "webhook", "criticism"),
        ("enterprise", "webhook", "reminder"),
        ("manager", "email", "reminder"),  # the criticism is addressed to the enterprise itself
    ]
    # Each arrived exactly once, under its own idempotency key.
    for d in deliveries:
        if d["channel"] == "email":
            copies = [
                m for m in mail.to(d["address"]) if m["X-Wuye-Idempotency-Key"] == d["delivery_id"]
            ]
        else:
            copies = [a for a in hooks.arrivals if a.key == d["delivery_id"]]
        assert len(copies) == 1, d
    criticism_mail = next(m for m in mail.to("boss@n1.cn") if "通报批评" in str(m["Subject"]))
    body = criticism_mail.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    number = re.search(r"和平区物业通〔2011〕(\d+)号", text)
    assert number is not None, text
    for phrase in ("海河花园", "2 号楼消防栓水压不足", "抄送：市物业管理办公室"):
        assert phrase in text

    # Webhooks: verified against each endpoint's own secret; the district is copied.
    ours = [a for a in hooks.at("hp") if a.payload["subject"]["id"] == order]
    assert sorted(a.payload["kind"] for a in ours) == ["criticism", "reminder"]
    assert all(a.payload["recipient"]["cc"] for a in ours)
    assert hooks.rejected == 0

    # Events: NoticeIssued once per notice, NotificationDelivered once per delivery (reminder:
    # enterprise e-mail + webhook, manager e-mail, district webhook; criticism: enterprise e-mail +
    # webhook, district webhook, city e-mail).
    records = await read_topic(
        platform.bootstrap,
        NOTIFICATIONS,
        until=lambda rs: len(rs) >= 11,
        keep=lambda r: header(r, "ce_correlationid") == ce.correlationid,
    )
    await asyncio.sleep(1)
    types = sorted((header(r, "ce_type") or "").split(".")[-2] for r in records)
    assert types == ["CriticismDrafted"] + ["NoticeIssued"] * 2 + ["NotificationDelivered"] * 8, (
        types
    )
    assert all(header(r, "ce_causationid") for r in records)

    # The district reads the history: who got what, through which channel, with which result.
    notice_id = await _criticism_id(platform, order)
    async with httpx.AsyncClient(base_url=platform.url("notifications")) as client:
        history = (
            await client.get(
                f"/api/v1/notices/{notice_id}", headers={"Authorization": f"Bearer {district}"}
            )
        ).json()
        stranger = await client.get(
            f"/api/v1/notices/{notice_id}",
            headers={
                "Authorization": f"Bearer {platform.token(Role.DISTRICT_OFFICE, district='120104')}"
            },
        )
        inbox = (
            await client.get(
                "/api/v1/notices?kind=criticism", headers={"Authorization": f"Bearer {ent}"}
            )
        ).json()
        own_view = (
            await client.get(
                f"/api/v1/notices/{notice_id}", headers={"Authorization": f"Bearer {ent}"}
            )
        ).json()
        read = await client.post(
            f"/api/v1/notices/{notice_id}/read", headers={"Authorization": f"Bearer {ent}"}
        )
        unread = (
            await client.get(
                "/api/v1/notices?unread=true", headers={"Authorization": f"Bearer {ent}"}
            )
        ).json()
    assert history["notice_no"] == f"和平区物业通〔2011〕{number.group(1)}号"
    recipients = {(c["recipient_kind"], c["cc"]) for c in history["recipients"]}
    assert recipients == {("enterprise", False), ("district", True), ("city", True)}
    channels = sorted(
        (c["recipient_kind"], d["channel"], d["status"], d["attempts"])
        for c in history["recipients"]
        for d in c["deliveries"]
    )
    assert channels == [
        ("city", "email", "delivered", 1),
        ("district", "webhook", "delivered", 1),
        ("enterprise", "email", "delivered", 1),
        ("enterprise", "webhook", "delivered", 1),
    ]
    assert stranger.status_code == 404
    # the enterprise sees its own deliveries, not the offices' addresses
    seen = {c["recipient_kind"]: len(c["deliveries"]) for c in own_view["recipients"]}
    assert seen == {"enterprise": 2, "district": 0, "city": 0}
    assert "city@wuye.tj.cn" not in str(own_view)
    assert [n["notice_id"] for n in inbox] == [notice_id]
    assert read.status_code == 200
    assert notice_id not in [n["notice_id"] for n in unread]


async def _count_is(platform: Platform, subject_id: str, n: int) -> bool:
    return await notices_about(platform, subject_id) == n


async def _rules_about(platform: Platform, subject_id: str) -> list[str]:
    conn = await asyncpg.connect(platform.dsns["notifications"])
    try:
        rows = await conn.fetch(
            "SELECT rule_id FROM notices WHERE subject_id = $1 ORDER BY rule_id", subject_id
        )
    finally:
        await conn.close()
    return [r["rule_id"] for r in rows]


async def _draft_of(platform: Platform, token: str, subject_id: str) -> str | None:
    """The criticism draft about a subject on the district office's list, once drafted."""
    async with httpx.AsyncClient(base_url=platform.url("notifications")) as client:
        drafts = (
            await client.get(
                "/api/v1/criticism-drafts", headers={"Authorization": f"Bearer {token}"}
            )
        ).json()
    return next((d["draft_id"] for d in drafts if d["subject_id"] == subject_id), None)


async def _criticism_id(platform: Platform, subject_id: str) -> str:
    conn = await asyncpg.connect(platform.dsns["notifications"])
    try:
        value: str = await conn.fetchval(
            "SELECT notice_id FROM notices WHERE subject_id = $1 AND kind = 'criticism'",
            subject_id,
        )
    finally:
        await conn.close()
    return value


async def test_killed_mid_send_and_restarted_nobody_gets_a_second_copy(
    platform: Platform, sinks: tuple[MailSink, WebhookSink]
) -> None:
    mail, hooks = sinks
    enterprise, project = "E-N2", "P-120101-N002"
    await enterprise_reachable_at(
        platform, hooks, project, enterprise, ("email", "boss@n2.cn"), ("webhook", "n2")
    )

    # Both receivers take the next message, record it, and then hang before answering.
    mail.stall_next_to["boss@n2.cn"] = 10
    hooks.stall_next_s["n2"] = 10
    order = f"O-{uuid.uuid4().hex[:8]}"
    overdue = factories.rectification_overdue(
        project, order, enterprise_id=enterprise, detected_at=NOW
    )
    await publish(platform, overdue)
    await eventually(lambda: _truthy(len(mail.to("boss@n2.cn")) == 1 and len(hooks.at("n2")) == 1))

    service = platform.processes["notifications"]
    service.kill()  # SIGKILL with both sends accepted but unacknowledged
    service.start()
    service.wait_ready()

    # After the lease runs out, the restarted service sends again with the same keys.
    await eventually(lambda: deliveries_settled(platform, order), timeout=60)
    await asyncio.sleep(1.0)
    mails = mail.distinct("boss@n2.cn")
    assert [len(copies) for copies in mails.values()] == [2]  # one Message-ID, sent twice
    hooks_seen = hooks.distinct("n2")
    assert [len(copies) for copies in hooks_seen.values()] == [2]  # one key, sent twice
    # ... and the receiver-side de-duplication leaves one notice each.
    assert sum(1 for a in hooks.handled.values() if a.path == "n2") == 1
    assert await notices_about(platform, order) == 1  # the ladder has not run out (72 h)
    # The killed attempts were never recorded: one recorded attempt per delivery.
    attempts = await platform.count(
        "notifications",
        """SELECT count(*) FROM delivery_attempts a JOIN deliveries d USING (delivery_id)
            JOIN notices n USING (notice_id) WHERE n.subject_id = $1""",
        order,
    )
    deliveries = await platform.count(
        "notifications",
        "SELECT count(*) FROM deliveries d JOIN notices n USING (notice_id) WHERE subject_id = $1",
        order,
    )
    assert attempts == deliveries >= 2

    # The enterprise submits its rectification: the pending criticism is called off.
    await publish(platform, factories.rectification_submitted(project, order))
    await eventually(
        lambda: platform.count(
            "notifications",
            "SELECT count(*) FROM escalations WHERE subject_id = $1 AND status = 'cancelled'",
            order,
        )
    )


async def _truthy(value: bool) -> bool:
    return value


async def test_a_refusing_receiver_is_recorded_as_failed_and_announced(
    platform: Platform, sinks: tuple[MailSink, WebhookSink]
) -> None:
    _, hooks = sinks
    enterprise, project = "E-N3", "P-120101-N003"
    await enterprise_reachable_at(
        platform, hooks, project, enterprise, ("webhook", "gone"), ("webhook", "flaky")
    )
    hooks.status_for["gone"] = 410  # permanent: no retry
    hooks.status_for["flaky"] = 503  # transient: retried, then given up after 3 attempts
    failed = factories.inspection_failed(project, enterprise_id=enterprise)
    ce = await publish(platform, failed)
    await eventually(lambda: deliveries_settled(platform, failed.inspection_id), timeout=60)
    records = await read_topic(
        platform.bootstrap,
        NOTIFICATIONS,
        until=lambda rs: len(rs) >= 2,
        keep=lambda r: (
            header(r, "ce_correlationid") == ce.correlationid
            and "NotificationFailed" in (header(r, "ce_type") or "")
        ),
    )
    failures = [(r.value or b"").decode() for r in records]
    outcomes = sorted((json.loads(f)["attempts"], json.loads(f)["reason"]) for f in failures)
    assert outcomes == [(1, "http 410"), (3, "http 503")]


async def test_a_tampered_webhook_body_is_refused_by_the_documented_check(
    sinks: tuple[MailSink, WebhookSink], platform: Platform
) -> None:
    _, hooks = sinks
    arrival = next(iter(hooks.handled.values()))
    secret = hooks.secrets[arrival.path]
    ts, sig = arrival.headers["x-wuye-timestamp"], arrival.headers["x-wuye-signature"]
    now = datetime.fromtimestamp(int(ts)).astimezone()
    assert signing.verify(secret, sig, ts, arrival.body, now)
    tampered = arrival.body.replace("通报".encode(), "表扬".encode()) + b" "
    assert not signing.verify(secret, sig, ts, tampered, now)
    async with httpx.AsyncClient() as client:
        response = await client.post(
            hooks.url(arrival.path),
            content=tampered,
            headers={"X-Wuye-Timestamp": ts, "X-Wuye-Signature": sig, "Idempotency-Key": "x"},
        )
    assert response.status_code == 401


async def test_channels_are_registered_once_per_owner_and_a_new_registration_rotates_the_secret(
    platform: Platform, sinks: tuple[MailSink, WebhookSink]
) -> None:
    _, hooks = sinks
    enterprise = "E-N4"
    await register_project(platform, "P-120101-N004", enterprise)
    token = platform.token(Role.ENTERPRISE, enterprise=enterprise)
    auth = {"Authorization": f"Bearer {token}"}
    body = {
        "recipient_kind": "enterprise",
        "recipient_id": enterprise,
        "channel": "webhook",
        "address": hooks.url("n4"),
    }
    async with httpx.AsyncClient(base_url=platform.url("notifications")) as client:
        first = await client.post("/api/v1/endpoints", json=body, headers=auth)
        again = await client.post("/api/v1/endpoints", json=body, headers=auth)
        gone = await client.delete(f"/api/v1/endpoints/{first.json()['endpoint_id']}", headers=auth)
        renewed = await client.post("/api/v1/endpoints", json=body, headers=auth)
        others = await client.post(
            "/api/v1/endpoints",
            json={**body, "recipient_id": "E-N1"},
            headers=auth,
        )
        manager_elsewhere = await client.post(
            "/api/v1/endpoints",
            json={**body, "recipient_kind": "manager", "recipient_id": "P-120101-N001"},
            headers=auth,
        )
        bad_urls = [
            await client.post("/api/v1/endpoints", json={**body, "address": url}, headers=auth)
            for url in ("https://xn--a.com/", "javascript:alert(1)", "https://u:p@h.cn/", "ftp://x")
        ]
    assert first.status_code == 201
    assert again.status_code == 409  # the secret is shown once, not on every POST
    assert again.json()["error"]["code"] == "endpoint_exists"
    assert "webhook_secret" not in again.text
    assert gone.status_code == 204
    assert renewed.status_code == 201
    assert renewed.json()["endpoint_id"] != first.json()["endpoint_id"]
    assert renewed.json()["webhook_secret"] != first.json()["webhook_secret"]
    assert others.status_code == 403
    assert manager_elsewhere.status_code == 403  # another enterprise's project
    assert [r.status_code for r in bad_urls] == [422, 422, 422, 422]


async def test_an_emergency_complaint_alerts_the_enterprise_once_on_every_channel_at_once(
    platform: Platform, sinks: tuple[MailSink, WebhookSink]
) -> None:
    """Someone trapped in a lift (issue 13): the enterprise gets exactly one notice, on its inbox,
    e-mail and webhook, even when the record is delivered twice; the district office is alerted
    too; a normal complaint brings the enterprise only its ordinary notice (complaint-new)."""
    mail, hooks = sinks
    rejected = hooks.rejected  # earlier tests of the module provoke rejections on purpose
    enterprise, project = "E-N9", "P-120101-N009"
    await enterprise_reachable_at(
        platform, hooks, project, enterprise, ("email", "duty@n9.cn"), ("webhook", "n9")
    )
    district = platform.token(Role.DISTRICT_OFFICE, district="120101")
    await add_endpoint(platform, hooks, district, ("district", "120101"), "email", "hp@n9.gov.cn")
    complaint = f"C-{uuid.uuid4().hex[:10]}"
    facts = {
        "project_id": project,
        "enterprise_id": enterprise,
        "district_code": "120101",
        "category": "elevator",
        "channel": "web",
        "filed_at": NOW,
        "ticket_no": "TS-20110820-009001",
    }
    # Exactly what the complaints service publishes for a lift entrapment (its e2e test checks
    # the record on Kafka): urgency stays "urgent" for subscribers that predate `tier`.
    trapped = complaints_v1.ComplaintFiled(
        complaint_id=complaint,
        urgency="urgent",
        tier="emergency",
        safety=["lift_entrapment"],
        **facts,
    )
    calm = complaints_v1.ComplaintFiled(
        complaint_id=f"C-{uuid.uuid4().hex[:10]}", urgency="normal", tier="normal", **facts
    )
    await publish(platform, calm)
    await publish(platform, trapped, times=2)  # the same record twice: at-least-once

    await eventually(lambda: _count_is(platform, complaint, 2))
    await eventually(lambda: deliveries_settled(platform, complaint))
    await asyncio.sleep(1.5)  # anything duplicated would have arrived by now
    assert await notices_about(platform, complaint) == 2  # the enterprise's and the district's
    await eventually(lambda: _count_is(platform, calm.complaint_id, 1))
    assert await _rules_about(platform, calm.complaint_id) == ["complaint-new"]
    assert await _rules_about(platform, complaint) == [
        "complaint-emergency-district",
        "complaint-urgent",
    ]
    deliveries = await deliveries_about(platform, complaint)
    assert sorted(d["channel"] for d in deliveries if d["recipient_kind"] == "enterprise") == [
        "email",
        "webhook",
    ]
    # the district's copy also goes to channels other tests of this module registered for it
    assert "hp@n9.gov.cn" in {d["address"] for d in deliveries if d["recipient_kind"] == "district"}
    for d in deliveries:
        if d["channel"] == "email":
            copies = [
                m for m in mail.to(d["address"]) if m["X-Wuye-Idempotency-Key"] == d["delivery_id"]
            ]
        else:
            copies = [a for a in hooks.arrivals if a.key == d["delivery_id"]]
        assert len(copies) == 1, d
    [alert] = [m for m in mail.to("duty@n9.cn") if "有人被困电梯" in str(m["Subject"])]
    assert "有人被困电梯" in str(alert["Subject"])
    body = alert.get_body(preferencelist=("plain",))
    assert body is not None
    assert "30 分钟" in body.get_content()
    [hook] = [a for a in hooks.at("n9") if a.payload["subject"]["id"] == complaint]
    assert hook.payload["title_zh"].startswith("【危及人身安全】")
    assert hooks.rejected == rejected

    token = platform.token(Role.ENTERPRISE, enterprise=enterprise)
    async with httpx.AsyncClient(base_url=platform.url("notifications")) as client:
        inbox = (
            await client.get("/api/v1/notices", headers={"Authorization": f"Bearer {token}"})
        ).json()
    # one notice per complaint in its inbox: the alert, and the calm complaint's ordinary notice
    assert sorted(n["subject_id"] for n in inbox) == sorted([complaint, calm.complaint_id])
    # Not on the public notices topic: the complaints topic is internal, and so are its alerts.
    records = await read_topic(
        platform.bootstrap,
        NOTIFICATIONS,
        until=lambda _rs: False,
        keep=lambda r: complaint.encode() in (r.value or b""),
        timeout=3,
    )
    assert [
        header(r, "ce_type") for r in records if "NoticeIssued" in (header(r, "ce_type") or "")
    ] == []


async def test_webhooks_to_internal_addresses_are_refused_at_registration(
    platform: Platform,
) -> None:
    """The attack run registered https://127.0.0.1/...; loopback (outside the allow-list),
    private, link-local, unique-local, CGNAT, multicast, unspecified and metadata addresses are
    refused with the reason, and a name that does not resolve too. Nothing is stored."""
    enterprise = "E-N6"
    await register_project(platform, "P-120101-N006", enterprise)
    auth = {"Authorization": f"Bearer {platform.token(Role.ENTERPRISE, enterprise=enterprise)}"}
    body = {"recipient_kind": "enterprise", "recipient_id": enterprise, "channel": "webhook"}
    refused = {
        "https://127.0.0.2/hook": "loopback address",
        "https://[::1]:8443/hook": "loopback address",
        "https://10.0.0.8/hook": "private address",
        "https://192.168.1.1/hook": "private address",
        "https://169.254.169.254/latest/meta-data/": "cloud metadata address",
        "https://[fd00:ec2::254]/latest/meta-data/": "cloud metadata address",
        "https://100.100.100.200/latest/meta-data/": "cloud metadata address",
        "https://[fe80::1]/hook": "link-local address",
        "https://[fd12::1]/hook": "unique-local address",
        "https://100.64.0.1/hook": "shared address space (CGNAT)",
        "https://224.0.0.1/hook": "multicast address",
        "https://0.0.0.0/hook": "unspecified address",
        "https://[::ffff:10.0.0.1]/hook": "private address",
    }
    async with httpx.AsyncClient(base_url=platform.url("notifications")) as client:
        for url, reason in refused.items():
            r = await client.post("/api/v1/endpoints", json={**body, "address": url}, headers=auth)
            assert r.status_code == 422, (url, r.text)
            error = r.json()["error"]
            assert error["code"] == "webhook_destination_refused", url
            assert [f["field"] for f in error["fields"]] == ["address"]
            assert error["message_en"].endswith(reason), (url, error)
            assert "回调地址不能指向" in error["message"]
        unknown = await client.post(
            "/api/v1/endpoints",
            json={**body, "address": "https://no-such-host.invalid/hook"},
            headers=auth,
        )
        assert unknown.status_code == 422
        assert unknown.json()["error"]["code"] == "webhook_host_unresolved"
    stored = await platform.count(
        "notifications", "SELECT count(*) FROM endpoints WHERE recipient_id = $1", enterprise
    )
    assert stored == 0
