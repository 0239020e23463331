"""What the service layer needs from storage, as Protocols: the asyncpg adapters
(`adapters/postgres.py`) and the in-memory fakes (`adapters/memory.py`) both fit them.

One unit of work is one transaction: its repositories, its outboxes (one per CloudEvents source
the service writes: the inspections themselves, the registry, the campaigns, the draws) and its
clock. The unit of work below lists every port; the draws' and the facilities' ports live in
`ports_draws.py` and `ports_facilities.py` and are re-exported here, so `ports.X` names them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol

from runtime.attachments import AttachmentStore
from runtime.unit_of_work import Outbox, UnitOfWork
from services.inspections.domain import campaign, checklist, rectification
from services.inspections.domain.campaign import Campaign, PhaseKind
from services.inspections.domain.project_registry import ProjectFacts
from services.inspections.service.ports_draws import DrawRosters as DrawRosters
from services.inspections.service.ports_draws import DrawRow as DrawRow
from services.inspections.service.ports_draws import PatrolDraws as PatrolDraws
from services.inspections.service.ports_draws import RosterEntry as RosterEntry
from services.inspections.service.ports_facilities import Facilities as Facilities
from services.inspections.service.ports_facilities import FacilityRow as FacilityRow
from services.inspections.service.ports_facilities import MissRow as MissRow

Change = Literal["created", "updated", "unchanged"]


class Projects(Protocol):
    """The registry's projects (the service owns them and publishes every change)."""

    async def get(self, project_id: str, *, for_update: bool = False) -> ProjectFacts | None:
        """`for_update`: locked until the transaction ends (a scope check stays true)."""

    async def upsert(self, project: ProjectFacts) -> Change:
        """Insert or update in one statement; an equal project is 'unchanged'."""

    async def insert(self, project: ProjectFacts) -> bool:
        """False (nothing written) when the id is already registered."""

    async def lock(self, project_id: str) -> bool:
        """Serialise work about one project; False when it does not exist."""

    async def search(
        self, *, district_code: str | None, enterprise_id: str | None
    ) -> list[ProjectFacts]: ...

    async def districts(self) -> list[dict[str, Any]]:
        """Districts derived from the projects, with their counts."""

    async def enterprises(self, *, district_code: str | None) -> list[dict[str, Any]]:
        """Enterprises derived from the projects (optionally those serving one district)."""

    async def refs(self, *, district_code: str | None = None) -> list[campaign.ProjectRef]:
        """Who runs projects where (districts and enterprises), as plans need it."""

    async def submitter_name(self, key: campaign.SubmitterKey) -> str | None:
        """The registry's name of a district or enterprise; None when it runs no project."""


class Templates(Protocol):
    async def get(self, template_id: str, version: int | None) -> checklist.Template | None:
        """The version asked for, or the latest when `version` is None."""

    async def body(self, template_id: str, version: int) -> dict[str, Any] | None: ...

    async def latest_version(self, template_id: str) -> int | None: ...

    async def insert(self, body: dict[str, Any]) -> bool:
        """False when that version exists (a stored version is never changed)."""

    async def summaries(self) -> list[dict[str, Any]]:
        """Each template with its versions (ascending) and the body of its latest version."""

    async def save_if_new(self, body: dict[str, Any]) -> bool:
        """Store a version once; a different body under a stored version raises ValueError."""


class Inspections(Protocol):
    async def get(self, inspection_id: str) -> dict[str, Any] | None: ...

    async def find_by_key(self, recorded_by: str, key: str) -> dict[str, Any] | None: ...

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
        """False when this recorder already used the idempotency key (nothing written then)."""


@dataclass(frozen=True)
class NewActivity:
    record_id: str
    project_id: str
    kind: str
    title: str
    held_on: date
    participants: int
    description: str
    photo_refs: tuple[str, ...]
    recorded_by: str
    recorder_enterprise_id: str
    idempotency_key: str | None


class Activities(Protocol):
    async def add(self, record: NewActivity) -> bool:
        """False when this recorder already used the idempotency key (nothing written then)."""

    async def get(self, record_id: str) -> dict[str, Any] | None: ...

    async def find_by_key(self, recorded_by: str, key: str) -> dict[str, Any] | None: ...

    async def of_project(
        self, project_id: str, *, kind: str | None, limit: int
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class OrderRow:
    """An order with the facts its events repeat (project, enterprise, items)."""

    order: rectification.Order
    inspection_id: str
    project_id: str
    project_name: str
    enterprise_id: str
    enterprise_name: str
    district_code: str
    items: list[dict[str, Any]]
    severity: str
    # 文号 of the order as an official document (整改通知书): the district-year sequence number,
    # taken when the order is stored (`Orders.add`); None before that.
    doc_year: int | None = None
    doc_seq: int | None = None


class Orders(Protocol):
    """Rectification orders and their history."""

    async def add(self, row: OrderRow, *, deadline_calendar: str) -> None: ...

    async def get(self, order_id: str, *, for_update: bool = False) -> OrderRow | None: ...

    async def save(self, order: rectification.Order) -> None: ...

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
    ) -> None: ...

    async def history(self, order_id: str) -> list[dict[str, Any]]: ...

    async def search(
        self,
        *,
        district_code: str | None,
        enterprise_id: str | None,
        project_id: str | None,
        status: str | None,
        overdue: bool | None,
        limit: int,
    ) -> list[OrderRow]: ...

    async def due(self, now: datetime, limit: int) -> list[OrderRow]:
        """Owed orders past their deadline and not yet marked, locked (other replicas skip
        them)."""


