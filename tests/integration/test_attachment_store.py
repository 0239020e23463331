"""`runtime.attachments.PgAttachmentStore` on the real PostgreSQL, as the inspections service
will use it for evidence: the original kept beside the re-encoded photo, served with its GPS
only to those allowed the location, photos added later to the same record, a rollback keeps
nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg

from runtime import attachments
from runtime.attachments import PgAttachmentStore, Upload
from tests import images

NOW = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


async def test_evidence_keeps_the_original_and_serves_it_without_gps(pool: asyncpg.Pool) -> None:
    original = images.jpeg((900, 600), gps=True)
    [p] = attachments.prepare_all([Upload(original, "patrol.jpg")], keep_original=True)
    async with pool.acquire() as conn, conn.transaction():
        store = PgAttachmentStore(conn)
        [ref] = await store.put("inspection", "insp-1", [p], NOW)
    assert ref.has_original
    async with pool.acquire() as conn:
        store = PgAttachmentStore(conn)
        kept = await store.get(p.attachment_id, "original")
        served = await store.get(p.attachment_id)
        thumb = await store.thumbnail(p.attachment_id)
        assert await store.get("not-a-uuid") is None
    assert kept is not None
    assert served is not None
    assert thumb is not None
    assert kept.data == original  # byte for byte, for evidence
    assert images.gps_of(attachments.served_original(kept, with_location=True).data)
    assert images.gps_of(attachments.served_original(kept, with_location=False).data) == {}
    assert images.exif_of(served.data) == {}
    assert (kept.owner_kind, kept.owner_id) == ("inspection", "insp-1")
    assert max(images.size_of(thumb.data)) == 320


async def test_more_photos_later_and_a_rollback_keeps_nothing(pool: asyncpg.Pool) -> None:
    def one() -> attachments.Prepared:
        return attachments.prepare(Upload(images.jpeg((100, 100)), "a.jpg"))

    first, second, lost = one(), one(), one()
    async with pool.acquire() as conn:
        async with conn.transaction():
            await PgAttachmentStore(conn).put("rectification", "RO-1", [first], NOW)
        async with conn.transaction():
            await PgAttachmentStore(conn).put("rectification", "RO-1", [second], NOW)
        try:
            async with conn.transaction():
                await PgAttachmentStore(conn).put("rectification", "RO-1", [lost], NOW)
                raise RuntimeError("the record's write failed")
        except RuntimeError:
            pass
        listed = await PgAttachmentStore(conn).listed("rectification", "RO-1")
    assert [r.attachment_id for r in listed] == [first.attachment_id, second.attachment_id]
