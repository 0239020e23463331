"""Patrols by random draw (双随机、一公开) on the real PostgreSQL and Kafka: a district office's
draw is stored with its patrols (origin random_draw) and published once as PatrolsDrawn, whose
payload alone lets anyone re-run the draw; scope, bad input and too few inspectors answer
clearly and write nothing."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from runtime import db
from runtime.auth import DevIssuer, Principal, Role
from runtime.scheduler import SystemClock
from runtime.service import build_app
from runtime.unit_of_work import Delivered
from schemas import cloudevents
from schemas.inspections import v1 as inspections
from services.exposure import bootstrap as exposure_bootstrap
from services.exposure import subscriptions as exposure_subscriptions
from services.exposure.adapters import policy_file
from services.exposure.adapters.postgres import PgExposureUnitOfWork
from services.exposure.entrypoints import board as board_pages
from services.exposure.entrypoints import board_api
from services.exposure.settings import ExposureSettings
from services.inspections.adapters.registry_tables import PgProjects
from services.inspections.domain.patrol_draw import DrawInputs, DrawProject, Inspector, draw
from services.inspections.domain.project_registry import ProjectFacts
from services.inspections.entrypoints import draws_http
from tests.asgi import served
from tests.inspections_support import api_spec, inspections_settings
from tests.integration.conftest import read_topic
from tests.workspace_support import fetch_rows

pytestmark = pytest.mark.integration
TOPIC = DRAWS_TOPIC = "wuye.inspections.draws"
EXPOSURE_POLICY = policy_file.load(Path("services/exposure/data/publication.toml"))
ROSTER: list[dict[str, Any]] = [
    {"inspector_id": "I-101", "name": "王检查", "conflicts": ["E-0001"]},
    {"inspector_id": "I-102", "name": "李检查", "conflicts": []},
    {"inspector_id": "I-103", "name": "赵检查", "conflicts": ["P-120101-0005"]},
    {"inspector_id": "I-104", "name": "钱检查", "conflicts": []},
]


class Api:
    def __init__(
        self, client: httpx.AsyncClient, issuer: DevIssuer, db_url: str, bootstrap: str
    ) -> None:
        self.client, self.issuer, self.db_url, self.bootstrap = client, issuer, db_url, bootstrap

    def auth(self, role: Role, district: str | None = None) -> dict[str, str]:
        who = Principal(f"{role.value}-{district or 'x'}", role, district_code=district)
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await fetch_rows(self.db_url, sql, *args)


@pytest.fixture
async def api(fresh_db: str, kafka_topics: str) -> AsyncIterator[Api]:
    issuer = DevIssuer.generate()
    settings = inspections_settings(fresh_db, kafka_topics, issuer)
    spec = api_spec(settings, title="patrol draws test", routers=(draws_http.router,))
    async with served(build_app(spec, settings)) as client:
        conn = await asyncpg.connect(fresh_db)
        try:
            async with conn.transaction():
                for n in range(3, 11):  # 和平区 gets 10 projects in all
                    await PgProjects(conn).upsert(
                        ProjectFacts(
                            project_id=f"P-120101-{n:04d}",
                            project_name=f"抽查测试小区{n}",
                            address=f"和平区测试路{n}号",
                            district_code="120101",
                            district_name="和平区",
                            enterprise_id=f"E-000{n % 3 + 1}",
                            enterprise_name="测试物业",
                            service_grade="二级",
                        )
                    )
        finally:
            await conn.close()
        yield Api(client, issuer, fresh_db, kafka_topics)


async def test_a_draw_is_stored_published_once_and_reproducible(api: Api) -> None:
    heping = api.auth(Role.DISTRICT_OFFICE, "120101")
    body = {"inspectors": ROSTER, "project_count": 4, "exclusion_days": 30}
    response = await api.client.post("/api/v1/patrol-draws", json=body, headers=heping)
    assert response.status_code == 201, response.text
    drawn = response.json()
    assert drawn["district_code"] == "120101"
    assert drawn["algorithm"] == "sha256-rank-v1"
    assert len(drawn["seed"]) == 32
    assert drawn["verified"] is True
    assert len(drawn["patrols"]) == 4
    for p in drawn["patrols"]:
        assert len(p["inspector_ids"]) == 2
        assert p["project_id"].startswith("P-120101-")
        if p["enterprise_id"] == "E-0001":
            assert "I-101" not in p["inspector_ids"]

    rows = await api.fetch(
        "SELECT project_id, origin, draw_id, inspector_ids, status FROM scheduled_patrols"
    )
    assert {r["project_id"] for r in rows} == {p["project_id"] for p in drawn["patrols"]}
    assert {(r["origin"], r["draw_id"], r["status"]) for r in rows} == {
        ("random_draw", drawn["draw_id"], "open")
    }

    records = await read_topic(
        api.bootstrap,
        TOPIC,
        until=lambda rs: False,
        timeout=8.0,
        keep=lambda r: r.key == drawn["draw_id"].encode(),
    )
    assert len(records) == 1, "published exactly once"
    event = cloudevents.decode(
        cloudevents.from_kafka(records[0].key, records[0].value, records[0].headers)
    )
    assert isinstance(event, inspections.PatrolsDrawn)
    assert event.seed == drawn["seed"]
    assert all(not hasattr(i, "name") for i in event.inspectors)  # staff ids only
    # Anyone with the published event re-runs the draw and gets the same patrols.
    rerun = draw(
        DrawInputs(
            district_code=event.district_code,
            projects=tuple(DrawProject(p.project_id, p.enterprise_id) for p in event.projects),
            recently_inspected=frozenset(event.excluded_project_ids),
            inspectors=tuple(
                Inspector(i.inspector_id, i.inspector_id, frozenset(i.conflicts))
                for i in event.inspectors
            ),
            project_count=event.project_count,
            inspectors_per_project=event.inspectors_per_project,
            exclusion_days=event.exclusion_days,
            seed=event.seed,
        )
    )
    assert [(a.project_id, list(a.inspector_ids)) for a in rerun.assignments] == [
        (p.project_id, p.inspector_ids) for p in event.patrols
    ]

    # A second draw excludes the projects whose patrols are open.
    again = await api.client.post("/api/v1/patrol-draws", json=body, headers=heping)
    assert again.status_code == 201, again.text
    first = {p["project_id"] for p in drawn["patrols"]}
    assert first.isdisjoint(p["project_id"] for p in again.json()["patrols"])
    assert first <= set(again.json()["inputs"]["excluded_project_ids"])

    shown = await api.client.get(f"/api/v1/patrol-draws/{drawn['draw_id']}", headers=heping)
    assert shown.status_code == 200
    assert {p["status"] for p in shown.json()["patrols"]} == {"open"}
    listed = await api.client.get("/api/v1/patrol-draws", headers=heping)
    assert [d["draw_id"] for d in listed.json()] == [again.json()["draw_id"], drawn["draw_id"]]


async def test_scope_and_refusals_write_nothing(api: Api) -> None:
    heping = api.auth(Role.DISTRICT_OFFICE, "120101")
    nankai = api.auth(Role.DISTRICT_OFFICE, "120104")
    city = api.auth(Role.CITY_OFFICE)
    body = {"inspectors": ROSTER, "project_count": 2}

    refused = await api.client.post("/api/v1/patrol-draws", json=body, headers=city)
    assert refused.status_code == 403

    too_few = {"inspectors": ROSTER[:1], "project_count": 2}
    response = await api.client.post("/api/v1/patrol-draws", json=too_few, headers=heping)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "draw_not_enough_inspectors"
    assert error["fields"][0]["field"] == "inspectors"
    assert "检查人员" in error["message"]

    too_many = {"inspectors": ROSTER, "project_count": 11}
    response = await api.client.post("/api/v1/patrol-draws", json=too_many, headers=heping)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "draw_not_enough_projects"

    bad = await api.client.post(
        "/api/v1/patrol-draws", json={"inspectors": [], "project_count": 2}, headers=heping
    )
    assert bad.status_code == 422
    for avoid in ([""], ["E 1"]):  # found by the stateful fuzz: an empty one was a 500
        inspectors = [{**ROSTER[0], "conflicts": avoid}, *ROSTER[1:]]
        bad = await api.client.post(
            "/api/v1/patrol-draws",
            json={"inspectors": inspectors, "project_count": 2},
            headers=heping,
        )
        assert bad.status_code == 422, bad.text
        assert "conflicts" in bad.json()["error"]["fields"][0]["field"]

    assert await api.fetch("SELECT 1 FROM patrol_draws") == []
    assert await api.fetch("SELECT 1 FROM scheduled_patrols") == []
    assert await api.fetch("SELECT 1 FROM outbox WHERE event_type LIKE '%PatrolsDrawn%'") == []

    made = await api.client.post("/api/v1/patrol-draws", json=body, headers=heping)
    assert made.status_code == 201
    hidden = await api.client.get(f"/api/v1/patrol-draws/{made.json()['draw_id']}", headers=nankai)
    assert hidden.status_code == 404
    assert (await api.client.get("/api/v1/patrol-draws", headers=nankai)).json() == []
    seen = await api.client.get(f"/api/v1/patrol-draws/{made.json()['draw_id']}", headers=city)
    assert seen.status_code == 200


@pytest.fixture
async def board(db_factory: Callable[[], str], kafka_topics: str) -> AsyncIterator[Board]:
    """The exposure service's public board with its draws consumer (its own group) on Kafka."""
    settings = ExposureSettings(
        database_url=db_factory(),
        kafka_bootstrap_servers=kafka_topics,
        consumer_group_prefix=f"t{uuid.uuid4().hex[:8]}.",
    )
    draws_group = next(g for g in exposure_subscriptions.GROUPS if g.topic == DRAWS_TOPIC)
    spec = dataclasses.replace(
        exposure_bootstrap.spec(settings),
        routers=(board_pages.router, board_api.api),
        consumers=(draws_group.consumer(),),
        jobs=(),
        sign_in=False,
    )
    async with served(build_app(spec, settings)) as client:
        yield Board(client, settings.database_url)


