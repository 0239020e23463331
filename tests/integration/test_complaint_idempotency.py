"""Complaint intake with `Idempotency-Key`, on the real PostgreSQL (issue 13 #6): a client
retrying after a lost answer files once (JSON API, Open311 POST), the same key with a different
body is refused, two requests at once with one key file once, and the owners' HTML form does not
file twice when it is submitted twice."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from runtime.settings import Settings
from services.complaints.entrypoints import complaints_http, open311, web
from tests.asgi import served
from tests.complaints_support import api_spec, complaints_settings
from tests.factories import register_complaint_project

pytestmark = pytest.mark.integration
MIGRATIONS = Path("services/complaints/migrations")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA)
OWNER = Principal("owner-1", Role.OWNER)
OTHER_OWNER = Principal("owner-2", Role.OWNER)
BODY = {"project_id": "p-1", "category": "other", "description": "楼道灯坏了一个月没人修"}
OPEN311_KEY = "open311-test-key-0123456789"


@dataclass
class Api:
    client: httpx.AsyncClient
    issuer: DevIssuer
    dsn: str

    def auth(self, who: Principal, key: str | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.issuer.issue(who)}"}
        if key is not None:
            headers["Idempotency-Key"] = key
        return headers

    async def count(self) -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM complaints"))
        finally:
            await conn.close()

    async def filed_events(self) -> int:
        conn = await asyncpg.connect(self.dsn)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE event_type LIKE '%ComplaintFiled%'"
                )
            )
        finally:
            await conn.close()


@pytest.fixture
async def api(
    fresh_db: str, kafka_topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Api]:
    monkeypatch.setenv("RATE_LIMIT_ENABLED", "false")  # many requests from one test client
    issuer = DevIssuer.generate()

    async def projects(pool: asyncpg.Pool, _settings: Settings) -> None:
        await register_complaint_project(
            pool, "p-1", "ent-a", "120101", occurred_at=T0 - timedelta(days=30)
        )

    settings = complaints_settings(
        fresh_db,
        kafka_topics,
        issuer,
        open311_api_keys={"civic-app": hashlib.sha256(OPEN311_KEY.encode()).hexdigest()},
    )
    spec = api_spec(
        settings,
        title="complaints test",
        routers=(complaints_http.router, open311.router, web.router),
        on_startup=(projects,),
    )
    app = build_app(spec, settings, clock=FixedClock(T0))
    async with served(app) as client:
        yield Api(client, issuer, fresh_db)


async def test_a_retry_with_the_same_key_files_once_and_returns_the_same_complaint(
    api: Api,
) -> None:
    first = await api.client.post("/api/v1/complaints", json=BODY, headers=api.auth(OWNER, "k-1"))
    assert first.status_code == 201, first.text
    again = await api.client.post("/api/v1/complaints", json=BODY, headers=api.auth(OWNER, "k-1"))
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    a, b = first.json(), again.json()
    assert (b["complaint_id"], b["ticket_no"]) == (a["complaint_id"], a["ticket_no"])
    assert (a["replayed"], b["replayed"]) == (False, True)
    assert await api.count() == 1
    assert await api.filed_events() == 1  # one ComplaintFiled, not two
    # The replay's token is a new one and replaces the first (only its hash is stored).
    assert b["token"] != a["token"]
    old = await api.client.get(
        "/api/v1/complaints/by-token", headers={"X-Complaint-Token": a["token"]}
    )
    assert old.status_code == 404
    new = await api.client.get(
        "/api/v1/complaints/by-token", headers={"X-Complaint-Token": b["token"]}
    )
    assert new.status_code == 200
    assert new.json()["ticket_no"] == a["ticket_no"]

    # Keys are per caller: another owner's same key is another complaint; no key, no dedup.
    other = await api.client.post(
        "/api/v1/complaints", json=BODY, headers=api.auth(OTHER_OWNER, "k-1")
    )
    assert other.status_code == 201
    assert other.json()["complaint_id"] != a["complaint_id"]
    for _ in range(2):
        plain = await api.client.post("/api/v1/complaints", json=BODY, headers=api.auth(OWNER))
        assert plain.status_code == 201
    assert await api.count() == 4


async def test_the_same_key_with_a_different_body_is_refused(api: Api) -> None:
    first = await api.client.post("/api/v1/complaints", json=BODY, headers=api.auth(OWNER, "k-2"))
    assert first.status_code == 201
    changed = {**BODY, "description": "另一件事:电梯异响"}
    refused = await api.client.post(
        "/api/v1/complaints", json=changed, headers=api.auth(OWNER, "k-2")
    )
    assert refused.status_code == 409, refused.text
    error = refused.json()["error"]
    assert error["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in error["message"]
    assert "different request" in error["message_en"]
    assert await api.count() == 1
    too_long = await api.client.post(
        "/api/v1/complaints", json=BODY, headers=api.auth(OWNER, "x" * 129)
    )
    assert too_long.status_code == 422


async def test_two_requests_at_once_with_one_key_file_once(api: Api) -> None:
    for n in range(5):
        key = f"race-{n}"
        answers = await asyncio.gather(
            *(
                api.client.post("/api/v1/complaints", json=BODY, headers=api.auth(OWNER, key))
                for _ in range(4)
            )
        )
        assert sorted(a.status_code for a in answers) == [200, 200, 200, 201], [
            a.text for a in answers
        ]
        assert len({a.json()["complaint_id"] for a in answers}) == 1
    assert await api.count() == 5
    assert await api.filed_events() == 5


async def test_open311_post_takes_the_header_too(api: Api) -> None:
    form = {
        "api_key": OPEN311_KEY,
        "service_code": "other",
        "address_id": "p-1",
        "description": "楼道灯坏了一个月没人修",
    }
    key = {"Idempotency-Key": "civic-42"}
    first = await api.client.post("/open311/v2/requests.json", data=form, headers=key)
    assert first.status_code == 201, first.text
    again = await api.client.post("/open311/v2/requests.json", data=form, headers=key)
    assert again.status_code == 200, again.text
    assert again.headers["Idempotent-Replayed"] == "true"
    a, b = first.json()[0], again.json()[0]
    assert b["service_request_id"] == a["service_request_id"]
    assert b["follow_up_token"] != a["follow_up_token"]
    refused = await api.client.post(
        "/open311/v2/requests.json", data={**form, "description": "别的事"}, headers=key
    )
    assert refused.status_code == 409
    assert "Idempotency-Key" in refused.json()[0]["description"]
    assert await api.count() == 1


async def test_the_owners_form_submitted_twice_files_once(api: Api) -> None:
    page = await api.client.get("/", params={"project_id": "p-1", "category": "other"})
    assert page.status_code == 200, page.text
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    assert len(hidden["submission_id"]) >= 16
    fields = {**hidden, "description": "楼道灯坏了一个月没人修", "anonymous": "yes"}
    first = await api.client.post("/", data=fields)
    assert first.status_code == 201, first.text
    second = await api.client.post("/", data=fields)  # a double click, or a reload
    assert second.status_code == 201, second.text
    ticket = re.compile(r"TS-\d{8}-\d{6}")
    found = ticket.search(first.text)
    assert found is not None
    assert ticket.findall(second.text)[0] == found.group(0)
    assert await api.count() == 1
    # The same page sent again with other content is a new complaint, after saying so.
    edited = await api.client.post("/", data={**fields, "description": "又发现电梯异响"})
    assert edited.status_code == 409
    assert "已经提交过" in edited.text
    fresh = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', edited.text))
    assert fresh["submission_id"] != hidden["submission_id"]
    filed = await api.client.post(
        "/", data={**fresh, "description": "又发现电梯异响", "anonymous": "yes"}
    )
    assert filed.status_code == 201
    assert await api.count() == 2


async def test_a_submission_id_replays_only_in_the_browser_that_sent_it(api: Api) -> None:
    """The id is in the page: another browser (another session) sending it files its own
    complaint instead of taking over the first one with a new follow-up token."""
    page = await api.client.get("/", params={"project_id": "p-1", "category": "other"})
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    fields = {**hidden, "description": "楼道灯坏了一个月没人修", "anonymous": "yes"}
    first = await api.client.post("/", data=fields)
    assert first.status_code == 201, first.text
    api.client.cookies.clear()  # another browser: its own session and form token
    other = await api.client.get("/", params={"project_id": "p-1", "category": "other"})
    theirs = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', other.text))
    second = await api.client.post("/", data={**fields, "csrf_token": theirs["csrf_token"]})
    assert second.status_code == 201, second.text
    ticket = re.compile(r"TS-\d{8}-\d{6}")
    assert ticket.findall(second.text)[0] != ticket.findall(first.text)[0]
    assert await api.count() == 2
