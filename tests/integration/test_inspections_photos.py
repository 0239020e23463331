"""Photos in the inspections workspace (issue 15), in-process on real PostgreSQL: the patrol's
photos kept with the draft (resumed), moved into the inspection when it is filed (InspectionFailed
carries their references); the enterprise's evidence submitted with photos and shown on the
district's verify page; the original with its GPS only to the district office; a 20 MB file, a
script renamed .jpg and another district's user by URL each refused with nothing written."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from runtime.auth import DevIssuer
from runtime.scheduler import FixedClock
from tests import images
from tests.inspections_support import inspections_settings, signed_in_pages
from tests.integration.test_inspections_workspace import (
    BASE,
    ENTERPRISE,
    HEPING,
    HEXI,
    NOW,
    PROJECT,
    desk,
    walk_group,
)
from tests.workspace_support import Desk
from tests.workspace_support import csrf_token as token
from tests.workspace_support import fetch_rows as fetch

__all__ = ["desk"]  # the fixture, shared with the workspace tests

THUMB = re.compile(r'src="(/workspace/inspections/[^"]+/thumbnail)"')
WASTE = ("waste.daily", "waste.bins")


async def waste_group_with_photos(
    client: httpx.AsyncClient, files: list[tuple[str, tuple[str, bytes, str]]]
) -> httpx.Response:
    """Group 2 (waste) with its two first items failed and `files` attached."""
    page = await client.get(f"{BASE}patrol/{PROJECT}/groups/2")
    items = re.findall(r'name="r-([^"]+)" value="pass"', page.text)
    form = {"csrf_token": token(page)}
    for item_id in items:
        failed = item_id in WASTE
        form[f"r-{item_id}"] = "fail" if failed else "pass"
        form[f"n-{item_id}"] = f"{item_id} 有问题" if failed else ""
    return await client.post(f"{BASE}patrol/{PROJECT}/groups/2", data=form, files=files)


def data_of(payload: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(payload)
    return body.get("data", body)  # type: ignore[no-any-return]


async def counts(dsn: str) -> tuple[int, int]:
    attachments = await fetch(dsn, "SELECT count(*) AS n FROM attachments")
    drafts = await fetch(dsn, "SELECT count(*) AS n FROM patrol_drafts")
    return attachments[0]["n"], drafts[0]["n"]


async def file_patrol_with_photos(desk: Desk) -> tuple[str, list[str]]:
    """Walk the patrol with two photos on a failed item; returns the inspection id and the
    photo thumbnails' URLs shown after the group was saved."""
    client = desk.as_(HEPING)
    assert (await walk_group(client, 1)).status_code == 303
    saved = await waste_group_with_photos(
        client,
        [
            ("p-waste.daily", ("bin.jpg", images.jpeg(gps=True), "image/jpeg")),
            ("p-waste.daily", ("bin2.jpg", images.jpeg(color="red"), "image/jpeg")),
        ],
    )
    assert saved.status_code == 303, saved.text
    assert saved.headers["location"].endswith("/groups/2?saved=1")
    again = await client.get(saved.headers["location"])
    thumbs = THUMB.findall(again.text)
    assert len(thumbs) == 2, again.text
    for url in thumbs:
        shown = await client.get(url)
        assert shown.status_code == 200
        assert shown.headers["content-type"] == "image/jpeg"
    # resumed: the group page opened afresh still shows the draft's photos
    resumed = await client.get(f"{BASE}patrol/{PROJECT}/groups/2")
    assert THUMB.findall(resumed.text) == thumbs
    for n in (3, 4, 5):
        assert (await walk_group(client, n)).status_code == 303
    check = await client.get(f"{BASE}patrol/{PROJECT}/check")
    draft_id = re.search(r'name="draft_id" value="([^"]+)"', check.text)
    assert draft_id
    filed = await client.post(
        f"{BASE}patrol/{PROJECT}/submit",
        data={"csrf_token": token(check), "draft_id": draft_id.group(1)},
    )
    assert filed.status_code == 303
    inspection_id = filed.headers["location"].rsplit("/", 1)[1]
    shown = await client.get(filed.headers["location"])
    assert len(THUMB.findall(shown.text)) == 2  # the filed patrol shows the photos by order
    return inspection_id, thumbs


