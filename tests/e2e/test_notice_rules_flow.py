"""Every rule of "nobody is left uninformed" on the real stack: the event travels over Kafka (twice:
an at-least-once redelivery of the very same record) and the notifications service, knowing the
recipients only from its own copies of events, gives the right recipient exactly one notice.

The complaint events of the SLA extension come from the complaints service over HTTP (asked,
refused, asked again, granted), and the SLA warning from its timed scan, run twice at the warning
point: each is one event on Kafka and one notice.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import asyncpg
import httpx
import pytest

from runtime import kafka
from runtime.auth import Role
from schemas import cloudevents
from schemas.base import Event
from services.complaints.entrypoints import jobs as complaint_jobs
from tests.e2e.conftest import Platform, eventually, start_platform, stop_platform
from tests.integration.conftest import header, read_topic
from tests.unit.test_notice_rules import SAMPLES

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PROJECT, ENTERPRISE, DISTRICT = "P-120101-0001", "E-0001", "120101"  # the registry seed's
COMPLAINTS = "wuye.complaints.events"


@pytest.fixture(scope="module")
def platform(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    # inspections publishes the registry seed that complaints and notifications copy
    p = start_platform(
        stack,
        tmp_path_factory.mktemp("notice-rules"),
        services=("inspections", "complaints", "notifications"),
    )
    yield p
    stop_platform(p)


async def registry_known(platform: Platform) -> bool:
    for service, table in (("notifications", "projects"), ("complaints", "complaint_projects")):
        n = await platform.count(
            service, f"SELECT count(*) FROM {table} WHERE project_id = $1", PROJECT
        )
        if n == 0:
            return False
    return True


async def publish_twice(platform: Platform, event: Event) -> cloudevents.CloudEvent:
    ce = cloudevents.from_event(event, source="/wuye/test", correlation_id=uuid.uuid4().hex)
    producer = kafka.make_producer(platform.bootstrap, client_id="test-notice-rules")
    await producer.start()
    try:
        for _ in range(2):
            await producer.send_and_wait(
                event.topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
            )
    finally:
        await producer.stop()
    return ce


async def copies(platform: Platform, sql_filter: str, arg: str) -> list[tuple[str, str, str]]:
    """(rule, recipient kind, recipient id) of every notice copy the filter selects."""
    conn = await asyncpg.connect(platform.dsns["notifications"])
    try:
        rows = await conn.fetch(
            f"""SELECT n.rule_id, c.recipient_kind, c.recipient_id
                  FROM notices n JOIN notice_copies c USING (notice_id)
                 WHERE {sql_filter} ORDER BY 1, 2, 3""",
            arg,
        )
    finally:
        await conn.close()
    return [(r["rule_id"], r["recipient_kind"], r["recipient_id"]) for r in rows]


async def settled(platform: Platform, sql_filter: str, arg: str, n: int) -> None:
    """Wait for `n` copies, then long enough for a duplicate to have shown up."""

    async def enough() -> bool:
        return len(await copies(platform, sql_filter, arg)) >= n

    await eventually(enough)
    await asyncio.sleep(1.5)


def fresh(rule_id: str) -> Event:
    """The rule's sample event about the seeded project, with subject ids of its own."""
    e = SAMPLES[rule_id]
    unique = uuid.uuid4().hex[:10]
    ids = {
        name: f"{name[:2].upper()}-{unique}"
        for name in (
            "complaint_id",
            "case_id",
            "order_id",
            "survey_id",
            "campaign_id",
            "facility_id",
        )
        if name in type(e).model_fields
    }
    return e.model_copy(update=ids)


