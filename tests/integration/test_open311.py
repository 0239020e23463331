"""Open311 GeoReport v2 conformance, on the real PostgreSQL: every endpoint of the spec (services,
service definition, POST request, GET requests with each filter, GET one request, tokens), JSON and
XML, the spec's error shape and status codes, round trips with the native API, and no personal
data in the public reads."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from runtime import db
from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from runtime.settings import Settings
from runtime.unit_of_work import Trace
from services.complaints import bootstrap
from services.complaints.adapters import reference
from services.complaints.entrypoints import complaints_http, open311
from services.complaints.service import intake
from services.complaints.settings import ComplaintsSettings
from tests.asgi import served
from tests.factories import complaints_unit, register_complaint_project

pytestmark = pytest.mark.integration
MIGRATIONS = Path("services/complaints/migrations")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA)  # a Monday, a working day
KEY = "civic-app-secret-key-0001"
BASE = "/open311/v2"
PHONE = "13812345678"
FIRST, LAST = "三丰", "张"
EMAIL = "zhang@example.com"
TEXT = "三号楼整栋停水已经两天了,请尽快处理"
WHERE = "3号楼2单元501室"
OWNER = Principal("owner-1", Role.OWNER)
ALICE = Principal("alice", Role.ENTERPRISE, enterprise_id="ent-a")
CATEGORIES = json.loads(Path("services/complaints/data/categories.json").read_text("utf-8"))


async def _project(pool: asyncpg.Pool, project_id: str, enterprise: str, district: str) -> None:
    await register_complaint_project(
        pool, project_id, enterprise, district, occurred_at=T0 - timedelta(days=300)
    )


class Api:
    def __init__(
        self, client: httpx.AsyncClient, app: FastAPI, issuer: DevIssuer, pool: asyncpg.Pool
    ) -> None:
        self.client, self.app, self.issuer, self.pool = client, app, issuer, pool

    def auth(self, who: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}

    async def post(self, **changes: str | None) -> httpx.Response:
        form: dict[str, str | None] = {
            "api_key": KEY,
            "service_code": "water",
            "address_id": "p-1",
            "description": TEXT,
            "attribute[problem]": "no_water",
            "first_name": FIRST,
            "last_name": LAST,
            "phone": PHONE,
            "email": EMAIL,
            "address_string": WHERE,
            "account_id": "acct-7",
            **changes,
        }
        data = {k: v for k, v in form.items() if v is not None}
        return await self.client.post(f"{BASE}/requests.json", data=data)


@pytest.fixture
async def api(
    fresh_db: str, kafka_topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    issuer = DevIssuer.generate()
    # The app's limiters are made from the environment at its first request.
    monkeypatch.setenv("RATE_LIMIT_BURST", "100")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "60")

    async def projects(pool: asyncpg.Pool, _settings: Settings) -> None:
        await _project(pool, "p-1", "ent-a", "120101")
        await _project(pool, "p-2", "ent-b", "120102")

    settings = ComplaintsSettings(
        database_url=fresh_db,
        kafka_bootstrap_servers=kafka_topics,
        auth_jwt_public_key=issuer.public_key_pem,
        open311_api_keys={"civic-app": hashlib.sha256(KEY.encode()).hexdigest()},
    )
    spec = dataclasses.replace(
        bootstrap.spec(settings),
        title="open311 test",
        version="0",
        routers=(complaints_http.router, open311.router),
        consumers=(),
        jobs=(),
        on_startup=(projects,),
    )
    app = build_app(spec, settings, clock=FixedClock(T0))
    async with served(app) as client:
        pool = await db.create_pool(fresh_db, max_size=2)
        try:
            yield Api(client, app, issuer, pool)
        finally:
            await pool.close()


def assert_spec_error(response: httpx.Response, status: int) -> str:
    """The spec's error shape: a list of {code, description}, code = the HTTP status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list)
    assert len(body) == 1
    assert set(body[0]) == {"code", "description"}
    assert body[0]["code"] == status
    zh, en = body[0]["description"].split(" / ", 1)
    assert zh
    assert en.isascii()
    return str(body[0]["description"])


# --- GET services, GET service definition ---------------------------------------------------------


