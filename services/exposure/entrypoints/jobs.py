"""The exposure service's timer: the publication job (runtime.scheduler runs it on every replica
with the runtime's pool and the clock's time)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from runtime.scheduler import PeriodicJob
from services.exposure.service import publication
from services.exposure.service.ports import ExposureUnitOfWork


def publication_job(
    units: Callable[[Any, datetime], ExposureUnitOfWork], interval_s: float = 30.0
) -> PeriodicJob:
    """`units(pool, now)`: a unit of work on the job's pool (the runtime's asyncpg pool, handed
    on to the adapter untouched), its clock at `now`."""

    async def run(pool: Any, now: datetime) -> int:
        return await publication.act_on_due(lambda: units(pool, now), now)

    return PeriodicJob("exposure-publication", run, interval_s=interval_s)