@dataclasses.dataclass
class Board:
    client: httpx.AsyncClient
    db_url: str


async def test_the_board_publishes_the_draw_and_later_its_results(api: Api, board: Board) -> None:
    heping = api.auth(Role.DISTRICT_OFFICE, "120101")
    body = {"inspectors": ROSTER, "project_count": 3}
    drawn = (await api.client.post("/api/v1/patrol-draws", json=body, headers=heping)).json()

    async def shown() -> str:
        for _ in range(120):
            page = await board.client.get("/draws")
            assert page.status_code == 200
            if drawn["seed"] in page.text:
                return page.text
            await asyncio.sleep(0.5)
        raise AssertionError("the draw did not reach the board")

    text = await shown()
    assert drawn["draw_id"] in text
    for p in drawn["patrols"]:
        assert p["project_name"] in text
        assert "、".join(p["inspector_ids"]) in text
    assert "待巡查" in text
    assert all(r["name"] not in text for r in ROSTER)  # names never leave the inspections service

    # the same, as JSON for other sites: what the page shows, no more
    listed = (await board.client.get("/api/v1/board/draws")).json()["draws"]
    [public] = [d for d in listed if d["draw_id"] == drawn["draw_id"]]
    assert set(public) == {
        "draw_id", "district_code", "district_name", "drawn_at", "seed", "algorithm",
        "candidate_count", "excluded_count", "inspector_count", "inspectors_per_project",
        "due_by", "patrols",
    }  # fmt: skip
    assert (public["seed"], public["inspector_count"], public["candidate_count"]) == (
        drawn["seed"],
        len(ROSTER),
        len(drawn["inputs"]["projects"]),
    )
    assert [(p["project_name"], p["inspector_ids"], p["outcome"]) for p in public["patrols"]] == [
        (p["project_name"], p["inspector_ids"], None) for p in drawn["patrols"]
    ]
    raw = json.dumps(listed, ensure_ascii=False)
    assert all(r["name"] not in raw for r in ROSTER)
    assert "conflicts" not in raw

    # The patrol's result arrives as the InspectionCompleted the board already consumes.
    first = drawn["patrols"][0]
    done = inspections.InspectionCompleted(
        inspection_id="I-draw-1",
        project_id=first["project_id"],
        project_name=first["project_name"],
        enterprise_id=first["enterprise_id"],
        enterprise_name="测试物业",
        district_code="120101",
        kind="patrol",
        template_id="contract-self-inspection",
        template_version=1,
        score=92.0,
        pass_mark=80.0,
        passed=True,
        failed_item_count=0,
        inspected_at=datetime.fromisoformat(drawn["drawn_at"]) + timedelta(days=1),
        recorded_by="I-102",
    )
    handle = next(
        g.replay()[done.ce_type]
        for g in exposure_subscriptions.GROUPS
        if done.ce_type in g.replay()
    )
    pool = await db.create_pool(board.db_url, max_size=1)
    try:
        unit = PgExposureUnitOfWork(
            None, source="/wuye/exposure", clock=SystemClock(), policy=EXPOSURE_POLICY
        )
        async with pool.acquire() as conn, conn.transaction():
            await handle(
                unit.joined(conn), [Delivered(done, cloudevents.from_event(done, source="/t"))]
            )
    finally:
        await pool.close()
    page = await board.client.get("/draws")
    assert "合格（92" in page.text
    english = await board.client.get("/draws?lang=en")
    assert "Passed" in english.text
    assert drawn["seed"] in english.text