async def test_service_list(api: Api) -> None:
    r = await api.client.get(f"{BASE}/services.json")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    services = {s["service_code"]: s for s in r.json()}
    categories = CATEGORIES
    assert set(services) == {c["id"] for c in categories["categories"]}
    water = services["water"]
    assert set(water) == {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }
    assert water["service_name"] == "供水"
    assert water["metadata"] is True
    assert water["type"] == "realtime"
    assert "water" in water["keywords"].split(",")
    for c in categories["categories"]:
        assert services[c["id"]]["metadata"] is bool(c.get("questions"))


async def test_service_definition(api: Api) -> None:
    r = await api.client.get(f"{BASE}/services/safety.json")
    assert r.status_code == 200
    body = r.json()
    assert body["service_code"] == "safety"
    attrs = {a["code"]: a for a in body["attributes"]}
    assert [a["order"] for a in body["attributes"]] == [1, 2]
    hazard = attrs["hazard"]
    assert hazard["variable"] is True
    assert hazard["datatype"] == "singlevaluelist"
    assert hazard["required"] is True
    assert {"key": "fire", "name": "消防设施损坏或通道堵塞"} in hazard["values"]
    assert hazard["description"].startswith("隐患类型")
    assert hazard["datatype_description"]
    yesno = attrs["people_at_risk"]
    assert [v["key"] for v in yesno["values"]] == ["true", "false"]
    gas = {
        a["code"]: a
        for a in (await api.client.get(f"{BASE}/services/gas.json")).json()["attributes"]
    }
    assert gas["where"]["datatype"] == "string"
    assert gas["where"]["required"] is False
    assert gas["where"]["values"] == []

    assert_spec_error(await api.client.get(f"{BASE}/services/potholes.json"), 404)


async def test_xml_format_and_unknown_format(api: Api) -> None:
    r = await api.client.get(f"{BASE}/services.xml")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/xml")
    assert r.text.startswith('<?xml version="1.0" encoding="utf-8"?>')
    root = ET.fromstring(r.content)  # noqa: S314 - our own response
    assert root.tag == "services"
    assert {s.findtext("service_code") for s in root.findall("service")} >= {"water", "gas"}
    assert root.find("service/metadata") is not None

    d = ET.fromstring((await api.client.get(f"{BASE}/services/water.xml")).content)  # noqa: S314
    assert d.tag == "service_definition"
    assert d.findtext("service_code") == "water"
    keys = [v.findtext("key") for v in d.findall("attributes/attribute/values/value")]
    assert "no_water" in keys

    e = await api.client.get(f"{BASE}/services/nope.xml")
    assert e.status_code == 404
    err = ET.fromstring(e.content)  # noqa: S314
    assert err.tag == "errors"
    assert err.findtext("error/code") == "404"

    assert_spec_error(await api.client.get(f"{BASE}/services.yaml"), 404)


# --- POST request ---------------------------------------------------------------------------------


async def test_post_request_goes_through_the_native_intake(api: Api) -> None:
    r = await api.post(**{"attribute[scope]": "building"})
    assert r.status_code == 201, r.text
    [made] = r.json()
    assert set(made) == {
        "service_request_id",
        "token",
        "service_notice",
        "account_id",
        "follow_up_token",
    }
    assert made["account_id"] == "acct-7"
    assert made["token"].startswith("TS-20260302-")
    assert made["token"] in made["service_notice"]
    cid = made["service_request_id"]

    # The native staff API sees the same complaint, channel open311, with the contact details.
    staff = await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(ALICE))
    assert staff.status_code == 200, staff.text
    c = staff.json()
    assert c["channel"] == "open311"
    assert c["ticket_no"] == made["token"]
    assert c["answers"] == {"problem": "no_water", "scope": "building"}
    assert c["contact"] == {"name": f"{FIRST} {LAST}", "phone": PHONE}
    assert c["address"] == WHERE
    # The owner follows it up with the follow-up token, as on the native API.
    own = await api.client.get(
        "/api/v1/complaints/by-token", headers={"X-Complaint-Token": made["follow_up_token"]}
    )
    assert own.status_code == 200
    assert own.json()["complaint_id"] == cid

    # Same event as the native intake, carrying the channel and nothing personal.
    rows = await api.pool.fetch("SELECT event_type, payload FROM outbox")
    filed = [bytes(r["payload"]).decode() for r in rows if "ComplaintFiled" in r["event_type"]]
    assert len(filed) == 1
    assert '"open311"' in filed[0]
    for secret in (PHONE, FIRST, TEXT, WHERE, EMAIL):
        assert secret not in filed[0]


