"""A published exposure case's photos on the public board (issue 15), on the real Kafka and
PostgreSQL: the inspections service (in-process: its workspace, outbox relay and consumers) files a
patrol with a GPS-tagged photo; the exposure service (a process) keeps the references from
InspectionFailed, opens the case from the overdue order, and the district office publishes it.
Inspections learns from ExposurePublished which photos became public and serves them on
/public/photos/ re-encoded without EXIF — not before publication, not after withdrawal, never a
photo the case does not name, never an enterprise's evidence or an owner's photo, whatever an
event claims."""

from __future__ import annotations

import asyncio
import io
import json
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from PIL import Image

from runtime import attachments, kafka
from runtime.auth import Role
from runtime.scheduler import FixedClock
from schemas import cloudevents, fields
from schemas.base import Event
from schemas.exposure import v1 as exposure
from schemas.inspections import v1 as inspections
from tests import images
from tests.e2e.conftest import CAMPAIGN_TIME, Platform, start_platform, stop_platform
from tests.exposure_world import _criticism, publish
from tests.inspections_support import inspections_settings, signed_in_pages
from tests.integration.test_inspections_photos import waste_group_with_photos
from tests.integration.test_inspections_workspace import (
    BASE,
    ENTERPRISE,
    HEPING,
    NOW,
    PROJECT,
    walk_group,
)
from tests.workspace_support import Desk, fetch_rows
from tests.workspace_support import csrf_token as token

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
EXPOSURE_NOW = datetime.fromisoformat(CAMPAIGN_TIME)
THUMB = re.compile(r"/workspace/inspections/photos/([0-9a-f-]{36})/thumbnail")


@pytest.fixture(scope="module")
def exposure_platform(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    p = start_platform(
        stack, tmp_path_factory.mktemp("board-photos"), ("exposure",),
        {"PUBLICATION_INTERVAL_S": "0.3"},
    )  # fmt: skip
    yield p
    stop_platform(p)


@pytest.fixture
async def service(fresh_db: str, exposure_platform: Platform, unique: str) -> AsyncIterator[Desk]:
    """The inspections app with its relay and consumers on the real broker (its own consumer
    groups: the topics are shared with other tests)."""
    settings = inspections_settings(
        fresh_db,
        exposure_platform.bootstrap,
        consumer_group_prefix=f"photos-{unique}.",
        outbox_poll_interval_s=0.3,
    )
    async with signed_in_pages(settings, FixedClock(NOW), (HEPING, ENTERPRISE)) as desk:
        yield desk


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 90) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not in time: {what}")
        await asyncio.sleep(0.3)


async def file_patrol(svc: Any) -> str:
    """Waste items failed: two GPS-tagged photos on waste.daily, one on waste.bins."""
    client = svc.as_(HEPING)
    assert (await walk_group(client, 1)).status_code == 303
    saved = await waste_group_with_photos(
        client,
        [
            ("p-waste.daily", ("bin.jpg", images.jpeg(gps=True), "image/jpeg")),
            ("p-waste.daily", ("bin2.jpg", images.jpeg(gps=True, color="olive"), "image/jpeg")),
            ("p-waste.bins", ("bins.jpg", images.jpeg(gps=True, color="red"), "image/jpeg")),
        ],
    )
    assert saved.status_code == 303, saved.text
    for n in (3, 4, 5):
        assert (await walk_group(client, n)).status_code == 303
    check = await client.get(f"{BASE}patrol/{PROJECT}/check")
    draft = re.search(r'name="draft_id" value="([^"]+)"', check.text)
    assert draft
    filed = await client.post(
        f"{BASE}patrol/{PROJECT}/submit",
        data={"csrf_token": token(check), "draft_id": draft.group(1)},
    )
    assert filed.status_code == 303, filed.text
    return str(filed.headers["location"].rsplit("/", 1)[1])


async def outbox_event(dsn: str, kind: str, **match: str) -> dict[str, Any]:
    """The first `kind` event in the inspections outbox at `dsn` whose data matches (`item`: an
    item of the order)."""
    for row in await fetch_rows(
        dsn,
        "SELECT convert_from(payload, 'UTF8') AS p FROM outbox WHERE event_type LIKE $1",
        f"%{kind}%",
    ):
        body = json.loads(row["p"])
        data: dict[str, Any] = body.get("data", body)
        if all(str(data.get(k)) == v or _item_is(data, k, v) for k, v in match.items()):
            return data
    raise AssertionError(f"no {kind} {match}")


