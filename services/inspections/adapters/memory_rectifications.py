"""In-memory fakes of the rectification orders and of the complaint signals and scheduled
patrols (see `adapters.memory`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from services.inspections.domain import rectification
from services.inspections.service.ports import OrderRow


class MemoryOrders:
    def __init__(self) -> None:
        self.rows: dict[str, OrderRow] = {}
        self.calendars: dict[str, str] = {}
        self.history_rows: dict[str, list[dict[str, Any]]] = {}
        self.numbers: dict[tuple[str, int], int] = {}

    async def add(self, row: OrderRow, *, deadline_calendar: str) -> None:
        year = rectification.document_year(row.order.ordered_at)
        seq = self.numbers.get((row.district_code, year), 0) + 1
        self.numbers[(row.district_code, year)] = seq
        self.rows[row.order.order_id] = dataclasses.replace(row, doc_year=year, doc_seq=seq)
        self.calendars[row.order.order_id] = deadline_calendar

    async def get(self, order_id: str, *, for_update: bool = False) -> OrderRow | None:
        return self.rows.get(order_id)

    async def save(self, order: rectification.Order) -> None:
        row = self.rows[order.order_id]
        self.rows[order.order_id] = dataclasses.replace(row, order=order)

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
        self.history_rows.setdefault(order_id, []).append(
            {
                "action": action,
                "actor": actor,
                "actor_role": actor_role,
                "at": at,
                "evidence_text": evidence_text,
                "photo_refs": list(photo_refs or ()),
                "reason": reason,
            }
        )

    async def history(self, order_id: str) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in h.items() if k != "actor"}
            for h in self.history_rows.get(order_id, [])
        ]

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
        rows = [
            r
            for r in self.rows.values()
            if district_code in (None, r.district_code)
            and enterprise_id in (None, r.enterprise_id)
            and project_id in (None, r.project_id)
            and status in (None, r.order.status.value)
            and overdue in (None, r.order.overdue_at is not None)
        ]
        rows.sort(key=lambda r: r.order.ordered_at, reverse=True)
        return rows[:limit]

    async def due(self, now: datetime, limit: int) -> list[OrderRow]:
        rows = [
            r
            for r in self.rows.values()
            if r.order.overdue_at is None
            and r.order.status in rectification.OVERDUE_STATUSES
            and r.order.deadline < now
        ]
        rows.sort(key=lambda r: r.order.deadline)
        return rows[:limit]


class MemoryPatrols:
    def __init__(self) -> None:
        self.signals: set[tuple[str, str]] = set()
        self.signal_rows: list[dict[str, Any]] = []
        self.patrols: dict[str, dict[str, Any]] = {}

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
        if (complaint_id, kind) in self.signals:
            return False
        self.signals.add((complaint_id, kind))
        self.signal_rows.append(
            {"complaint_id": complaint_id, "kind": kind, "project_id": project_id, "at": at}
        )
        return True

    async def complaints_between(self, project_id: str, since: datetime, until: datetime) -> int:
        return len(
            {
                s["complaint_id"]
                for s in self.signal_rows
                if s["project_id"] == project_id
                and s["kind"] == "filed"
                and since <= s["at"] <= until
            }
        )

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
        if any(
            p["project_id"] == project_id and p["status"] == "open" for p in self.patrols.values()
        ):
            return False
        self.patrols[patrol_id] = {
            "patrol_id": patrol_id,
            "project_id": project_id,
            "reason": reason,
            "complaint_count": complaint_count,
            "window_days": window_days,
            "scheduled_at": scheduled_at,
            "due_by": due_by,
            "status": "open",
            "inspection_id": None,
            "origin": "complaint",
            "draw_id": None,
            "inspector_ids": None,
        }
        return True

    async def close_open(self, project_id: str, inspection_id: str) -> None:
        for p in self.patrols.values():
            if p["project_id"] == project_id and p["status"] == "open":
                p["status"], p["inspection_id"] = "done", inspection_id

    async def search(
        self, *, district_code: str | None, status: str | None
    ) -> list[dict[str, Any]]:
        # A patrol's district is its project's (a join in PostgreSQL); no handler reads this list,
        # so the fake does not model the district filter.
        return [
            p
            for p in sorted(self.patrols.values(), key=lambda p: p["scheduled_at"], reverse=True)
            if status in (None, p["status"])
        ]
