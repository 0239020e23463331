"""In-memory fake of the campaigns and activity plans (see `adapters.memory`)."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import date, datetime
from typing import Any, Literal

from services.inspections.domain import campaign
from services.inspections.service.ports import CampaignRow


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
