"""Open311 GeoReport v2 conformance, on the real PostgreSQL: every endpoint of the spec (services,
service definition, POST request, GET requests with each filter, GET one request, tokens), JSON and
XML, the spec's error shape and status codes, round trips with the native API, and no personal
data in the public reads."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from runtime import attachments, db
from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from runtime.settings import Settings
from runtime.unit_of_work import Trace
from services.complaints.adapters import reference
from services.complaints.domain import geo
from services.complaints.entrypoints import complaints_http, open311
from services.complaints.service import intake
from tests import images
from tests.asgi import live_served, served
from tests.complaints_support import api_spec, complaints_settings
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


# Where the two projects are (WGS-84, as the registry keeps them): about 2.3 km apart in 和平区.
P1_AT = geo.Point(39.11712, 117.19961)
P2_AT = geo.Point(39.12820, 117.17650)
P1_ADDRESS = "天津市和平区南京路 101 号"


async def _project(
    pool: asyncpg.Pool,
    project_id: str,
    enterprise: str,
    district: str,
    at: geo.Point,
    address: str,
) -> None:
    await register_complaint_project(
        pool,
        project_id,
        enterprise,
        district,
        occurred_at=T0 - timedelta(days=300),
        address=address,
        latitude=at.latitude,
        longitude=at.longitude,
    )


class Api:
    def __init__(
        self,
        client: httpx.AsyncClient,
        app: FastAPI,
        issuer: DevIssuer,
        pool: asyncpg.Pool,
        images: str,
        database_url: str,
    ) -> None:
        self.client, self.app, self.issuer, self.pool = client, app, issuer, pool
        self.database_url = database_url
        self.images = images  # the image host's origin, the one media_url may come from

    def auth(self, who: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}

    async def post(
        self, files: list[tuple[str, tuple[str, bytes, str]]] | None = None, **changes: str | None
    ) -> httpx.Response:
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
        return await self.client.post(f"{BASE}/requests.json", data=data, files=files)


class ImageHost:
    """A real HTTP server on loopback that a city app's image host stands for: /photo.jpg (with
    GPS EXIF), /slow.jpg (answers after 3 s), /endless (streams without a length), /moved (302),
    /notes.txt (not an image)."""

    def __init__(self) -> None:
        photo = images.jpeg((1600, 1200), gps=True)

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/photo.jpg":
                    self._send(200, photo, "image/jpeg")
                elif self.path == "/slow.jpg":
                    time.sleep(3)
                    self._send(200, photo, "image/jpeg")
                elif self.path == "/endless":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.end_headers()
                    with contextlib.suppress(OSError):
                        for _ in range(64):
                            self.wfile.write(b"\xff" * 65536)
                elif self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "/photo.jpg")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._send(200, "通知".encode(), "text/plain; charset=utf-8")

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with contextlib.suppress(OSError):
                    self.wfile.write(body)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def image_host() -> Iterator[ImageHost]:
    host = ImageHost()
    try:
        yield host
    finally:
        host.close()


@pytest.fixture
async def api(
    request: pytest.FixtureRequest,
    fresh_db: str,
    kafka_topics: str,
    monkeypatch: pytest.MonkeyPatch,
    image_host: ImageHost,
) -> AsyncIterator[Api]:
    """The app with the Open311 routes; tests marked `live_http` reach it over TCP (uvicorn),
    the others in-process."""
    issuer = DevIssuer.generate()
    # The app's limiters are made from the environment at its first request.
    monkeypatch.setenv("RATE_LIMIT_BURST", "100")
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "60")

    async def projects(pool: asyncpg.Pool, _settings: Settings) -> None:
        await _project(pool, "p-1", "ent-a", "120101", P1_AT, P1_ADDRESS)
        await _project(pool, "p-2", "ent-b", "120102", P2_AT, "天津市和平区成都道 8 号")

    settings = complaints_settings(
        fresh_db,
        kafka_topics,
        issuer,
        open311_api_keys={"civic-app": hashlib.sha256(KEY.encode()).hexdigest()},
        open311_media_url_origins=(image_host.origin,),
        open311_media_fetch_timeout_s=1.0,
    )
    spec = api_spec(
        settings,
        title="open311 test",
        routers=(complaints_http.router, open311.router),
        on_startup=(projects,),
    )
    app = build_app(spec, settings, clock=FixedClock(T0))
    serve = live_served if request.node.get_closest_marker("live_http") else served
    async with serve(app, timeout=30) as client:
        pool = await db.create_pool(fresh_db, max_size=2)
        try:
            yield Api(client, app, issuer, pool, image_host.origin, fresh_db)
        finally:
            await pool.close()


def ticket(made: dict[str, Any]) -> str:
    """The ticket number, which the POST answer gives in its service_notice."""
    found = re.search(r"TS-\d{8}-\d{6}", made["service_notice"])
    assert found is not None, made
    return found.group(0)


def assert_spec_error(response: httpx.Response, status: int) -> str:
    """The spec's error shape: a list of {code, description}, code = the HTTP status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body, list)
    assert len(body) == 1
    assert set(body[0]) == {"code", "description"}
    assert body[0]["code"] == status
    assert response.headers["content-type"] == "application/json; charset=utf-8"
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
    assert r.headers["content-type"] == "text/xml; charset=utf-8"
    j = await api.client.get(f"{BASE}/services.json")
    assert j.headers["content-type"] == "application/json; charset=utf-8"
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
    assert set(made) == {  # the id at once, so no token (the spec: one or the other)
        "service_request_id",
        "service_notice",
        "account_id",
        "follow_up_token",
    }
    assert made["account_id"] == "acct-7"
    assert ticket(made).startswith("TS-20260302-")
    assert ticket(made) in made["service_notice"]
    cid = made["service_request_id"]

    # The native staff API sees the same complaint, channel open311, with the contact details.
    staff = await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(ALICE))
    assert staff.status_code == 200, staff.text
    c = staff.json()
    assert c["channel"] == "open311"
    assert c["ticket_no"] == ticket(made)
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
    assert made["service_notice"].startswith("有人被困电梯：请同时拨打电梯轿厢内张贴的应急救援电话")
    assert "emergency rescue number posted inside the lift car" in made["service_notice"]
    assert ticket(made) in made["service_notice"]
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


