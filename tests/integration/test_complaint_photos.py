"""Photos on the owners' complaint form, on the real PostgreSQL (issue 15): good JPEG and PNG
stored re-encoded and without EXIF (read back from the database), a 20 MB upload, a script
renamed .jpg and a PNG bomb refused with the form kept and nothing written, a refused photo
leaves no complaint and no attachment, and only those allowed to see the complaint get its
photos (private, nosniff, the stored type)."""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from runtime.settings import Settings
from services.complaints.entrypoints import complaints_http, photos_http, web
from tests import images
from tests.asgi import served
from tests.complaints_support import api_spec, complaints_settings
from tests.factories import register_complaint_project

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA)
ALICE = Principal("alice", Role.ENTERPRISE, enterprise_id="ent-a")
MALLORY = Principal("mallory", Role.ENTERPRISE, enterprise_id="ent-b")
DISTRICT = Principal("do-1", Role.DISTRICT_OFFICE, district_code="120101")
OTHER_DISTRICT = Principal("do-2", Role.DISTRICT_OFFICE, district_code="120102")
HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')
TICKET = re.compile(r"TS-\d{8}-\d{6}")


@dataclass
class Site:
    client: httpx.AsyncClient
    issuer: DevIssuer
    dsn: str

    def auth(self, who: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.dsn)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    async def counts(self) -> tuple[int, int, int]:
        [row] = await self.fetch(
            """SELECT (SELECT count(*) FROM complaints) AS c,
                      (SELECT count(*) FROM attachments) AS a,
                      (SELECT count(*) FROM outbox) AS o"""
        )
        return row["c"], row["a"], row["o"]

    async def form(self) -> dict[str, str]:
        page = await self.client.get("/", params={"project_id": "p-1", "category": "other"})
        assert page.status_code == 200, page.text
        assert 'enctype="multipart/form-data"' in page.text
        assert 'type="file"' in page.text
        return dict(HIDDEN.findall(page.text))

    async def file(
        self, files: list[tuple[str, bytes, str]], description: str = "楼道灯坏了一个月没人修"
    ) -> httpx.Response:
        data = {**await self.form(), "description": description, "address": "3 号楼 2 单元"}
        data["anonymous"] = "yes"
        return await self.client.post(
            "/",
            data=data,
            files=[("photos", (name, content, kind)) for name, content, kind in files],
        )


@pytest.fixture
async def site(
    fresh_db: str, kafka_topics: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Site]:
    monkeypatch.setenv("RATE_LIMIT_ENABLED", "false")
    issuer = DevIssuer.generate()

    async def projects(pool: asyncpg.Pool, _settings: Settings) -> None:
        await register_complaint_project(
            pool, "p-1", "ent-a", "120101", occurred_at=T0 - timedelta(days=30)
        )

    settings = complaints_settings(fresh_db, kafka_topics, issuer)
    spec = api_spec(
        settings,
        title="complaints photos test",
        routers=(complaints_http.router, photos_http.router, web.router, photos_http.owner_router),
        on_startup=(projects,),
    )
    app = build_app(spec, settings, clock=FixedClock(T0))
    async with served(app) as client:
        yield Site(client, issuer, fresh_db)


