"""asyncpg repositories of rectification orders (with their history) and of complaint signals and
scheduled patrols."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from runtime import db
from services.inspections.domain import rectification
from services.inspections.service.ports import OrderRow

_ORDER_COLUMNS = (
    "order_id, status, ordered_at, deadline, rejections, submissions, overdue_at, submitted_at, "
    "evidence_text, photo_refs, rejected_at, rejection_reason, verified_at, inadequate_at"
)


def _order(row: asyncpg.Record) -> rectification.Order:
    return rectification.Order(
        order_id=row["order_id"],
        status=rectification.Status(row["status"]),
        ordered_at=row["ordered_at"],
        deadline=row["deadline"],
        rejections=row["rejections"],
        submissions=row["submissions"],
        overdue_at=row["overdue_at"],
        submitted_at=row["submitted_at"],
        evidence_text=row["evidence_text"],
        photo_refs=tuple(json.loads(row["photo_refs"])),
        rejected_at=row["rejected_at"],
        rejection_reason=row["rejection_reason"],
        verified_at=row["verified_at"],
        inadequate_at=row["inadequate_at"],
    )


def _order_row(row: asyncpg.Record) -> OrderRow:
    return OrderRow(
        order=_order(row),
        inspection_id=row["inspection_id"],
        project_id=row["project_id"],
        project_name=row["project_name"],
        enterprise_id=row["enterprise_id"],
        enterprise_name=row["enterprise_name"],
        district_code=row["district_code"],
        items=json.loads(row["items"]),
        severity=row["severity"],
        doc_year=row["doc_year"],
        doc_seq=row["doc_seq"],
    )


_SELECT = f"""
SELECT {", ".join("o." + c.strip() for c in _ORDER_COLUMNS.split(","))},
       o.inspection_id, o.project_id, o.items, o.severity, o.doc_year, o.doc_seq,
       p.project_name, o.enterprise_id, o.enterprise_name, o.district_code
  FROM rectification_orders o JOIN projects p USING (project_id)
"""


class PgOrders:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def add(self, row: OrderRow, *, deadline_calendar: str) -> None:
        order = row.order
        # The order's number: the next of its district and year, in this transaction.
        await self._conn.execute(
            """WITH n AS (
                 INSERT INTO order_numbers (district_code, year, last_seq) VALUES ($11, $13, 1)
                 ON CONFLICT (district_code, year)
                 DO UPDATE SET last_seq = order_numbers.last_seq + 1
                 RETURNING last_seq)
               INSERT INTO rectification_orders (order_id, inspection_id, project_id, items,
                      severity, status, deadline, ordered_at, enterprise_id, enterprise_name,
                      district_code, deadline_calendar, doc_year, doc_seq)
               SELECT $1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10, $11, $12, $13, n.last_seq
                 FROM n""",
            order.order_id,
            row.inspection_id,
            row.project_id,
            json.dumps(row.items, ensure_ascii=False),
            row.severity,
            order.status.value,
            order.deadline,
            order.ordered_at,
            row.enterprise_id,
            row.enterprise_name,
            row.district_code,
            deadline_calendar,
            rectification.document_year(order.ordered_at),
        )

    async def get(self, order_id: str, *, for_update: bool = False) -> OrderRow | None:
        lock = " FOR UPDATE OF o" if for_update else ""
        row = await self._conn.fetchrow(_SELECT + f" WHERE o.order_id = $1{lock}", order_id)
        return _order_row(row) if row else None

    async def save(self, order: rectification.Order) -> None:
        await self._conn.execute(
            """UPDATE rectification_orders SET status = $2, rejections = $3, submissions = $4,
                      overdue_at = $5, submitted_at = $6, evidence_text = $7, photo_refs = $8::jsonb,
                      rejected_at = $9, rejection_reason = $10, verified_at = $11, inadequate_at = $12,
                      updated_at = now()
                WHERE order_id = $1""",
            order.order_id,
            order.status.value,
            order.rejections,
            order.submissions,
            order.overdue_at,
            order.submitted_at,
            order.evidence_text,
            json.dumps(list(order.photo_refs)),
            order.rejected_at,
            order.rejection_reason,
            order.verified_at,
            order.inadequate_at,
        )

    async def add_history(
        self,
        order_id: str,
        action: str,
        *,
        actor: str,
        actor_role: str,
        at: datetime,
        evidence_text: str | None = None,
        photo_refs: tuple[str, ...] | None = None,
        reason: str | None = None,
    ) -> None:
        await self._conn.execute(
            """INSERT INTO rectification_history (order_id, action, actor, actor_role, at,
                      evidence_text, photo_refs, reason)
               VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8)""",
            order_id,
            action,
            actor,
            actor_role,
            at,
            evidence_text,
            json.dumps(list(photo_refs)) if photo_refs is not None else None,
            reason,
        )

    async def history(self, order_id: str) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT action, actor_role, at, evidence_text, photo_refs, reason
                 FROM rectification_history WHERE order_id = $1 ORDER BY seq""",
            order_id,
        )
        out = []
        for r in rows:
            item = dict(r)
            item["photo_refs"] = json.loads(item["photo_refs"]) if item["photo_refs"] else []
            out.append(item)
        return out

    async def due(self, now: datetime, limit: int) -> list[OrderRow]:
        """Candidates for the overdue scan, locked; rows another replica holds are skipped."""
        rows = await self._conn.fetch(
            _SELECT
            + """ WHERE o.overdue_at IS NULL AND o.status IN ('ordered', 'rejected') AND o.deadline < $1
                  ORDER BY o.deadline LIMIT $2 FOR UPDATE OF o SKIP LOCKED""",
            now,
            limit,
        )
        return [_order_row(r) for r in rows]

    async def search(
        self,
        *,
        district_code: str | None,
        enterprise_id: str | None,
        project_id: str | None,
        status: str | None,
        overdue: bool | None,
        limit: int,
    ) -> list[OrderRow]:
        rows = await self._conn.fetch(
            _SELECT
            + """ WHERE ($1::text IS NULL OR o.district_code = $1)
                    AND ($2::text IS NULL OR o.enterprise_id = $2)
                    AND ($3::text IS NULL OR o.project_id = $3)
                    AND ($4::text IS NULL OR o.status = $4)
                    AND ($5::boolean IS NULL OR (o.overdue_at IS NOT NULL) = $5)
                  ORDER BY o.ordered_at DESC, o.order_id LIMIT $6""",
            district_code,
            enterprise_id,
            project_id,
            status,
            overdue,
            limit,
        )
        return [_order_row(r) for r in rows]


