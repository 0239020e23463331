"""The storage ports of the random patrol draws (双随机): the draws and the district offices'
rosters of inspectors. Part of the unit of work in `ports.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class DrawRow:
    """A random patrol draw as stored: `inputs` holds the projects (sorted by id), the excluded
    ids and the roster (ids, names, conflicts); `result` the patrols in draw order."""

    draw_id: str
    district_code: str
    drawn_by: str
    drawn_at: datetime
    algorithm: str
    seed: str
    project_count: int
    inspectors_per_project: int
    exclusion_days: int
    inputs: dict[str, Any]
    result: list[dict[str, Any]]
    due_by: datetime


class PatrolDraws(Protocol):
    """Random patrol draws (双随机) and the patrols they schedule (origin 'random_draw')."""

    async def excluded_projects(self, district_code: str, since: datetime) -> set[str]:
        """The district's projects patrolled since `since`, or with a patrol open."""

    async def add(self, draw: DrawRow) -> None: ...

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
        """Open the drawn patrol unless the project has one open; return whether it was new."""

    async def get(self, draw_id: str) -> DrawRow | None: ...

    async def search(self, *, district_code: str | None, limit: int) -> list[DrawRow]: ...

    async def patrol_status(self, draw_id: str) -> dict[str, dict[str, Any]]:
        """The draw's patrols by project id: patrol_id, status, inspection_id."""


@dataclass(frozen=True)
class RosterEntry:
    """An inspector on a district office's roster for random draws, with the enterprise or
    project ids they must not inspect (回避)."""

    district_code: str
    inspector_id: str
    name: str
    conflicts: tuple[str, ...]
    active: bool
    added_by: str
    added_at: datetime
    deactivated_by: str | None = None
    deactivated_at: datetime | None = None


class DrawRosters(Protocol):
    """The district offices' rosters (`draw_rosters`); an entry is deactivated, never deleted."""

    async def listed(self, *, district_code: str | None, active_only: bool) -> list[RosterEntry]:
        """By district, then inspector id."""

    async def get(self, district_code: str, inspector_id: str) -> RosterEntry | None: ...

    async def put(self, entry: RosterEntry) -> bool:
        """Add the entry, or re-activate an inactive one with the new name and conflicts; False
        (nothing written) when the inspector is on the roster and active."""

    async def deactivate(
        self, district_code: str, inspector_id: str, *, by: str, at: datetime
    ) -> bool:
        """False when the inspector is not on the roster or already inactive."""
