"""In-memory fake of the facilities port (`adapters/facilities.py`)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Any

from services.inspections.service.ports import FacilityRow, MissRow


class MemoryFacilities:
    def __init__(self) -> None:
        self.rows: dict[str, FacilityRow] = {}
        self.service_rows: list[dict[str, Any]] = []
        self.miss_rows: dict[tuple[str, date], dict[str, Any]] = {}

    def _with_miss(self, row: FacilityRow) -> FacilityRow:
        open_ = [
            due
            for (fid, due), m in self.miss_rows.items()
            if fid == row.facility_id and m["resolved_at"] is None
        ]
        return dataclasses.replace(row, open_miss_due_on=min(open_, default=None))

    async def add(self, row: FacilityRow, *, registered_by: str) -> bool:
        if any((r.project_id, r.name) == (row.project_id, row.name) for r in self.rows.values()):
            return False
        self.rows[row.facility_id] = row
        return True

    async def get(self, facility_id: str, *, for_update: bool = False) -> FacilityRow | None:
        row = self.rows.get(facility_id)
        return None if row is None else self._with_miss(row)

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
        rows = [
            self._with_miss(r)
            for r in self.rows.values()
            if district_code in (None, r.district_code)
            and enterprise_id in (None, r.enterprise_id)
            and project_id in (None, r.project_id)
            and (due_before is None or r.next_due_on < due_before)
            and (due_from is None or r.next_due_on >= due_from)
        ]
        return sorted(rows, key=lambda r: (r.next_due_on, r.project_id, r.name))[:limit]

    async def counts(
        self, *, district_code: str | None, enterprise_id: str | None, today: date
    ) -> tuple[int, int]:
        rows = [
            r
            for r in self.rows.values()
            if district_code in (None, r.district_code) and enterprise_id in (None, r.enterprise_id)
        ]
        return len(rows), sum(1 for r in rows if r.next_due_on < today)

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
        self.service_rows.append(
            {
                "service_id": service_id,
                "facility_id": facility_id,
                "serviced_on": serviced_on,
                "serviced_by": serviced_by,
                "note": note,
                "recorded_at": recorded_at,
            }
        )
        self.rows[facility_id] = dataclasses.replace(
            self.rows[facility_id], last_serviced_on=serviced_on, next_due_on=next_due_on
        )
        closed = 0
        for (fid, _), m in self.miss_rows.items():
            if fid == facility_id and m["resolved_at"] is None:
                m.update(resolved_at=recorded_at, resolved_by=service_id)
                closed += 1
        return closed

    async def services(self, facility_id: str, limit: int) -> list[dict[str, Any]]:
        rows = [
            {k: v for k, v in s.items() if k != "facility_id"}
            for s in self.service_rows
            if s["facility_id"] == facility_id
        ]
        rows.sort(key=lambda s: (s["serviced_on"], s["recorded_at"]), reverse=True)
        return rows[:limit]

    async def overdue(self, today: date, limit: int) -> list[FacilityRow]:
        rows = [
            r
            for r in self.rows.values()
            if r.next_due_on < today and (r.facility_id, r.next_due_on) not in self.miss_rows
        ]
        rows.sort(key=lambda r: (r.next_due_on, r.facility_id))
        return [self._with_miss(r) for r in rows[:limit]]

    async def add_miss(self, facility_id: str, due_on: date, detected_at: datetime) -> bool:
        if (facility_id, due_on) in self.miss_rows:
            return False
        self.miss_rows[(facility_id, due_on)] = {
            "detected_at": detected_at,
            "resolved_at": None,
            "resolved_by": None,
        }
        return True

    async def misses(
        self, *, district_code: str | None, enterprise_id: str | None, open_only: bool, limit: int
    ) -> list[MissRow]:
        out = []
        for (fid, due), m in sorted(self.miss_rows.items(), key=lambda i: (i[0][1], i[0][0])):
            row = self._with_miss(self.rows[fid])
            if district_code not in (None, row.district_code):
                continue
            if enterprise_id not in (None, row.enterprise_id):
                continue
            if open_only and m["resolved_at"] is not None:
                continue
            out.append(MissRow(row, due, m["detected_at"], m["resolved_at"]))
        return out[:limit]
