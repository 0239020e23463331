"""In-memory fakes of the complaints service's ports, for fast unit tests of the service layer.

They keep what the PostgreSQL adapters keep and answer the same questions, with the same
refusals (`IdempotencyKeyTaken`, `SurveyExists`). `MemoryComplaintsUnitOfWork` shares one
`MemoryStore` between units, so a test can run several handlers against the same state; the
fakes write straight into it (no rollback of repository writes: the outbox's events are dropped
when a unit is left without committing, which is what the tests look at). Attachments are the
exception: they are applied on commit and dropped otherwise, so a test can see that a refused
filing leaves no photo behind. The module stays whole: one fake per port, side by side, so a
port's change shows its fake next to the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import TracebackType

from runtime.attachments import AttachmentStore, MemoryAttachments, MemoryAttachmentStore
from runtime.fakes import MemoryUnitOfWork
from runtime.scheduler import Clock
from services.complaints.adapters.complaints import next_due
from services.complaints.adapters.memory_projects import MemoryApiKeys, MemoryProjects
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain import survey as survey_model
from services.complaints.service.ports import (
    ApiKey,
    ApiKeyRepository,
    CampaignPhase,
    CampaignRepository,
    ComplaintRepository,
    Idempotency,
    IdempotencyKeyTaken,
    Project,
    ProjectRepository,
    PublicComplaints,
    PublicRow,
    Row,
    SurveyExists,
    SurveyRepository,
    SurveyRow,
)


@dataclass
class StoredComplaint:
    complaint: complaint_model.Complaint
    ticket_no: str
    token_sha256: str
    idempotency: Idempotency | None
    auto_close_at: datetime | None = None


@dataclass
class StoredSurvey:
    survey: survey_model.Survey
    district_code: str
    tokens: dict[str, bool] = field(default_factory=dict)  # hash -> used
    comments: list[str] = field(default_factory=list)


@dataclass
class StoredCampaign:
    phase: CampaignPhase
    occurred_at: datetime
    missing_checked_at: datetime | None = None


@dataclass
class MemoryStore:
    """Everything the fakes keep, shared by the units of one test."""

    projects: dict[str, Project] = field(default_factory=dict)
    complaints: dict[str, StoredComplaint] = field(default_factory=dict)
    tickets: int = 0
    campaigns: dict[str, StoredCampaign] = field(default_factory=dict)
    surveys: dict[str, StoredSurvey] = field(default_factory=dict)
    missing: set[tuple[str, str]] = field(default_factory=set)
    attachments: MemoryAttachments = field(default_factory=MemoryAttachments)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)


class MemoryComplaints:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def next_ticket_number(self) -> int:
        self._store.tickets += 1
        return self._store.tickets

    async def insert(
        self,
        c: complaint_model.Complaint,
        *,
        ticket_no: str,
        token_sha256: str,
        idempotency: Idempotency | None = None,
    ) -> None:
        if idempotency is not None and self._by_key(idempotency.scope, idempotency.key):
            raise IdempotencyKeyTaken(idempotency.key)
        if c.complaint_id in self._store.complaints:
            raise ValueError(f"complaint {c.complaint_id} stored twice")
        self._store.complaints[c.complaint_id] = StoredComplaint(
            c, ticket_no, token_sha256, idempotency
        )

    def _by_key(self, scope: str, key: str) -> StoredComplaint | None:
        for stored in self._store.complaints.values():
            taken = stored.idempotency
            if taken is not None and (taken.scope, taken.key) == (scope, key):
                return stored
        return None

    async def get_by_idempotency_key(self, scope: str, key: str) -> tuple[Row, str] | None:
        stored = self._by_key(scope, key)
        if stored is None or stored.idempotency is None:
            return None
        return Row(stored.complaint, stored.ticket_no), stored.idempotency.fingerprint

    async def replace_token(self, complaint_id: str, token_sha256: str) -> None:
        self._store.complaints[complaint_id].token_sha256 = token_sha256

    async def save(self, c: complaint_model.Complaint, *, auto_close_at: datetime | None) -> None:
        stored = self._store.complaints[c.complaint_id]
        stored.complaint = c
        # as the SQL: a replied complaint keeps its auto-close time unless one is given
        if c.status is complaint_model.Status.REPLIED:
            stored.auto_close_at = auto_close_at or stored.auto_close_at
        else:
            stored.auto_close_at = None

    async def get(self, complaint_id: str, *, for_update: bool = False) -> Row | None:
        stored = self._store.complaints.get(complaint_id)
        return None if stored is None else Row(stored.complaint, stored.ticket_no)

    async def get_by_token(self, token_sha256: str, *, for_update: bool = False) -> Row | None:
        for stored in self._store.complaints.values():
            if stored.token_sha256 == token_sha256:
                return Row(stored.complaint, stored.ticket_no)
        return None

    async def listed(
        self,
        *,
        enterprise_id: str | None,
        district_code: str | None,
        status: str | None,
        limit: int,
    ) -> list[Row]:
        found = [
            s
            for s in self._store.complaints.values()
            if (enterprise_id is None or enterprise_id in (s.complaint.enterprise_id,
                                                           s.complaint.handling_org))
            and (district_code is None or s.complaint.district_code == district_code)
            and (status is None or s.complaint.status.value == status)
        ]  # fmt: skip
        found.sort(key=lambda s: s.complaint.complaint_id)
        found.sort(key=lambda s: s.complaint.filed_at, reverse=True)
        return [Row(s.complaint, s.ticket_no) for s in found[:limit]]

    async def due_for_update(self, now: datetime, limit: int) -> list[Row]:
        due = [
            s
            for s in self._store.complaints.values()
            if ((moment := next_due(s.complaint)) is not None and moment <= now)
            or (s.auto_close_at is not None and s.auto_close_at <= now)
        ]
        due.sort(key=lambda s: s.complaint.complaint_id)
        return [Row(s.complaint, s.ticket_no) for s in due[:limit]]


class MemoryPublicComplaints:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    def _public(self, stored: StoredComplaint) -> PublicRow | None:
        c = stored.complaint
        project = self._store.projects.get(c.project_id)
        if project is None:
            return None
        agency = next(
            (p.enterprise_name for p in self._store.projects.values()
             if p.enterprise_id == c.handling_org),
            project.enterprise_name,
        )  # fmt: skip
        return PublicRow(
            replace(c, contact=None),
            stored.ticket_no,
            project.project_name,
            project.district_name,
            agency,
            project.latitude,
            project.longitude,
        )

    async def by_ids(self, ids: Sequence[str]) -> list[PublicRow]:
        rows = [
            self._public(s)
            for s in self._store.complaints.values()
            if s.complaint.complaint_id in ids
        ]
        found = [r for r in rows if r is not None]
        return sorted(found, key=lambda r: r.complaint.filed_at, reverse=True)

    async def search(
        self,
        *,
        service_codes: Sequence[str] | None,
        closed: bool | None,
        start: datetime,
        end: datetime,
        limit: int,
    ) -> list[PublicRow]:
        rows = [
            self._public(s)
            for s in self._store.complaints.values()
            if start <= s.complaint.filed_at <= end
            and (service_codes is None or s.complaint.category in service_codes)
            and (closed is None or (s.complaint.status is complaint_model.Status.CLOSED) == closed)
        ]
        found = sorted((r for r in rows if r is not None), key=lambda r: r.complaint.complaint_id)
        found.sort(key=lambda r: r.complaint.filed_at, reverse=True)
        return found[:limit]

    async def id_for_ticket(self, ticket_no: str) -> str | None:
        for stored in self._store.complaints.values():
            if stored.ticket_no == ticket_no:
                return stored.complaint.complaint_id
        return None


class MemoryCampaigns:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def upsert_many(self, phases: Sequence[tuple[CampaignPhase, datetime]]) -> int:
        changed: set[str] = set()
        for phase, occurred_at in phases:
            known = self._store.campaigns.get(phase.campaign_id)
            if known is not None and known.occurred_at > occurred_at:
                continue
            checked = None if known is None else known.missing_checked_at
            self._store.campaigns[phase.campaign_id] = StoredCampaign(phase, occurred_at, checked)
            changed.add(phase.campaign_id)
        return len(changed)

    def _phases(self) -> list[CampaignPhase]:
        return [c.phase for c in self._store.campaigns.values()]

    async def around(self, day: date) -> list[CampaignPhase]:
        found = [
            p for p in self._phases()
            if p.starts_on.toordinal() <= day.toordinal() + 1
            and p.ends_on.toordinal() >= day.toordinal() - 1
        ]  # fmt: skip
        return sorted(found, key=lambda p: (p.starts_on, p.campaign_id))

    async def unchecked_ended_before(self, day: date) -> list[CampaignPhase]:
        found = [
            c.phase
            for c in self._store.campaigns.values()
            if c.phase.ends_on < day and c.missing_checked_at is None
        ]
        return sorted(found, key=lambda p: p.campaign_id)

    async def claim_missing_check(self, campaign_id: str, now: datetime) -> bool:
        known = self._store.campaigns.get(campaign_id)
        if known is None or known.missing_checked_at is not None:
            return False
        known.missing_checked_at = now
        return True

    async def enterprises_without_survey(self, campaign_id: str) -> list[str]:
        surveyed = {
            s.survey.enterprise_id
            for s in self._store.surveys.values()
            if s.survey.campaign_id == campaign_id
        }
        running = {p.enterprise_id for p in self._store.projects.values()}
        return sorted(running - surveyed)

    async def mark_missing(self, campaign_id: str, enterprise_id: str, now: datetime) -> bool:
        if (campaign_id, enterprise_id) in self._store.missing:
            return False
        self._store.missing.add((campaign_id, enterprise_id))
        return True


class MemorySurveys:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def insert(self, s: survey_model.Survey, *, district_code: str) -> None:
        for known in self._store.surveys.values():
            if (known.survey.project_id, known.survey.campaign_id) == (s.project_id, s.campaign_id):
                raise SurveyExists(s.project_id)
        self._store.surveys[s.survey_id] = StoredSurvey(
            replace(s, token_hashes=frozenset(), used=frozenset()), district_code
        )

    async def add_tokens(self, survey_id: str, hashes: Iterable[str]) -> None:
        tokens = self._store.surveys[survey_id].tokens
        for digest in hashes:
            if digest in tokens:
                raise ValueError("token stored twice")
            tokens[digest] = False

    async def token_hashes(self, survey_id: str) -> frozenset[str]:
        return frozenset(self._store.surveys[survey_id].tokens)

    async def get(self, survey_id: str, *, for_update: bool = False) -> SurveyRow | None:
        stored = self._store.surveys.get(survey_id)
        return None if stored is None else SurveyRow(stored.survey, stored.district_code)

    async def get_by_token(self, digest: str) -> SurveyRow | None:
        for stored in self._store.surveys.values():
            if digest in stored.tokens:
                used = frozenset({digest}) if stored.tokens[digest] else frozenset()
                survey = replace(stored.survey, token_hashes=frozenset({digest}), used=used)
                return SurveyRow(survey, stored.district_code)
        return None

    async def save_answer(self, s: survey_model.Survey, digest: str, comment: str | None) -> None:
        stored = self._store.surveys[s.survey_id]
        if stored.tokens.get(digest) is not False:
            raise RuntimeError("a used token reached save_answer")
        stored.tokens[digest] = True
        stored.survey = replace(stored.survey, tally=s.tally)
        if comment:
            stored.comments.append(comment)

    async def comments(self, survey_ids: Sequence[str]) -> dict[str, list[str]]:
        found = [self._store.surveys[i] for i in survey_ids if i in self._store.surveys]
        return {f.survey.survey_id: sorted(f.comments) for f in found if f.comments}

    async def save_closed(self, s: survey_model.Survey) -> None:
        stored = self._store.surveys[s.survey_id]
        stored.survey = replace(stored.survey, status=s.status, closed_at=s.closed_at)

    async def due_to_close(self, now: datetime, limit: int) -> list[SurveyRow]:
        due = [
            SurveyRow(s.survey, s.district_code)
            for s in self._store.surveys.values()
            if s.survey.status == "open" and s.survey.closes_at <= now
        ]
        return sorted(due, key=lambda r: r.survey.survey_id)[:limit]

    async def listed(
        self, *, enterprise_id: str | None, district_code: str | None, campaign_id: str | None
    ) -> list[SurveyRow]:
        found = [
            SurveyRow(s.survey, s.district_code)
            for s in self._store.surveys.values()
            if (enterprise_id is None or s.survey.enterprise_id == enterprise_id)
            and (district_code is None or s.district_code == district_code)
            and (campaign_id is None or s.survey.campaign_id == campaign_id)
        ]
        return sorted(found, key=lambda r: (r.survey.opened_at, r.survey.survey_id))


class MemoryComplaintsUnitOfWork(MemoryUnitOfWork):
    """`service.ports.ComplaintsUnitOfWork` in memory."""

    projects: ProjectRepository
    complaints: ComplaintRepository
    public: PublicComplaints
    campaigns: CampaignRepository
    surveys: SurveyRepository
    attachments: AttachmentStore
    api_keys: ApiKeyRepository

    def __init__(self, store: MemoryStore | None = None, clock: Clock | None = None) -> None:
        super().__init__(clock, source="/wuye/complaints")
        self.store = store if store is not None else MemoryStore()
        self.projects = MemoryProjects(self.store)
        self.api_keys = MemoryApiKeys(self.store.api_keys)
        self.complaints = MemoryComplaints(self.store)
        self.public = MemoryPublicComplaints(self.store)
        self.campaigns = MemoryCampaigns(self.store)
        self.surveys = MemorySurveys(self.store)
        self._attachments = MemoryAttachmentStore(self.store.attachments)
        self.attachments = self._attachments

    async def commit(self) -> None:
        self._attachments.commit()
        await super().commit()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._attachments.rollback()
        await super().__aexit__(exc_type, exc, tb)
