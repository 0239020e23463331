"""Registry, templates and activity records against real PostgreSQL (and Kafka for the app)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from runtime import db
from runtime.auth import DevIssuer, Principal, Role
from runtime.scheduler import FixedClock
from runtime.service import ServiceSpec, build_app
from runtime.unit_of_work import Trace
from services.inspections import bootstrap
from services.inspections.adapters import registry_files
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.adapters.registry_tables import PgProjects
from services.inspections.domain import project_registry, templates
from services.inspections.entrypoints import (
    activities_http,
    registry_http,
    startup,
    templates_http,
)
from services.inspections.service import registry_handlers
from services.inspections.service.ports import InspectionsUnitOfWork
from tests.asgi import served

pytestmark = pytest.mark.integration

MIGRATIONS = Path("services/inspections/migrations")
DATA = Path("services/inspections/data")
NOW = datetime(2011, 8, 20, 9, 0, tzinfo=UTC)
TOPIC = "wuye.registry.projects"
HEADER = list(project_registry.TEXT_FIELDS)  # a file without location columns


def facts(n: int, **changes: str) -> dict[str, str]:
    return {
        "project_id": f"P-120102-{n:04d}",
        "project_name": f"河东区·第{n}小区",
        "address": f"天津市河东区十一经路 {n} 号",
        "district_code": "120102",
        "district_name": "河东区",
        "enterprise_id": "E-0101",
        "enterprise_name": "河东物业服务有限公司",
        "service_grade": "二级",
        **changes,
    }


def to_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows([r[h] for h in HEADER] for r in rows)
    return out.getvalue().encode("utf-8-sig")  # as Excel saves "CSV UTF-8"


async def registry_events(conn: db.Connection, correlation_id: str | None = None) -> list[Any]:
    rows = await conn.fetch(
        """SELECT event_type, payload FROM outbox
            WHERE topic = $1 AND ($2::text IS NULL OR correlation_id = $2) ORDER BY seq""",
        TOPIC,
        correlation_id,
    )
    return [(r["event_type"].rsplit(".", 2)[-2], json.loads(r["payload"])) for r in rows]


def units(pool: asyncpg.Pool) -> Callable[[], InspectionsUnitOfWork]:
    clock = FixedClock(NOW)
    return lambda: PgInspectionsUnitOfWork(pool, source=SOURCE, clock=clock)


def trace() -> Trace:
    return Trace.start()


@pytest.fixture
async def pool(fresh_db: str) -> AsyncIterator[asyncpg.Pool]:
    """A database with the inspections schema and no data."""
    await db.prepare_database(fresh_db, MIGRATIONS, "inspections")
    p = await db.create_pool(fresh_db, max_size=5)
    yield p
    await p.close()


# --- import: events and all-or-nothing -----------------------------------------------------


async def test_import_emits_one_event_per_real_change_with_the_full_facts(
    pool: asyncpg.Pool,
) -> None:
    rows = [facts(n) for n in range(1, 6)]
    first = await registry_handlers.import_projects(
        units(pool)(), registry_files.parse_projects(to_csv(rows), "csv"), trace()
    )
    again = await registry_handlers.import_projects(
        units(pool)(), registry_files.parse_projects(to_csv(rows), "csv"), trace()
    )
    rows[2] = facts(3, enterprise_id="E-0102", enterprise_name="津东物业有限公司")
    changed = await registry_handlers.import_projects(
        units(pool)(), registry_files.parse_projects(to_csv(rows), "csv"), trace()
    )

    assert first == {"created": 5, "updated": 0, "unchanged": 0}
    assert again == {"created": 0, "updated": 0, "unchanged": 5}
    assert changed == {"created": 0, "updated": 1, "unchanged": 4}
    async with pool.acquire() as conn:
        events = await registry_events(conn)
        stored = await PgProjects(conn).get("P-120102-0003")
    assert [t for t, _ in events] == ["ProjectRegistered"] * 5 + ["ProjectUpdated"]
    _, update = events[-1]
    assert update == {  # all facts, not a delta; a file without location columns: no location
        **rows[2],
        "latitude": None,
        "longitude": None,
        "occurred_at": "2011-08-20T09:00:00Z",
    }
    assert stored is not None
    assert stored.enterprise_id == "E-0102"


async def test_a_bad_file_writes_nothing(pool: asyncpg.Pool) -> None:
    rows = [facts(1), facts(2, district_code="110101"), facts(3)]
    with pytest.raises(project_registry.InvalidRegistryFile):
        registry_files.parse_projects(to_csv(rows), "csv")
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM projects") == 0


async def test_a_failure_half_way_rolls_back_the_whole_import(
    pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_upsert = PgProjects.upsert
    calls = 0

    async def failing_third(self: PgProjects, project: project_registry.ProjectFacts) -> str:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise asyncpg.PostgresConnectionError("connection lost")
        return await real_upsert(self, project)

    monkeypatch.setattr(PgProjects, "upsert", failing_third)
    projects = registry_files.parse_projects(to_csv([facts(n) for n in range(1, 5)]), "csv")
    with pytest.raises(asyncpg.PostgresConnectionError):
        await registry_handlers.import_projects(units(pool)(), projects, trace())
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM projects") == 0
        assert await conn.fetchval("SELECT count(*) FROM outbox") == 0


async def test_load_projects_reads_json_and_excel_csv_files(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    shipped = await startup.load_projects(units(pool), DATA / "projects.json")
    csv_file = tmp_path / "project_registry.csv"
    csv_file.write_bytes(to_csv([facts(1), facts(2)]))
    from_csv = await startup.load_projects(units(pool), csv_file)
    bad = tmp_path / "bad.csv"
    bad.write_bytes(to_csv([facts(3), facts(3)]))
    with pytest.raises(project_registry.InvalidRegistryFile, match=r"already appears at rows\.2"):
        await startup.load_projects(units(pool), bad)
    with pytest.raises(ValueError, match=r"must end in \.json or \.csv"):
        await startup.load_projects(units(pool), tmp_path / "project_registry.xlsx")
    assert shipped == {"created": 4, "updated": 0, "unchanged": 0}
    assert from_csv == {"created": 2, "updated": 0, "unchanged": 0}
    async with pool.acquire() as conn:
        assert len(await registry_events(conn)) == 6
        assert await conn.fetchval("SELECT count(*) FROM projects") == 6


async def test_two_replicas_loading_at_once_emit_each_event_once(pool: asyncpg.Pool) -> None:
    projects = registry_files.parse_projects(to_csv([facts(n) for n in range(1, 30)]), "csv")
    results = await asyncio.gather(
        *(registry_handlers.import_projects(units(pool)(), projects, trace()) for _ in range(3))
    )
    assert sum(r["created"] for r in results) == 29
    async with pool.acquire() as conn:
        assert len(await registry_events(conn)) == 29


async def test_shipped_templates_load_once_and_a_changed_version_is_refused(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    # six checklists, version 1 and version 2 (full-width punctuation) of each
    assert await startup.load_templates(units(pool), DATA / "templates") == 12
    assert await startup.load_templates(units(pool), DATA / "templates") == 0
    edited = json.loads((DATA / "templates" / "flood-season.v1.json").read_text("utf-8"))
    edited["pass_mark"] = 60
    (tmp_path / "flood-season.v1.json").write_text(json.dumps(edited), "utf-8")
    with pytest.raises(ValueError, match="publish a new version"):
        await startup.load_templates(units(pool), tmp_path)
    edited["items"][0]["severity"] = "critical"
    (tmp_path / "flood-season.v1.json").write_text(json.dumps(edited), "utf-8")
    with pytest.raises(templates.InvalidTemplate):
        await startup.load_templates(units(pool), tmp_path)


# --- over HTTP -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev() -> DevIssuer:
    return DevIssuer.generate()


@pytest.fixture
async def api(
    fresh_db: str, kafka_topics: str, dev: DevIssuer
) -> AsyncIterator[tuple[httpx.AsyncClient, asyncpg.Connection]]:
    """The inspections app with this router, the shipped demo registry and a DB connection."""
    settings = bootstrap.InspectionsSettings(
        database_url=fresh_db,
        kafka_bootstrap_servers=kafka_topics,
        auth_jwt_public_key=dev.public_key_pem,
        auth_issuer=dev.issuer,
        auth_audience=dev.audience,
    )
    spec = ServiceSpec(
        name="inspections",
        title="inspections (registry test)",
        version="0",
        migrations=MIGRATIONS,
        routers=(registry_http.router, templates_http.router, activities_http.router),
        compose=bootstrap.composer(settings),  # loads the shipped templates and registry
    )
    app = build_app(spec, settings)
    async with served(app, base_url="http://t/api/v1") as client:
        conn = await asyncpg.connect(fresh_db)
        try:
            yield client, conn
        finally:
            await conn.close()


def as_(dev: DevIssuer, role: Role, scope: str | None = None, **headers: str) -> dict[str, str]:
    principal = Principal(
        f"{role.value}-{scope or 'x'}",
        role,
        district_code=scope if role is Role.DISTRICT_OFFICE else None,
        enterprise_id=scope if role is Role.ENTERPRISE else None,
        agency_id="12345" if role is Role.AGENCY else None,
    )
    return {"Authorization": f"Bearer {dev.issue(principal)}", **headers}


def corr() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


Api = tuple[httpx.AsyncClient, asyncpg.Connection]


@pytest.mark.parametrize(
    ("role", "scope", "project_id", "status"),
    [
        (Role.CITY_OFFICE, None, "P-120104-0001", 200),
        (Role.DISTRICT_OFFICE, "120101", "P-120101-0002", 200),
        (Role.DISTRICT_OFFICE, "120101", "P-120104-0001", 404),
        (Role.ENTERPRISE, "E-0001", "P-120103-0001", 200),
        (Role.ENTERPRISE, "E-0001", "P-120101-0002", 404),
        (Role.OWNER, None, "P-120101-0001", 404),
        (Role.AGENCY, None, "P-120101-0001", 404),
        (Role.CITY_OFFICE, None, "P-nope", 404),
    ],
)
async def test_project_scope(
    api: Api, dev: DevIssuer, role: Role, scope: str | None, project_id: str, status: int
) -> None:
    client, _ = api
    response = await client.get(f"/projects/{project_id}", headers=as_(dev, role, scope))
    assert response.status_code == status, response.text
    if status == 200:
        assert response.json()["project_id"] == project_id
    else:
        assert response.json()["error"]["code"] == "project_not_found"


async def test_registering_projects_by_district_and_city_offices(api: Api, dev: DevIssuer) -> None:
    client, conn = api
    heping: dict[str, object] = {
        **facts(1, project_id="P-120101-0100", district_code="120101", district_name="和平区"),
        "latitude": 39.1205,  # WGS-84, carried on the event for the other services' copies
        "longitude": 117.198,
    }
    c = corr()
    created = await client.post(
        "/projects",
        json=heping,
        headers=as_(dev, Role.DISTRICT_OFFICE, "120101", **{"X-Correlation-ID": c}),
    )
    assert created.status_code == 201, created.text
    assert created.json() == {**heping, "change": "created"}
    [(kind, event)] = await registry_events(conn, c)
    assert kind == "ProjectRegistered"
    assert event == {**heping, "occurred_at": event["occurred_at"]}
    assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None
    elsewhere = await client.post(
        "/projects", json=facts(2), headers=as_(dev, Role.DISTRICT_OFFICE, "120101")
    )
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (403, "out_of_scope")
    by_city = await client.post("/projects", json=facts(2), headers=as_(dev, Role.CITY_OFFICE))
    assert by_city.status_code == 201
    twice = await client.post("/projects", json=facts(2), headers=as_(dev, Role.CITY_OFFICE))
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "project_exists")
    by_enterprise = await client.post(
        "/projects", json=facts(3), headers=as_(dev, Role.ENTERPRISE, "E-0101")
    )
    assert by_enterprise.status_code == 403
    bad = await client.post(
        "/projects",
        json={
            **facts(4),
            "district_code": "110101",
            "service_grade": "x" * 17,
            "project_name": " ",
        },
        headers=as_(dev, Role.CITY_OFFICE),
    )
    assert bad.status_code == 422
    assert {f["field"] for f in bad.json()["error"]["fields"]} == {
        "district_code",
        "service_grade",
    }
    blank = await client.post(
        "/projects", json={**facts(4), "project_name": "  "}, headers=as_(dev, Role.CITY_OFFICE)
    )
    assert (blank.status_code, blank.json()["error"]["fields"][0]["field"]) == (422, "project_name")
    assert await conn.fetchval("SELECT count(*) FROM projects") == 6


async def test_updating_a_project_keeps_district_offices_in_their_district(
    api: Api, dev: DevIssuer
) -> None:
    client, conn = api
    path = "/projects/P-120101-0001"
    current = (await client.get(path, headers=as_(dev, Role.CITY_OFFICE))).json()
    change = {k: v for k, v in current.items() if k != "project_id"}
    moved_enterprise = {
        **change,
        "enterprise_id": "E-0002",
        "enterprise_name": "海河物业管理有限公司",
    }
    heping = as_(dev, Role.DISTRICT_OFFICE, "120101")

    c = corr()
    updated = await client.put(
        path, json=moved_enterprise, headers={**heping, "X-Correlation-ID": c}
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["change"] == "updated"
    [(kind, event)] = await registry_events(conn, c)
    assert kind == "ProjectUpdated"
    assert {k: v for k, v in event.items() if k != "occurred_at"} == {
        "project_id": "P-120101-0001",
        **moved_enterprise,
    }

    c = corr()
    same = await client.put(path, json=moved_enterprise, headers={**heping, "X-Correlation-ID": c})
    assert (same.status_code, same.json()["change"]) == (200, "unchanged")
    assert await registry_events(conn, c) == []

    c = corr()
    out = {**moved_enterprise, "district_code": "120104", "district_name": "南开区"}
    refused = await client.put(path, json=out, headers={**heping, "X-Correlation-ID": c})
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "cannot_leave_district")
    assert await registry_events(conn, c) == []
    other = await client.put(
        "/projects/P-120104-0001", json=out, headers=heping
    )  # 南开区's project is invisible to 和平区
    assert other.status_code == 404
    by_enterprise = await client.put(path, json=change, headers=as_(dev, Role.ENTERPRISE, "E-0002"))
    assert by_enterprise.status_code == 403
    by_city = await client.put(path, json=out, headers=as_(dev, Role.CITY_OFFICE))
    assert (by_city.status_code, by_city.json()["district_code"]) == (200, "120104")
    missing = await client.put("/projects/P-none", json=out, headers=as_(dev, Role.CITY_OFFICE))
    assert missing.status_code == 404
    assert (await client.get(path, headers=heping)).status_code == 404  # now in 南开区


async def test_import_over_http_is_city_only_and_all_or_nothing(api: Api, dev: DevIssuer) -> None:
    client, conn = api
    city = as_(dev, Role.CITY_OFFICE)
    rows = [facts(n) for n in range(1, 4)]
    csv_headers = {**city, "Content-Type": "text/csv; charset=utf-8"}

    c = corr()
    imported = await client.post(
        "/registry/import", content=to_csv(rows), headers={**csv_headers, "X-Correlation-ID": c}
    )
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"created": 3, "updated": 0, "unchanged": 0, "total": 3}
    assert [t for t, _ in await registry_events(conn, c)] == ["ProjectRegistered"] * 3

    c = corr()
    rows[1] = facts(2, service_grade="一级")
    as_json = await client.post(
        "/registry/import", json={"projects": rows}, headers={**city, "X-Correlation-ID": c}
    )
    assert as_json.json() == {"created": 0, "updated": 1, "unchanged": 2, "total": 3}
    [(kind, event)] = await registry_events(conn, c)
    assert (kind, event["service_grade"], event["address"]) == (
        "ProjectUpdated",
        "一级",
        rows[1]["address"],
    )

    c = corr()
    bad_rows = [facts(5), facts(6, district_code="120199x"), facts(7, address="")]
    bad = await client.post(
        "/registry/import", content=to_csv(bad_rows), headers={**csv_headers, "X-Correlation-ID": c}
    )
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "registry_file_invalid"
    assert [f["field"] for f in error["fields"]] == ["rows.3.district_code", "rows.4.address"]
    assert await registry_events(conn, c) == []
    assert (
        await conn.fetchval("SELECT count(*) FROM projects WHERE project_id = 'P-120102-0005'") == 0
    )

    heping = as_(dev, Role.DISTRICT_OFFICE, "120101", **{"Content-Type": "text/csv"})
    refused = await client.post("/registry/import", content=to_csv(rows), headers=heping)
    assert refused.status_code == 403
    plain = await client.post(
        "/registry/import", content=b"x", headers={**city, "Content-Type": "text/plain"}
    )
    assert (plain.status_code, plain.json()["error"]["code"]) == (415, "unsupported_media_type")


async def test_districts_and_enterprises_are_derived_and_public(api: Api, dev: DevIssuer) -> None:
    client, _ = api
    owner = as_(dev, Role.OWNER)
    districts = (await client.get("/districts", headers=owner)).json()
    assert districts == [
        {
            "district_code": "120101",
            "district_name": "和平区",
            "project_count": 2,
            "enterprise_count": 2,
        },
        {
            "district_code": "120103",
            "district_name": "河西区",
            "project_count": 1,
            "enterprise_count": 1,
        },
        {
            "district_code": "120104",
            "district_name": "南开区",
            "project_count": 1,
            "enterprise_count": 1,
        },
    ]
    enterprises = (await client.get("/enterprises", headers=owner)).json()
    assert enterprises[0] == {
        "enterprise_id": "E-0001",
        "enterprise_name": "津城物业服务有限公司",
        "project_count": 2,
        "district_codes": ["120101", "120103"],
    }
    in_nankai = await client.get("/enterprises?district_code=120104", headers=owner)
    assert [e["enterprise_id"] for e in in_nankai.json()] == ["E-0003"]
    assert (await client.get("/districts")).status_code == 401


async def test_template_versions(api: Api, dev: DevIssuer) -> None:
    client, _ = api
    city, heping = as_(dev, Role.CITY_OFFICE), as_(dev, Role.DISTRICT_OFFICE, "120101")
    listed = (await client.get("/templates", headers=as_(dev, Role.ENTERPRISE, "E-0001"))).json()
    assert [(t["template_id"], t["versions"]) for t in listed] == [
        ("community-activities", [1, 2]),
        ("contract-grade-1", [1, 2]),  # one checklist per contracted service grade
        ("contract-grade-2", [1, 2]),
        ("contract-grade-3", [1, 2]),
        ("contract-self-inspection", [1, 2]),
        ("flood-season", [1, 2]),  # v2: the same checks, with Chinese punctuation
    ]
    grade3 = (await client.get("/templates/contract-grade-3/versions/1", headers=heping)).json()
    assert grade3["service_grade"] == "三级"
    lifts = next(i for i in grade3["items"] if i["item_id"] == "facilities.elevators")
    assert lifts["criterion_zh"].startswith("电梯按合同约定时间正常运行")
    v1 = (await client.get("/templates/flood-season/versions/1", headers=heping)).json()
    leak = next(i for i in v1["items"] if i["item_id"] == "flood.roof_leak")
    assert leak["severity"] == "urgent"
    assert leak["title_zh"] == "无房屋漏雨;遇有房屋漏雨立即组织人员抢修"  # published, never edited
    fixed = (await client.get("/templates/flood-season/versions/2", headers=heping)).json()
    assert [i["item_id"] for i in fixed["items"]] == [i["item_id"] for i in v1["items"]]
    assert fixed["items"][1]["title_zh"] == "无房屋漏雨；遇有房屋漏雨立即组织人员抢修"
    assert fixed["title_zh"].startswith("夏季防汛检查（津物业〔2011〕4号 三（一）2）：")
    assert (
        await client.get("/templates/flood-season/versions/9", headers=heping)
    ).status_code == 404

    v3 = {**fixed, "version": 3, "pass_mark": 85}
    assert (await client.post("/templates", json=v3, headers=heping)).status_code == 403
    published = await client.post("/templates", json=v3, headers=city)
    assert published.status_code == 201, published.text
    retry = await client.post("/templates", json=v3, headers=city)
    assert (retry.status_code, retry.json()) == (200, published.json())
    edited = await client.post("/templates", json={**v3, "pass_mark": 70}, headers=city)
    assert (edited.status_code, edited.json()["error"]["code"]) == (409, "template_version_exists")
    edited_v1 = await client.post("/templates", json={**v1, "pass_mark": 70}, headers=city)
    assert edited_v1.status_code == 409
    gap = await client.post("/templates", json={**v1, "version": 5}, headers=city)
    assert (gap.status_code, gap.json()["error"]["code"]) == (409, "template_version_not_next")
    new = await client.post(
        "/templates", json={**v1, "template_id": "winter-heating", "version": 1}, headers=city
    )
    assert new.status_code == 201
    listed = (await client.get("/templates", headers=city)).json()
    flood = next(t for t in listed if t["template_id"] == "flood-season")
    assert (flood["versions"], flood["latest_version"], flood["latest"]["pass_mark"]) == (
        [1, 2, 3],
        3,
        85,
    )

    # Two offices publishing v4 at once: one wins, the other is told the version exists.
    results = await asyncio.gather(
        client.post("/templates", json={**v1, "version": 4, "pass_mark": 60}, headers=city),
        client.post("/templates", json={**v1, "version": 4, "pass_mark": 61}, headers=city),
    )
    assert sorted(r.status_code for r in results) == [201, 409]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["items"].append(dict(b["items"][0])), "items.9.item_id"),
        (lambda b: b["items"][0].update(weight=0), "items.0.weight"),
        (lambda b: b.update(pass_mark=101), "pass_mark"),
        (lambda b: b["items"][1].update(severity="critical"), "items.1.severity"),
        (lambda b: b.update(items=[]), "items"),
        (lambda b: b.update(version=2, extra=1), "extra"),
    ],
)
async def test_an_invalid_template_is_refused(
    api: Api, dev: DevIssuer, change: Any, field: str
) -> None:
    client, _ = api
    body = json.loads((DATA / "templates" / "flood-season.v1.json").read_text("utf-8"))
    body["version"] = 2
    change(body)
    response = await client.post("/templates", json=body, headers=as_(dev, Role.CITY_OFFICE))
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]


# --- activity records ----------------------------------------------------------------------

ACTIVITY = {
    "kind": "cultural",
    "title": "“迎国庆”纳凉晚会",
    "held_on": "2011-08-19",
    "participants": 120,
    "description": "在中心广场举办,业主和员工共同参与。",
    "photo_refs": ["activities/2011/08/19/stage.jpg", "activities/2011/08/19/crowd.jpg"],
}


async def test_an_enterprise_records_activities_for_its_own_projects(
    api: Api, dev: DevIssuer
) -> None:
    client, conn = api
    path = "/projects/P-120101-0001/activities"
    own = as_(dev, Role.ENTERPRISE, "E-0001")
    c = corr()
    key = uuid.uuid4().hex
    first = await client.post(
        path, json=ACTIVITY, headers={**own, "Idempotency-Key": key, "X-Correlation-ID": c}
    )
    assert first.status_code == 201, first.text
    record = first.json()
    assert {k: record[k] for k in ACTIVITY} == ACTIVITY
    assert (record["recorded_by"], record["recorder_enterprise_id"]) == (
        "enterprise-E-0001",
        "E-0001",
    )
    retry = await client.post(path, json=ACTIVITY, headers={**own, "Idempotency-Key": key})
    assert (retry.status_code, retry.json()["record_id"]) == (200, record["record_id"])
    publicity = {**ACTIVITY, "kind": "publicity", "title": "张贴宣传海报", "held_on": "2011-08-15"}
    assert (await client.post(path, json=publicity, headers=own)).status_code == 201
    # One ActivityHeld per record, in the request's transaction, none for the retried key; on the
    # inspections topic keyed by project; no title, description or photos.
    held = await conn.fetch(
        """SELECT topic, event_type, payload, correlation_id FROM outbox
            WHERE event_type = 'cn.tj.wuye.campaigns.ActivityHeld.v1' ORDER BY seq"""
    )
    payloads = [json.loads(r["payload"]) for r in held]  # this test's database: its two only
    assert [p["record_id"] for p in payloads if p["kind"] == "cultural"] == [record["record_id"]]
    assert [p["held_on"] for p in payloads] == ["2011-08-19", "2011-08-15"]
    assert (held[0]["topic"], held[0]["correlation_id"]) == ("wuye.inspections.events", c)
    assert set(payloads[0]) == {
        "record_id", "project_id", "enterprise_id", "district_code", "kind", "held_on",
        "participants", "recorded_at",
    }  # fmt: skip

    other = as_(dev, Role.ENTERPRISE, "E-0002")
    assert (await client.post(path, json=ACTIVITY, headers=other)).status_code == 404
    assert (await client.get(path, headers=other)).status_code == 404
    heping = as_(dev, Role.DISTRICT_OFFICE, "120101")
    assert (await client.post(path, json=ACTIVITY, headers=heping)).status_code == 403
    listed = await client.get(path, headers=heping)
    assert [a["kind"] for a in listed.json()] == ["cultural", "publicity"]  # latest first
    only = await client.get(path, params={"kind": "publicity"}, headers=as_(dev, Role.CITY_OFFICE))
    assert [a["title"] for a in only.json()] == ["张贴宣传海报"]
    nankai = as_(dev, Role.DISTRICT_OFFICE, "120104")
    assert (await client.get(path, headers=nankai)).status_code == 404
    assert (await client.get(path, headers=as_(dev, Role.OWNER))).status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"held_on": (date.today() + timedelta(days=2)).isoformat()}, "held_on"),
        ({"held_on": "2011-8-19"}, "held_on"),
        ({"held_on": "2011-08-19T00:00:00"}, "held_on"),
        ({"held_on": 1313712000}, "held_on"),
        ({"held_on": "2011-02-30"}, "held_on"),
        ({"participants": -1}, "participants"),
        ({"kind": "sports"}, "kind"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"description": "字" * 2001}, "description"),
        ({"photo_refs": [f"p{i}.jpg" for i in range(10)]}, "photo_refs"),
        ({"photo_refs": ["../../etc/passwd"]}, "photo_refs.0"),
        ({"photo_refs": ["a b.jpg"]}, "photo_refs.0"),
        ({"recorded_by": "someone-else"}, "recorded_by"),
    ],
)
async def test_an_invalid_activity_is_refused_and_nothing_is_written(
    api: Api, dev: DevIssuer, change: dict[str, Any], field: str
) -> None:
    client, conn = api
    response = await client.post(
        "/projects/P-120101-0001/activities",
        json={**ACTIVITY, **change},
        headers=as_(dev, Role.ENTERPRISE, "E-0001"),
    )
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["fields"]]
    assert await conn.fetchval("SELECT count(*) FROM activity_records") == 0
