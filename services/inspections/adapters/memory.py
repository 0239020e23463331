"""In-memory fakes of every inspections port and `MemoryInspectionsUnitOfWork`, for fast unit
tests of the service layer. They keep what the asyncpg adapters keep, in dictionaries, and model
the adapters' answers (inserted or not, unchanged or updated); a rollback keeps the outbox's
events out (`runtime.fakes.MemoryUnitOfWork`) and undoes the draw stores' writes (a draw writes
before it can be refused), not the other repositories', so a test of a refusal asserts the
events, and those handlers refuse before they write. `tests/integration/test_draw_repositories.py`
runs the draw stores' suite on these fakes and on PostgreSQL alike."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Self

from runtime.attachments import MemoryAttachmentStore
from runtime.fakes import MemoryOutbox, MemoryUnitOfWork
from runtime.scheduler import Clock
from services.inspections.adapters.memory_campaigns import MemoryCampaigns
from services.inspections.adapters.memory_drafts import MemoryPatrolDrafts, MemoryPublicPhotos
from services.inspections.adapters.memory_draws import MemoryDrawRosters, MemoryPatrolDraws
from services.inspections.adapters.memory_facilities import MemoryFacilities
from services.inspections.adapters.memory_rectifications import MemoryOrders, MemoryPatrols
from services.inspections.adapters.postgres import (
    CAMPAIGNS_SOURCE,
    DRAWS_SOURCE,
    REGISTRY_SOURCE,
    SOURCE,
)
from services.inspections.adapters.registry_tables import template_from_json
from services.inspections.domain import campaign, checklist
from services.inspections.domain.project_registry import ProjectFacts
from services.inspections.service.ports import Change, DrawRow, NewActivity, RosterEntry


class MemoryProjects:
    def __init__(self, projects: Iterable[ProjectFacts] = ()) -> None:
        self.rows: dict[str, ProjectFacts] = {p.project_id: p for p in projects}
        self.locked: list[str] = []

    async def get(self, project_id: str, *, for_update: bool = False) -> ProjectFacts | None:
        return self.rows.get(project_id)

    async def upsert(self, project: ProjectFacts) -> Change:
        current = self.rows.get(project.project_id)
        self.rows[project.project_id] = project
        if current is None:
            return "created"
        return "unchanged" if current == project else "updated"

    async def insert(self, project: ProjectFacts) -> bool:
        if project.project_id in self.rows:
            return False
        self.rows[project.project_id] = project
        return True

    async def lock(self, project_id: str) -> bool:
        self.locked.append(project_id)
        return project_id in self.rows

    async def search(
        self, *, district_code: str | None, enterprise_id: str | None
    ) -> list[ProjectFacts]:
        return [
            p
            for _, p in sorted(self.rows.items())
            if district_code in (None, p.district_code) and enterprise_id in (None, p.enterprise_id)
        ]

    async def districts(self) -> list[dict[str, Any]]:
        codes = sorted({p.district_code for p in self.rows.values()})
        return [
            {
                "district_code": code,
                "district_name": min(
                    p.district_name for p in self.rows.values() if p.district_code == code
                ),
                "project_count": sum(p.district_code == code for p in self.rows.values()),
                "enterprise_count": len(
                    {p.enterprise_id for p in self.rows.values() if p.district_code == code}
                ),
            }
            for code in codes
        ]

    async def enterprises(self, *, district_code: str | None) -> list[dict[str, Any]]:
        found = []
        for eid in sorted({p.enterprise_id for p in self.rows.values()}):
            own = [p for p in self.rows.values() if p.enterprise_id == eid]
            if district_code is not None and all(p.district_code != district_code for p in own):
                continue
            found.append(
                {
                    "enterprise_id": eid,
                    "enterprise_name": min(p.enterprise_name for p in own),
                    "project_count": len(own),
                    "district_codes": sorted({p.district_code for p in own}),
                }
            )
        return found

    async def refs(self, *, district_code: str | None = None) -> list[campaign.ProjectRef]:
        return sorted(
            {
                campaign.ProjectRef(
                    p.district_code, p.district_name, p.enterprise_id, p.enterprise_name
                )
                for p in self.rows.values()
                if district_code in (None, p.district_code)
            },
            key=lambda r: (r.district_code, r.enterprise_id),
        )

    async def submitter_name(self, key: campaign.SubmitterKey) -> str | None:
        kind, sid = key
        if kind is campaign.SubmitterKind.DISTRICT:
            names = [p.district_name for p in self.rows.values() if p.district_code == sid]
        else:
            names = [p.enterprise_name for p in self.rows.values() if p.enterprise_id == sid]
        return min(names) if names else None


def template_body(t: checklist.Template) -> dict[str, Any]:
    """The JSON body of a template (what the service stores)."""
    return {
        "template_id": t.template_id,
        "version": t.version,
        "title_zh": t.title_zh,
        "title_en": t.title_en,
        "pass_mark": t.pass_mark,
        "items": [
            {
                "item_id": i.item_id,
                "group": i.group,
                "title_zh": i.title_zh,
                "title_en": i.title_en,
                "weight": i.weight,
                "severity": i.severity,
            }
            for i in t.items
        ],
    }


class MemoryTemplates:
    def __init__(self, bodies: Iterable[dict[str, Any]] = ()) -> None:
        self.bodies: dict[tuple[str, int], dict[str, Any]] = {
            (b["template_id"], int(b["version"])): b for b in bodies
        }

    async def get(self, template_id: str, version: int | None) -> checklist.Template | None:
        versions = sorted(v for t, v in self.bodies if t == template_id)
        if version is None and versions:
            version = versions[-1]
        body = self.bodies.get((template_id, version or 0))
        return template_from_json(body) if body is not None else None

    async def body(self, template_id: str, version: int) -> dict[str, Any] | None:
        return self.bodies.get((template_id, version))

    async def latest_version(self, template_id: str) -> int | None:
        return max((v for t, v in self.bodies if t == template_id), default=None)

    async def insert(self, body: dict[str, Any]) -> bool:
        key = (body["template_id"], int(body["version"]))
        if key in self.bodies:
            return False
        self.bodies[key] = body
        return True

    async def save_if_new(self, body: dict[str, Any]) -> bool:
        key = (body["template_id"], int(body["version"]))
        if key in self.bodies:
            if self.bodies[key] != body:
                raise ValueError(f"template {key[0]} v{key[1]} differs from the stored one")
            return False
        self.bodies[key] = body
        return True

    async def summaries(self) -> list[dict[str, Any]]:
        out = []
        for tid in sorted({t for t, _ in self.bodies}):
            versions = sorted(v for t, v in self.bodies if t == tid)
            out.append(
                {
                    "template_id": tid,
                    "versions": versions,
                    "latest": self.bodies[(tid, versions[-1])],
                }
            )
        return out


class MemoryInspections:
    def __init__(self, clock: Clock) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self._clock = clock

    async def get(self, inspection_id: str) -> dict[str, Any] | None:
        return self.rows.get(inspection_id)

    async def find_by_key(self, recorded_by: str, key: str) -> dict[str, Any] | None:
        return next(
            (
                r
                for r in self.rows.values()
                if r["recorded_by"] == recorded_by and r["idempotency_key"] == key
            ),
            None,
        )

    async def add(
        self,
        *,
        inspection_id: str,
        project_id: str,
        kind: str,
        template: checklist.Template,
        outcome: checklist.Outcome,
        results: tuple[checklist.ItemResult, ...],
        recorded_by: str,
        recorder_role: str,
        idempotency_key: str | None,
        inspected_at: datetime,
        checklist_reason: str = "given",
        contracted_grade: str | None = None,
    ) -> bool:
        if idempotency_key is not None and await self.find_by_key(recorded_by, idempotency_key):
            return False
        self.rows[inspection_id] = {
            "inspection_id": inspection_id,
            "project_id": project_id,
            "kind": kind,
            "template_id": template.template_id,
            "template_version": template.version,
            "score": outcome.score,
            "pass_mark": template.pass_mark,
            "passed": outcome.passed,
            "results": [
                {"item_id": r.item_id, "result": r.result.value, "note": r.note} for r in results
            ],
            "recorded_by": recorded_by,
            "recorder_role": recorder_role,
            "idempotency_key": idempotency_key,
            "inspected_at": inspected_at,
            "recorded_at": self._clock.now(),
            "checklist_reason": checklist_reason,
            "contracted_grade": contracted_grade,
        }
        return True


class MemoryActivities:
    def __init__(self, clock: Clock) -> None:
        self.rows: dict[str, dict[str, Any]] = {}
        self.keys: dict[tuple[str, str], str] = {}
        self._clock = clock

    async def add(self, record: NewActivity) -> bool:
        if record.idempotency_key is not None:
            key = (record.recorded_by, record.idempotency_key)
            if key in self.keys:
                return False
            self.keys[key] = record.record_id
        row = dataclasses.asdict(record)
        del row["idempotency_key"]
        self.rows[record.record_id] = {
            **row,
            "photo_refs": list(record.photo_refs),
            "recorded_at": self._clock.now(),
        }
        return True

    async def get(self, record_id: str) -> dict[str, Any] | None:
        return self.rows.get(record_id)

    async def find_by_key(self, recorded_by: str, key: str) -> dict[str, Any] | None:
        record_id = self.keys.get((recorded_by, key))
        return self.rows.get(record_id) if record_id else None

    async def of_project(
        self, project_id: str, *, kind: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = [
            r
            for r in self.rows.values()
            if r["project_id"] == project_id and kind in (None, r["kind"])
        ]
        rows.sort(key=lambda r: (r["held_on"], r["recorded_at"]), reverse=True)
        return rows[:limit]


# the draws by id, the rosters by (district, inspector), the patrols by id
_DrawState = tuple[
    dict[str, DrawRow], dict[tuple[str, str], RosterEntry], dict[str, dict[str, Any]]
]


class MemoryInspectionsUnitOfWork(MemoryUnitOfWork):
    """The inspections unit in memory. Its three outboxes keep their events apart (as the
    CloudEvents sources keep them apart on the wire); `commit` commits all three."""

    projects: MemoryProjects
    templates: MemoryTemplates
    inspections: MemoryInspections
    activities: MemoryActivities
    orders: MemoryOrders
    patrols: MemoryPatrols
    draws: MemoryPatrolDraws
    rosters: MemoryDrawRosters
    facilities: MemoryFacilities
    campaigns: MemoryCampaigns
    drafts: MemoryPatrolDrafts
    attachments: MemoryAttachmentStore
    public_photos: MemoryPublicPhotos
    registry_outbox: MemoryOutbox
    campaign_outbox: MemoryOutbox
    draws_outbox: MemoryOutbox

    def __init__(
        self,
        clock: Clock | None = None,
        *,
        projects: Iterable[ProjectFacts] = (),
        templates: Iterable[checklist.Template] = (),
    ) -> None:
        super().__init__(clock, source=SOURCE)
        self.projects = MemoryProjects(projects)
        self.templates = MemoryTemplates(template_body(t) for t in templates)
        self.inspections = MemoryInspections(self.clock)
        self.activities = MemoryActivities(self.clock)
        self.orders = MemoryOrders()
        self.patrols = MemoryPatrols()
        self.draws = MemoryPatrolDraws(self.patrols, self.projects, self.inspections)
        self.rosters = MemoryDrawRosters()
        self.facilities = MemoryFacilities()
        self.campaigns = MemoryCampaigns()
        self.attachments = MemoryAttachmentStore()
        self.drafts = MemoryPatrolDrafts(self.attachments)
        self.public_photos = MemoryPublicPhotos()
        self.registry_outbox = MemoryOutbox(source=REGISTRY_SOURCE)
        self.campaign_outbox = MemoryOutbox(source=CAMPAIGNS_SOURCE)
        self.draws_outbox = MemoryOutbox(source=DRAWS_SOURCE)
        self._depth = 0
        self._snapshot: _DrawState | None = None

    async def __aenter__(self) -> Self:
        if self._depth == 0:
            self._snapshot = self._draw_state()
        self._depth += 1
        return self

    def _draw_state(self) -> _DrawState:
        """What the draw stores hold (the draws, the rosters, the patrols a draw schedules): a
        unit left without committing puts it back, as PostgreSQL's rollback does — a draw
        refused half-way (a project just given a patrol) leaves no draw and no patrol."""
        return (
            dict(self.draws.rows),
            dict(self.rosters.entries),
            {k: dict(v) for k, v in self.patrols.patrols.items()},
        )

    async def commit(self) -> None:
        self.attachments.commit()
        for extra in (self.registry_outbox, self.campaign_outbox, self.draws_outbox):
            extra.committed.extend(extra.pending)
            extra.pending.clear()
        self._snapshot = None
        await super().commit()

    async def __aexit__(self, *exc: object) -> None:
        self._depth -= 1
        if self._depth == 0 and self._snapshot is not None:
            draws, rosters, patrols = self._snapshot
            self.draws.rows = draws
            self.rosters.entries = rosters
            self.patrols.patrols = patrols
            self._snapshot = None
        for extra in (self.registry_outbox, self.campaign_outbox, self.draws_outbox):
            extra.pending.clear()
        await super().__aexit__(None, None, None)