async def _photos(api: Api, cid: str) -> list[asyncpg.Record]:
    return await api.pool.fetch(
        "SELECT owner_id, content_type, data FROM attachments WHERE owner_id = $1", cid
    )


async def test_media_url_from_the_image_host_becomes_a_photo_without_exif(api: Api) -> None:
    r = await api.post(media_url=f"{api.images}/photo.jpg")
    assert r.status_code == 201, r.text
    cid = r.json()[0]["service_request_id"]
    [photo] = await _photos(api, cid)
    assert photo["content_type"] == "image/jpeg"
    assert images.gps_of(photo["data"]) == {}  # the owners' pipeline: re-encoded, no EXIF
    staff = (await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(ALICE))).json()
    assert len(staff["photos"]) == 1


async def test_media_url_refusals_file_nothing(api: Api) -> None:
    for url, says in (
        ("https://tracker.example/pixel.gif", "registered image origin"),
        (f"{api.images.replace('http:', 'https:')}/photo.jpg", "registered image origin"),
        ("file:///etc/passwd", "registered image origin"),
        (f"{api.images}/moved", "HTTP 302"),  # redirects are not followed
        (f"{api.images}/slow.jpg", "did not download within 1 s"),
        (f"{api.images}/endless", "larger than 15 MB"),  # 4 MB here: the cap is monkeypatched
        (f"{api.images}/notes.txt", "JPEG"),  # not an image: the pipeline's own refusal
    ):
        if "endless" in url:
            open311.attachments.DEFAULT_LIMITS = dataclasses.replace(
                open311.attachments.DEFAULT_LIMITS, max_bytes=15 * 1024 * 1024 // 8
            )
        try:
            r = await api.post(media_url=url)
        finally:
            open311.attachments.DEFAULT_LIMITS = attachments.Limits()
        text = assert_spec_error(r, 400)
        assert says in text or says.replace("15", "1") in text, (url, text)
    assert await api.pool.fetchval("SELECT count(*) FROM complaints") == 0
    assert await api.pool.fetchval("SELECT count(*) FROM attachments") == 0