async def test_a_district_keeps_a_roster_the_draw_uses_and_records(api: Api) -> None:
    """The roster (issue 16): a district office adds and deactivates its inspectors; a draw given
    no inspectors sends the active ones and copies them into its inputs, so deactivating someone
    later leaves the draw's re-run as it was."""
    heping = api.auth(Role.DISTRICT_OFFICE, "120101")
    nankai = api.auth(Role.DISTRICT_OFFICE, "120104")
    city = api.auth(Role.CITY_OFFICE)
    enterprise = {
        "Authorization": "Bearer "
        + api.issuer.issue(Principal("e", Role.ENTERPRISE, enterprise_id="E-0001"))
    }
    roster_url = "/api/v1/draw-roster"
    empty = await api.client.post("/api/v1/patrol-draws", json={"project_count": 2}, headers=heping)
    assert (empty.status_code, empty.json()["error"]["code"]) == (422, "draw_roster_empty")
    assert empty.json()["error"]["fields"][0]["field"] == "inspectors"

    for entry in [*ROSTER, {"inspector_id": "I-105", "name": "孙检查", "conflicts": []}]:
        added = await api.client.post(roster_url, json=entry, headers=heping)
        assert added.status_code == 201, added.text
    assert added.json()["active"] is True
    again = await api.client.post(roster_url, json=ROSTER[0], headers=heping)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "roster_inspector_exists")
    for bad, field in [
        ({"inspector_id": "I 1", "name": "甲"}, "inspector_id"),
        ({"inspector_id": "I-9", "name": "  "}, "name"),
        ({"inspector_id": "I-9", "name": "甲", "conflicts": ["E 1"]}, "conflicts"),
    ]:
        refused = await api.client.post(roster_url, json=bad, headers=heping)
        assert refused.status_code == 422, (bad, refused.text)
        assert field in refused.json()["error"]["fields"][0]["field"]
    # scope: the city reads every district's roster and keeps none; others read nothing
    assert (await api.client.post(roster_url, json=ROSTER[0], headers=city)).status_code == 403
    assert (await api.client.get(roster_url, headers=enterprise)).status_code == 403
    assert (
        await api.client.post(roster_url, json=ROSTER[0], headers=enterprise)
    ).status_code == 403
    other = await api.client.get(roster_url, params={"district_code": "120101"}, headers=nankai)
    assert other.status_code == 403
    assert (await api.client.get(roster_url, headers=nankai)).json() == []
    away = await api.client.post(f"{roster_url}/I-101/deactivate", headers=nankai)
    assert away.status_code == 404  # not on 南开区's roster
    listed = (await api.client.get(roster_url, headers=city)).json()
    assert [(e["district_code"], e["inspector_id"]) for e in listed] == [
        ("120101", i) for i in ("I-101", "I-102", "I-103", "I-104", "I-105")
    ]

    gone = await api.client.post(f"{roster_url}/I-105/deactivate", headers=heping)
    assert gone.status_code == 200, gone.text
    assert (gone.json()["active"], gone.json()["deactivated_by"]) == (
        False,
        "district_office-120101",
    )
    twice = await api.client.post(f"{roster_url}/I-105/deactivate", headers=heping)
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "roster_inspector_inactive")
    active = await api.client.get(roster_url, params={"active_only": "true"}, headers=heping)
    assert [e["inspector_id"] for e in active.json()] == ["I-101", "I-102", "I-103", "I-104"]

    made = await api.client.post("/api/v1/patrol-draws", json={"project_count": 3}, headers=heping)
    assert made.status_code == 201, made.text
    drawn = made.json()
    assert drawn["inputs"]["inspectors_from"] == "roster"
    assert drawn["inputs"]["inspectors"] == [
        {"inspector_id": r["inspector_id"], "name": r["name"], "conflicts": r["conflicts"]}
        for r in ROSTER
    ]
    sent = {i for p in drawn["patrols"] for i in p["inspector_ids"]}
    assert sent <= {"I-101", "I-102", "I-103", "I-104"}
    for p in drawn["patrols"]:  # the roster's conflicts hold
        assert not ("I-101" in p["inspector_ids"] and p["enterprise_id"] == "E-0001")

    # the roster changes; the draw's inputs and re-run do not
    assert (
        await api.client.post(f"{roster_url}/I-102/deactivate", headers=heping)
    ).status_code == 200
    back = {**ROSTER[1], "name": "李检查（新）"}
    assert (await api.client.post(roster_url, json=back, headers=heping)).status_code == 201
    stored = (
        await api.client.get(f"/api/v1/patrol-draws/{drawn['draw_id']}", headers=heping)
    ).json()
    assert stored["inputs"] == drawn["inputs"]
    assert stored["verified"] is True
    rows = await api.fetch("SELECT name, active FROM draw_rosters WHERE inspector_id = 'I-102'")
    assert [tuple(r) for r in rows] == [("李检查（新）", True)]
