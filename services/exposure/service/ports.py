"""What the exposure service layer needs, as Protocols: the repositories of its unit of work
(asyncpg in `adapters/case_store.py` and `adapters/fact_store.py`, the unit in
`adapters/postgres.py`; in-memory fakes in `adapters/memory.py`) and the read-only queries of its
pages (`adapters/case_queries.py`, `adapters/board_queries.py`; fakes in
`adapters/memory_queries.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from runtime.unit_of_work import Delivered, UnitOfWork
from schemas import fields
from schemas.base import Event
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.surveys import v1 as surveys
from services.exposure.domain.board import (
    CampaignPlans,
    CampaignStats,
    EnterpriseGrade,
    ProjectGrade,
)
from services.exposure.domain.cases import Case, Policy
from services.exposure.domain.decisions import Criticism
from services.exposure.domain.figures import By, Figures, Window


class CaseRepository(Protocol):
    """The cases, their timeline and objections: read for decisions, changed only by `apply`."""

    async def lock_order(self, order_id: str) -> None:
        """Make the decisions about one order take turns (its overdue event and its criticism
        notice arrive on two topics, handled by two consumers)."""

    async def by_order(self, order_id: str) -> Case | None:
        """The case of a rectification order, locked for the transaction."""

    async def get(self, case_id: str, *, lock: bool = False) -> Case | None: ...

    async def next_due(self, now: datetime) -> Case | None:
        """A case time acts on (review window over, display period over), claimed for this
        transaction and skipped by concurrent claims; None when there is none."""

    async def has_notice(self, case_id: str, notice_id: str) -> bool:
        """Whether the notice is on the case's timeline already."""

    async def apply(self, event: Event, event_id: str) -> bool:
        """Apply one exposure event to the cases, once; False if it was applied before."""


class FactRepository(Protocol):
    """The facts behind the board's grades and statistics, and the evidence the cases use. Each
    write takes a run of events and is idempotent (an upsert setting only what its events know);
    rows of one order or complaint may be written by any of its events first."""

    async def add_evidence(self, failed: Sequence[Delivered[inspections.InspectionFailed]]) -> None:
        """Failed inspections, kept as evidence (the same evidence id on a replay)."""

    async def add_inspections(self, events: Sequence[inspections.InspectionCompleted]) -> None: ...
    async def orders_ordered(self, events: Sequence[inspections.RectificationOrdered]) -> None: ...
    async def orders_verified(
        self, events: Sequence[inspections.RectificationVerified]
    ) -> None: ...
    async def orders_overdue(self, events: Sequence[inspections.RectificationOverdue]) -> None: ...

    async def orders_inadequate(
        self, events: Sequence[inspections.RectificationRejected]
    ) -> None: ...

    async def complaints_filed(self, events: Sequence[complaints.ComplaintFiled]) -> None: ...

    async def complaints_completion_overdue(
        self, events: Sequence[complaints.ComplaintOverdue]
    ) -> None: ...

    async def complaints_closed(self, events: Sequence[complaints.ComplaintClosed]) -> None: ...
    async def add_surveys(self, events: Sequence[surveys.SurveyClosed]) -> None: ...
    async def add_criticisms(self, events: Sequence[notifications.NoticeIssued]) -> None: ...

    async def campaign_phases(self, events: Sequence[campaigns.CampaignPhaseStarted]) -> None:
        """The campaign's title, its planning phase's dates, and when it was last seen."""

    async def complaints_accepted(self, events: Sequence[complaints.ComplaintAccepted]) -> None: ...

    async def complaints_acceptance_overdue(
        self, events: Sequence[complaints.ComplaintOverdue]
    ) -> None: ...

    async def add_activities(self, events: Sequence[campaigns.ActivityHeld]) -> None:
        """Activities held (cultural, publicity), one row per record."""

    async def plans_submitted(self, events: Sequence[campaigns.PlanSubmitted]) -> None:
        """One row per campaign and submitter at its highest version; the campaign seen."""

    async def add_draws(self, events: Sequence[inspections.PatrolsDrawn]) -> None:
        """Random patrol draws, as published (a redelivered one: no change)."""

    async def criticisms_of(self, order_id: str) -> list[Criticism]:
        """The criticism notices seen about an order, oldest first."""

    async def latest_criticism(self, order_id: str) -> datetime | None: ...

    async def photos_of(
        self, inspection_id: str, item_ids: Sequence[str]
    ) -> list[fields.AttachmentRef]:
        """The photo references InspectionFailed carried for these items, in item order."""


class ExposureUnitOfWork(UnitOfWork, Protocol):
    cases: CaseRepository
    facts: FactRepository
    policy: Policy  # the publication rules the decisions follow


# -- reading, for the pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The cases a reader sees: one enterprise's, one district's, or all."""

    by: Literal["enterprise", "district", "all"]
    value: str | None = None


class CaseQueries(Protocol):
    """The offices' view: cases in a scope, with timeline and objections; evidence."""

    async def cases(self, scope: Scope, *, status: str | None, limit: int) -> list[dict[str, Any]]:
        """Newest change first."""

    async def case(self, case_id: str, scope: Scope) -> dict[str, Any] | None:
        """The case with its timeline, objections and `photos` (the attachment ids of its
        inspection's failed items' photos, by item id)."""

    async def evidence(
        self, *, district_code: str | None, project_id: str | None, limit: int
    ) -> list[dict[str, Any]]: ...

    async def district_extras(self) -> dict[str, dict[str, int]]:
        """Per district code: `inspections`, `failed` (inspections below the pass mark),
        `cases_review` (in review or held), `cases_published`, `cases_total`; for the city
        office's campaign table beside the board's statistics."""

    async def campaign_plans(self) -> CampaignPlans | None:
        """The campaign seen last (None before any) and, per district with a project in the
        registry copy, its activity plans submitted against due: the district office's own plus
        one per enterprise running a project there."""

    async def overdue_orders(self, district_code: str, *, limit: int) -> list[dict[str, Any]]:
        """A district's rectification orders overdue and not verified, oldest deadline first,
        with the project's and enterprise's names."""


class BoardQueries(Protocol):
    """The public board's view: published cases only, grades and statistics."""

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
        """(how many match, the page asked for), newest publication first."""

    async def published_case(self, case_id: str) -> dict[str, Any] | None: ...
    async def districts(self) -> list[dict[str, str]]: ...
    async def enterprise_name(self, enterprise_id: str) -> str | None: ...
    async def enterprise_grades(
        self, enterprise_id: str | None = None
    ) -> list[EnterpriseGrade]: ...
    async def project_grades(self, enterprise_id: str) -> list[ProjectGrade]: ...
    async def district_stats(self) -> list[CampaignStats]: ...
    async def draws(self, limit: int) -> list[dict[str, Any]]:
        """Random patrol draws, newest first: the event's fields (district, date, seed, inputs,
        patrols) and, per drawn project, its first patrol since the draw (passed, score, when)."""

    async def enterprise_stats(self) -> list[CampaignStats]: ...


class FigureQueries(Protocol):
    """The campaign's own figures (domain/figures.py)."""

    async def campaigns(self) -> list[Window]:
        """The campaigns seen, latest first, with their dates."""

    async def figures(self, window: Window, by: By, district_code: str | None) -> list[Figures]:
        """Per district or per enterprise (optionally of one district), ordered by key."""