async def test_multipart_media_files_become_photos(api: Api) -> None:
    files = [
        ("media", ("a.jpg", images.jpeg(gps=True), "image/jpeg")),
        ("media", ("b.png", images.png(), "image/png")),
    ]
    r = await api.post(files=files, **{"attribute[scope]": "building"})
    assert r.status_code == 201, r.text
    cid = r.json()[0]["service_request_id"]
    assert len(await _photos(api, cid)) == 2
    staff = (await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(ALICE))).json()
    assert staff["answers"] == {"problem": "no_water", "scope": "building"}  # fields read too
    bad = await api.post(files=[("media", ("x.jpg", b"not an image at all", "image/jpeg"))])
    assert "media.0" in assert_spec_error(bad, 400) or "JPEG" in bad.text
    many = [("media", (f"{i}.png", images.png((64, 64)), "image/png")) for i in range(10)]
    assert "9" in assert_spec_error(await api.post(files=many), 400)
    assert await api.pool.fetchval("SELECT count(*) FROM complaints") == 1


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
    # At most MAX_WINDOW (366 days) between start_date and end_date, given or implied.
    year = {"start_date": "2025-03-01T00:00:00+08:00", "end_date": "2026-03-01T00:00:00+08:00"}
    assert (await get(url, params=year)).status_code == 200
    longer = {**year, "start_date": "2025-02-27T00:00:00+08:00"}
    assert "366" in assert_spec_error(await get(url, params=longer), 400)
    assert_spec_error(await get(url, params={"start_date": "2024-01-01T00:00:00Z"}), 400)


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
        "status_notes": "待企业签收",
        "service_name": "供水",
        "service_code": "water",
        "agency_responsible": "ent-a 物业",
        "service_notice": one["service_notice"],
        "requested_datetime": "2026-03-02T09:00:00+08:00",
        "updated_datetime": "2026-03-02T09:00:00+08:00",
        "expected_datetime": one["expected_datetime"],
        "address": "和平区 p-1 小区",
        "address_id": "p-1",
        "lat": P1_AT.latitude,  # the project's location, WGS-84
        "long": P1_AT.longitude,
    }
    assert ticket(made) in one["service_notice"]
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
    r = await api.client.get(f"{BASE}/tokens/{ticket(made)}.json")
    assert r.status_code == 200
    assert r.json() == [{"service_request_id": made["service_request_id"], "token": ticket(made)}]
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
    made = (await api.post(media_url=f"{api.images}/photo.jpg")).json()[0]
    bodies: list[Any] = []
    for path in (
        "/requests.json",
        f"/requests/{made['service_request_id']}.json",
        f"/tokens/{ticket(made)}.json",
    ):
        r = await api.client.get(BASE + path)
        assert r.status_code == 200
        bodies.append(r.json())
    xml_text = (await api.client.get(f"{BASE}/requests.xml")).text
    text = json.dumps(bodies, ensure_ascii=False) + xml_text
    for secret in (PHONE, FIRST, EMAIL, TEXT, WHERE, "acct-7", made["follow_up_token"]):
        assert secret not in text
    for request in bodies[0]:
        assert not {"description", "media_url", "zipcode"} & set(request)
        # lat/long are the project's registered location, never a point the owner sent
        assert (request["lat"], request["long"]) == (P1_AT.latitude, P1_AT.longitude)


