"""In-memory fake of the random patrol draws port (`adapters/draws.py`)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING, Any

from services.inspections.adapters.memory_rectifications import MemoryPatrols
from services.inspections.service.ports import DrawRow, RosterEntry

if TYPE_CHECKING:  # memory.py builds the unit from these and imports this module
    from services.inspections.adapters.memory import MemoryInspections, MemoryProjects


class MemoryPatrolDraws:
    """The draws, over the unit's patrols (the drawn ones are scheduled there), projects (for
    their district) and inspections (the patrols recorded lately), as the SQL joins them."""

    def __init__(
        self,
        patrols: MemoryPatrols,
        projects: MemoryProjects,
        inspections: MemoryInspections,
    ) -> None:
        self.rows: dict[str, DrawRow] = {}
        self.patrols = patrols
        self._projects = projects
        self._inspections = inspections

    def _in(self, district_code: str, project_id: str) -> bool:
        project = self._projects.rows.get(project_id)
        return project is not None and project.district_code == district_code

    async def excluded_projects(self, district_code: str, since: datetime) -> set[str]:
        patrolled = {
            i["project_id"]
            for i in self._inspections.rows.values()
            if i["kind"] == "patrol" and i["inspected_at"] >= since
        }
        open_ = {p["project_id"] for p in self.patrols.patrols.values() if p["status"] == "open"}
        return {p for p in patrolled | open_ if self._in(district_code, p)}

    async def add(self, draw: DrawRow) -> None:
        self.rows[draw.draw_id] = draw

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
        created = await self.patrols.schedule(
            patrol_id=patrol_id,
            project_id=project_id,
            reason="random_draw",
            complaint_count=0,
            window_days=1,
            scheduled_at=scheduled_at,
            due_by=due_by,
        )
        if created:
            self.patrols.patrols[patrol_id].update(
                origin="random_draw", draw_id=draw_id, inspector_ids=list(inspector_ids)
            )
        return created

    async def get(self, draw_id: str) -> DrawRow | None:
        return self.rows.get(draw_id)

    async def search(self, *, district_code: str | None, limit: int) -> list[DrawRow]:
        rows = [r for r in self.rows.values() if district_code in (None, r.district_code)]
        return sorted(rows, key=lambda r: r.drawn_at, reverse=True)[:limit]

    async def patrol_status(self, draw_id: str) -> dict[str, dict[str, Any]]:
        return {
            p["project_id"]: {
                k: p[k] for k in ("project_id", "patrol_id", "status", "inspection_id")
            }
            for p in self.patrols.patrols.values()
            if p.get("draw_id") == draw_id
        }


class MemoryDrawRosters:
    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], RosterEntry] = {}

    async def listed(self, *, district_code: str | None, active_only: bool) -> list[RosterEntry]:
        return [
            e
            for key, e in sorted(self.entries.items())
            if district_code in (None, e.district_code) and (e.active or not active_only)
        ]

    async def get(self, district_code: str, inspector_id: str) -> RosterEntry | None:
        return self.entries.get((district_code, inspector_id))

    async def put(self, entry: RosterEntry) -> bool:
        key = (entry.district_code, entry.inspector_id)
        if key in self.entries and self.entries[key].active:
            return False
        self.entries[key] = dataclasses.replace(
            entry, active=True, deactivated_by=None, deactivated_at=None
        )
        return True

    async def deactivate(
        self, district_code: str, inspector_id: str, *, by: str, at: datetime
    ) -> bool:
        entry = self.entries.get((district_code, inspector_id))
        if entry is None or not entry.active:
            return False
        self.entries[(district_code, inspector_id)] = dataclasses.replace(
            entry, active=False, deactivated_by=by, deactivated_at=at
        )
        return True