async def test_patrol_photos_are_kept_with_the_draft_and_filed_with_the_inspection(
    desk: Desk,
) -> None:
    inspection_id, _ = await file_patrol_with_photos(desk)
    rows = await fetch(
        desk.dsn,
        "SELECT owner_kind, owner_id, original IS NOT NULL AS kept FROM attachments"
        " ORDER BY position",
    )
    assert [(r["owner_kind"], r["owner_id"], r["kept"]) for r in rows] == [
        ("inspection-item", f"{inspection_id}:waste.daily", True),
        ("inspection-item", f"{inspection_id}:waste.daily", True),
    ]
    events = await fetch(
        desk.dsn,
        "SELECT convert_from(payload, 'UTF8') AS p FROM outbox"
        " WHERE event_type LIKE '%InspectionFailed%'",
    )
    assert len(events) == 1
    failed = {i["item_id"]: i for i in data_of(events[0]["p"])["failed_items"]}
    refs = failed["waste.daily"]["attachments"]
    assert len(refs) == 2
    assert all(len(r["sha256"]) == 64 for r in refs)
    assert failed["waste.bins"]["attachments"] == []
    assert "data" not in json.dumps(refs)  # references, never bytes

    # the district office gets the original with its GPS; the enterprise the re-encoded image
    photo = refs[0]["attachment_id"]
    original = await desk.as_(HEPING).get(f"{BASE}photos/{photo}/original")
    assert original.status_code == 200
    assert images.gps_of(original.content)
    mine = await desk.as_(ENTERPRISE).get(f"{BASE}photos/{photo}/original")
    assert mine.status_code == 200
    assert not images.gps_of(mine.content)
    # another district's office, by URL: nothing
    assert (await desk.as_(HEXI).get(f"{BASE}photos/{photo}/image")).status_code == 404


async def test_refused_photos_say_why_and_write_nothing(desk: Desk) -> None:
    client = desk.as_(HEPING)
    assert (await walk_group(client, 1)).status_code == 303
    before = await counts(desk.dsn)
    script = b"#!/bin/sh\nrm -rf / --no-preserve-root\n" * 10
    renamed = await waste_group_with_photos(
        client, [("p-waste.daily", ("photo.jpg", script, "image/jpeg"))]
    )
    assert renamed.status_code == 422
    assert "waste.daily 有问题" in renamed.text  # the answers are kept on the page
    assert 'value="fail" checked' in renamed.text
    huge = await waste_group_with_photos(
        client,
        [("p-waste.daily", ("big.jpg", images.jpeg() + b"\0" * (20 * 1024 * 1024), "image/jpeg"))],
    )
    assert huge.status_code in (413, 422)
    assert "MB" in huge.text
    assert await counts(desk.dsn) == before
    drafts = await fetch(desk.dsn, "SELECT results::text AS r FROM patrol_drafts")
    assert "waste.daily" not in drafts[0]["r"]  # the refused group was not saved