async def test_good_photos_are_stored_without_exif_and_shown_to_the_owner(site: Site) -> None:
    gps_photo = images.jpeg((3000, 2000), gps=True)
    assert images.gps_of(gps_photo)
    filed = await site.file(
        [("IMG_1.jpg", gps_photo, "image/jpeg"), ("plan.png", images.png(), "image/png")]
    )
    assert filed.status_code == 201, filed.text
    rows = await site.fetch(
        "SELECT attachment_id, owner_id, content_type, sha256, width, height, data, thumbnail,"
        " original FROM attachments ORDER BY position"
    )
    assert len(rows) == 2
    jpeg_row = rows[0]
    assert images.exif_of(jpeg_row["data"]) == {}  # read back from PostgreSQL: no EXIF at all
    assert images.gps_of(jpeg_row["data"]) == {}
    assert (jpeg_row["width"], jpeg_row["height"]) == (2048, 1365)
    assert max(images.size_of(jpeg_row["thumbnail"])) == 320
    assert jpeg_row["original"] is None  # owners' photos keep no original
    assert rows[1]["content_type"] == "image/jpeg"  # an opaque PNG is re-encoded as JPEG
    [complaint] = await site.fetch("SELECT complaint_id FROM complaints")
    assert {r["owner_id"] for r in rows} == {complaint["complaint_id"]}

    # the event carries references (ids and content hashes), never bytes
    [event] = await site.fetch(
        "SELECT payload FROM outbox WHERE event_type LIKE '%ComplaintFiled%'"
    )
    payload = bytes(event["payload"]).decode()
    for row in rows:
        assert str(row["attachment_id"]) in payload
        assert row["sha256"] in payload
    assert len(payload) < 5000

    # the owner: the status page shows the thumbnails through links for this browser
    ticket = TICKET.search(filed.text)
    token = re.search(r'id="token" class="token">([^<]+)<', filed.text)
    assert ticket is not None
    assert token is not None
    csrf = dict(HIDDEN.findall((await site.client.get("/track")).text))["csrf_token"]
    status = await site.client.post(
        "/track", data={"csrf_token": csrf, "ticket_no": ticket.group(0), "token": token.group(1)}
    )
    assert status.status_code == 200, status.text
    links = re.findall(r'<img src="([^"]+)"', status.text)
    assert len(links) == 2
    thumb = await site.client.get(links[0].replace("&amp;", "&"))
    assert thumb.status_code == 200
    assert thumb.headers["content-type"] == "image/jpeg"
    assert thumb.headers["cache-control"].startswith("private")
    assert thumb.headers["x-content-type-options"] == "nosniff"
    assert thumb.content == jpeg_row["thumbnail"]
    # the owner over the API, with the follow-up token in the header
    [first] = await site.fetch("SELECT attachment_id FROM attachments ORDER BY position LIMIT 1")
    url = f"/api/v1/complaints/by-token/photos/{first['attachment_id']}/image"
    by_token = await site.client.get(url, headers={"X-Complaint-Token": token.group(1)})
    assert by_token.status_code == 200, by_token.text
    assert by_token.content == jpeg_row["data"]
    wrong = await site.client.get(url, headers={"X-Complaint-Token": "x" * 40})
    assert wrong.status_code == 404
    # the same link in another browser (no session cookie) is nothing
    other = httpx.AsyncClient(transport=site.client._transport, base_url=site.client.base_url)
    async with other:
        assert (await other.get(links[0].replace("&amp;", "&"))).status_code == 404


async def test_staff_see_photos_of_complaints_in_their_scope_only(site: Site) -> None:
    filed = await site.file([("a.jpg", images.jpeg((640, 480), gps=True), "image/jpeg")])
    assert filed.status_code == 201, filed.text
    [complaint] = await site.fetch("SELECT complaint_id FROM complaints")
    cid = complaint["complaint_id"]

    detail = await site.client.get(f"/api/v1/complaints/{cid}", headers=site.auth(ALICE))
    assert detail.status_code == 200, detail.text
    [photo] = detail.json()["photos"]
    for who in (ALICE, DISTRICT):
        got = await site.client.get(photo["url"], headers=site.auth(who))
        assert got.status_code == 200
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["x-content-type-options"] == "nosniff"
        assert got.headers["cache-control"].startswith("private")
        assert images.gps_of(got.content) == {}
        assert images.size_of(got.content) == (640, 480)
    for who in (MALLORY, OTHER_DISTRICT):  # another enterprise, district Y opening district X's
        got = await site.client.get(photo["url"], headers=site.auth(who))
        assert got.status_code == 404
        listed = await site.client.get(f"/api/v1/complaints/{cid}/photos", headers=site.auth(who))
        assert listed.status_code == 404
    assert (await site.client.get(photo["url"])).status_code == 401  # no token at all
    # a photo id under another complaint's path is nothing either
    wrong = photo["url"].replace(cid, "00000000-0000-0000-0000-000000000000")
    assert (await site.client.get(wrong, headers=site.auth(ALICE))).status_code == 404


