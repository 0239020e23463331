"""In-memory fakes of the exposure service's read ports (the offices' case queries, the public
board's queries), over the rows of the fake repositories in `memory.py`: for fast tests of the
routes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from services.exposure.adapters.memory import MemoryCaseRepository
from services.exposure.adapters.memory_facts import MemoryFactRepository
from services.exposure.domain import figures
from services.exposure.domain.board import (
    CampaignPlans,
    CampaignStats,
    EnterpriseGrade,
    PlanCount,
    ProjectGrade,
)
from services.exposure.service.ports import Scope


def _in_scope(row: dict[str, Any], scope: Scope) -> bool:
    if scope.by == "enterprise":
        return bool(row["enterprise_id"] == scope.value)
    if scope.by == "district":
        return bool(row["district_code"] == scope.value)
    return True


@dataclass
class MemoryCaseQueries:
    """The offices' queries over the fake repositories' rows."""

    repository: MemoryCaseRepository
    facts: MemoryFactRepository
    registry: dict[str, tuple[str, str]] = field(default_factory=dict)
    """The registry copy's projects: project id -> (district code, enterprise id)."""

    async def cases(self, scope: Scope, *, status: str | None, limit: int) -> list[dict[str, Any]]:
        rows = [
            dict(r)
            for r in self.repository.cases.values()
            if _in_scope(r, scope) and status in (None, r["status"])
        ]
        rows.sort(key=lambda r: r["case_id"])
        rows.sort(key=lambda r: r["updated_at"], reverse=True)
        return rows[:limit]

    async def case(self, case_id: str, scope: Scope) -> dict[str, Any] | None:
        row = self.repository.cases.get(case_id)
        if row is None or not _in_scope(row, scope):
            return None
        timeline = sorted(
            (t for t in self.repository.timeline.values() if t["case_id"] == case_id),
            key=lambda t: (t["at"], t["event_id"]),
        )
        objections = sorted(
            (o for o in self.repository.objections.values() if o["case_id"] == case_id),
            key=lambda o: o["filed_at"],
        )
        fields = ("event_type", "at", "title_zh", "title_en", "detail_zh", "detail_en")
        photos: dict[str, list[str]] = {}
        for (inspection_id, attachment_id), p in sorted(
            self.facts.evidence_photos.items(), key=lambda kv: (kv[1]["item_id"], kv[1]["position"])
        ):
            if inspection_id == row["inspection_id"]:
                photos.setdefault(p["item_id"], []).append(attachment_id)
        return {
            **row,
            "photos": photos,
            "timeline": [{k: t[k] for k in fields} for t in timeline],
            "objections": [{k: v for k, v in o.items() if k != "case_id"} for o in objections],
        }

    async def evidence(
        self, *, district_code: str | None, project_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = [
            dict(e)
            for e in self.facts.evidence.values()
            if district_code in (None, e["district_code"]) and project_id in (None, e["project_id"])
        ]
        rows.sort(key=lambda e: e["occurred_at"], reverse=True)
        return rows[:limit]

    async def district_extras(self) -> dict[str, dict[str, int]]:
        keys = ("inspections", "failed", "cases_review", "cases_published", "cases_total")
        out: dict[str, dict[str, int]] = {}
        for f in self.facts.inspection_facts.values():
            into = out.setdefault(f["district_code"], dict.fromkeys(keys, 0))
            into["inspections"] += 1
            into["failed"] += not f["passed"]
        for c in self.repository.cases.values():
            into = out.setdefault(c["district_code"], dict.fromkeys(keys, 0))
            into["cases_total"] += 1
            into["cases_review"] += c["status"] in ("in_review", "held")
            into["cases_published"] += c["status"] == "published"
        return out

    async def campaign_plans(self) -> CampaignPlans | None:
        if not self.facts.campaign_facts:
            return None
        campaign_id, row = max(
            self.facts.campaign_facts.items(), key=lambda item: (item[1]["seen_at"], item[0])
        )
        plans = {(k, sid) for (c, k, sid) in self.facts.plan_facts if c == campaign_id}
        runs: dict[str, set[str]] = {}
        for district, enterprise in self.registry.values():
            runs.setdefault(district, set()).add(enterprise)
        return CampaignPlans(
            campaign_id=campaign_id,
            title_zh=row["title_zh"],
            deadline_on=row["planning_ends_on"],
            by_district={
                d: PlanCount(
                    (("district", d) in plans) + sum(("enterprise", e) in plans for e in ents),
                    1 + len(ents),
                )
                for d, ents in runs.items()
            },
        )

    async def overdue_orders(self, district_code: str, *, limit: int) -> list[dict[str, Any]]:
        rows = [
            {**o, "project_name": o["project_id"], "enterprise_name": o["enterprise_id"]}
            for o in self.facts.order_facts.values()
            if o["district_code"] == district_code
            and o.get("overdue")
            and o.get("verified_at") is None
        ]
        rows.sort(key=lambda o: (o["deadline"], o["order_id"]))
        return rows[:limit]


@dataclass
class MemoryBoardQueries:
    """The public board's queries over the fake rows; grades and statistics are given."""

    repository: MemoryCaseRepository
    project_names: dict[str, str] = field(default_factory=dict)  # enterprise id -> name
    grades: list[EnterpriseGrade] = field(default_factory=list)
    projects: list[ProjectGrade] = field(default_factory=list)
    by_district: list[CampaignStats] = field(default_factory=list)
    by_enterprise: list[CampaignStats] = field(default_factory=list)
    draw_rows: list[dict[str, Any]] = field(default_factory=list)  # as `draws` answers, given

    def _public(self, row: dict[str, Any]) -> dict[str, Any]:
        fields = (
            "case_id", "project_id", "project_name", "enterprise_id", "enterprise_name",
            "district_code", "reason", "tier", "deadline", "notice_no", "published_at",
            "min_until", "max_until", "rectified_at",
        )  # fmt: skip
        out = {k: row[k] for k in fields}
        out["district_name"] = row["district_code"]
        keep = ("item_id", "title_zh", "title_en", "severity")
        out["items"] = [{k: i[k] for k in keep} for i in row["items"]]
        out["status"] = "rectified" if row["rectified_at"] is not None else "published"
        return out

    async def published(
        self,
        *,
        district: str | None,
        enterprise: str | None,
        status: str | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[dict[str, Any]]]:
        rows = [
            self._public(r)
            for r in self.repository.cases.values()
            if r["status"] == "published"
            and district in (None, r["district_code"])
            and enterprise in (None, r["enterprise_id"])
            and (start is None or r["published_at"] >= start)
            and (end is None or r["published_at"] < end)
        ]
        rows = [r for r in rows if status in (None, r["status"])]
        rows.sort(key=lambda r: r["case_id"])
        rows.sort(key=lambda r: r["published_at"], reverse=True)
        return len(rows), rows[offset : offset + limit]

    async def published_case(self, case_id: str) -> dict[str, Any] | None:
        row = self.repository.cases.get(case_id)
        if row is None or row["status"] != "published":
            return None
        timeline = sorted(
            (t for t in self.repository.timeline.values() if t["case_id"] == case_id),
            key=lambda t: (t["at"], t["event_id"]),
        )
        fields = ("at", "title_zh", "title_en")
        return {
            **self._public(row),
            "photos": list(row.get("published_photos", [])),
            "timeline": [{k: t[k] for k in fields} for t in timeline],
        }

    async def districts(self) -> list[dict[str, str]]:
        codes = {r["district_code"] for r in self.repository.cases.values()}
        return [{"district_code": c, "district_name": c} for c in sorted(codes)]

    async def enterprise_name(self, enterprise_id: str) -> str | None:
        if enterprise_id in self.project_names:
            return self.project_names[enterprise_id]
        return next(
            (
                str(r["enterprise_name"])
                for r in self.repository.cases.values()
                if r["enterprise_id"] == enterprise_id and r["status"] == "published"
            ),
            None,
        )

    async def enterprise_grades(self, enterprise_id: str | None = None) -> list[EnterpriseGrade]:
        return [g for g in self.grades if enterprise_id in (None, g.enterprise_id)]

    async def project_grades(self, enterprise_id: str) -> list[ProjectGrade]:
        return [p for p in self.projects if p.enterprise_id == enterprise_id]

    async def district_stats(self) -> list[CampaignStats]:
        return list(self.by_district)

    async def enterprise_stats(self) -> list[CampaignStats]:
        return list(self.by_enterprise)

    async def draws(self, limit: int) -> list[dict[str, Any]]:
        return [dict(d) for d in self.draw_rows[:limit]]


@dataclass
class MemoryFigureQueries:
    """The campaign figures over the fake repositories' rows: the same attribution and counts as
    `figure_queries` (names are the keys: the fakes keep no registry names)."""

    repository: MemoryCaseRepository
    facts: MemoryFactRepository

    async def campaigns(self) -> list[figures.Window]:
        rows = sorted(
            self.facts.campaign_facts.items(),
            key=lambda kv: (kv[1].get("starts_on") or kv[1]["seen_at"].date(), kv[0]),
            reverse=True,
        )
        return [
            figures.Window(k, r.get("title_zh"), r.get("starts_on"), r.get("ends_on"))
            for k, r in rows
        ]

    async def figures(
        self, window: figures.Window, by: figures.By, district_code: str | None
    ) -> list[figures.Figures]:
        key = "district_code" if by == "district" else "enterprise_id"
        start, end = window.start, window.end

        def within(at: datetime | None) -> bool:
            return at is not None and (start is None or at >= start) and (end is None or at < end)

        def mine(row: dict[str, Any]) -> bool:
            return district_code is None or row["district_code"] == district_code

        counts: dict[str, dict[str, Any]] = {}

        def add(row: dict[str, Any], column: str, amount: float = 1) -> None:
            c = counts.setdefault(row[key], {})
            c[column] = c.get(column, 0) + amount

        kinds = {}
        for i in self.facts.inspection_facts.values():
            kinds[i["inspection_id"]] = i["kind"]
            if mine(i) and within(i["inspected_at"]):
                prefix = "self" if i["kind"] == "self" else "patrols"
                add(i, "self_inspections" if prefix == "self" else "patrols")
                if not i["passed"]:
                    add(i, f"{prefix}_failed")
        for e in self.facts.evidence.values():
            kind = kinds.get(e["inspection_id"])
            if kind is None or not mine(e) or not within(e["occurred_at"]):
                continue
            groups = counts.setdefault(e[key], {}).setdefault("group_failures", {})
            for group in {item["group"] for item in e["failed_items"]}:
                groups[(kind, group)] = groups.get((kind, group), 0) + 1
        for o in self.facts.order_facts.values():
            if mine(o) and within(o.get("ordered_at") or o["deadline"]):
                if o.get("verified_at") or o["overdue"] or o.get("inadequate_at"):
                    add(o, "orders_due")
                if o.get("verified_at") and o.get("on_time") and not o["overdue"]:
                    add(o, "orders_on_time")
        for c in self.facts.complaint_facts.values():
            if not (mine(c) and within(c.get("filed_at"))):
                continue
            add(c, "complaints_filed")
            late = c.get("acceptance_overdue", False)
            if c.get("accepted_at") or late:
                add(c, "complaints_acceptance_due")
            if c.get("accepted_at") and not late:
                add(c, "complaints_accepted_on_time")
            if c.get("closed_at") or c["completion_overdue"]:
                add(c, "complaints_due")
            if c.get("closed_at") and not c["completion_overdue"]:
                add(c, "complaints_on_time")
        for s in self.facts.survey_facts.values():
            if mine(s) and within(s["closed_at"]):
                add(s, "surveys_closed")
                add(s, "survey_households", s["households"])
                add(s, "survey_responses", s["responses"])
                if s["satisfaction_rate"] is not None:
                    add(s, "satisfied", s["satisfaction_rate"] * s["responses"])
                    add(s, "rated_responses", s["responses"])
        for a in self.facts.activity_facts.values():
            held = a["held_on"]
            if (
                mine(a)
                and (window.starts_on is None or held >= window.starts_on)
                and (window.ends_on is None or held <= window.ends_on)
            ):
                add(a, f"{a['kind']}_activities")
                add(a, "activity_participants", a["participants"])
        for case in self.repository.cases.values():
            if mine(case) and within(case["opened_at"]):
                add(case, "cases_opened")
                if case["status"] == "published":
                    add(case, "cases_published")
        return [figures.Figures(by=by, key=k, name=k, **c) for k, c in sorted(counts.items())]