class Patrols(Protocol):
    """Complaint signals about projects and the patrols they schedule."""

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
        """False when this signal was recorded before."""

    async def complaints_between(self, project_id: str, since: datetime, until: datetime) -> int:
        """Distinct complaints filed about the project within [since, until]."""

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
        """Open a patrol unless the project has one open; return whether it was new."""

    async def close_open(self, project_id: str, inspection_id: str) -> None: ...

    async def search(
        self, *, district_code: str | None, status: str | None
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class CampaignRow:
    campaign: Campaign
    template_id: str | None
    created_by: str
    created_at: datetime
    overdue_checked_at: datetime | None
    announced: frozenset[PhaseKind]


class Campaigns(Protocol):
    """Campaigns, their announcements and overdue scans, and the activity plans."""

    async def add(
        self,
        c: campaign.Campaign,
        *,
        template_id: str | None,
        created_by: str,
        created_at: datetime,
    ) -> bool:
        """False if the id is taken."""

    async def get(
        self, campaign_id: str, *, lock: Literal["share"] | None = None
    ) -> CampaignRow | None:
        """`lock="share"`: hold the campaign against the overdue scan until the end of the unit."""

    async def all(self) -> list[CampaignRow]: ...

    async def with_work(self, today: date) -> list[CampaignRow]:
        """Campaigns that may still have a phase to announce or an overdue scan to run."""

    async def claim_phase_announcement(
        self, campaign_id: str, phase: campaign.PhaseKind, at: datetime
    ) -> bool:
        """True for exactly one caller per (campaign, phase)."""

    async def claim_overdue_scan(self, campaign_id: str, at: datetime) -> bool:
        """True for exactly one caller per campaign; waits for submissions holding it."""

    async def record_overdue(
        self,
        campaign_id: str,
        submitter: campaign.Submitter,
        *,
        deadline: datetime,
        detected_at: datetime,
    ) -> bool:
        """True the first time this submitter is recorded overdue for this campaign."""

    async def save_plan(
        self,
        campaign_id: str,
        submitter: campaign.Submitter,
        plan: campaign.PlanContent,
        *,
        submitted_by: str,
        submitted_at: datetime,
    ) -> tuple[str, int]:
        """Insert the plan or replace it as the next version; return (plan_id, version)."""

    async def get_plan(
        self, campaign_id: str, key: campaign.SubmitterKey, *, with_phones: bool
    ) -> dict[str, Any] | None: ...

    async def list_plans(
        self, campaign_id: str, *, only: frozenset[campaign.SubmitterKey] | None
    ) -> list[dict[str, Any]]:
        """Plans of a campaign, without phone numbers; `only`: just these submitters."""

    async def submitted_keys(self, campaign_id: str) -> set[campaign.SubmitterKey]: ...


@dataclass(frozen=True)
class PatrolDraft:
    """A patrol in progress (the workspace's patrol form): results by item id, saved group by
    group; `draft_id` is the final submit's idempotency key, so pressing submit twice files once."""

    draft_id: str
    recorded_by: str
    project_id: str
    template_id: str
    template_version: int
    results: dict[str, dict[str, str]]  # item_id -> {"result": pass|fail|na, "note": ...}
    started_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class DraftSweep:
    """What one sweep removed: abandoned drafts, and draft photos left without a draft."""

    drafts: int
    photos: int


class PatrolDrafts(Protocol):
    async def get(self, recorded_by: str, project_id: str) -> PatrolDraft | None: ...

    async def sweep(
        self, *, stale_before: datetime, photos_before: datetime, photo_kind: str
    ) -> DraftSweep:
        """Delete the drafts last saved before `stale_before`, then every attachment of
        `photo_kind` (owner id `<draft id>:<item id>`) created before `photos_before` whose draft
        no longer exists (submitted drafts' photos moved with the inspection; these are left
        over)."""
        ...

    async def save(self, draft: PatrolDraft) -> None:
        """Insert or replace the person's draft for the project."""
        ...

    async def delete(self, recorded_by: str, project_id: str) -> None: ...


class PublicPhotos(Protocol):
    """Inspection photos the public may see: those a published exposure case names, until the
    case is withdrawn (issue 15). References only; the bytes stay in `attachments`."""

    async def publish(
        self, case_id: str, project_id: str, attachment_ids: Sequence[str], at: datetime
    ) -> None:
        """Open the photos for the case (again on a redelivery: no change)."""

    async def withdraw(self, case_id: str, at: datetime) -> int:
        """Close every photo the case opened; returns how many were open."""

    async def is_public(self, attachment_id: str) -> bool:
        """Whether a published, not withdrawn, case names the photo."""


class InspectionsUnitOfWork(UnitOfWork, Protocol):
    """One transaction of the inspections service. `outbox` writes events of the source
    /wuye/inspections; the registry and the campaigns publish under their own sources."""

    projects: Projects
    templates: Templates
    inspections: Inspections
    activities: Activities
    orders: Orders
    patrols: Patrols
    draws: PatrolDraws
    rosters: DrawRosters
    facilities: Facilities
    campaigns: Campaigns
    drafts: PatrolDrafts
    attachments: AttachmentStore  # patrol photos and rectification evidence
    public_photos: PublicPhotos  # which of them a published exposure case shows the public
    registry_outbox: Outbox
    campaign_outbox: Outbox
    draws_outbox: Outbox
