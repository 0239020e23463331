"""Time acting on cases: publish those whose review window ended, end those whose display period
is over. Run by a periodic job on every replica (`entrypoints/jobs.py`): each case in its own unit
of work, claimed so that concurrent runs skip it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from runtime.unit_of_work import Trace
from services.exposure.domain import decisions
from services.exposure.service.cases import emit
from services.exposure.service.ports import ExposureUnitOfWork


async def act_on_next(uow: ExposureUnitOfWork, now: datetime) -> bool:
    """Publish or end the next case due at `now`; False when none is due."""
    async with uow:
        case = await uow.cases.next_due(now)
        if case is None:
            return False
        photos = await uow.facts.photos_of(case.inspection_id, case.item_ids)
        change = decisions.due(case, uow.policy, now, photos)
        if change is not None:
            await emit(uow, change, Trace.start())
        await uow.commit()
        return True


async def act_on_due(units: Callable[[], ExposureUnitOfWork], now: datetime) -> int:
    """Every case due at `now`; returns how many."""
    done = 0
    while await act_on_next(units(), now):
        done += 1
    return done
