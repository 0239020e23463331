"""In-memory fakes of every inspections port and `MemoryInspectionsUnitOfWork`, for fast unit
tests of the service layer. They keep what the asyncpg adapters keep, in dictionaries, and model
the adapters' answers (inserted or not, unchanged or updated); a rollback keeps the outbox's
events out (`runtime.fakes.MemoryUnitOfWork`) but not the repositories' writes, so a test of a
refusal asserts the events, and the handlers refuse before they write."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Literal

from runtime.fakes import MemoryOutbox, MemoryUnitOfWork
from runtime.scheduler import Clock
from services.inspections.adapters.postgres import CAMPAIGNS_SOURCE, REGISTRY_SOURCE, SOURCE
from services.inspections.adapters.registry_tables import template_from_json
from services.inspections.domain import campaign, checklist, rectification
from services.inspections.domain.registry import ProjectFacts
from services.inspections.service.ports import CampaignRow, Change, NewActivity, OrderRow


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


class MemoryOrders:
    def __init__(self) -> None:
        self.rows: dict[str, OrderRow] = {}
        self.calendars: dict[str, str] = {}
        self.history_rows: dict[str, list[dict[str, Any]]] = {}

    async def add(self, row: OrderRow, *, deadline_calendar: str) -> None:
        self.rows[row.order.order_id] = row
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
        }
        return True

    async def close_open(self, project_id: str, inspection_id: str) -> None:
        for p in self.patrols.values():
            if p["project_id"] == project_id and p["status"] == "open":
                p["status"], p["inspection_id"] = "done", inspection_id

    async def search(
        self, *, district_code: str | None, status: str | None
    ) -> list[dict[str, Any]]:
        return [
            p
            for p in sorted(self.patrols.values(), key=lambda p: p["scheduled_at"], reverse=True)
            if status in (None, p["status"])
        ]


class MemoryCampaigns:
    def __init__(self) -> None:
        self.rows: dict[str, CampaignRow] = {}
        self.overdue: dict[tuple[str, campaign.SubmitterKey], campaign.Submitter] = {}
        self.plans: dict[tuple[str, campaign.SubmitterKey], dict[str, Any]] = {}
        self.share_locked: list[str] = []

    async def add(
        self,
        c: campaign.Campaign,
        *,
        template_id: str | None,
        created_by: str,
        created_at: datetime,
    ) -> bool:
        if c.campaign_id in self.rows:
            return False
        self.rows[c.campaign_id] = CampaignRow(
            campaign=c,
            template_id=template_id,
            created_by=created_by,
            created_at=created_at,
            overdue_checked_at=None,
            announced=frozenset(),
        )
        return True

    async def get(
        self, campaign_id: str, *, lock: Literal["share"] | None = None
    ) -> CampaignRow | None:
        if lock == "share":
            self.share_locked.append(campaign_id)
        return self.rows.get(campaign_id)

    async def all(self) -> list[CampaignRow]:
        return sorted(self.rows.values(), key=lambda r: r.campaign.campaign_id)

    async def with_work(self, today: date) -> list[CampaignRow]:
        return [
            r
            for r in await self.all()
            if r.overdue_checked_at is None or r.campaign.ends_on >= today
        ]

    async def claim_phase_announcement(
        self, campaign_id: str, phase: campaign.PhaseKind, at: datetime
    ) -> bool:
        row = self.rows[campaign_id]
        if phase in row.announced:
            return False
        self.rows[campaign_id] = dataclasses.replace(row, announced=row.announced | {phase})
        return True

    async def claim_overdue_scan(self, campaign_id: str, at: datetime) -> bool:
        row = self.rows[campaign_id]
        if row.overdue_checked_at is not None:
            return False
        self.rows[campaign_id] = dataclasses.replace(row, overdue_checked_at=at)
        return True

    async def record_overdue(
        self,
        campaign_id: str,
        submitter: campaign.Submitter,
        *,
        deadline: datetime,
        detected_at: datetime,
    ) -> bool:
        key = (campaign_id, submitter.key)
        if key in self.overdue:
            return False
        self.overdue[key] = submitter
        return True

    async def save_plan(
        self,
        campaign_id: str,
        submitter: campaign.Submitter,
        plan: campaign.PlanContent,
        *,
        submitted_by: str,
        submitted_at: datetime,
    ) -> tuple[str, int]:
        key = (campaign_id, submitter.key)
        earlier = self.plans.get(key)
        plan_id = earlier["plan_id"] if earlier else str(uuid.uuid4())
        version = earlier["version"] + 1 if earlier else 1
        self.plans[key] = {
            "plan_id": plan_id,
            "campaign_id": campaign_id,
            "submitter_kind": submitter.kind.value,
            "submitter_id": submitter.submitter_id,
            "submitter_name": submitter.name,
            "version": version,
            "departments": list(plan.departments),
            "staff": [{"name": s.name, "role": s.role, "phone": s.phone} for s in plan.staff],
            "schedule": [
                {"date": i.on.isoformat(), "activity_zh": i.activity_zh} for i in plan.schedule
            ],
            "summary": plan.summary,
            "submitted_by": submitted_by,
            "first_submitted_at": earlier["first_submitted_at"] if earlier else submitted_at,
            "submitted_at": submitted_at,
        }
        return plan_id, version

    async def get_plan(
        self, campaign_id: str, key: campaign.SubmitterKey, *, with_phones: bool
    ) -> dict[str, Any] | None:
        found = self.plans.get((campaign_id, key))
        return _shown(found, with_phones=with_phones) if found else None

    async def list_plans(
        self, campaign_id: str, *, only: frozenset[campaign.SubmitterKey] | None
    ) -> list[dict[str, Any]]:
        return [
            _shown(p, with_phones=False)
            for (cid, key), p in sorted(self.plans.items(), key=lambda kv: kv[0][1])
            if cid == campaign_id and (only is None or key in only)
        ]

    async def submitted_keys(self, campaign_id: str) -> set[campaign.SubmitterKey]:
        return {key for cid, key in self.plans if cid == campaign_id}


def _shown(plan: dict[str, Any], *, with_phones: bool) -> dict[str, Any]:
    if with_phones:
        return dict(plan)
    return {**plan, "staff": [{"name": s["name"], "role": s["role"]} for s in plan["staff"]]}


class MemoryInspectionsUnitOfWork(MemoryUnitOfWork):
    """The inspections unit in memory. Its three outboxes keep their events apart (as the
    CloudEvents sources keep them apart on the wire); `commit` commits all three."""

    projects: MemoryProjects
    templates: MemoryTemplates
    inspections: MemoryInspections
    activities: MemoryActivities
    orders: MemoryOrders
    patrols: MemoryPatrols
    campaigns: MemoryCampaigns
    registry_outbox: MemoryOutbox
    campaign_outbox: MemoryOutbox

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
        self.campaigns = MemoryCampaigns()
        self.registry_outbox = MemoryOutbox(source=REGISTRY_SOURCE)
        self.campaign_outbox = MemoryOutbox(source=CAMPAIGNS_SOURCE)

    async def commit(self) -> None:
        for extra in (self.registry_outbox, self.campaign_outbox):
            extra.committed.extend(extra.pending)
            extra.pending.clear()
        await super().commit()

    async def __aexit__(self, *exc: object) -> None:
        for extra in (self.registry_outbox, self.campaign_outbox):
            extra.pending.clear()
        await super().__aexit__(None, None, None)