async def test_post_yesno_attribute_and_anonymous(api: Api) -> None:
    r = await api.post(
        service_code="gas",
        **{
            "attribute[problem]": None,
            "attribute[smell]": "true",
            "first_name": None,
            "last_name": None,
            "phone": None,
        },
    )
    assert r.status_code == 201, r.text
    cid = r.json()[0]["service_request_id"]
    c = (await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(ALICE))).json()
    assert c["answers"] == {"smell": True}
    assert c["anonymous"] is True
    assert "contact" not in c


async def test_a_lift_entrapment_through_open311_is_an_emergency_and_says_what_to_do(
    api: Api,
) -> None:
    r = await api.post(
        service_code="elevator", **{"attribute[problem]": None, "attribute[trapped]": "true"}
    )
    assert r.status_code == 201, r.text
    [made] = r.json()
    assert made["service_notice"].startswith("有人被困电梯:请同时拨打电梯轿厢内张贴的应急救援电话")
    assert "emergency rescue number posted inside the lift car" in made["service_notice"]
    assert made["token"] in made["service_notice"]
    c = (
        await api.client.get(
            f"/api/v1/complaints/{made['service_request_id']}", headers=api.auth(ALICE)
        )
    ).json()
    assert c["urgency"] == "emergency"
    filed_at = datetime.fromisoformat(c["filed_at"])
    assert datetime.fromisoformat(c["acceptance_deadline"]) - filed_at == timedelta(minutes=5)
    plain = (await api.post()).json()[0]  # no water in one home: nothing to tell
    assert plain["service_notice"].startswith("受理编号")


async def test_post_errors(api: Api) -> None:
    assert "api_key" in assert_spec_error(await api.post(api_key=None), 400)
    assert_spec_error(await api.post(api_key="wrong-key"), 403)
    assert "service_code" in assert_spec_error(await api.post(service_code=None), 400)
    assert_spec_error(await api.post(service_code="potholes"), 400)
    no_project = await api.post(address_id=None, lat="39.1", long="117.2")
    assert "address_id" in assert_spec_error(no_project, 400)
    assert_spec_error(await api.post(address_id="p-999"), 400)
    assert_spec_error(await api.post(address_id="p-1" + "x" * 70), 400)
    assert_spec_error(await api.post(description=None), 400)
    assert_spec_error(await api.post(description="<script>alert(1)</script>"), 400)
    assert_spec_error(await api.post(**{"attribute[problem]": "flood"}), 400)
    assert_spec_error(await api.post(**{"attribute[problem]": None}), 400)
    assert_spec_error(await api.post(**{"attribute[colour]": "red"}), 400)
    assert_spec_error(await api.post(phone="12"), 400)
    # JSON is not the spec's encoding: no form fields, so the api_key is missing.
    r = await api.client.post(f"{BASE}/requests.json", json={"api_key": KEY})
    assert_spec_error(r, 400)
    xml_err = await api.post(api_key="wrong-key")
    assert xml_err.status_code == 403
    assert await api.pool.fetchval("SELECT count(*) FROM complaints") == 0


async def test_post_is_rate_limited_per_client(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # before the app's first request, when its limiters are made from the environment
    monkeypatch.setenv("RATE_LIMIT_BURST", "2")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "1")
    assert (await api.post()).status_code == 201
    assert (await api.post()).status_code == 201
    r = await api.post()
    assert_spec_error(r, 429)
    assert int(r.headers["Retry-After"]) >= 1
    # A bad key is refused before it can use anyone's bucket.
    assert_spec_error(await api.post(api_key="wrong-key"), 403)


