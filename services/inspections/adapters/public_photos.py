"""The photos the public may see, on PostgreSQL (migration 0008): opened by a published exposure
case, closed by its withdrawal."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from runtime import attachments, db


class PgPublicPhotos:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def publish(
        self, case_id: str, project_id: str, attachment_ids: Sequence[str], at: datetime
    ) -> None:
        if not attachment_ids:
            return
        await self._conn.execute(
            """INSERT INTO public_photos (case_id, attachment_id, project_id, published_at)
               SELECT $1, a, $2, $4 FROM unnest($3::uuid[]) AS a
               ON CONFLICT (case_id, attachment_id) DO NOTHING""",
            case_id,
            project_id,
            [uuid.UUID(a) for a in attachment_ids],
            at,
        )

    async def withdraw(self, case_id: str, at: datetime) -> int:
        status: str = await self._conn.execute(
            """UPDATE public_photos SET withdrawn_at = $2
                WHERE case_id = $1 AND withdrawn_at IS NULL""",
            case_id,
            at,
        )
        return int(status.rsplit(" ", 1)[-1])

    async def is_public(self, attachment_id: str) -> bool:
        if not attachments.valid_id(attachment_id):
            return False
        found = await self._conn.fetchval(
            "SELECT 1 FROM public_photos WHERE attachment_id = $1 AND withdrawn_at IS NULL LIMIT 1",
            uuid.UUID(attachment_id),
        )
        return bool(found)
