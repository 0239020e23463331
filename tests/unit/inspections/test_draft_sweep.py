"""The draft sweep's service function on the in-memory unit (the PostgreSQL adapter and the job:
tests/integration/test_patrol_draft_sweep.py): stale drafts and orphaned draft photos go, one
unit of work, the unit's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from runtime import attachments
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork
from services.inspections.service import draft_sweep
from services.inspections.service.ports import DraftSweep, PatrolDraft
from services.inspections.service.record_inspection import DRAFT_KIND, photo_owner
from tests import images

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=CHINA)


async def test_stale_drafts_and_photos_without_a_draft_are_swept() -> None:
    uow = MemoryInspectionsUnitOfWork(FixedClock(NOW))

    def photo() -> list[attachments.Prepared]:  # a new attachment id each time
        return [attachments.prepare(attachments.Upload(images.jpeg(), "p.jpg"))]

    for draft_id, age in (("live", timedelta(days=1)), ("stale", timedelta(days=40))):
        saved = NOW - age
        await uow.drafts.save(PatrolDraft(draft_id, f"u-{draft_id}", "P-1", "patrol", 1, {},
                                          saved, saved))  # fmt: skip
        await uow.attachments.put(DRAFT_KIND, photo_owner(draft_id, "x"), photo(), saved)
    await uow.attachments.put(
        DRAFT_KIND, photo_owner("gone", "x"), photo(), NOW - timedelta(days=2)
    )
    uow.attachments.commit()

    swept = await draft_sweep.sweep_drafts(lambda: uow, max_age=timedelta(days=30))
    assert swept == DraftSweep(drafts=1, photos=2)
    assert [d.draft_id for d in uow.drafts.rows.values()] == ["live"]
    assert len(await uow.attachments.listed(DRAFT_KIND, photo_owner("live", "x"))) == 1
    assert await uow.attachments.listed(DRAFT_KIND, photo_owner("stale", "x")) == []
    again = await draft_sweep.sweep_drafts(lambda: uow, max_age=timedelta(days=30))
    assert again == DraftSweep(drafts=0, photos=0)