async def test_media_url_is_not_stored(api: Api) -> None:
    r = await api.post(media_url="https://tracker.example/pixel.gif")
    assert r.status_code == 201
    [made] = r.json()
    assert "media_url" in made["service_notice"]
    cid = made["service_request_id"]
    c = (await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(ALICE))).json()
    assert c["photo_refs"] == []


# --- GET requests, GET request, GET token ---------------------------------------------------------


async def _close(api: Api, cid: str, follow_up: str) -> None:
    alice = api.auth(ALICE)
    assert (await api.client.post(f"/api/v1/complaints/{cid}/accept", headers=alice)).is_success
    reply = await api.client.post(
        f"/api/v1/complaints/{cid}/reply", json={"text": "已安排维修,今日恢复供水"}, headers=alice
    )
    assert reply.is_success
    done = await api.client.post(
        "/api/v1/complaints/by-token/feedback",
        json={"satisfied": True, "rating": 5},
        headers={"X-Complaint-Token": follow_up},
    )
    assert done.json()["status"] == "closed"


def ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {r["service_request_id"] for r in response.json()}


async def test_get_requests_filters(api: Api) -> None:
    water = (await api.post()).json()[0]
    gas_form = {"attribute[problem]": None, "attribute[smell]": "false"}
    gas = (await api.post(service_code="gas", **gas_form)).json()[0]
    other = (await api.post(address_id="p-2")).json()[0]
    await _close(api, water["service_request_id"], water["follow_up_token"])
    # One filed 100 days ago (outside the default window), through the native intake.
    old = await intake.file(
        complaints_unit(api.pool, T0 - timedelta(days=100)),
        reference.load_rules(),
        OWNER,
        intake.Intake(
            project_id="p-1",
            category="water",
            description=TEXT,
            channel="web",
            answers={"problem": "leak"},
        ),
        trace=Trace.start(),
    )
    w, g, o = (x["service_request_id"] for x in (water, gas, other))
    old_id = old.complaint.complaint_id
    get = api.client.get
    url = f"{BASE}/requests.json"

    assert ids(await get(url)) == {w, g, o}  # default: the last 90 days
    assert ids(await get(url, params={"service_code": "gas"})) == {g}
    assert ids(await get(url, params={"service_code": "gas,water"})) == {w, g, o}
    assert ids(await get(url, params={"status": "closed"})) == {w}
    assert ids(await get(url, params={"status": "open"})) == {g, o}
    assert ids(await get(url, params={"status": "open,closed"})) == {w, g, o}
    since = {"start_date": (T0 - timedelta(days=120)).isoformat()}
    assert ids(await get(url, params=since)) == {w, g, o, old_id}
    window = {"start_date": "2025-11-01T00:00:00Z", "end_date": "2025-12-31T00:00:00+08:00"}
    assert ids(await get(url, params=window)) == {old_id}
    assert ids(await get(url, params={"end_date": "2026-01-15T00:00:00Z"})) == {
        old_id
    }  # 90 days back from it
    combined = {"status": "open", "service_code": "water", **since}
    assert ids(await get(url, params=combined)) == {o, old_id}
    # service_request_id (comma list) overrides every other parameter.
    by_id = {"service_request_id": f"{w},{old_id},no-such-id", "status": "open"}
    assert ids(await get(url, params=by_id)) == {w, old_id}

    assert_spec_error(await get(url, params={"status": "pending"}), 400)
    assert_spec_error(await get(url, params={"service_code": "potholes"}), 400)
    assert_spec_error(await get(url, params={"start_date": "yesterday"}), 400)
    assert_spec_error(await get(url, params={"start_date": "2026-03-01T00:00:00"}), 400)
    swapped = {"start_date": "2026-03-02T00:00:00Z", "end_date": "2026-03-01T00:00:00Z"}
    assert_spec_error(await get(url, params=swapped), 400)


