"""A complaint's photos with the in-memory unit of work: written with the complaint (and only
with it), referenced by the event (ids and hashes, never bytes), and served only to those who
may see the complaint."""

from __future__ import annotations

import pytest

from runtime import attachments
from runtime.errors import DomainError, NotFound
from runtime.unit_of_work import Trace
from schemas.complaints import v1 as complaints
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.service import intake, photos
from tests import images
from tests.unit.complaints.conftest import ALICE, DISTRICT, MALLORY, OTHER_DISTRICT, OWNER, water


def two_photos() -> tuple[attachments.Prepared, ...]:
    return attachments.prepare_all(
        [
            attachments.Upload(images.jpeg((800, 600), gps=True), "a.jpg"),
            attachments.Upload(images.png(transparent=True), "b.png"),
        ]
    )


async def test_photos_are_written_with_the_complaint_and_referenced_by_the_event(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    prepared = two_photos()
    filed = await intake.file(uow, rules, OWNER, water(photos=prepared), trace=trace)

    ids = [p.attachment_id for p in prepared]
    assert list(filed.complaint.photo_refs) == ids
    refs = await photos.listed(uow, ALICE, filed.complaint.complaint_id)
    assert [r.attachment_id for r in refs] == ids
    [written] = uow.outbox.committed
    assert isinstance(written.event, complaints.ComplaintFiled)
    assert [(a.attachment_id, a.sha256, a.content_type) for a in written.event.attachments] == [
        (p.attachment_id, p.sha256, p.content_type) for p in prepared
    ]
    assert len(written.ce.data) < 4000  # references, never bytes


async def test_a_refused_complaint_leaves_no_photo(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    prepared = two_photos()
    with pytest.raises(DomainError):
        await intake.file(
            uow, rules, OWNER, water(description="<b>停水</b>啦啦啦", photos=prepared), trace=trace
        )
    assert uow.store.attachments.rows == {}
    assert uow.store.complaints == {}
    assert uow.outbox.committed == []


async def test_photos_are_served_to_those_who_see_the_complaint_only(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    prepared = two_photos()
    filed = await intake.file(uow, rules, OWNER, water(photos=prepared), trace=trace)
    photo_id = prepared[0].attachment_id

    for who in (ALICE, DISTRICT):
        stored = await photos.for_staff(uow, who, photo_id, "image")
        assert stored.data == prepared[0].data
        assert images.gps_of(stored.data) == {}
    for who in (MALLORY, OTHER_DISTRICT):
        with pytest.raises(NotFound):
            await photos.for_staff(uow, who, photo_id, "image")
        with pytest.raises(NotFound):
            await photos.listed(uow, who, filed.complaint.complaint_id)

    thumb = await photos.for_owner(uow, filed.token, photo_id, "thumbnail")
    assert max(images.size_of(thumb.data)) == 320
    other = await intake.file(uow, rules, OWNER, water(), trace=trace)
    with pytest.raises(NotFound):  # another complaint's token opens no photo of this one
        await photos.for_owner(uow, other.token, photo_id, "image")
    with pytest.raises(NotFound):  # owners' photos keep no original to ask for
        await photos.for_owner(uow, filed.token, photo_id, "original")


async def test_a_retry_with_the_same_photos_replays_and_other_photos_are_refused(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    upload = attachments.Upload(images.jpeg((300, 200)), "a.jpg")
    first = await intake.file(
        uow,
        rules,
        OWNER,
        water(photos=attachments.prepare_all([upload])),
        trace=trace,
        idempotency_key="k-1",
    )
    again = await intake.file(
        uow,
        rules,
        OWNER,
        water(photos=attachments.prepare_all([upload])),
        trace=trace,
        idempotency_key="k-1",
    )
    assert again.replayed
    assert again.complaint.complaint_id == first.complaint.complaint_id
    assert len(uow.store.attachments.rows) == 1
    other = attachments.Upload(images.jpeg((300, 200), color="red"), "b.jpg")
    with pytest.raises(DomainError) as caught:
        await intake.file(
            uow,
            rules,
            OWNER,
            water(photos=attachments.prepare_all([other])),
            trace=trace,
            idempotency_key="k-1",
        )
    assert caught.value.code == "idempotency_key_reused"


async def test_the_owner_lists_the_photos_of_the_tokens_complaint_and_a_link_serves_them(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    prepared = two_photos()
    filed = await intake.file(uow, rules, OWNER, water(photos=prepared), trace=trace)
    other = await intake.file(uow, rules, OWNER, water(), trace=trace)

    refs = await photos.owner_refs(uow, filed.token)

    assert [r.attachment_id for r in refs] == [p.attachment_id for p in prepared]
    assert await photos.owner_refs(uow, other.token) == []
    assert await photos.owner_refs(uow, "not-a-token") == []
    # a signed link (made only after the token was checked) serves the photo by id
    linked = await photos.linked(uow, prepared[1].attachment_id, "thumbnail")
    assert max(images.size_of(linked.data)) <= 320
    for attachment_id, variant in (
        (prepared[0].attachment_id, "original"),  # owners' photos keep no original
        (prepared[0].attachment_id, "poster"),
        ("no-such-photo", "image"),
    ):
        with pytest.raises(NotFound):
            await photos.linked(uow, attachment_id, variant)