async def file_as_owner(
    c: httpx.AsyncClient, platform: Platform, description: str, contact: tuple[str, str]
) -> httpx.Response:
    """An owner files a water complaint about the seeded project over the complaints API; the
    description gets a suffix of its own (no two tests' complaints read alike)."""
    name, phone = contact
    return await c.post(
        "/api/v1/complaints",
        headers={"Authorization": f"Bearer {platform.token(Role.OWNER)}"},
        json={
            "project_id": PROJECT,
            "category": "water",
            "description": f"{description} {uuid.uuid4().hex[:6]}",
            "answers": {"problem": "no_water"},
            "contact": {"name": name, "phone": phone},
        },
    )


ENT = ("enterprise", ENTERPRISE)
DIS = ("district", DISTRICT)
OWNER = ("owner", "owner-x")  # the subject of the test issuer's owner token


@pytest.mark.parametrize(
    ("rule_ids", "expected"),
    [
        (["complaint-new"], [("complaint-new", *ENT)]),
        (["complaint-sla-warning"], [("complaint-sla-warning", *ENT)]),
        (["complaint-transfer-escalated"], [("complaint-transfer-escalated", *DIS)]),
        (
            ["complaint-assigned"],
            [
                ("complaint-assigned", "enterprise", "E-0001"),
                ("complaint-assigned", "enterprise", "E-0003"),
            ],
        ),
        (["complaint-taken-over"], [("complaint-taken-over", *ENT)]),
        (["complaint-extension-requested"], [("complaint-extension-requested", *DIS)]),
        (["complaint-extension-decided"], [("complaint-extension-decided", *ENT)]),
        (["rectification-rejected-first"], [("rectification-rejected-first", *ENT)]),
        (["rectification-submitted-verify"], [("rectification-submitted-verify", *DIS)]),
        (["statutory-interval-missed"], [("statutory-interval-missed", *ENT)]),
        (["exposure-case-opened"], [("exposure-case-opened", *ENT)]),
        (
            ["exposure-review-enterprise"],
            [("exposure-review-district", *DIS), ("exposure-review-enterprise", *ENT)],
        ),
        (["survey-opened"], [("survey-opened", *ENT)]),
    ],
    ids=lambda v: v[0] if isinstance(v, list) and isinstance(v[0], str) else "",
)
async def test_the_right_recipient_gets_exactly_one_notice_when_the_event_comes_twice(
    platform: Platform, rule_ids: list[str], expected: list[tuple[str, str, str]]
) -> None:
    await eventually(lambda: registry_known(platform))
    ce = await publish_twice(platform, fresh(rule_ids[0]))
    await settled(platform, "n.cause_event_id = $1", ce.id, len(expected))
    assert await copies(platform, "n.cause_event_id = $1", ce.id) == expected


async def test_a_campaign_phase_reaches_every_enterprise_of_the_registry_once(
    platform: Platform,
) -> None:
    await eventually(lambda: registry_known(platform))
    ce = await publish_twice(platform, fresh("campaign-phase-started"))
    enterprises = await platform.count(
        "notifications", "SELECT count(DISTINCT enterprise_id) FROM projects"
    )
    await settled(platform, "n.cause_event_id = $1", ce.id, enterprises)
    got = await copies(platform, "n.cause_event_id = $1", ce.id)
    assert len(got) == enterprises >= 2
    assert {kind for _, kind, _ in got} == {"enterprise"}
    assert len({who for _, _, who in got}) == enterprises  # nobody twice
    assert ("campaign-phase-started", *ENT) in got
    assert (
        await platform.count(
            "notifications", "SELECT count(*) FROM notices WHERE cause_event_id = $1", ce.id
        )
        == 1
    )


async def complaint_events(platform: Platform, correlation_id: str, n: int) -> list[str]:
    records = await read_topic(
        platform.bootstrap,
        COMPLAINTS,
        until=lambda rs: len(rs) >= n,
        keep=lambda r: header(r, "ce_correlationid") == correlation_id,
    )
    return [(header(r, "ce_type") or "").split(".")[-2] for r in records]


