"""Random patrol draws on PostgreSQL (`patrol_draws`, and the patrols they schedule in
`scheduled_patrols` with origin 'random_draw')."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from runtime import db
from services.inspections.service.ports import DrawRow, RosterEntry

_COLUMNS = """draw_id, district_code, drawn_by, drawn_at, algorithm, seed, project_count,
              inspectors_per_project, exclusion_days, inputs, result, due_by"""


def _row(r: asyncpg.Record) -> DrawRow:
    return DrawRow(
        draw_id=r["draw_id"],
        district_code=r["district_code"],
        drawn_by=r["drawn_by"],
        drawn_at=r["drawn_at"],
        algorithm=r["algorithm"],
        seed=r["seed"],
        project_count=r["project_count"],
        inspectors_per_project=r["inspectors_per_project"],
        exclusion_days=r["exclusion_days"],
        inputs=json.loads(r["inputs"]),
        result=json.loads(r["result"]),
        due_by=r["due_by"],
    )


class PgPatrolDraws:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def excluded_projects(self, district_code: str, since: datetime) -> set[str]:
        rows = await self._conn.fetch(
            """SELECT i.project_id FROM inspections i JOIN projects p USING (project_id)
                WHERE p.district_code = $1 AND i.kind = 'patrol' AND i.inspected_at >= $2
               UNION
               SELECT s.project_id FROM scheduled_patrols s JOIN projects p USING (project_id)
                WHERE p.district_code = $1 AND s.status = 'open'""",
            district_code,
            since,
        )
        return {r["project_id"] for r in rows}

    async def add(self, draw: DrawRow) -> None:
        await self._conn.execute(
            f"""INSERT INTO patrol_draws ({_COLUMNS})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11::jsonb, $12)""",
            draw.draw_id,
            draw.district_code,
            draw.drawn_by,
            draw.drawn_at,
            draw.algorithm,
            draw.seed,
            draw.project_count,
            draw.inspectors_per_project,
            draw.exclusion_days,
            json.dumps(draw.inputs, ensure_ascii=False),
            json.dumps(draw.result, ensure_ascii=False),
            draw.due_by,
        )

    async def schedule(
        self,
        *,
        patrol_id: str,
        project_id: str,
        draw_id: str,
        inspector_ids: tuple[str, ...],
        scheduled_at: datetime,
        due_by: datetime,
    ) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO scheduled_patrols (patrol_id, project_id, reason, complaint_count,
                      window_days, scheduled_at, due_by, origin, draw_id, inspector_ids)
               VALUES ($1, $2, 'random_draw', 0, 1, $3, $4, 'random_draw', $5, $6)
               ON CONFLICT (project_id) WHERE status = 'open' DO NOTHING RETURNING 1""",
            patrol_id,
            project_id,
            scheduled_at,
            due_by,
            draw_id,
            list(inspector_ids),
        )
        return inserted is not None

    async def get(self, draw_id: str) -> DrawRow | None:
        row = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM patrol_draws WHERE draw_id = $1", draw_id
        )
        return None if row is None else _row(row)

    async def search(self, *, district_code: str | None, limit: int) -> list[DrawRow]:
        rows = await self._conn.fetch(
            f"""SELECT {_COLUMNS} FROM patrol_draws
                 WHERE ($1::text IS NULL OR district_code = $1)
                 ORDER BY drawn_at DESC LIMIT $2""",
            district_code,
            limit,
        )
        return [_row(r) for r in rows]

    async def patrol_status(self, draw_id: str) -> dict[str, dict[str, Any]]:
        """The draw's patrols by project: status and the inspection that closed it."""
        rows = await self._conn.fetch(
            """SELECT project_id, patrol_id, status, inspection_id FROM scheduled_patrols
                WHERE draw_id = $1""",
            draw_id,
        )
        return {r["project_id"]: dict(r) for r in rows}


_ROSTER = """district_code, inspector_id, name, conflicts, active, added_by, added_at,
             deactivated_by, deactivated_at"""


def _entry(r: asyncpg.Record) -> RosterEntry:
    return RosterEntry(**{**dict(r), "conflicts": tuple(r["conflicts"])})


class PgDrawRosters:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def listed(self, *, district_code: str | None, active_only: bool) -> list[RosterEntry]:
        rows = await self._conn.fetch(
            f"""SELECT {_ROSTER} FROM draw_rosters
                 WHERE ($1::text IS NULL OR district_code = $1) AND (active OR NOT $2)
                 ORDER BY district_code, inspector_id""",
            district_code,
            active_only,
        )
        return [_entry(r) for r in rows]

    async def get(self, district_code: str, inspector_id: str) -> RosterEntry | None:
        row = await self._conn.fetchrow(
            f"SELECT {_ROSTER} FROM draw_rosters WHERE district_code = $1 AND inspector_id = $2",
            district_code,
            inspector_id,
        )
        return _entry(row) if row else None

    async def put(self, entry: RosterEntry) -> bool:
        written = await self._conn.fetchval(
            """INSERT INTO draw_rosters (district_code, inspector_id, name, conflicts, active,
                      added_by, added_at)
               VALUES ($1, $2, $3, $4, true, $5, $6)
               ON CONFLICT (district_code, inspector_id) DO UPDATE
                  SET name = EXCLUDED.name, conflicts = EXCLUDED.conflicts, active = true,
                      added_by = EXCLUDED.added_by, added_at = EXCLUDED.added_at,
                      deactivated_by = NULL, deactivated_at = NULL
                WHERE NOT draw_rosters.active
               RETURNING true""",
            entry.district_code,
            entry.inspector_id,
            entry.name,
            list(entry.conflicts),
            entry.added_by,
            entry.added_at,
        )
        return written is True

    async def deactivate(
        self, district_code: str, inspector_id: str, *, by: str, at: datetime
    ) -> bool:
        done = await self._conn.fetchval(
            """UPDATE draw_rosters SET active = false, deactivated_by = $3, deactivated_at = $4
                WHERE district_code = $1 AND inspector_id = $2 AND active RETURNING true""",
            district_code,
            inspector_id,
            by,
            at,
        )
        return done is True