async def test_out_of_range_dates_and_non_form_bodies_are_400s(api: Api) -> None:
    for params in (
        {"end_date": "0001-01-01T00:00:00+00:00"},
        {"start_date": "9999-12-31T23:00:00-10:00"},
    ):
        r = await api.client.get(f"{BASE}/requests.json", params=params)
        assert_spec_error(r, 400)
    r = await api.client.post(f"{BASE}/requests.json", json={"api_key": KEY})
    assert "x-www-form-urlencoded" in assert_spec_error(r, 400)


async def test_unknown_paths_and_methods_answer_in_the_spec_format(api: Api) -> None:
    for path in ("/nope.json", "/requests/a/b.json", "/discovery.json", "/"):
        assert "no such Open311 resource" in assert_spec_error(
            await api.client.get(BASE + path), 404
        )
    x = await api.client.get(f"{BASE}/nope.xml")
    assert x.status_code == 404
    assert x.headers["content-type"] == "text/xml; charset=utf-8"
    assert ET.fromstring(x.content).findtext("error/code") == "404"  # noqa: S314
    wrong = await api.client.delete(f"{BASE}/requests.json")
    assert "POST" in assert_spec_error(wrong, 405)
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "POST"}
    assert_spec_error(await api.client.put(f"{BASE}/services.json"), 405)


# --- filing by place: lat/long (PostGIS, nearest project within the radius), address_string ----


def _gcj(p: geo.Point, north_m: float = 0.0) -> dict[str, str]:
    """What a Chinese map app reports for a point `north_m` metres north of `p`: GCJ-02."""
    moved = geo.Point(p.latitude + north_m / 111_195, p.longitude)
    g = geo.wgs84_to_gcj02(moved)
    return {"lat": f"{g.latitude:.6f}", "long": f"{g.longitude:.6f}"}


async def test_filing_by_lat_long_finds_the_nearest_project(api: Api) -> None:
    for target, project in ((P1_AT, "p-1"), (P2_AT, "p-2")):
        r = await api.post(address_id=None, address_string=None, **_gcj(target, north_m=120))
        assert r.status_code == 201, r.text
        cid = r.json()[0]["service_request_id"]
        [one] = (await api.client.get(f"{BASE}/requests/{cid}.json")).json()
        assert one["address_id"] == project
        assert (one["lat"], one["long"]) == (target.latitude, target.longitude)
    # the point is not kept: the public answer shows the project's location, nothing else
    assert str(P2_AT.latitude + 120 / 111_195)[:8] not in json.dumps(one)


async def test_lat_long_are_read_as_gcj02_so_a_raw_gps_point_misses(api: Api) -> None:
    # P1's own WGS-84 numbers, read as GCJ-02, lie some 550 m south-west of it: beyond 300 m.
    raw = {"lat": str(P1_AT.latitude), "long": str(P1_AT.longitude)}
    r = await api.post(address_id=None, address_string=None, **raw)
    text = assert_spec_error(r, 400)
    assert "300 米内没有登记位置的物业项目" in text
    assert "within 300 m" in text
    nothing = await api.post(address_id=None, address_string=None, lat="39.5", long="117.9")
    assert "address_id" in assert_spec_error(nothing, 400)


async def test_a_point_that_misses_falls_back_to_the_address(api: Api) -> None:
    far = {"lat": "39.5", "long": "117.9"}
    r = await api.post(address_id=None, address_string=f"{P1_ADDRESS} 3号楼2单元501室", **far)
    assert r.status_code == 201, r.text
    cid = r.json()[0]["service_request_id"]
    staff = (await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(ALICE))).json()
    assert staff["project_id"] == "p-1"
    assert staff["address"] == f"{P1_ADDRESS} 3号楼2单元501室"


async def test_filing_by_address_string(api: Api) -> None:
    # whitespace does not matter; the project's name also counts
    r = await api.post(address_id=None, address_string="天津市和平区南京路101号 3号楼")
    assert r.status_code == 201, r.text
    by_name = await api.post(address_id=None, address_string="p-2 小区东门")
    assert by_name.status_code == 201, by_name.text
    ids_ = [r.json()[0]["service_request_id"], by_name.json()[0]["service_request_id"]]
    rows = (
        await api.client.get(f"{BASE}/requests.json", params={"service_request_id": ",".join(ids_)})
    ).json()
    assert {x["address_id"] for x in rows} == {"p-1", "p-2"}
    miss = await api.post(address_id=None, address_string="河西区友谊路 9 号")
    assert "address_string names no registered project" in assert_spec_error(miss, 400)