def _item_is(data: dict[str, Any], key: str, value: str) -> bool:
    return key == "item" and any(i["item_id"] == value for i in data.get("items", []))


def assert_no_metadata(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG"
        assert "exif" not in img.info
        assert dict(img.getexif()) == {}
    assert images.gps_of(data) == {}


async def test_a_published_cases_photo_is_public_without_exif_only_while_published(
    service: Desk, exposure_platform: Platform
) -> None:
    platform = exposure_platform
    inspection_id = await file_patrol(service)
    failed = await outbox_event(service.dsn, "InspectionFailed", inspection_id=inspection_id)
    refs = {i["item_id"]: i["attachments"] for i in failed["failed_items"]}
    daily, bins = refs["waste.daily"][0], refs["waste.bins"][0]
    public = f"/public/photos/{daily['attachment_id']}"

    # exposure keeps the references InspectionFailed carried (relayed through Kafka)
    async def references_kept() -> bool:
        return (
            await platform.count(
                "exposure",
                "SELECT count(*) FROM evidence_photos WHERE inspection_id = $1",
                inspection_id,
            )
            == 3
        )

    await eventually(references_kept, "exposure keeps the photo references")
    # not public before publication: the public route refuses, whoever asks
    assert (await service.client.get(public)).status_code == 404

    # the order runs overdue and is criticised: the case opens and enters its review window
    ordered = await outbox_event(service.dsn, "RectificationOrdered", item="waste.daily")
    overdue = inspections.RectificationOverdue.model_validate(
        {**ordered, "status": "ordered", "detected_at": EXPOSURE_NOW - timedelta(days=2)}
    )
    notice = _criticism(ordered["order_id"], PROJECT, ordered["enterprise_id"], "120101")
    notice = notice.model_copy(update={"issued_at": EXPOSURE_NOW - timedelta(days=1)})
    await publish(platform.bootstrap, [overdue, notice])
    office = {"Authorization": "Bearer " + platform.token(Role.DISTRICT_OFFICE, district="120101")}
    async with httpx.AsyncClient(base_url=platform.url("exposure"), timeout=20) as board:

        async def in_review() -> bool:
            cases = (await board.get("/api/v1/cases", headers=office)).json()
            return any(
                c["order_id"] == ordered["order_id"] and c["status"] == "in_review" for c in cases
            )

        await eventually(in_review, "the case in review")
        conn = await asyncpg.connect(platform.dsns["exposure"])
        try:
            case_id = await conn.fetchval(
                "SELECT case_id FROM cases WHERE order_id = $1", ordered["order_id"]
            )
        finally:
            await conn.close()
        assert (await service.client.get(public)).status_code == 404  # in review: not yet

        # the district office confirms: published, with the photo's reference in the event
        confirmed = await board.post(
            f"/api/v1/cases/{case_id}/review", json={"decision": "confirm"}, headers=office
        )
        assert confirmed.status_code in (200, 204), confirmed.text

        async def served_publicly() -> bool:
            return (await service.client.get(public)).status_code == 200

        await eventually(served_publicly, "the photo served publicly")
        photo = await service.client.get(public)
        assert photo.headers["content-type"] == "image/jpeg"
        assert photo.headers["cache-control"].startswith("public")
        assert_no_metadata(photo.content)
        original = await service.as_(HEPING).get(f"{BASE}photos/{daily['attachment_id']}/original")
        assert images.gps_of(original.content)  # the inspector's original has its location ...
        assert photo.content != original.content  # ... and is never what the public gets
        service.client.cookies.clear()
        thumb = await service.client.get(public + "/thumbnail")
        assert thumb.status_code == 200
        assert_no_metadata(thumb.content)
        assert (await service.client.get(public + "/original")).status_code == 404

        # the board's case page shows it (thumbnail linking the image), the API names it
        page = await board.get(f"/cases/{case_id}")
        assert f"/public/photos/{daily['attachment_id']}/thumbnail" in page.text
        assert bins["attachment_id"] not in page.text
        api = (await board.get(f"/api/v1/board/cases/{case_id}")).json()
        assert [p["attachment_id"] for p in api["photos"]] == [
            r["attachment_id"] for r in refs["waste.daily"]
        ]
        assert api["photos"][0]["sha256"] == daily["sha256"]

        # another item's photo (no case published it) stays private
        assert (
            await service.client.get(f"/public/photos/{bins['attachment_id']}")
        ).status_code == 404

        # withdrawn: 404 again
        withdrawn = await board.post(f"/api/v1/cases/{case_id}/withdraw", headers=office)
        assert withdrawn.status_code in (200, 204), withdrawn.text

        async def private_again() -> bool:
            return (await service.client.get(public)).status_code == 404

        await eventually(private_again, "the photo private again after withdrawal")
        assert (await service.client.get(public + "/thumbnail")).status_code == 404


async def test_only_the_cases_own_inspection_photos_ever_become_public(
    service: Desk, exposure_platform: Platform
) -> None:
    """An ExposurePublished naming an enterprise's evidence photo, an owner's complaint photo (kept
    by the complaints service: unknown here), another project's photo or a photo with another
    content hash opens none of them."""
    inspection_id = await file_patrol(service)
    failed = await outbox_event(service.dsn, "InspectionFailed", inspection_id=inspection_id)
    daily = next(i for i in failed["failed_items"] if i["item_id"] == "waste.daily")
    item_ref = fields.AttachmentRef.model_validate(daily["attachments"][0])
    ordered = await outbox_event(service.dsn, "RectificationOrdered", item="waste.daily")
    evidence = await submit_evidence(service, ordered["order_id"])
    owners = attachments.prepare(attachments.Upload(images.jpeg(gps=True), "owner.jpg"))
    owner_ref = fields.AttachmentRef(
        attachment_id=owners.attachment_id, sha256=owners.sha256, content_type="image/jpeg"
    )
    forged = [
        published("P-120104-9999", item_ref),  # another project's case names our photo
        published(PROJECT, evidence, owner_ref),  # an enterprise's evidence, an owner's photo
        published(PROJECT, item_ref.model_copy(update={"sha256": "0" * 64})),  # other bytes
    ]
    ids = await send(exposure_platform.bootstrap, forged)

    async def handled() -> bool:
        rows = await fetch_rows(
            service.dsn, "SELECT count(*) AS n FROM inbox WHERE event_id = ANY($1::text[])", ids
        )
        return bool(rows[0]["n"] == len(ids))

    await eventually(handled, "the forged events handled")
    for ref in (item_ref, evidence, owner_ref):
        assert (await service.client.get(f"/public/photos/{ref.attachment_id}")).status_code == 404
    assert await fetch_rows(service.dsn, "SELECT * FROM public_photos") == []


async def send(bootstrap_servers: str, events: Sequence[Event]) -> list[str]:
    """Publish as the exposure service would; returns the CloudEvents ids."""
    producer = kafka.make_producer(bootstrap_servers, client_id="test-board-photos")
    await producer.start()
    ids = []
    try:
        for event in events:
            ce = cloudevents.from_event(event, source="/wuye/exposure")
            await producer.send_and_wait(
                event.topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
            )
            ids.append(ce.id)
    finally:
        await producer.stop()
    return ids


def published(project_id: str, *refs: fields.AttachmentRef) -> exposure.ExposurePublished:
    return exposure.ExposurePublished(
        case_id=str(uuid.uuid4()),
        project_id=project_id,
        tier="serious",
        published_at=EXPOSURE_NOW,
        min_until=EXPOSURE_NOW + timedelta(days=30),
        max_until=EXPOSURE_NOW + timedelta(days=90),
        attachments=refs,
    )


async def submit_evidence(svc: Desk, order_id: str) -> fields.AttachmentRef:
    client = svc.as_(ENTERPRISE)
    form = await client.get(f"{BASE}orders/{order_id}")
    sent = await client.post(
        f"{BASE}orders/{order_id}/evidence/submit",
        data={"csrf_token": token(form), "evidence_text": "已清运"},
        files=[("photos", ("fixed.jpg", images.jpeg(color="blue"), "image/jpeg"))],
    )
    assert sent.status_code == 303, sent.text
    submitted = await outbox_event(svc.dsn, "RectificationSubmitted", order_id=order_id)
    return fields.AttachmentRef.model_validate(submitted["attachments"][0])
