"""The in-memory fake of the exposure service's fact repository (see `memory` for the others):
the facts behind the evidence, the grades and the statistics, as rows (dicts), with the same
rules as `fact_store` on PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runtime.unit_of_work import Delivered
from schemas import fields
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.surveys import v1 as surveys
from services.exposure.adapters.fact_rows import campaign_ranges, campaign_rows, plan_rows
from services.exposure.domain.decisions import Criticism


def _upsert(
    table: dict[str, dict[str, Any]], key: str, row: dict[str, Any], updated: Sequence[str]
) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE SET `updated` (DO NOTHING when empty)."""
    seen = table.get(row[key])
    if seen is None:
        table[row[key]] = dict(row)
    else:
        for name in updated:
            seen[name] = row[name]


def _order(event: Any) -> dict[str, Any]:
    return {
        "order_id": event.order_id,
        "project_id": event.project_id,
        "enterprise_id": event.enterprise_id,
        "district_code": event.district_code,
        "deadline": event.deadline,
    }


def _complaint(event: Any) -> dict[str, Any]:
    return {
        "complaint_id": event.complaint_id,
        "project_id": event.project_id,
        "enterprise_id": event.enterprise_id,
        "district_code": event.district_code,
        "category": event.category,
    }


@dataclass
class MemoryFactRepository:
    evidence: dict[str, dict[str, Any]] = field(default_factory=dict)  # by source event id
    inspection_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    order_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    complaint_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    survey_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    criticism_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    campaign_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    plan_facts: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    evidence_photos: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    draw_facts: dict[str, inspections.PatrolsDrawn] = field(default_factory=dict)
    activity_facts: dict[str, dict[str, Any]] = field(default_factory=dict)
    writes: int = 0  # statements the asyncpg adapter would run: one per non-empty run

    def _wrote(self, rows: Sequence[object]) -> None:
        self.writes += bool(rows)

    async def add_evidence(self, failed: Sequence[Delivered[inspections.InspectionFailed]]) -> None:
        self._wrote(failed)
        for d in failed:
            e = d.event
            row = {
                "source_event_id": d.ce.id,
                "evidence_id": f"evidence:{d.ce.id}",
                "source_type": d.ce.type,
                "project_id": e.project_id,
                "project_name": e.project_name,
                "enterprise_id": e.enterprise_id,
                "enterprise_name": e.enterprise_name,
                "district_code": e.district_code,
                "inspection_id": e.inspection_id,
                "score": e.score,
                "failed_items": [f.model_dump(mode="json") for f in e.failed_items],
                "occurred_at": e.inspected_at,
                "correlation_id": d.ce.correlationid,
            }
            _upsert(self.evidence, "source_event_id", row, ())
        photos = [
            (e.inspection_id, item.item_id, position, a)
            for e in (d.event for d in failed)
            for item in e.failed_items
            for position, a in enumerate(item.attachments)
        ]
        self._wrote(photos)
        for inspection_id, item_id, position, a in photos:
            self.evidence_photos.setdefault(
                (inspection_id, a.attachment_id),
                {"item_id": item_id, "position": position, "ref": a},
            )

    async def photos_of(
        self, inspection_id: str, item_ids: Sequence[str]
    ) -> list[fields.AttachmentRef]:
        wanted = list(item_ids)
        found = [
            (wanted.index(row["item_id"]), row["position"], row["ref"])
            for (inspection, _), row in self.evidence_photos.items()
            if inspection == inspection_id and row["item_id"] in wanted
        ]
        return [ref for _, _, ref in sorted(found, key=lambda f: (f[0], f[1]))]

    async def add_inspections(self, events: Sequence[inspections.InspectionCompleted]) -> None:
        self._wrote(events)
        for e in events:
            _upsert(self.inspection_facts, "inspection_id", e.model_dump(), ())

    def _orders(self, events: Sequence[Any], extra: dict[str, str], updated: Sequence[str]) -> None:
        self._wrote(events)
        for e in events:
            values = {column: getattr(e, attribute) for column, attribute in extra.items()}
            row = {"overdue": False, **_order(e), **values}
            _upsert(self.order_facts, "order_id", row, updated)

    async def orders_ordered(self, events: Sequence[inspections.RectificationOrdered]) -> None:
        self._orders(events, {"ordered_at": "ordered_at"}, ("ordered_at",))

    async def orders_verified(self, events: Sequence[inspections.RectificationVerified]) -> None:
        extra = {"verified_at": "verified_at", "on_time": "on_time"}
        self._orders(events, extra, ("verified_at", "on_time"))

    async def orders_overdue(self, events: Sequence[inspections.RectificationOverdue]) -> None:
        self._wrote(events)
        for e in events:
            row = {**_order(e), "overdue": True, "overdue_at": e.detected_at}
            _upsert(self.order_facts, "order_id", row, ("overdue", "overdue_at"))

    async def orders_inadequate(self, events: Sequence[inspections.RectificationRejected]) -> None:
        self._orders(events, {"inadequate_at": "rejected_at"}, ("inadequate_at",))

    def _complaints(
        self, events: Sequence[Any], extra: dict[str, Any], updated: Sequence[str]
    ) -> None:
        self._wrote(events)
        for e in events:
            values = {k: (getattr(e, v) if isinstance(v, str) else v) for k, v in extra.items()}
            row = {"completion_overdue": False, **_complaint(e), **values}
            _upsert(self.complaint_facts, "complaint_id", row, updated)

    async def complaints_filed(self, events: Sequence[complaints.ComplaintFiled]) -> None:
        self._complaints(events, {"filed_at": "filed_at"}, ("filed_at",))

    async def complaints_completion_overdue(
        self, events: Sequence[complaints.ComplaintOverdue]
    ) -> None:
        self._complaints(events, {"completion_overdue": True}, ("completion_overdue",))

    async def complaints_closed(self, events: Sequence[complaints.ComplaintClosed]) -> None:
        self._complaints(events, {"closed_at": "closed_at"}, ("closed_at",))

    async def add_surveys(self, events: Sequence[surveys.SurveyClosed]) -> None:
        self._wrote(events)
        for e in events:
            _upsert(self.survey_facts, "survey_id", e.model_dump(), ())

    async def add_criticisms(self, events: Sequence[notifications.NoticeIssued]) -> None:
        self._wrote(events)
        for e in events:
            row = {
                "notice_id": e.notice_id,
                "order_id": e.subject_id,
                "notice_no": e.notice_no,
                "project_id": e.project_id,
                "issued_at": e.issued_at,
            }
            _upsert(self.criticism_facts, "notice_id", row, ())

    async def add_draws(self, events: Sequence[inspections.PatrolsDrawn]) -> None:
        self._wrote(events)
        self.draw_facts.update({e.draw_id: e for e in events if e.draw_id not in self.draw_facts})

    async def campaign_phases(self, events: Sequence[campaigns.CampaignPhaseStarted]) -> None:
        self._wrote(events)
        for campaign_id, title, starts_on, ends_on, seen_at in campaign_rows(events):
            row = self.campaign_facts.setdefault(
                campaign_id,
                {"planning_starts_on": None, "planning_ends_on": None, "seen_at": seen_at},
            )
            row["title_zh"] = title
            if starts_on is not None:
                row["planning_starts_on"], row["planning_ends_on"] = starts_on, ends_on
            row["seen_at"] = max(row["seen_at"], seen_at)
        for campaign_id, first, last in campaign_ranges(events):
            row = self.campaign_facts[campaign_id]
            row["starts_on"] = min(row.get("starts_on") or first, first)
            row["ends_on"] = max(row.get("ends_on") or last, last)

    async def complaints_accepted(self, events: Sequence[complaints.ComplaintAccepted]) -> None:
        self._wrote(events)
        for e in events:
            row = {"completion_overdue": False, **_complaint(e), "accepted_at": e.accepted_at}
            _upsert(self.complaint_facts, "complaint_id", row, ())
            self.complaint_facts[e.complaint_id].setdefault("accepted_at", e.accepted_at)

    async def complaints_acceptance_overdue(
        self, events: Sequence[complaints.ComplaintOverdue]
    ) -> None:
        self._complaints(events, {"acceptance_overdue": True}, ("acceptance_overdue",))

    async def add_activities(self, events: Sequence[campaigns.ActivityHeld]) -> None:
        self._wrote(events)
        for e in events:
            _upsert(self.activity_facts, "record_id", e.model_dump(exclude={"recorded_at"}), ())

    async def plans_submitted(self, events: Sequence[campaigns.PlanSubmitted]) -> None:
        self._wrote(events)
        for campaign_id, kind, sid, plan_id, version, at in plan_rows(events):
            seen = self.plan_facts.get((campaign_id, kind, sid))
            if seen is None or seen["version"] < version:
                self.plan_facts[(campaign_id, kind, sid)] = {
                    "plan_id": plan_id, "version": version, "submitted_at": at,
                }  # fmt: skip
            row = self.campaign_facts.setdefault(
                campaign_id,
                {"title_zh": None, "planning_starts_on": None, "planning_ends_on": None,
                 "seen_at": at},
            )  # fmt: skip
            row["seen_at"] = max(row["seen_at"], at)

    async def criticisms_of(self, order_id: str) -> list[Criticism]:
        rows = sorted(
            (r for r in self.criticism_facts.values() if r["order_id"] == order_id),
            key=lambda r: (r["issued_at"], r["notice_id"]),
        )
        return [Criticism(r["notice_id"], r["notice_no"], r["issued_at"]) for r in rows]

    async def latest_criticism(self, order_id: str) -> datetime | None:
        times = [r["issued_at"] for r in self.criticism_facts.values() if r["order_id"] == order_id]
        return max(times, default=None)