async def test_an_extension_asked_refused_and_granted_over_http_is_an_event_and_a_notice(
    platform: Platform,
) -> None:
    await eventually(lambda: registry_known(platform))
    staff = {"Authorization": f"Bearer {platform.token(Role.ENTERPRISE, enterprise=ENTERPRISE)}"}
    office = {"Authorization": f"Bearer {platform.token(Role.DISTRICT_OFFICE, district=DISTRICT)}"}
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        filed = await file_as_owner(
            c, platform, "楼道水管漏水,请尽快维修", ("王女士", "13700000001")
        )
        assert filed.status_code == 201, filed.text
        cid = filed.json()["complaint_id"]
        accepted = await c.post(f"/api/v1/complaints/{cid}/accept", headers=staff)
        assert accepted.status_code == 200, accepted.text
        before = accepted.json()["completion_deadline"]

        async def step(path: str, body: dict[str, Any], who: dict[str, str]) -> dict[str, Any]:
            correlation = uuid.uuid4().hex
            r = await c.post(
                f"/api/v1/complaints/{cid}/{path}",
                json=body,
                headers={**who, "X-Correlation-ID": correlation},
            )
            assert r.status_code == 200, r.text
            return {"correlation": correlation, **r.json()}

        ask = {"working_days": 3, "reason": "需更换整段供水立管,配件周五到货"}
        asked = await step("extensions", ask, staff)
        refused = await step("extensions/decision", {"approve": False}, office)
        assert refused["completion_deadline"] == before
        asked_again = await step("extensions", ask, staff)
        granted = await step("extensions/decision", {"approve": True}, office)
        assert granted["completion_deadline"] > before
        # The office decides nothing that is not asked: a clear refusal, not a 500.
        nothing = await c.post(
            f"/api/v1/complaints/{cid}/extensions/decision", json={"approve": True}, headers=office
        )
        assert nothing.status_code == 409, nothing.text
        assert nothing.json()["error"]["code"] == "no_pending_extension"

    for done, kind in (
        (asked, "ComplaintExtensionRequested"),
        (refused, "ComplaintExtensionDecided"),
        (asked_again, "ComplaintExtensionRequested"),
        (granted, "ComplaintExtensionDecided"),
    ):
        assert await complaint_events(platform, done["correlation"], 1) == [kind]

    # Each step told its recipient once: the office twice (two requests), the enterprise of the
    # complaint at filing, at the refusal and at the grant (and the owner has the receipt).
    await settled(platform, "n.subject_id = $1", cid, 6)
    got = await copies(platform, "n.subject_id = $1", cid)
    assert got == sorted(
        [
            ("complaint-receipt", *OWNER),
            ("complaint-new", *ENT),
            ("complaint-extension-requested", *DIS),
            ("complaint-extension-requested", *DIS),
            ("complaint-extension-decided", *ENT),
            ("complaint-extension-decided", *ENT),
        ]
    )
    conn = await asyncpg.connect(platform.dsns["notifications"])
    try:
        titles = [
            r["title_zh"]
            for r in await conn.fetch(
                """SELECT title_zh FROM notices WHERE subject_id = $1
                    AND rule_id = 'complaint-extension-decided' ORDER BY issued_at""",
                cid,
            )
        ]
        new = await conn.fetchval(
            "SELECT body_zh FROM notices WHERE subject_id = $1 AND rule_id = 'complaint-new'", cid
        )
    finally:
        await conn.close()
    assert [("未获批准" in t, "已批准" in t) for t in titles] == [(True, False), (False, True)]
    assert "最迟于" in new  # the acceptance deadline, from the HTTP filing
    assert "前签收" in new


