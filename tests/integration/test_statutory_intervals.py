"""The statutory-interval tracker (法定维保周期) on real PostgreSQL and Kafka: an enterprise
registers a lift and records services over HTTP; bad input is refused on its field in zh and en
with nothing written; roles and scopes are refused; the sweep records a missed due date once
even when two sweeps run at the same time, publishes StatutoryIntervalMissed once, and a
recorded service closes the miss. The pages register and record through the same handlers and
refuse by role and scope."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg
import httpx
import pytest

from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from schemas import cloudevents
from schemas.inspections import v1 as inspections
from services.inspections.entrypoints import facilities_http, jobs
from tests.asgi import served
from tests.inspections_support import api_spec, inspections_settings, signed_in_pages
from tests.integration.conftest import read_topic
from tests.workspace_support import Desk, fetch_rows
from tests.workspace_support import csrf_token as csrf

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=CHINA)
TOPIC = "wuye.inspections.events"
PROJECT = "P-120101-0001"  # E-0001's, in 和平区 (the demo registry)


@dataclass
class Api:
    client: httpx.AsyncClient
    issuer: DevIssuer
    dsn: str
    bootstrap: str

    def auth(
        self, role: Role, *, district: str | None = None, enterprise: str | None = None
    ) -> dict[str, str]:
        who = Principal(
            f"{role.value}-{district or enterprise or 'x'}",
            role,
            district_code=district,
            enterprise_id=enterprise,
        )
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await fetch_rows(self.dsn, sql, *args)


@pytest.fixture
async def api(fresh_db: str, kafka_topics: str) -> AsyncIterator[Api]:
    issuer = DevIssuer.generate()
    settings = inspections_settings(fresh_db, kafka_topics, issuer)
    spec = api_spec(settings, title="statutory intervals test", routers=(facilities_http.router,))
    async with served(build_app(spec, settings, clock=FixedClock(NOW))) as client:
        yield Api(client, issuer, fresh_db, kafka_topics)


def e1(api: Api) -> dict[str, str]:
    return api.auth(Role.ENTERPRISE, enterprise="E-0001")


async def register(api: Api, **body: Any) -> dict[str, Any]:
    payload = {
        "project_id": PROJECT,
        "kind": "lift",
        "name": "3号楼1单元电梯",
        "last_serviced_on": "2026-02-10",
        **body,
    }
    response = await api.client.post("/api/v1/facilities", json=payload, headers=e1(api))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def test_a_missed_lift_interval_is_recorded_and_published_once_and_closed_by_a_service(
    api: Api,
) -> None:
    lift = await register(api)  # due 25 Feb
    assert lift["next_due_on"] == "2026-02-25"
    assert lift["overdue"] is True
    assert lift["days_overdue"] == 5
    assert "15" in lift["legal_basis"]
    tank = await register(api, kind="water_tank", name="2号楼水箱", last_serviced_on="2025-08-31")
    assert tank["next_due_on"] == "2026-02-28"  # six months on, the month's last day
    fire = await register(api, kind="fire", name="消防设施", last_serviced_on="2026-02-15")
    assert fire["overdue"] is False  # due 15 March

    pool = await asyncpg.create_pool(api.dsn, min_size=2, max_size=4)
    try:
        # Two sweeps at once (two replicas), then a third: each missed due date once.
        counts = await asyncio.gather(
            jobs.statutory_intervals_missed(pool, NOW), jobs.statutory_intervals_missed(pool, NOW)
        )
        assert sum(counts) == 2
        assert await jobs.statutory_intervals_missed(pool, NOW) == 0
    finally:
        await pool.close()
    misses = await api.fetch("SELECT facility_id, due_on FROM facility_misses ORDER BY due_on")
    assert [(r["facility_id"], r["due_on"]) for r in misses] == [
        (lift["facility_id"], date(2026, 2, 25)),
        (tank["facility_id"], date(2026, 2, 28)),
    ]
    outbox = await api.fetch(
        "SELECT count(*) AS n FROM outbox WHERE event_type = $1",
        inspections.StatutoryIntervalMissed.ce_type,
    )
    assert outbox[0]["n"] == 2

    records = await read_topic(
        api.bootstrap,
        TOPIC,
        until=lambda rs: False,
        timeout=8.0,
        keep=lambda r: (
            dict(r.headers).get("ce_type") == inspections.StatutoryIntervalMissed.ce_type.encode()
            and r.key == PROJECT.encode()
        ),
    )
    events = [
        cloudevents.decode(cloudevents.from_kafka(r.key, r.value, r.headers)) for r in records
    ]
    mine = [
        e
        for e in events
        if isinstance(e, inspections.StatutoryIntervalMissed)
        and e.facility_id == lift["facility_id"]
    ]
    assert len(mine) == 1, "published exactly once"
    assert (mine[0].due_on, mine[0].days_overdue, mine[0].district_code) == (
        date(2026, 2, 25),
        5,
        "120101",
    )

    heping = api.auth(Role.DISTRICT_OFFICE, district="120101")
    queue = (await api.client.get("/api/v1/facility-misses", headers=heping)).json()
    assert [m["facility"]["facility_id"] for m in queue] == [
        lift["facility_id"],
        tank["facility_id"],
    ]
    nankai = api.auth(Role.DISTRICT_OFFICE, district="120104")
    assert (await api.client.get("/api/v1/facility-misses", headers=nankai)).json() == []

    done = await api.client.post(
        f"/api/v1/facilities/{lift['facility_id']}/services",
        json={
            "serviced_on": "2026-03-01",
            "serviced_by": "津安电梯维保有限公司",
            "note": "例行保养",
        },
        headers=e1(api),
    )
    assert done.status_code == 201, done.text
    assert done.json()["misses_closed"] == 1
    assert done.json()["next_due_on"] == "2026-03-16"
    queue = (await api.client.get("/api/v1/facility-misses", headers=heping)).json()
    assert [m["facility"]["facility_id"] for m in queue] == [tank["facility_id"]]
    shown = await api.client.get(f"/api/v1/facilities/{lift['facility_id']}", headers=heping)
    assert [s["serviced_by"] for s in shown.json()["services"]] == ["津安电梯维保有限公司"]


async def test_bad_input_is_refused_on_its_field_in_both_languages_and_writes_nothing(
    api: Api,
) -> None:
    looser = {
        "project_id": PROJECT,
        "kind": "lift",
        "name": "1号电梯",
        "interval_days": 20,
        "last_serviced_on": "2026-03-05",
    }
    response = await api.client.post("/api/v1/facilities", json=looser, headers=e1(api))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "facility_invalid"
    by_field = {f["field"]: f for f in error["fields"]}
    assert set(by_field) == {"interval_days", "last_serviced_on"}
    assert "不得宽于法定周期" in by_field["interval_days"]["reason"]
    assert "never looser" in by_field["interval_days"]["reason_en"]
    assert "future" in by_field["last_serviced_on"]["reason_en"]

    unknown_kind = {
        **looser,
        "kind": "boiler",
        "interval_days": None,
        "last_serviced_on": "2026-03-01",
    }
    response = await api.client.post("/api/v1/facilities", json=unknown_kind, headers=e1(api))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "kind"

    not_a_date = {**looser, "last_serviced_on": "2026-02-30"}
    response = await api.client.post("/api/v1/facilities", json=not_a_date, headers=e1(api))
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"].endswith("last_serviced_on")
    assert await api.fetch("SELECT 1 FROM facilities") == []

    lift = await register(api)
    earlier = {"serviced_on": "2026-01-01", "serviced_by": " "}
    response = await api.client.post(
        f"/api/v1/facilities/{lift['facility_id']}/services", json=earlier, headers=e1(api)
    )
    assert response.status_code == 422
    fields = {f["field"] for f in response.json()["error"]["fields"]}
    assert fields == {"serviced_on", "serviced_by"}
    assert await api.fetch("SELECT 1 FROM facility_services") == []


async def test_roles_and_scopes_are_refused(api: Api) -> None:
    lift = await register(api)
    url = f"/api/v1/facilities/{lift['facility_id']}"
    service = {"serviced_on": "2026-03-01", "serviced_by": "维保公司"}
    e2 = api.auth(Role.ENTERPRISE, enterprise="E-0002")
    heping = api.auth(Role.DISTRICT_OFFICE, district="120101")
    nankai = api.auth(Role.DISTRICT_OFFICE, district="120104")
    city = api.auth(Role.CITY_OFFICE)
    owner = api.auth(Role.OWNER)
    body = {"project_id": PROJECT, "kind": "fire", "name": "消防", "last_serviced_on": "2026-03-01"}

    assert (await api.client.post("/api/v1/facilities", json=body, headers=e2)).status_code == 422
    for who in (heping, city, owner):
        response = await api.client.post("/api/v1/facilities", json=body, headers=who)
        assert response.status_code == 403
    assert (await api.client.get(url, headers=e2)).status_code == 404
    assert (await api.client.get(url, headers=nankai)).status_code == 404
    assert (await api.client.get(url, headers=owner)).status_code == 403
    assert (await api.client.get(url, headers=city)).status_code == 200
    posted = {
        "e2": (e2, 404),
        "nankai": (nankai, 404),
        "heping": (heping, 403),
        "city": (city, 403),
        "owner": (owner, 403),
    }
    for name, (who, status) in posted.items():
        response = await api.client.post(f"{url}/services", json=service, headers=who)
        assert response.status_code == status, name
    assert await api.fetch("SELECT 1 FROM facility_services") == []
    assert (await api.client.get("/api/v1/facilities", headers=e2)).json() == []
    assert len((await api.client.get("/api/v1/facilities", headers=heping)).json()) == 1


# -- the pages, in-process ----------------------------------------------------------------------

PAGES = "/workspace/inspections/"
E1_CLERK = Principal("e1-clerk", Role.ENTERPRISE, enterprise_id="E-0001", name="张经理")
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
NANKAI = Principal("nankai-officer", Role.DISTRICT_OFFICE, district_code="120104", name="赵科长")
OWNER = Principal("owner-1", Role.OWNER, name="业主")


@pytest.fixture
async def desk(fresh_db: str, kafka_topics: str) -> AsyncIterator[Desk]:
    settings = inspections_settings(fresh_db, kafka_topics)
    people = (E1_CLERK, HEPING, NANKAI, OWNER)
    async with signed_in_pages(settings, FixedClock(NOW), people) as desk:
        yield desk


async def test_the_pages_register_record_and_refuse_by_role_and_scope(desk: Desk) -> None:
    client = desk.as_(E1_CLERK)
    listing = await client.get(PAGES + "facilities")
    assert listing.status_code == 200
    form = {
        "csrf_token": csrf(listing),
        "project_id": PROJECT,
        "kind": "lift",
        "name": "<script>x</script>电梯",
        "interval_days": "",
        "last_serviced_on": "2026-2-30",
    }
    bad = await client.post(PAGES + "facilities", data=form)
    assert bad.status_code == 422
    assert "上次维保日期" in bad.text
    assert "<script>x</script>" not in bad.text  # the kept value is escaped
    assert "&lt;script&gt;" in bad.text
    assert await desk_rows(desk, "SELECT 1 FROM facilities") == 0
    made = await client.post(PAGES + "facilities", data={**form, "last_serviced_on": "2026-02-10"})
    assert made.status_code == 303
    facility_url = made.headers["location"].split("?")[0]
    page = await client.get(facility_url)
    assert "已超过应维保日期 5 天" in page.text
    service = {"csrf_token": csrf(page), "serviced_on": "2026-03-02", "serviced_by": "维保公司"}
    not_a_photo = {"photos": ("sheet.jpg", b"#!/bin/sh\necho not an image\n", "image/jpeg")}
    refused_photo = await client.post(facility_url + "/services", data=service, files=not_a_photo)
    assert refused_photo.status_code == 422
    assert 'class="field-error"' in refused_photo.text
    assert await desk_rows(desk, "SELECT 1 FROM facility_services") == 0  # nothing half-written
    recorded = await client.post(facility_url + "/services", data=service)
    assert recorded.status_code == 303
    assert "2026-03-17" in (await client.get(facility_url)).text

    office = desk.as_(HEPING)
    shown = await office.get(facility_url)
    assert shown.status_code == 200
    assert 'id="serviced_by"' not in shown.text  # an office reads, never records
    refused = await office.post(
        facility_url + "/services",
        data={"csrf_token": csrf(shown), "serviced_on": "2026-03-02", "serviced_by": "x"},
    )
    assert refused.status_code == 403
    assert (await desk.as_(NANKAI).get(facility_url)).status_code == 404
    assert (await desk.as_(OWNER).get(PAGES + "facilities")).status_code == 403
    assert await desk_rows(desk, "SELECT 1 FROM facility_services") == 1


async def desk_rows(desk: Desk, sql: str) -> int:
    return len(await fetch_rows(desk.dsn, sql))


async def test_a_long_list_is_cut_by_due_date_and_the_counts_stay_whole(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A district has thousands of facilities: the API and the page list the soonest due first,
    at most a limit; the overdue filter is applied before the limit; the page's counts are the
    totals, and it says that the list is a part."""
    for name, last in (("A梯", "2026-02-01"), ("B梯", "2026-02-10"), ("C梯", "2026-02-20"),
                       ("D梯", "2026-03-01")):  # fmt: skip  # due 02-16, 02-25 (overdue), 03-07, 03-16
        await register(api, name=name, last_serviced_on=last)
    heping = api.auth(Role.DISTRICT_OFFICE, district="120101")

    async def names(**params: Any) -> list[str]:
        response = await api.client.get("/api/v1/facilities", params=params, headers=heping)
        assert response.status_code == 200, response.text
        return [f["name"] for f in response.json()]

    assert await names(limit=3) == ["A梯", "B梯", "C梯"]
    assert await names(overdue="true", limit=1) == ["A梯"]
    assert await names(overdue="true") == ["A梯", "B梯"]
    assert await names(overdue="false") == ["C梯", "D梯"]
    for bad in (0, 1001):
        refused = await api.client.get("/api/v1/facilities", params={"limit": bad}, headers=heping)
        assert refused.status_code == 422

    from services.inspections.entrypoints import workspace_facilities

    monkeypatch.setattr(workspace_facilities, "LISTED", 2)
    settings = inspections_settings(api.dsn, api.bootstrap)
    async with signed_in_pages(settings, FixedClock(NOW), [HEPING]) as office:
        page = await office.as_(HEPING).get(PAGES + "facilities")
    assert page.status_code == 200
    counts = re.findall(r"<li><strong>(\d+)</strong>", page.text)
    assert counts[:2] == ["4", "2"]  # registered, overdue: the totals
    assert "共 4 项，此处列出最早到期的 2 项" in page.text
    assert "A梯" in page.text
    assert "B梯" in page.text
    assert "D梯" not in page.text
