"""A small exposed world for the board's end-to-end and browser tests: the exposure service as a
process on the real stack, fed through Kafka with what the other services would publish — two
projects late with their rectification and criticised (one with hostile names), one light case that
must never show, inspections, a survey. Returns when both cases are on the board."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from runtime import kafka
from schemas import catalog, cloudevents
from schemas.base import Event
from schemas.notifications import v1 as notifications
from schemas.registry import v1 as registry
from tests import factories
from tests.e2e.conftest import CAMPAIGN_TIME, Platform, start_platform, stop_platform

NOW = datetime.fromisoformat(CAMPAIGN_TIME)
PUBLIC_BASE_URL = "https://baoguang.example.gov.cn"
HOSTILE_PROJECT = "<script>alert('board')</script>南开新苑"
HOSTILE_ENTERPRISE = '<img src=x onerror="alert(1)">渤海物业'
PERSONAL_NOTE = "保安张三 13812345678 夜班睡岗"  # an inspector's note naming a person


@dataclass
class World:
    platform: Platform
    run: str
    projects: dict[str, str]  # label -> project id
    enterprises: dict[str, str]
    orders: dict[str, str]

    @property
    def url(self) -> str:
        return self.platform.url("exposure")


def _event(ce_type: str, **fields: Any) -> Event:
    return catalog.EVENT_TYPES[ce_type].model_validate(fields)


def _criticism(order_id: str, project_id: str, enterprise_id: str, district: str) -> Event:
    return notifications.NoticeIssued(
        notice_id=str(uuid.uuid4()),
        kind="criticism",
        rule_id="rectification-overdue-criticism",
        notice_no=f"{'和平区' if district == '120101' else '南开区'}物业通〔2011〕{order_id[-3:]}号",
        reason="rectification_overdue",
        subject_kind="rectification_order",
        subject_id=order_id,
        project_id=project_id,
        project_name="x",
        enterprise_id=enterprise_id,
        enterprise_name="x",
        district_code=district,
        recipients=(notifications.Recipient(kind="enterprise", id=enterprise_id, cc=False),),
        title_zh="通报批评",
        body_zh="正文",
        title_en="criticism",
        body_en="body",
        cause_event_id=str(uuid.uuid4()),
        cause_type="cn.tj.wuye.inspections.RectificationOverdue.v1",
        issued_at=NOW - timedelta(days=15),
    )


Ids = dict[str, str]


def world_events(run: str) -> tuple[list[Event], Ids, Ids, Ids]:
    p = {"a": f"P-120101-{run}A", "b": f"P-120104-{run}B", "c": f"P-120101-{run}C"}
    e = {"a": f"E-{run}A", "b": f"E-{run}B"}
    o = {"a": f"O-{run}-A01", "b": f"O-{run}-B02", "c": f"O-{run}-C03"}
    names = {"a": "海河花园", "b": HOSTILE_PROJECT, "c": "五大道公寓"}
    enterprise_names = {"a": "津城物业服务有限公司", "b": HOSTILE_ENTERPRISE}
    districts = {"a": ("120101", "和平区"), "b": ("120104", "南开区"), "c": ("120101", "和平区")}
    events: list[Event] = []
    for label in ("a", "b", "c"):
        ent = "a" if label == "c" else label
        code, dname = districts[label]
        events.append(
            registry.ProjectRegistered(
                project_id=p[label],
                project_name=names[label],
                address="天津市",
                district_code=code,
                district_name=dname,
                enterprise_id=e[ent],
                enterprise_name=enterprise_names[ent],
                service_grade="一级",
                occurred_at=NOW - timedelta(days=60),
            )
        )
        item = factories.ITEM.model_copy(update={"note": PERSONAL_NOTE})
        overdue = factories.rectification_overdue(
            p[label],
            o[label],
            project_name=names[label],
            enterprise_id=e[ent],
            enterprise_name=enterprise_names[ent],
            district_code=code,
            items=(item if label != "c" else item.model_copy(update={"severity": "general"}),),
            severity="urgent" if label != "c" else "general",
            detected_at=NOW - timedelta(days=20),
        )
        events.append(overdue)
        events.append(_criticism(o[label], p[label], e[ent], code))
        events.append(
            _event(
                "cn.tj.wuye.inspections.InspectionCompleted.v1",
                inspection_id=str(uuid.uuid4()),
                project_id=p[label],
                project_name=names[label],
                enterprise_id=e[ent],
                enterprise_name=enterprise_names[ent],
                district_code=code,
                kind="patrol",
                template_id="contract-self-inspection",
                template_version=1,
                score=62.0 if label != "c" else 91.0,
                pass_mark=80.0,
                inspected_at=NOW - timedelta(days=25),
                recorded_by="officer-1",
                passed=label == "c",
                failed_item_count=0 if label == "c" else 1,
            )
        )
    events.append(
        _event(
            "cn.tj.wuye.surveys.SurveyClosed.v1",
            survey_id=f"S-{run}",
            campaign_id="tj-2011",
            enterprise_id=e["a"],
            project_id=p["a"],
            district_code="120101",
            households=20,
            how="enterprise",
            responses=12,
            coverage=0.6,
            satisfaction_rate=0.75,
            means={"overall": 4.0},
            closed_at=NOW - timedelta(days=5),
        )
    )
    # 双随机: 和平区 drew its two projects before their patrols (results appear on /draws).
    events.append(
        _event(
            "cn.tj.wuye.inspections.PatrolsDrawn.v1",
            draw_id=f"D-120101-{run}",
            district_code="120101",
            drawn_at=NOW - timedelta(days=30),
            drawn_by="officer-1",
            algorithm="sha256-rank-v1",
            seed=f"{run.lower()}5eed0123456789abcdef",
            projects=[{"project_id": p[k], "enterprise_id": e["a"]} for k in ("a", "c")],
            excluded_project_ids=[],
            inspectors=[
                {"inspector_id": "I-101", "conflicts": []},
                {"inspector_id": "I-102", "conflicts": []},
            ],
            project_count=2,
            inspectors_per_project=1,
            exclusion_days=90,
            patrols=[
                {"patrol_id": f"T-{run}-{k}", "project_id": p[k], "project_name": names[k],
                 "enterprise_id": e["a"], "inspector_ids": [i]}
                for k, i in (("a", "I-101"), ("c", "I-102"))
            ],
            due_by=NOW - timedelta(days=16),
        )
    )  # fmt: skip
    return events, p, e, o


async def publish(bootstrap: str, events: list[Event]) -> None:
    producer = kafka.make_producer(bootstrap, client_id="test-exposure-world")
    await producer.start()
    try:
        for event in events:
            ce = cloudevents.from_event(event, source="/wuye/test")
            await producer.send_and_wait(
                event.topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
            )
    finally:
        await producer.stop()


async def _published(world: World) -> bool:
    """Both cases on the board, and every fact of the world folded in (the registry, inspection
    and survey topics are read by other consumers than the cases')."""
    ids = list(world.projects.values())
    checks = (
        ("SELECT count(*) FROM cases WHERE status = 'published' AND project_id = ANY($1::text[])",
         2),
        ("SELECT count(*) FROM projects WHERE project_id = ANY($1::text[])", 3),
        ("SELECT count(*) FROM inspection_facts WHERE project_id = ANY($1::text[])", 3),
        ("SELECT count(*) FROM survey_facts WHERE project_id = ANY($1::text[])", 1),
    )  # fmt: skip
    for sql, expected in checks:
        if await world.platform.count("exposure", sql, ids) != expected:
            return False
    draw = f"D-120101-{world.run}"
    return await world.platform.count("exposure", DRAWN, draw) == 1


DRAWN = "SELECT count(*) FROM draw_facts WHERE draw_id = $1"


async def build(stack: Any, tmp: Path) -> World:
    run = uuid.uuid4().hex[:6].upper()
    events, projects, enterprises, orders = world_events(run)
    platform = await asyncio.to_thread(
        start_platform,
        stack,
        tmp,
        ("exposure",),
        {"PUBLICATION_INTERVAL_S": "0.3", "PUBLIC_BASE_URL": PUBLIC_BASE_URL},
    )
    world = World(platform, run, projects, enterprises, orders)
    try:
        await publish(world.platform.bootstrap, events)
        deadline = asyncio.get_running_loop().time() + 60
        while not await _published(world):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("the cases were not published in time")
            await asyncio.sleep(0.3)
    except BaseException:
        # The fixture's teardown never runs when building fails: don't leave the process
        # running (a leftover consumer on the shared broker disturbs every later test).
        await asyncio.to_thread(stop_platform, platform)
        raise
    return world