async def test_bad_coordinates_are_refused(api: Api) -> None:
    for bad in (
        {"lat": "39.1"},
        {"long": "117.2"},
        {"lat": "north", "long": "117.2"},
        {"lat": "91", "long": "117.2"},
        {"lat": "39.1", "long": "nan"},
    ):
        assert_spec_error(await api.post(address_id=None, address_string=None, **bad), 400)
    none = await api.post(address_id=None, address_string=None)
    assert "lat/long" in assert_spec_error(none, 400)
    assert await api.pool.fetchval("SELECT count(*) FROM complaints") == 0


# --- API keys: python -m services.complaints.apikeys issue / list / revoke -----------------------


def apikeys(api: Api, *args: str) -> subprocess.CompletedProcess[str]:
    """The operators' command, run as they run it, against the test's database."""
    return subprocess.run(
        [sys.executable, "-m", "services.complaints.apikeys", *args],
        env={**os.environ, "DATABASE_URL": api.database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_api_keys_are_issued_hashed_rate_limited_listed_and_revoked(api: Api) -> None:
    issued = apikeys(api, "issue", "--client", "jxb-12345", "--name", "津心办 12345", "--rate", "2")
    assert issued.returncode == 0, issued.stderr
    secret = re.search(r"api_key: (\S+)", issued.stdout)
    assert secret is not None, issued.stdout
    key = secret.group(1)
    key_id = issued.stdout.split()[0]
    # only the hash is stored
    [row] = await api.pool.fetch("SELECT * FROM open311_api_keys")
    assert row["key_sha256"] == hashlib.sha256(key.encode()).hexdigest()
    assert key not in json.dumps({k: str(v) for k, v in dict(row).items()})
    assert (row["client_id"], row["name"], row["rate_per_minute"]) == (
        "jxb-12345",
        "津心办 12345",
        2,
    )

    first = await api.post(api_key=key)
    assert first.status_code == 201, first.text
    cid = first.json()[0]["service_request_id"]
    staff = (await api.client.get(f"/api/v1/complaints/{cid}", headers=api.auth(ALICE))).json()
    assert staff["channel"] == "open311"
    assert (await api.post(api_key=key)).status_code == 201
    limited = await api.post(api_key=key)  # the key's own rate: 2 a minute
    assert_spec_error(limited, 429)
    assert "Retry-After" in limited.headers
    assert (await api.post()).status_code == 201  # another client's key is not held back

    listed = apikeys(api, "list")
    assert listed.returncode == 0, listed.stderr
    assert key_id in listed.stdout
    assert "jxb-12345" in listed.stdout
    assert key[:8] in listed.stdout
    assert key not in listed.stdout

    revoked = apikeys(api, "revoke", key_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked" in revoked.stdout
    assert "api_key 无效" in assert_spec_error(await api.post(api_key=key), 403)
    assert key_id not in apikeys(api, "list").stdout
    assert key_id in apikeys(api, "list", "--all").stdout

    bad = apikeys(api, "issue", "--client", "Bad Client", "--name", "x")
    assert bad.returncode == 1
    assert "client id" in bad.stderr
    assert "no API key" in apikeys(api, "revoke", "no-such-key").stderr
    assert await api.pool.fetchval("SELECT count(*) FROM open311_api_keys") == 1


# --- the whole walk, as FixMyStreet's Open311 module does it, over TCP ---------------------------


def _xml(response: httpx.Response) -> ET.Element:
    assert response.headers["content-type"] == "text/xml; charset=utf-8", response.headers
    return ET.fromstring(response.content)  # noqa: S314 - our own answer


@pytest.mark.live_http
async def test_fixmystreet_style_walk_over_http(api: Api) -> None:
    assert str(api.client.base_url).startswith("http://127.0.0.1:")  # a real socket
    # 1. discover the services and a definition (FixMyStreet: services.xml, services/{code}.xml)
    services = _xml(await api.client.get(f"{BASE}/services.xml", params={"jurisdiction_id": "tj"}))
    water = next(s for s in services.findall("service") if s.findtext("service_code") == "water")
    assert water.findtext("metadata") == "true"
    definition = _xml(await api.client.get(f"{BASE}/services/water.xml"))
    problem = next(
        a for a in definition.findall("attributes/attribute") if a.findtext("code") == "problem"
    )
    choice = problem.findtext("values/value/key")
    assert choice

    # 2. post by lat/long (the city app's GCJ-02 point near the gate), with a photo link
    form = {
        "api_key": KEY,
        "jurisdiction_id": "tj",
        "service_code": "water",
        "description": TEXT,
        **_gcj(P1_AT, north_m=60),
        "address_string": "南京路与营口道交口附近",
        "email": EMAIL,
        "first_name": FIRST,
        "last_name": LAST,
        "phone": PHONE,
        "media_url": f"{api.images}/photo.jpg",
        f"attribute[{'problem'}]": choice,
    }
    posted = await api.client.post(f"{BASE}/requests.xml", data=form)
    assert posted.status_code == 201, posted.text
    answer = _xml(posted)
    request_id = answer.findtext("request/service_request_id")
    if not request_id:  # FixMyStreet: no id yet, so resolve the token
        token = answer.findtext("request/token")
        assert token
        request_id = _xml(await api.client.get(f"{BASE}/tokens/{token}.xml")).findtext(
            "request/service_request_id"
        )
    assert request_id
    assert answer.find("request/token") is None  # the id at once: no token (the spec)
    notice = answer.findtext("request/service_notice") or ""
    follow_up = answer.findtext("request/follow_up_token")
    assert follow_up

    # 3. poll tokens/ with the ticket number the owner was told
    ticket_no = ticket({"service_notice": notice})
    by_token = _xml(await api.client.get(f"{BASE}/tokens/{ticket_no}.xml"))
    assert by_token.findtext("request/service_request_id") == request_id

    # 4. poll requests.xml: open, at the project's location, nothing personal
    async def fetched(**params: str) -> ET.Element:
        root = _xml(await api.client.get(f"{BASE}/requests.xml", params=params))
        assert root.tag == "service_requests"
        [mine] = [
            r for r in root.findall("request") if r.findtext("service_request_id") == request_id
        ]
        return mine

    mine = await fetched(service_request_id=request_id)
    assert mine.findtext("status") == "open"
    assert mine.findtext("address_id") == "p-1"
    assert float(mine.findtext("lat") or "nan") == P1_AT.latitude
    assert float(mine.findtext("long") or "nan") == P1_AT.longitude
    listing = (await api.client.get(f"{BASE}/requests.xml")).text
    for secret in (PHONE, FIRST, EMAIL, TEXT, "营口道", follow_up):
        assert secret not in listing

    # 5. the enterprise handles it and the owner closes it; the next poll shows it closed
    staff = (
        await api.client.get(f"/api/v1/complaints/{request_id}", headers=api.auth(ALICE))
    ).json()
    assert len(staff["photos"]) == 1  # media_url became the complaint's photo
    await _close(api, request_id, follow_up)
    window = {
        "start_date": (T0 - timedelta(days=1)).isoformat(),
        "end_date": (T0 + timedelta(days=1)).isoformat(),
    }
    closed = await fetched(**window)
    assert closed.findtext("status") == "closed"
    assert closed.findtext("status_notes") == "已办结"

    # 6. what this server does not serve answers in the spec's XML error shape
    updates = await api.client.get(f"{BASE}/servicerequestupdates.xml")
    assert updates.status_code == 404
    assert _xml(updates).findtext("error/code") == "404"