async def test_the_sla_scan_warns_once_before_the_breach_and_the_enterprise_is_told_once(
    platform: Platform,
) -> None:
    await eventually(lambda: registry_known(platform))
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        filed = await file_as_owner(c, platform, "地下室积水无人处理", ("赵先生", "13700000002"))
    assert filed.status_code == 201, filed.text
    cid = filed.json()["complaint_id"]
    pool = await asyncpg.create_pool(platform.dsns["complaints"], min_size=1, max_size=4)
    try:
        async with pool.acquire() as conn:
            warn_at = await conn.fetchval(
                "SELECT next_due FROM complaints WHERE complaint_id = $1", cid
            )
        assert isinstance(warn_at, datetime)
        deadline = datetime.fromisoformat(filed.json()["acceptance_deadline"])
        assert warn_at < deadline  # the next thing due is the warning, before the breach
        # Two replicas' timers at the warning point, then a third: one warning.
        await asyncio.gather(
            complaint_jobs.sla_job(pool, warn_at), complaint_jobs.sla_job(pool, warn_at)
        )
        await complaint_jobs.sla_job(pool, warn_at)
    finally:
        await pool.close()

    await settled(platform, "n.subject_id = $1", cid, 3)
    assert await copies(platform, "n.subject_id = $1", cid) == [
        ("complaint-new", *ENT),
        ("complaint-receipt", *OWNER),
        ("complaint-sla-warning", *ENT),
    ]
    warnings = await platform.count(
        "notifications",
        "SELECT count(*) FROM notices WHERE subject_id = $1 AND cause_type LIKE '%Warning.v1'",
        cid,
    )
    assert warnings == 1


async def test_transfer_ping_pong_reaches_the_district_office_which_assigns_the_complaint(
    platform: Platform,
) -> None:
    await eventually(lambda: registry_known(platform))
    staff = {"Authorization": f"Bearer {platform.token(Role.ENTERPRISE, enterprise=ENTERPRISE)}"}
    office = {"Authorization": f"Bearer {platform.token(Role.DISTRICT_OFFICE, district=DISTRICT)}"}
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        filed = await file_as_owner(c, platform, "二次供水水箱有异味", ("钱女士", "13700000003"))
        assert filed.status_code == 201, filed.text
        cid = filed.json()["complaint_id"]
        assert (await c.post(f"/api/v1/complaints/{cid}/accept", headers=staff)).status_code == 200
        early = await c.post(
            f"/api/v1/complaints/{cid}/assignment",
            json={"to_org": ENTERPRISE, "reason": "由首问企业办理"},
            headers=office,
        )
        assert early.status_code == 409, early.text  # nothing escalated yet
        assert early.json()["error"]["code"] == "not_escalated"
        escalated = None
        for org in ("E-water-co", ENTERPRISE, "E-water-co", ENTERPRISE):
            r = await c.post(
                f"/api/v1/complaints/{cid}/transfer",
                json={"to_org": org, "reason": "非本单位职责"},
                headers=staff,
            )
            assert r.status_code == 200, r.text
            if r.json()["escalated_at"] is not None:
                escalated = r.json()
                break
        assert escalated is not None
        assigned = await c.post(
            f"/api/v1/complaints/{cid}/assignment",
            json={"to_org": "E-water-co", "reason": "供水设施属供水公司,指定其办理"},
            headers=office,
        )
        assert assigned.status_code == 200, assigned.text
        assert assigned.json()["handling_org"] == "E-water-co"
        assert assigned.json()["assignment"]["by"] == "district_office-120101"
        again = await c.post(
            f"/api/v1/complaints/{cid}/transfer",
            json={"to_org": ENTERPRISE, "reason": "再转回去"},
            headers=staff,
        )
        assert again.status_code == 422, again.text
        assert again.json()["error"]["code"] == "assigned_by_district"

    await settled(platform, "n.subject_id = $1", cid, 5)
    assert await copies(platform, "n.subject_id = $1", cid) == [
        ("complaint-assigned", "enterprise", "E-0001"),  # copied: first-inquiry responsibility
        ("complaint-assigned", "enterprise", "E-water-co"),
        ("complaint-new", *ENT),
        ("complaint-receipt", *OWNER),
        ("complaint-transfer-escalated", *DIS),
    ]
