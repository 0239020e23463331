"""The photo pipeline of `runtime.attachments` and its in-memory store (no database): what is
refused and why, what is stored (re-encoded, no EXIF, capped), the thumbnail, the hash, and the
evidence original served without GPS to anyone but the district office."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from runtime import attachments
from runtime.attachments import Limits, MemoryAttachmentStore, Upload
from runtime.errors import InvalidInput
from tests import images

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def refused(upload: Upload, **kw: object) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        attachments.prepare(upload, **kw)  # type: ignore[arg-type]
    return caught.value


def test_a_good_jpeg_is_re_encoded_without_exif_capped_and_hashed() -> None:
    original = images.jpeg((4000, 3000), gps=True)
    assert images.gps_of(original)  # the test photo really carries a location
    p = attachments.prepare(Upload(original, "IMG_0001.jpg"))
    assert p.content_type == "image/jpeg"
    assert images.exif_of(p.data) == {}  # no location, no camera
    assert images.gps_of(p.data) == {}
    assert (p.width, p.height) == (2048, 1536) == images.size_of(p.data)
    assert p.sha256 == hashlib.sha256(p.data).hexdigest()
    assert p.original is None  # owners' photos keep no original


def test_the_thumbnail_is_a_small_jpeg() -> None:
    p = attachments.prepare(Upload(images.jpeg((1200, 900)), "a.jpg"))
    assert max(images.size_of(p.thumbnail)) == 320
    assert images.size_of(p.thumbnail) == (320, 240)
    assert p.thumbnail.startswith(b"\xff\xd8\xff")
    assert len(p.thumbnail) < 40_000


def test_a_png_stays_png_when_transparent_else_becomes_jpeg() -> None:
    clear = attachments.prepare(Upload(images.png(transparent=True), "clear.png"))
    assert clear.content_type == "image/png"
    assert clear.data.startswith(b"\x89PNG")
    solid = attachments.prepare(Upload(images.png(), "solid.png"))
    assert solid.content_type == "image/jpeg"
    assert (solid.width, solid.height) == (800, 600)  # never enlarged


def test_a_photo_over_the_size_cap_is_refused_before_decoding() -> None:
    big = b"\xff\xd8\xff" + bytes(20 * 1024 * 1024)
    exc = refused(Upload(big, "big.jpg"), where="photos.0")
    assert exc.code == "photo_too_large"
    assert exc.field == "photos.0"
    assert "15 MB" in exc.message.zh
    assert "15 MB" in exc.message.en


def test_a_script_named_jpg_is_not_a_photo() -> None:
    exc = refused(Upload(images.SCRIPT, "holiday.jpg"))
    assert exc.code == "photo_type"
    assert "不是照片" in exc.message.zh
    assert "only JPEG, PNG or WebP" in exc.message.en


def test_a_png_bomb_is_refused() -> None:
    bomb = images.png_bomb()
    assert len(bomb) < 100_000  # small on the wire, 100 M pixels decoded
    exc = refused(Upload(bomb, "bomb.png"))
    assert exc.code == "photo_pixels"


def test_pillows_own_bomb_guard_becomes_the_same_refusal() -> None:
    # our limit above Pillow's: Pillow's DecompressionBombWarning/Error decides, same answer
    exc = refused(Upload(images.png_bomb(8_000), "bomb.png"), limits=Limits(max_pixels=10**9))
    assert exc.code == "photo_pixels"


def test_a_damaged_photo_is_refused() -> None:
    broken = images.jpeg()[:300]
    exc = refused(Upload(broken, "broken.jpg"))
    assert exc.code == "photo_damaged"


def test_too_many_photos_are_refused_as_a_whole() -> None:
    photo = Upload(images.jpeg((64, 64)), "a.jpg")
    with pytest.raises(InvalidInput) as caught:
        attachments.prepare_all([photo] * 10)
    assert caught.value.code == "too_many_photos"
    assert caught.value.field == "photos"


def test_the_refusal_names_the_photo_that_failed() -> None:
    good = Upload(images.jpeg((64, 64)), "a.jpg")
    with pytest.raises(InvalidInput) as caught:
        attachments.prepare_all([good, Upload(images.SCRIPT, "b.jpg")])
    assert caught.value.field == "photos.1"
    assert "b.jpg" in caught.value.message.zh


def test_an_evidence_original_is_kept_and_served_without_gps_except_to_the_office() -> None:
    original = images.jpeg((640, 480), gps=True)
    p = attachments.prepare(Upload(original, "patrol.jpg"), keep_original=True)
    assert p.original == original
    assert p.original_sha256 == hashlib.sha256(original).hexdigest()
    stored = attachments.Stored(p.attachment_id, "inspection", "i-1", "image/jpeg", original)
    assert attachments.served_original(stored, with_location=True).data == original
    public = attachments.served_original(stored, with_location=False)
    assert images.gps_of(public.data) == {}
    assert images.exif_of(public.data)[0x010F] == "TestCam"  # only the location goes


async def test_the_memory_store_keeps_only_committed_photos() -> None:
    store = MemoryAttachmentStore()
    p = attachments.prepare(Upload(images.jpeg((64, 64)), "a.jpg"))
    await store.put("complaint", "c-1", [p], NOW)
    store.rollback()
    assert await store.get(p.attachment_id) is None
    refs = await store.put("complaint", "c-1", [p], NOW)
    store.commit()
    assert [r.attachment_id for r in await store.listed("complaint", "c-1")] == [
        refs[0].attachment_id
    ]
    thumb = await store.thumbnail(p.attachment_id)
    assert thumb is not None
    assert thumb.content_type == "image/jpeg"
    assert await store.get(p.attachment_id, "original") is None


async def test_moving_photos_hands_them_to_another_record_only_on_commit() -> None:
    store = MemoryAttachmentStore()
    p = attachments.prepare(Upload(images.jpeg((64, 64)), "a.jpg"))
    await store.put("patrol-draft", "d-1:item", [p], NOW)
    store.commit()
    await store.move("patrol-draft", "d-1:item", "inspection-item", "i-1:item")
    store.rollback()  # not filed: the draft keeps them
    assert len(await store.listed("patrol-draft", "d-1:item")) == 1
    moved = await store.move("patrol-draft", "d-1:item", "inspection-item", "i-1:item")
    store.commit()
    assert [r.attachment_id for r in moved] == [p.attachment_id]
    assert await store.listed("patrol-draft", "d-1:item") == []
    stored = await store.get(p.attachment_id)
    assert stored is not None
    assert (stored.owner_kind, stored.owner_id) == ("inspection-item", "i-1:item")


def test_serving_headers_are_private_and_nosniff() -> None:
    stored = attachments.Stored("x", "complaint", "c-1", "image/png", b"")
    headers = attachments.serving_headers(stored)
    assert headers["Cache-Control"].startswith("private")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Type"] == "image/png"