# -- complaint signals and scheduled patrols --------------------------------------------------------


class PgPatrols:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def record_signal(
        self,
        *,
        complaint_id: str,
        kind: str,
        project_id: str,
        district_code: str,
        enterprise_id: str,
        at: datetime,
    ) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO complaint_signals (complaint_id, kind, project_id, district_code,
                      enterprise_id, at) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT DO NOTHING RETURNING 1""",
            complaint_id,
            kind,
            project_id,
            district_code,
            enterprise_id,
            at,
        )
        return inserted is not None

    async def complaints_between(self, project_id: str, since: datetime, until: datetime) -> int:
        value = await self._conn.fetchval(
            """SELECT count(DISTINCT complaint_id) FROM complaint_signals
                WHERE project_id = $1 AND kind = 'filed' AND at >= $2 AND at <= $3""",
            project_id,
            since,
            until,
        )
        return int(value)

    async def schedule(
        self,
        *,
        patrol_id: str,
        project_id: str,
        reason: str,
        complaint_count: int,
        window_days: int,
        scheduled_at: datetime,
        due_by: datetime,
    ) -> bool:
        """Insert an open patrol unless the project already has one; return whether it was new."""
        inserted = await self._conn.fetchval(
            """INSERT INTO scheduled_patrols (patrol_id, project_id, reason, complaint_count,
                      window_days, scheduled_at, due_by)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (project_id) WHERE status = 'open' DO NOTHING RETURNING 1""",
            patrol_id,
            project_id,
            reason,
            complaint_count,
            window_days,
            scheduled_at,
            due_by,
        )
        return inserted is not None

    async def close_open(self, project_id: str, inspection_id: str) -> None:
        await self._conn.execute(
            """UPDATE scheduled_patrols SET status = 'done', inspection_id = $2
                WHERE project_id = $1 AND status = 'open'""",
            project_id,
            inspection_id,
        )

    async def search(
        self, *, district_code: str | None, status: str | None
    ) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT s.patrol_id, s.project_id, p.project_name, p.district_code, s.reason,
                      s.complaint_count, s.window_days, s.scheduled_at, s.due_by, s.status,
                      s.inspection_id, s.origin, s.draw_id, s.inspector_ids
                 FROM scheduled_patrols s JOIN projects p USING (project_id)
                WHERE ($1::text IS NULL OR p.district_code = $1)
                  AND ($2::text IS NULL OR s.status = $2)
                ORDER BY s.scheduled_at DESC""",
            district_code,
            status,
        )
        return [dict(r) for r in rows]
