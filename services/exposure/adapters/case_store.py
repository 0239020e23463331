"""The cases on PostgreSQL (asyncpg): read for decisions, and changed only by `apply`.

`PgCaseRepository.apply` is the only code that changes `cases`, `case_timeline` and `objections`:
the live service applies what it emits, and a replay of `wuye.exposure.events` (rebuild.py)
applies the same events, so the live tables and a rebuilt copy are the same function of the same
events.
"""

from __future__ import annotations

import json
from datetime import datetime

import asyncpg

from runtime import db
from schemas.base import Event
from schemas.exposure import v1 as exposure
from services.exposure import presentation
from services.exposure.domain.cases import Case

_CASE = """SELECT c.case_id, c.project_id, c.district_code, c.enterprise_id, c.tier, c.status,
                  c.review_ends_at, c.published_at, c.min_until, c.max_until, c.rectified_at,
                  c.inspection_id, c.items,
                  (SELECT objection_id FROM objections o
                    WHERE o.case_id = c.case_id AND o.status = 'pending') AS pending_objection
             FROM cases c WHERE c.case_id = $1"""


def _case(row: asyncpg.Record) -> Case:
    return Case(
        case_id=row["case_id"],
        project_id=row["project_id"],
        district_code=row["district_code"],
        enterprise_id=row["enterprise_id"],
        tier=row["tier"],
        status=row["status"],
        review_ends_at=row["review_ends_at"],
        published_at=row["published_at"],
        min_until=row["min_until"],
        max_until=row["max_until"],
        rectified_at=row["rectified_at"],
        pending_objection=row["pending_objection"],
        inspection_id=row["inspection_id"],
        item_ids=tuple(i["item_id"] for i in json.loads(row["items"])),
    )


