"""Patrol drafts on PostgreSQL (the workspace's patrol in progress)."""

from __future__ import annotations

import json
from datetime import datetime

from runtime import db
from services.inspections.service.ports import DraftSweep, PatrolDraft


class PgPatrolDrafts:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def get(self, recorded_by: str, project_id: str) -> PatrolDraft | None:
        row = await self._conn.fetchrow(
            """SELECT draft_id, recorded_by, project_id, template_id, template_version,
                      results::text AS results, started_at, updated_at
                 FROM patrol_drafts WHERE recorded_by = $1 AND project_id = $2""",
            recorded_by,
            project_id,
        )
        if row is None:
            return None
        return PatrolDraft(
            draft_id=row["draft_id"],
            recorded_by=row["recorded_by"],
            project_id=row["project_id"],
            template_id=row["template_id"],
            template_version=row["template_version"],
            results=json.loads(row["results"]),
            started_at=row["started_at"],
            updated_at=row["updated_at"],
        )

    async def save(self, draft: PatrolDraft) -> None:
        await self._conn.execute(
            """INSERT INTO patrol_drafts (recorded_by, project_id, draft_id, template_id,
                      template_version, results, started_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
               ON CONFLICT (recorded_by, project_id) DO UPDATE
                  SET results = excluded.results, updated_at = excluded.updated_at""",
            draft.recorded_by,
            draft.project_id,
            draft.draft_id,
            draft.template_id,
            draft.template_version,
            json.dumps(draft.results, ensure_ascii=False),
            draft.started_at,
            draft.updated_at,
        )

    async def delete(self, recorded_by: str, project_id: str) -> None:
        await self._conn.execute(
            "DELETE FROM patrol_drafts WHERE recorded_by = $1 AND project_id = $2",
            recorded_by,
            project_id,
        )

    async def sweep(
        self, *, stale_before: datetime, photos_before: datetime, photo_kind: str
    ) -> DraftSweep:
        drafts = await self._conn.fetchval(
            """WITH gone AS (DELETE FROM patrol_drafts WHERE updated_at < $1 RETURNING 1)
               SELECT count(*) FROM gone""",
            stale_before,
        )
        photos = await self._conn.fetchval(
            """WITH gone AS (
                   DELETE FROM attachments a
                    WHERE a.owner_kind = $1 AND a.created_at < $2
                      AND NOT EXISTS (SELECT 1 FROM patrol_drafts d
                                       WHERE d.draft_id = split_part(a.owner_id, ':', 1))
                   RETURNING 1)
               SELECT count(*) FROM gone""",
            photo_kind,
            photos_before,
        )
        return DraftSweep(drafts=int(drafts), photos=int(photos))
