"""Facilities with statutory service intervals on PostgreSQL (`facilities`, `facility_services`,
`facility_misses`, joined to the registry's `projects`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import asyncpg

from runtime import db
from services.inspections.service.ports import FacilityRow, MissRow

_SELECT = """SELECT f.facility_id, f.project_id, p.project_name, p.enterprise_id,
                    p.enterprise_name, p.district_code, p.district_name, f.kind, f.name,
                    f.contract_days, f.last_serviced_on, f.next_due_on, f.registered_at,
                    (SELECT min(m.due_on) FROM facility_misses m
                      WHERE m.facility_id = f.facility_id AND m.resolved_at IS NULL)
                        AS open_miss_due_on
               FROM facilities f JOIN projects p USING (project_id)"""


def _row(r: asyncpg.Record) -> FacilityRow:
    return FacilityRow(
        facility_id=r["facility_id"],
        project_id=r["project_id"],
        project_name=r["project_name"],
        enterprise_id=r["enterprise_id"],
        enterprise_name=r["enterprise_name"],
        district_code=r["district_code"],
        district_name=r["district_name"],
        kind=r["kind"],
        name=r["name"],
        contract_days=r["contract_days"],
        last_serviced_on=r["last_serviced_on"],
        next_due_on=r["next_due_on"],
        registered_at=r["registered_at"],
        open_miss_due_on=r["open_miss_due_on"],
    )


class PgFacilities:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def add(self, row: FacilityRow, *, registered_by: str) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO facilities (facility_id, project_id, kind, name, contract_days,
                      last_serviced_on, next_due_on, registered_by, registered_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
               ON CONFLICT (project_id, name) DO NOTHING RETURNING 1""",
            row.facility_id,
            row.project_id,
            row.kind,
            row.name,
            row.contract_days,
            row.last_serviced_on,
            row.next_due_on,
            registered_by,
            row.registered_at,
        )
        return inserted is not None

    async def get(self, facility_id: str, *, for_update: bool = False) -> FacilityRow | None:
        lock = " FOR UPDATE OF f" if for_update else ""
        row = await self._conn.fetchrow(f"{_SELECT} WHERE f.facility_id = $1{lock}", facility_id)
        return None if row is None else _row(row)

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
        rows = await self._conn.fetch(
            f"""{_SELECT}
                 WHERE ($1::text IS NULL OR p.district_code = $1)
                   AND ($2::text IS NULL OR p.enterprise_id = $2)
                   AND ($3::text IS NULL OR f.project_id = $3)
                   AND ($4::date IS NULL OR f.next_due_on < $4)
                   AND ($5::date IS NULL OR f.next_due_on >= $5)
                 ORDER BY f.next_due_on, f.project_id, f.name
                 LIMIT $6""",
            district_code,
            enterprise_id,
            project_id,
            due_before,
            due_from,
            limit,
        )
        return [_row(r) for r in rows]

    async def counts(
        self, *, district_code: str | None, enterprise_id: str | None, today: date
    ) -> tuple[int, int]:
        row = await self._conn.fetchrow(
            """SELECT count(*) AS total, count(*) FILTER (WHERE f.next_due_on < $3) AS overdue
                 FROM facilities f JOIN projects p USING (project_id)
                WHERE ($1::text IS NULL OR p.district_code = $1)
                  AND ($2::text IS NULL OR p.enterprise_id = $2)""",
            district_code,
            enterprise_id,
            today,
        )
        assert row is not None
        return int(row["total"]), int(row["overdue"])

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
        await self._conn.execute(
            """INSERT INTO facility_services (service_id, facility_id, serviced_on, serviced_by,
                      note, recorded_by, recorded_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            service_id,
            facility_id,
            serviced_on,
            serviced_by,
            note,
            recorded_by,
            recorded_at,
        )
        await self._conn.execute(
            """UPDATE facilities SET last_serviced_on = $2, next_due_on = $3
                WHERE facility_id = $1""",
            facility_id,
            serviced_on,
            next_due_on,
        )
        closed = await self._conn.fetchval(
            """WITH closed AS (
                   UPDATE facility_misses SET resolved_at = $2, resolved_by = $3
                    WHERE facility_id = $1 AND resolved_at IS NULL RETURNING 1)
               SELECT count(*) FROM closed""",
            facility_id,
            recorded_at,
            service_id,
        )
        return int(closed)

    async def services(self, facility_id: str, limit: int) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT service_id, serviced_on, serviced_by, note, recorded_at
                 FROM facility_services WHERE facility_id = $1
                ORDER BY serviced_on DESC, recorded_at DESC LIMIT $2""",
            facility_id,
            limit,
        )
        return [dict(r) for r in rows]

    async def overdue(self, today: date, limit: int) -> list[FacilityRow]:
        rows = await self._conn.fetch(
            f"""{_SELECT}
                 WHERE f.next_due_on < $1
                   AND NOT EXISTS (SELECT 1 FROM facility_misses m
                                    WHERE m.facility_id = f.facility_id
                                      AND m.due_on = f.next_due_on)
                 ORDER BY f.next_due_on, f.facility_id
                 LIMIT $2 FOR UPDATE OF f SKIP LOCKED""",
            today,
            limit,
        )
        return [_row(r) for r in rows]

    async def add_miss(self, facility_id: str, due_on: date, detected_at: datetime) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO facility_misses (facility_id, due_on, detected_at)
               VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1""",
            facility_id,
            due_on,
            detected_at,
        )
        return inserted is not None

    async def misses(
        self, *, district_code: str | None, enterprise_id: str | None, open_only: bool, limit: int
    ) -> list[MissRow]:
        rows = await self._conn.fetch(
            f"""WITH f AS ({_SELECT})
                SELECT f.*, m.due_on, m.detected_at, m.resolved_at
                  FROM facility_misses m JOIN f USING (facility_id)
                 WHERE ($1::text IS NULL OR f.district_code = $1)
                   AND ($2::text IS NULL OR f.enterprise_id = $2)
                   AND (NOT $3 OR m.resolved_at IS NULL)
                 ORDER BY m.due_on, f.facility_id LIMIT $4""",
            district_code,
            enterprise_id,
            open_only,
            limit,
        )
        return [MissRow(_row(r), r["due_on"], r["detected_at"], r["resolved_at"]) for r in rows]