async def test_get_requests_caps_results(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(open311, "MAX_RESULTS", 2)
    for _ in range(3):
        assert (await api.post()).status_code == 201
    assert len(ids(await api.client.get(f"{BASE}/requests.json"))) == 2


async def test_get_one_request_and_its_fields(api: Api) -> None:
    made = (await api.post()).json()[0]
    cid = made["service_request_id"]
    r = await api.client.get(f"{BASE}/requests/{cid}.json")
    assert r.status_code == 200
    [one] = r.json()
    assert one == {
        "service_request_id": cid,
        "status": "open",
        "status_notes": "待签收",
        "service_name": "供水",
        "service_code": "water",
        "agency_responsible": "ent-a 物业",
        "service_notice": one["service_notice"],
        "requested_datetime": "2026-03-02T09:00:00+08:00",
        "updated_datetime": "2026-03-02T09:00:00+08:00",
        "expected_datetime": one["expected_datetime"],
        "address": "和平区 p-1 小区",
        "address_id": "p-1",
    }
    assert made["token"] in one["service_notice"]
    assert datetime.fromisoformat(one["expected_datetime"]) > T0

    await _close(api, cid, made["follow_up_token"])
    [closed] = (await api.client.get(f"{BASE}/requests/{cid}.json")).json()
    assert closed["status"] == "closed"
    assert closed["status_notes"] == "已办结"
    assert closed["updated_datetime"] == "2026-03-02T09:00:00+08:00"  # the fixed clock

    x = await api.client.get(f"{BASE}/requests/{cid}.xml")
    root = ET.fromstring(x.content)  # noqa: S314
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == cid
    assert root.findtext("request/status") == "closed"

    assert_spec_error(await api.client.get(f"{BASE}/requests/no-such-id.json"), 404)


async def test_token_gives_the_request_id(api: Api) -> None:
    made = (await api.post()).json()[0]
    r = await api.client.get(f"{BASE}/tokens/{made['token']}.json")
    assert r.status_code == 200
    assert r.json() == [{"service_request_id": made["service_request_id"], "token": made["token"]}]
    assert_spec_error(await api.client.get(f"{BASE}/tokens/TS-19990101-000001.json"), 404)


async def test_native_complaint_is_readable_through_open311(api: Api) -> None:
    body = {
        "project_id": "p-2",
        "category": "elevator",
        "description": "二号楼电梯困人,请马上处理",
        "answers": {"trapped": True},
        "contact": {"name": "李四", "phone": "13900001111"},
    }
    made = await api.client.post("/api/v1/complaints", json=body, headers=api.auth(OWNER))
    assert made.status_code == 201, made.text
    cid = made.json()["complaint_id"]
    [one] = (await api.client.get(f"{BASE}/requests/{cid}.json")).json()
    assert one["service_code"] == "elevator"
    assert one["agency_responsible"] == "ent-b 物业"
    assert one["address_id"] == "p-2"
    text = json.dumps(one, ensure_ascii=False)
    for secret in ("李四", "13900001111", "二号楼电梯困人"):
        assert secret not in text


async def test_public_reads_carry_no_personal_data(api: Api) -> None:
    made = (await api.post(media_url="https://example.org/a.jpg")).json()[0]
    bodies: list[Any] = []
    for path in (
        "/requests.json",
        f"/requests/{made['service_request_id']}.json",
        f"/tokens/{made['token']}.json",
    ):
        r = await api.client.get(BASE + path)
        assert r.status_code == 200
        bodies.append(r.json())
    xml_text = (await api.client.get(f"{BASE}/requests.xml")).text
    text = json.dumps(bodies, ensure_ascii=False) + xml_text
    for secret in (PHONE, FIRST, EMAIL, TEXT, WHERE, "acct-7", made["follow_up_token"]):
        assert secret not in text
    for request in bodies[0]:
        assert not {"description", "lat", "long", "media_url", "zipcode"} & set(request)


async def test_out_of_range_dates_and_non_form_bodies_are_400s(api: Api) -> None:
    for params in (
        {"end_date": "0001-01-01T00:00:00+00:00"},
        {"start_date": "9999-12-31T23:00:00-10:00"},
    ):
        r = await api.client.get(f"{BASE}/requests.json", params=params)
        assert_spec_error(r, 400)
    r = await api.client.post(
        f"{BASE}/requests.json", files={"upload": ("a.bin", b"x" * 10, "application/octet-stream")}
    )
    assert "x-www-form-urlencoded" in assert_spec_error(r, 400)