async def test_enterprise_evidence_is_shown_on_the_verify_page(desk: Desk) -> None:
    inspection_id, _ = await file_patrol_with_photos(desk)
    orders = await fetch(desk.dsn, "SELECT order_id FROM rectification_orders ORDER BY order_id")
    order_id = orders[0]["order_id"]
    clerk = desk.as_(ENTERPRISE)
    page = await clerk.get(f"{BASE}orders/{order_id}")
    assert page.status_code == 200
    assert 'name="photos"' in page.text
    before = await counts(desk.dsn)
    # a script renamed .jpg: refused, the note kept, nothing written
    bad = await clerk.post(
        f"{BASE}orders/{order_id}/evidence/submit",
        data={"csrf_token": token(page), "evidence_text": "已更换垃圾桶"},
        files=[("photos", ("fix.jpg", b"<script>alert(1)</script>" * 20, "image/jpeg"))],
    )
    assert bad.status_code == 422
    assert "已更换垃圾桶" in bad.text
    assert await counts(desk.dsn) == before
    status = await fetch(
        desk.dsn, f"SELECT status FROM rectification_orders WHERE order_id = '{order_id}'"
    )
    assert status[0]["status"] == "ordered"

    done = await clerk.post(
        f"{BASE}orders/{order_id}/evidence/submit",
        data={"csrf_token": token(page), "evidence_text": "已更换垃圾桶"},
        files=[("photos", ("fix.jpg", images.jpeg(color="green"), "image/jpeg"))],
    )
    assert done.status_code == 303, done.text
    events = await fetch(
        desk.dsn,
        "SELECT convert_from(payload, 'UTF8') AS p FROM outbox"
        " WHERE event_type LIKE '%RectificationSubmitted%'",
    )
    submitted = data_of(events[0]["p"])
    assert submitted["photo_count"] == 1
    assert len(submitted["attachments"]) == 1

    # the district's verify page shows the evidence before the button
    confirm = await desk.as_(HEPING).get(f"{BASE}orders/{order_id}/verify")
    assert confirm.status_code == 200
    evidence = submitted["attachments"][0]["attachment_id"]
    assert f"photos/{evidence}/thumbnail" in confirm.text
    assert confirm.text.index(evidence) < confirm.text.rindex(
        'type="submit"'
    )  # the last: the verify button
    assert (await desk.client.get(f"{BASE}photos/{evidence}/image")).status_code == 200
    # a user of another district opening the order or its photo by URL: refused
    other = desk.as_(HEXI)
    assert (await other.get(f"{BASE}orders/{order_id}/verify")).status_code == 403
    assert (await other.get(f"{BASE}photos/{evidence}/thumbnail")).status_code == 404
    assert inspection_id


async def test_the_api_takes_evidence_photos_and_refuses_a_script(
    fresh_db: str, kafka_topics: str
) -> None:
    """POST /api/v1/rectifications/{id}/submissions/with-photos: the same handler as the page."""
    issuer = DevIssuer.generate()
    settings = inspections_settings(fresh_db, kafka_topics, issuer)
    async with signed_in_pages(settings, FixedClock(NOW), (HEPING,)) as desk:
        client = desk.client
        await file_patrol_with_photos(desk)
        client.cookies.clear()
        orders = await fetch(fresh_db, "SELECT order_id FROM rectification_orders ORDER BY 1")
        url = f"/api/v1/rectifications/{orders[0]['order_id']}/submissions/with-photos"
        auth = {"Authorization": f"Bearer {issuer.issue(ENTERPRISE)}"}
        before = await counts(fresh_db)
        bad = await client.post(
            url,
            headers=auth,
            data={"evidence_text": "已整改"},
            files=[("photos", ("x.jpg", b"<?php system($_GET['c']); ?>" * 9, "image/jpeg"))],
        )
        assert bad.status_code == 422
        assert "photos.0" in bad.text
        assert await counts(fresh_db) == before
        good = await client.post(
            url,
            headers=auth,
            data={"evidence_text": "已整改"},
            files=[("photos", ("x.jpg", images.jpeg(), "image/jpeg"))],
        )
        assert good.status_code == 201, good.text
        assert good.json()["status"] == "submitted"
        assert (await counts(fresh_db))[0] == before[0] + 1
        # another district's office by URL: the order does not exist for it
        hexi = {"Authorization": f"Bearer {issuer.issue(HEXI)}"}
        other = await client.get(f"/api/v1/rectifications/{orders[0]['order_id']}", headers=hexi)
        assert other.status_code == 404