@pytest.mark.parametrize(
    ("name", "content", "kind", "reason"),
    [
        ("big.jpg", b"\xff\xd8\xff" + os.urandom(20 * 1024 * 1024), "image/jpeg", "太大"),
        ("holiday.jpg", images.SCRIPT, "image/jpeg", "不是照片"),
        ("bomb.png", images.png_bomb(), "image/png", "像素过多"),
    ],
    ids=["20MB", "script-renamed-jpg", "png-bomb"],
)
async def test_a_refused_photo_writes_nothing_and_keeps_the_form(
    site: Site, name: str, content: bytes, kind: str, reason: str
) -> None:
    before = await site.counts()
    good = ("ok.jpg", images.jpeg((200, 200)), "image/jpeg")
    refused = await site.file([good, (name, content, kind)], description="电梯三天两头停运")
    assert refused.status_code == 422, refused.text[:500]
    assert reason in refused.text
    assert 'id="photos-error"' in refused.text
    assert "照片需要重新选择" in refused.text
    assert "电梯三天两头停运" in refused.text  # what was typed is kept
    assert "3 号楼 2 单元" in refused.text
    assert await site.counts() == before  # no complaint, no attachment, no event


async def test_a_photo_with_a_refused_complaint_leaves_no_attachment(site: Site) -> None:
    """The domain refuses the complaint after the photos passed: nothing of either is kept."""
    before = await site.counts()
    refused = await site.file(
        [("ok.jpg", images.jpeg((200, 200)), "image/jpeg")], description="<b>停水</b>啦啦啦"
    )
    assert refused.status_code == 422
    assert await site.counts() == before


async def test_the_form_without_photos_still_works_urlencoded(site: Site) -> None:
    data = {**await site.form(), "description": "楼道灯坏了一个月没人修", "anonymous": "yes"}
    filed = await site.client.post("/", data=data)
    assert filed.status_code == 201, filed.text
    assert await site.counts() == (1, 0, 1)


async def test_a_multipart_post_without_the_csrf_token_is_refused(site: Site) -> None:
    await site.form()  # the session cookie
    refused = await site.client.post(
        "/",
        data={"project_id": "p-1", "category": "other", "description": "楼道灯坏了一个月没人修"},
        files=[("photos", ("a.jpg", images.jpeg((64, 64)), "image/jpeg"))],
    )
    assert refused.status_code == 403
    assert await site.counts() == (0, 0, 0)


async def test_api_clients_file_with_photos_and_a_refused_photo_files_nothing(site: Site) -> None:
    owner = Principal("owner-9", Role.OWNER)
    complaint = (
        '{"project_id": "p-1", "category": "other", "description": "楼道灯坏了一个月没人修"}'
    )
    good = ("a.jpg", images.jpeg((500, 400), gps=True), "image/jpeg")
    refused = await site.client.post(
        "/api/v1/complaints/with-photos",
        headers=site.auth(owner),
        data={"complaint": complaint},
        files=[("photos", good), ("photos", ("evil.jpg", images.SCRIPT, "image/jpeg"))],
    )
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "photo_type"
    assert [f["field"] for f in error["fields"]] == ["photos.1"]
    assert "不是照片" in error["message"]
    assert await site.counts() == (0, 0, 0)

    bad_json = await site.client.post(
        "/api/v1/complaints/with-photos",
        headers=site.auth(owner),
        data={"complaint": '{"project_id": "p-1"}'},
        files=[("photos", good)],
    )
    assert bad_json.status_code == 422
    assert "complaint" in bad_json.text
    assert await site.counts() == (0, 0, 0)

    filed = await site.client.post(
        "/api/v1/complaints/with-photos",
        headers=site.auth(owner),
        data={"complaint": complaint},
        files=[("photos", good)],
    )
    assert filed.status_code == 201, filed.text
    [row] = await site.fetch("SELECT data FROM attachments")
    assert images.gps_of(row["data"]) == {}
    assert await site.counts() == (1, 1, 1)
