"""The storage ports of the statutory-interval tracker: facilities, their services and missed
due dates. Part of the unit of work in `ports.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class FacilityRow:
    """A registered facility with the project facts its pages and events show."""

    facility_id: str
    project_id: str
    project_name: str
    enterprise_id: str
    enterprise_name: str
    district_code: str
    district_name: str
    kind: str
    name: str
    contract_days: int | None
    last_serviced_on: date
    next_due_on: date
    registered_at: datetime
    open_miss_due_on: date | None = None  # the due date of its open missed interval, if any


@dataclass(frozen=True)
class MissRow:
    facility: FacilityRow
    due_on: date
    detected_at: datetime
    resolved_at: datetime | None


class Facilities(Protocol):
    """Facilities with statutory service intervals, their services and missed due dates."""

    async def add(self, row: FacilityRow, *, registered_by: str) -> bool:
        """False (nothing written) when the project already has a facility of that name."""

    async def get(self, facility_id: str, *, for_update: bool = False) -> FacilityRow | None: ...

    async def search(
        self,
        *,
        district_code: str | None,
        enterprise_id: str | None,
        project_id: str | None,
        due_before: date | None = None,
        due_from: date | None = None,
        limit: int,
    ) -> list[FacilityRow]:
        """In scope, soonest due first, at most `limit`; `due_before` / `due_from`: only those
        due earlier / on or later (given today: the overdue ones / the others)."""

    async def counts(
        self, *, district_code: str | None, enterprise_id: str | None, today: date
    ) -> tuple[int, int]:
        """(registered, overdue) in scope: the page's totals, whatever it lists."""

    async def record_service(
        self,
        facility_id: str,
        *,
        service_id: str,
        serviced_on: date,
        serviced_by: str,
        note: str,
        recorded_by: str,
        recorded_at: datetime,
        next_due_on: date,
    ) -> int:
        """Store the service, move the facility's dates on, close its open misses (how many)."""

    async def services(self, facility_id: str, limit: int) -> list[dict[str, Any]]:
        """Its recorded services, latest first."""

    async def overdue(self, today: date, limit: int) -> list[FacilityRow]:
        """Facilities whose next due date is before `today` with no miss recorded for that date,
        locked; rows another replica holds are skipped."""

    async def add_miss(self, facility_id: str, due_on: date, detected_at: datetime) -> bool:
        """Record the missed due date once: False when it is already recorded."""

    async def misses(
        self, *, district_code: str | None, enterprise_id: str | None, open_only: bool, limit: int
    ) -> list[MissRow]:
        """Missed intervals in scope, oldest due date first."""
