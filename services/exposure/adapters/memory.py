"""In-memory fakes of the exposure service's repositories and its unit of work, for fast unit tests
of the service layer. They keep what the asyncpg adapters keep (rows as dicts), applying the same
rules; the integration tests prove the asyncpg versions on PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from runtime.fakes import MemoryUnitOfWork
from runtime.scheduler import Clock
from schemas.base import Event
from schemas.exposure import v1 as exposure
from services.exposure import presentation
from services.exposure.adapters.memory_facts import MemoryFactRepository
from services.exposure.domain.cases import Case, Policy


@dataclass
class MemoryCaseRepository:
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeline: dict[str, dict[str, Any]] = field(default_factory=dict)  # by event id
    objections: dict[str, dict[str, Any]] = field(default_factory=dict)
    applied: set[str] = field(default_factory=set)
    locked_orders: list[str] = field(default_factory=list)

    async def lock_order(self, order_id: str) -> None:
        self.locked_orders.append(order_id)

    def _case(self, row: dict[str, Any]) -> Case:
        pending = next(
            (
                o["objection_id"]
                for o in self.objections.values()
                if o["case_id"] == row["case_id"] and o["status"] == "pending"
            ),
            None,
        )
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
            pending_objection=pending,
            inspection_id=row["inspection_id"],
            item_ids=tuple(i["item_id"] for i in row["items"]),
        )

    async def by_order(self, order_id: str) -> Case | None:
        row = next((r for r in self.cases.values() if r["order_id"] == order_id), None)
        return self._case(row) if row is not None else None

    async def get(self, case_id: str, *, lock: bool = False) -> Case | None:
        row = self.cases.get(case_id)
        return self._case(row) if row is not None else None

    async def next_due(self, now: datetime) -> Case | None:
        for case_id in sorted(self.cases):
            case = self._case(self.cases[case_id])
            in_review = (
                case.status == "in_review"
                and case.review_ends_at is not None
                and case.review_ends_at <= now
                and case.pending_objection is None
            )
            ending = case.status == "published" and (
                (case.max_until is not None and case.max_until <= now)
                or (
                    case.rectified_at is not None
                    and case.min_until is not None
                    and case.min_until <= now
                )
            )
            if in_review or ending:
                return case
        return None

    async def has_notice(self, case_id: str, notice_id: str) -> bool:
        return any(
            t["case_id"] == case_id and t["ref"] == notice_id for t in self.timeline.values()
        )

    async def apply(self, event: Event, event_id: str) -> bool:
        if event_id in self.applied:
            return False
        self.applied.add(event_id)
        assert isinstance(event, exposure._CaseEvent)
        row = self.cases.get(event.case_id)
        if isinstance(event, exposure.ExposureCaseOpened):
            if row is not None or any(r["order_id"] == event.order_id for r in self.cases.values()):
                return True
            self.cases[event.case_id] = {
                **event.model_dump(exclude={"items"}),
                "items": [i.model_dump(mode="json") for i in event.items],
                "status": "opened",
                "notice_no": None,
                "notice_id": None,
                "review_ends_at": None,
                "published_at": None,
                "min_until": None,
                "max_until": None,
                "rectified_at": None,
                "withdrawn_at": None,
                "withdraw_reason": None,
                "updated_at": event.opened_at,
                "published_photos": [],
            }
        elif row is None:
            pass  # an UPDATE of no row
        elif isinstance(event, exposure.ExposureEvidenceAdded):
            if event.review_ends_at is not None and row["status"] == "opened":
                row["status"] = "in_review"
            row.update(tier=event.tier, updated_at=event.added_at)
            for name in ("notice_no", "notice_id", "review_ends_at"):
                if getattr(event, name) is not None:
                    row[name] = getattr(event, name)
        elif isinstance(event, exposure.ExposureReviewed):
            if event.decision == "hold":
                row.update(status="held", updated_at=event.reviewed_at)
        elif isinstance(event, exposure.ExposurePublished):
            row.update(
                status="published",
                tier=event.tier,
                published_at=event.published_at,
                min_until=event.min_until,
                max_until=event.max_until,
                updated_at=event.published_at,
                published_photos=[a.model_dump(mode="json") for a in event.attachments],
            )
        elif isinstance(event, exposure.ExposureRectified):
            row.update(rectified_at=event.rectified_at, updated_at=event.rectified_at)
        elif isinstance(event, exposure.ExposureWithdrawn):
            row.update(
                status="withdrawn",
                withdrawn_at=event.withdrawn_at,
                withdraw_reason=event.reason,
                updated_at=event.withdrawn_at,
            )
        elif isinstance(event, exposure.ObjectionFiled):
            self.objections[event.objection_id] = {
                "objection_id": event.objection_id,
                "case_id": event.case_id,
                "enterprise_id": event.enterprise_id,
                "grounds": event.grounds,
                "filed_at": event.filed_at,
                "status": "pending",
                "decision_reason": None,
                "decided_at": None,
            }
            row["updated_at"] = event.filed_at
        elif isinstance(event, exposure.ObjectionDecided):
            if objection := self.objections.get(event.objection_id):
                objection.update(
                    status="upheld" if event.upheld else "rejected",
                    decision_reason=event.reason,
                    decided_at=event.decided_at,
                )
            row["updated_at"] = event.decided_at
        line = presentation.timeline_line(event)
        self.timeline.setdefault(
            event_id,
            {
                "event_id": event_id,
                "case_id": event.case_id,
                "event_type": event.ce_type,
                "at": line.at,
                "title_zh": line.title_zh,
                "title_en": line.title_en,
                "detail_zh": line.detail_zh,
                "detail_en": line.detail_en,
                "ref": line.ref,
            },
        )
        return True


class MemoryExposureUnitOfWork(MemoryUnitOfWork):
    def __init__(self, policy: Policy, clock: Clock | None = None) -> None:
        super().__init__(clock, source="/wuye/exposure")
        self.policy = policy
        self.cases = MemoryCaseRepository()
        self.facts = MemoryFactRepository()
