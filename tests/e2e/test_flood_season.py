"""The flood season (汛期) on the real stack (issue 16): the flood-prevention checklist recorded
over HTTP travels over Kafka to rectification orders, notices and the exposure facts like any
inspection; an owner's roof leak or blocked downpipe is urgent inside the season and normal outside
it, the filing instant in China time deciding, on each side of both boundaries.

The business clock of the processes is moved with the control file the demo uses
(runtime.scheduler.ControlledClock), always forwards.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from runtime.auth import Role
from runtime.scheduler import SimulatedClock, read_segments, write_segments
from tests.e2e.conftest import (
    FAILED_INSPECTION,
    Platform,
    eventually,
    owner_files,
    start_platform,
    stop_platform,
)
from tests.integration.conftest import header, read_topic

pytestmark = [pytest.mark.integration, pytest.mark.e2e]

PROJECT, ENTERPRISE, DISTRICT = "P-120101-0001", "E-0001", "120101"  # the registry seed's
INSPECTIONS, COMPLAINTS = "wuye.inspections.events", "wuye.complaints.events"
FLOOD_ITEMS = (
    "flood.roof_inspected",
    "flood.roof_leak",
    "flood.drainage_inspected",
    "flood.downpipe_blocked",
    "flood.pumps",
    "flood.materials",
    "flood.emergency_team",
    "flood.duty_roster",
    "flood.plan",
)
FAILED = {
    "flood.roof_leak": "5 号楼顶层屋面漏雨，雨水渗入楼道",
    "flood.downpipe_blocked": "3 号楼东侧雨水管堵塞，雨水外溢",
}


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flood-clock") / "clock.json"


@pytest.fixture(scope="module")
def platform(
    stack: Any, tmp_path_factory: pytest.TempPathFactory, clock_file: Path
) -> Iterator[Platform]:
    p = start_platform(
        stack,
        tmp_path_factory.mktemp("flood"),
        services=("inspections", "complaints", "notifications", "exposure"),
        extra_env={"CLOCK_CONTROL_FILE": str(clock_file)},
    )
    yield p
    stop_platform(p)


def set_clock(path: Path, business: datetime) -> None:
    """From a second from now on, every process's business time runs from `business`, slowly
    (a tenth of real speed), so a filing a loaded machine takes seconds over stays on its day."""
    anchor = datetime.now(UTC) + timedelta(seconds=1)
    segments = list(read_segments(path)) if path.exists() else []
    write_segments(path, [*segments, SimulatedClock(start=business, anchor=anchor, speed=0.1)])


async def registry_known(platform: Platform) -> bool:
    for service, table in (
        ("notifications", "projects"),
        ("complaints", "complaint_projects"),
    ):
        n = await platform.count(
            service, f"SELECT count(*) FROM {table} WHERE project_id = $1", PROJECT
        )
        if n == 0:
            return False
    return True


async def copies(platform: Platform, subject_id: str) -> list[tuple[str, str, str]]:
    """(rule, recipient kind, recipient id) of every notice copy about `subject_id`."""
    conn = await asyncpg.connect(platform.dsns["notifications"])
    try:
        rows = await conn.fetch(
            """SELECT n.rule_id, c.recipient_kind, c.recipient_id
                 FROM notices n JOIN notice_copies c USING (notice_id)
                WHERE n.subject_id = $1 ORDER BY 1, 2, 3""",
            subject_id,
        )
    finally:
        await conn.close()
    return [(r["rule_id"], r["recipient_kind"], r["recipient_id"]) for r in rows]


async def test_a_flood_season_patrol_runs_to_orders_notices_and_exposure(
    platform: Platform,
) -> None:
    await eventually(lambda: registry_known(platform))
    officer = platform.token(Role.DISTRICT_OFFICE, district=DISTRICT)
    corr = f"flood-{uuid.uuid4().hex[:8]}"
    body = {
        "project_id": PROJECT,
        "kind": "patrol",
        "template_id": "flood-season",
        "inspected_at": "2011-07-25T09:30:00+08:00",
        "results": [
            {"item_id": i, "result": "fail", "note": FAILED[i]}
            if i in FAILED
            else {"item_id": i, "result": "pass"}
            for i in FLOOD_ITEMS
        ],
    }
    async with httpx.AsyncClient(
        base_url=platform.url("inspections"),
        headers={"Authorization": f"Bearer {officer}"},
        timeout=20,
    ) as c:
        r = await c.post("/api/v1/inspections", json=body, headers={"X-Correlation-ID": corr})
        assert r.status_code == 201, r.text
        inspection = r.json()
        assert (inspection["template_id"], inspection["passed"]) == ("flood-season", False)
        listed = (await c.get("/api/v1/rectifications", params={"limit": 500})).json()
    orders = {
        o["items"][0]["item_id"]: o
        for o in listed
        if o["inspection_id"] == inspection["inspection_id"]
    }
    # a roof leak and a blocked downpipe are urgent items: each its own urgent order
    assert sorted(orders) == sorted(FAILED)
    assert {o["severity"] for o in orders.values()} == {"urgent"}

    iid = inspection["inspection_id"]
    records = await read_topic(
        platform.bootstrap,
        INSPECTIONS,
        until=lambda rs: len(rs) >= 4,
        keep=lambda r: (header(r, "ce_correlationid") or "") == corr,
    )
    kinds = sorted((header(r, "ce_type") or "").split(".")[-2] for r in records)
    assert kinds == [
        "InspectionCompleted",
        "InspectionFailed",
        "RectificationOrdered",
        "RectificationOrdered",
    ]
    failed = next(
        json.loads(r.value) for r in records if "InspectionFailed" in str(header(r, "ce_type"))
    )
    assert failed["template_id"] == "flood-season"
    assert failed["service_grade"] is None  # the flood checks serve every grade
    assert sorted((i["item_id"], i["severity"]) for i in failed["failed_items"]) == [
        (item, "urgent") for item in sorted(FAILED)
    ]

    # Downstream as for any inspection: exposure keeps the evidence and the inspection's fact,
    # notifications tells the enterprise once about the failure and once per order... as its
    # rules say (rules.toml: inspection-failed -> enterprise and manager).
    async def exposure_has_it() -> bool:
        facts = await platform.count(
            "exposure",
            "SELECT count(*) FROM inspection_facts WHERE inspection_id = $1 AND NOT passed",
            iid,
        )
        evidence = await platform.count(
            "exposure", "SELECT count(*) FROM evidence WHERE inspection_id = $1", iid
        )
        return facts == 1 and evidence == 1

    await eventually(exposure_has_it)

    async def told() -> bool:
        return any(rule == "inspection-failed" for rule, *_ in await copies(platform, iid))

    await eventually(told)
    got = await copies(platform, iid)
    assert ("inspection-failed", "enterprise", ENTERPRISE) in got
    assert len(got) == len(set(got))  # exactly one notice per recipient


async def file_repair(platform: Platform, facility: str) -> dict[str, Any]:
    return await owner_files(
        platform,
        {
            "project_id": PROJECT,
            "category": "repair",
            "description": f"下雨时{'顶层屋面漏雨' if facility == 'roof_leak' else '雨水管堵塞外溢'}，"
            f"请尽快维修 {uuid.uuid4().hex[:6]}",
            "answers": {"facility": facility},
            "contact": {"name": "赵女士", "phone": "13700000002"},
        },
    )


# (business instant the clock is set to, facility, expected tier). The instants are given in
# UTC on purpose where the UTC day and the China day differ: China time decides.
BOUNDARIES = [
    (datetime(2011, 9, 30, 15, 58, tzinfo=UTC), "roof_leak", "urgent"),  # 9-30 23:58 CST
    (datetime(2011, 9, 30, 16, 1, tzinfo=UTC), "roof_leak", "normal"),  # 10-01 00:01 CST
    (datetime(2011, 10, 1, 2, 0, tzinfo=UTC), "downpipe", "normal"),
    (datetime(2012, 5, 31, 15, 58, tzinfo=UTC), "downpipe", "normal"),  # 5-31 23:58 CST
    (datetime(2012, 5, 31, 16, 1, tzinfo=UTC), "downpipe", "urgent"),  # 6-01 00:01 CST
    (datetime(2012, 6, 1, 2, 0, tzinfo=UTC), "roof_leak", "urgent"),
]


async def test_a_roof_leak_or_blocked_downpipe_is_urgent_only_in_the_flood_season(
    platform: Platform, clock_file: Path
) -> None:
    await eventually(lambda: registry_known(platform))
    filed: dict[str, tuple[datetime, str]] = {}
    for at, facility, expected in BOUNDARIES:
        set_clock(clock_file, at)
        await _after_anchor()
        complaint = await file_repair(platform, facility)
        filed[complaint["complaint_id"]] = (at, expected)

    records = await read_topic(
        platform.bootstrap,
        COMPLAINTS,
        until=lambda rs: len(rs) >= len(filed),
        keep=lambda r: (
            (r.key or b"").decode() in filed
            and (header(r, "ce_type") or "").endswith("ComplaintFiled.v1")
        ),
    )
    assert len(records) == len(filed)
    for r in records:
        e = json.loads(r.value)
        at, expected = filed[e["complaint_id"]]
        # filed on the business day the clock was set to, seconds after it
        filed_at = datetime.fromisoformat(e["filed_at"])
        assert timedelta(0) <= filed_at - at < timedelta(minutes=2), (at, filed_at)
        season = ["flood_roof_drainage"] if expected == "urgent" else []
        assert (e["urgency"], e["tier"], e["safety"]) == (expected, expected, season), (at, e)

    # The enterprise is told at once of the urgent ones, and of the others as a new complaint.
    for cid, (_, expected) in filed.items():
        rule = "complaint-urgent" if expected == "urgent" else "complaint-new"

        async def notified(cid: str = cid, rule: str = rule) -> bool:
            return (rule, "enterprise", ENTERPRISE) in await copies(platform, cid)

        await eventually(notified)
        got = await copies(platform, cid)
        assert [c for c in got if c[1] == "enterprise"] == [(rule, "enterprise", ENTERPRISE)]


async def _after_anchor() -> None:
    """Wait past the new segment's anchor and the processes' re-read of the control file."""
    await asyncio.sleep(1.5)


CONTRACT_ITEMS = [i["item_id"] for i in FAILED_INSPECTION["results"]]


async def test_a_self_inspection_is_judged_against_the_contracted_grade(
    platform: Platform,
) -> None:
    """海河花园 (P-120101-0001) is contracted at 一级: its enterprise self-inspects with the 一级
    checklist; another grade's is refused with the reason and writes nothing; the event says
    which grade judged it."""
    await eventually(lambda: registry_known(platform))
    enterprise = platform.token(Role.ENTERPRISE, enterprise=ENTERPRISE)

    def body(template_id: str) -> dict[str, Any]:
        return {
            "project_id": PROJECT,
            "kind": "self",
            "template_id": template_id,
            "inspected_at": "2011-08-19T09:30:00+08:00",
            "results": [
                {"item_id": i, "result": "fail", "note": "垃圾每日只清运一次"}
                if i == "waste.daily"
                else {"item_id": i, "result": "pass"}
                for i in CONTRACT_ITEMS
            ],
        }

    async with httpx.AsyncClient(
        base_url=platform.url("inspections"),
        headers={"Authorization": f"Bearer {enterprise}"},
        timeout=20,
    ) as c:
        wrong = f"grade-{uuid.uuid4().hex[:8]}"
        r = await c.post(
            "/api/v1/inspections",
            json=body("contract-grade-2"),
            headers={"X-Correlation-ID": wrong},
        )
        assert r.status_code == 409, r.text
        error = r.json()["error"]
        assert error["code"] == "wrong_service_grade"
        assert [f["field"] for f in error["fields"]] == ["template_id"]
        assert "合同约定为一级" in error["message"]
        assert "contracted at 一级" in error["message_en"]
        right = f"grade-{uuid.uuid4().hex[:8]}"
        r = await c.post(
            "/api/v1/inspections",
            json=body("contract-grade-1"),
            headers={"X-Correlation-ID": right},
        )
        assert r.status_code == 201, r.text
    assert (
        await platform.count(
            "inspections", "SELECT count(*) FROM outbox WHERE correlation_id = $1", wrong
        )
        == 0
    )
    records = await read_topic(
        platform.bootstrap,
        INSPECTIONS,
        until=lambda rs: len(rs) >= 2,
        keep=lambda r: (
            (header(r, "ce_correlationid") or "") == right
            and "Inspection" in (header(r, "ce_type") or "").split(".")[-2]
        ),
    )
    events = [json.loads(r.value) for r in records]
    assert sorted((e["template_id"], e["service_grade"]) for e in events) == [
        ("contract-grade-1", "一级"),
        ("contract-grade-1", "一级"),
    ]