class PgCaseRepository:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def lock_order(self, order_id: str) -> None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('exposure-order:' || $1))", order_id
        )

    async def by_order(self, order_id: str) -> Case | None:
        case_id = await self._conn.fetchval(
            "SELECT case_id FROM cases WHERE order_id = $1 FOR UPDATE", order_id
        )
        return await self.get(case_id) if case_id else None

    async def get(self, case_id: str, *, lock: bool = False) -> Case | None:
        row = await self._conn.fetchrow(_CASE + (" FOR UPDATE" if lock else ""), case_id)
        return _case(row) if row is not None else None

    async def next_due(self, now: datetime) -> Case | None:
        case_id = await self._conn.fetchval(
            """SELECT case_id FROM cases c
                WHERE (status = 'in_review' AND review_ends_at <= $1
                       AND NOT EXISTS (SELECT 1 FROM objections o
                                        WHERE o.case_id = c.case_id
                                          AND o.status = 'pending'))
                   OR (status = 'published' AND (max_until <= $1
                       OR (rectified_at IS NOT NULL AND min_until <= $1)))
                ORDER BY case_id LIMIT 1 FOR UPDATE SKIP LOCKED""",
            now,
        )
        return await self.get(case_id) if case_id is not None else None

    async def has_notice(self, case_id: str, notice_id: str) -> bool:
        found = await self._conn.fetchval(
            "SELECT 1 FROM case_timeline WHERE case_id = $1 AND ref = $2", case_id, notice_id
        )
        return bool(found)

    async def _timeline(self, event_id: str, event: exposure._CaseEvent) -> None:
        line = presentation.timeline_line(event)
        await self._conn.execute(
            """INSERT INTO case_timeline (event_id, case_id, event_type, at, title_zh, title_en,
                      detail_zh, detail_en, ref) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
               ON CONFLICT (event_id) DO NOTHING""",
            event_id,
            event.case_id,
            event.ce_type,
            line.at,
            line.title_zh,
            line.title_en,
            line.detail_zh,
            line.detail_en,
            line.ref,
        )

    async def apply(self, event: Event, event_id: str) -> bool:
        conn = self._conn
        first = await conn.fetchval(
            "INSERT INTO applied_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1",
            event_id,
        )
        if first is None:
            return False
        if isinstance(event, exposure.ExposureCaseOpened):
            # The case id derives from the order: a second opening of one order (a duplicate
            # deployment reading the same topics) changes nothing.
            opened = await conn.fetchval(
                """INSERT INTO cases (case_id, project_id, project_name, enterprise_id,
                          enterprise_name, district_code, reason, tier, order_id, inspection_id,
                          items, deadline, status, opened_at, updated_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb,$12,'opened',$13,$13)
                   ON CONFLICT DO NOTHING RETURNING 1""",
                event.case_id,
                event.project_id,
                event.project_name,
                event.enterprise_id,
                event.enterprise_name,
                event.district_code,
                event.reason,
                event.tier,
                event.order_id,
                event.inspection_id,
                json.dumps([i.model_dump(mode="json") for i in event.items], ensure_ascii=False),
                event.deadline,
                event.opened_at,
            )
            if opened is None:
                return True
        elif isinstance(event, exposure.ExposureEvidenceAdded):
            await conn.execute(
                """UPDATE cases SET tier = $2, updated_at = $3,
                          notice_no = coalesce($4, notice_no), notice_id = coalesce($5, notice_id),
                          review_ends_at = coalesce($6, review_ends_at),
                          status = CASE WHEN $6::timestamptz IS NOT NULL AND status = 'opened'
                                        THEN 'in_review' ELSE status END
                    WHERE case_id = $1""",
                event.case_id,
                event.tier,
                event.added_at,
                event.notice_no,
                event.notice_id,
                event.review_ends_at,
            )
        elif isinstance(event, exposure.ExposureReviewed):
            if event.decision == "hold":
                await conn.execute(
                    "UPDATE cases SET status = 'held', updated_at = $2 WHERE case_id = $1",
                    event.case_id,
                    event.reviewed_at,
                )
        elif isinstance(event, exposure.ExposurePublished):
            await conn.execute(
                """UPDATE cases SET status = 'published', tier = $2, published_at = $3,
                          min_until = $4, max_until = $5, updated_at = $3,
                          published_photos = $6::jsonb WHERE case_id = $1""",
                event.case_id,
                event.tier,
                event.published_at,
                event.min_until,
                event.max_until,
                json.dumps([a.model_dump(mode="json") for a in event.attachments]),
            )
        elif isinstance(event, exposure.ExposureRectified):
            await conn.execute(
                "UPDATE cases SET rectified_at = $2, updated_at = $2 WHERE case_id = $1",
                event.case_id,
                event.rectified_at,
            )
        elif isinstance(event, exposure.ExposureWithdrawn):
            await conn.execute(
                """UPDATE cases SET status = 'withdrawn', withdrawn_at = $2, withdraw_reason = $3,
                          updated_at = $2 WHERE case_id = $1""",
                event.case_id,
                event.withdrawn_at,
                event.reason,
            )
        elif isinstance(event, exposure.ObjectionFiled):
            await conn.execute(
                """INSERT INTO objections (objection_id, case_id, enterprise_id, grounds,
                          filed_at, status) VALUES ($1, $2, $3, $4, $5, 'pending')""",
                event.objection_id,
                event.case_id,
                event.enterprise_id,
                event.grounds,
                event.filed_at,
            )
            await conn.execute(
                "UPDATE cases SET updated_at = $2 WHERE case_id = $1",
                event.case_id,
                event.filed_at,
            )
        elif isinstance(event, exposure.ObjectionDecided):
            await conn.execute(
                """UPDATE objections SET status = $2, decision_reason = $3, decided_at = $4
                    WHERE objection_id = $1""",
                event.objection_id,
                "upheld" if event.upheld else "rejected",
                event.reason,
                event.decided_at,
            )
            await conn.execute(
                "UPDATE cases SET updated_at = $2 WHERE case_id = $1",
                event.case_id,
                event.decided_at,
            )
        else:  # pragma: no cover - the catalog lists every exposure event above
            raise TypeError(f"not an exposure event: {type(event).__name__}")
        await self._timeline(event_id, event)
        return True
