"""The sweep of abandoned patrols (issue 15): a patrol draft keeps its photos until it is filed
(they move to the inspection) — an inspector who never comes back would leave them for ever. The
periodic job deletes the drafts not saved for `max_age` and every draft photo whose draft is gone,
in one unit of work, and logs the counts. A photo younger than `PHOTO_GRACE` is never touched, so
nothing being written in the same moment is swept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import structlog

from services.inspections.service.ports import DraftSweep, InspectionsUnitOfWork
from services.inspections.service.record_inspection import DRAFT_KIND

log = structlog.get_logger(__name__)
PHOTO_GRACE = timedelta(hours=1)


async def sweep_drafts(
    units: Callable[[], InspectionsUnitOfWork], *, max_age: timedelta
) -> DraftSweep:
    """Delete the drafts older than `max_age` (by their last save) and the draft photos left
    without a draft; the time is the unit's clock."""
    async with units() as uow:
        now = uow.clock.now()
        swept = await uow.drafts.sweep(
            stale_before=now - max_age, photos_before=now - PHOTO_GRACE, photo_kind=DRAFT_KIND
        )
        await uow.commit()
    if swept.drafts or swept.photos:
        log.info(
            "patrol_drafts_swept",
            drafts=swept.drafts,
            photos=swept.photos,
            max_age_days=max_age.days,
        )
    else:
        log.debug("patrol_drafts_swept", drafts=0, photos=0, max_age_days=max_age.days)
    return swept
