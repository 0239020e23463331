"""What the complaints service layer needs from storage, as Protocols, and the unit of work that
names them. The asyncpg versions are in `adapters/postgres.py`, in-memory fakes in
`adapters/memory.py`.

The records here are what a repository hands back beside the domain objects: a complaint with
its ticket number, a survey with its district, a project's public facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from runtime.attachments import AttachmentStore
from runtime.unit_of_work import UnitOfWork
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain import survey as survey_model

# --- records ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Project:
    """A project as the local registry copy knows it."""

    project_id: str
    project_name: str
    district_code: str
    district_name: str
    enterprise_id: str
    enterprise_name: str
    address: str | None = None  # the registry's street address (None before it was copied)
    latitude: float | None = None  # WGS-84, both or neither
    longitude: float | None = None


@dataclass(frozen=True)
class Row:
    """A stored complaint and its ticket number."""

    complaint: complaint_model.Complaint
    ticket_no: str


@dataclass(frozen=True)
class Idempotency:
    """The caller's Idempotency-Key, scoped to the caller, with the request's fingerprint."""

    scope: str  # the caller's subject
    key: str
    fingerprint: str  # SHA-256 of the request


@dataclass(frozen=True)
class PublicRow:
    """A complaint as the public Open311 reads show it: no contact, with the project's facts."""

    complaint: complaint_model.Complaint  # built without contact details
    ticket_no: str
    project_name: str
    district_name: str
    agency_name: str  # the handling enterprise's name, else the project's enterprise
    latitude: float | None = None  # the project's WGS-84 location, never the owner's
    longitude: float | None = None


@dataclass(frozen=True)
class ApiKey:
    """An Open311 client application's API key, as stored: its hash, never the key."""

    key_id: str
    client_id: str  # files as Principal("open311:<client_id>")
    name: str  # who the client is, for people: e.g. 津心办 12345 小程序
    key_sha256: str
    key_prefix: str  # the key's first characters, to recognise it in a list
    rate_per_minute: int  # POSTs a minute with this key, from all addresses together
    created_at: datetime
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class CampaignPhase:
    """A campaign's implementation phase, in China dates (inclusive)."""

    campaign_id: str
    title_zh: str
    starts_on: date
    ends_on: date


@dataclass(frozen=True)
class SurveyRow:
    """A stored survey and the district of its project."""

    survey: survey_model.Survey
    district_code: str


class IdempotencyKeyTaken(Exception):
    """The caller's Idempotency-Key is already taken, possibly by a transaction committed a
    moment ago (raised by `ComplaintRepository.insert`; the unit stays usable)."""


class SurveyExists(Exception):
    """The project already has a survey in this campaign (raised by `SurveyRepository.insert`;
    the unit stays usable)."""


# --- repositories ------------------------------------------------------------------------------


class ProjectRepository(Protocol):
    """The local copy of the registry's projects (kept by `runtime.registry_copy`)."""

    async def get(self, project_id: str) -> Project | None: ...

    async def listed(self, limit: int) -> list[Project]:
        """Projects by district and name (the workspace's filter)."""
        ...

    async def search(self, text: str, limit: int) -> list[Project]:
        """Projects whose name or address contains `text` (case-insensitive, taken literally),
        by name; the owners' form finds a project this way."""
        ...

    async def nearest(
        self, latitude: float, longitude: float, radius_m: float
    ) -> tuple[Project, float] | None:
        """The located project nearest to a WGS-84 point within `radius_m` metres, and its
        distance in metres; None when no project is that close."""
        ...

    async def by_address(self, text: str, limit: int) -> list[Project]:
        """Projects whose street address or name (whitespace ignored) appears in `text`, the
        longest match first."""
        ...


class ComplaintRepository(Protocol):
    async def next_ticket_number(self) -> int: ...

    async def insert(
        self,
        c: complaint_model.Complaint,
        *,
        ticket_no: str,
        token_sha256: str,
        idempotency: Idempotency | None = None,
    ) -> None:
        """Raises `IdempotencyKeyTaken` when the caller's key is already taken."""
        ...

    async def get_by_idempotency_key(self, scope: str, key: str) -> tuple[Row, str] | None:
        """The complaint the caller filed with this key, locked, and the request's fingerprint."""
        ...

    async def replace_token(self, complaint_id: str, token_sha256: str) -> None: ...

    async def save(
        self, c: complaint_model.Complaint, *, auto_close_at: datetime | None
    ) -> None: ...

    async def get(self, complaint_id: str, *, for_update: bool = False) -> Row | None: ...

    async def get_by_token(self, token_sha256: str, *, for_update: bool = False) -> Row | None: ...

    async def listed(
        self,
        *,
        enterprise_id: str | None,
        district_code: str | None,
        status: str | None,
        limit: int,
    ) -> list[Row]: ...

    async def due_for_update(self, now: datetime, limit: int) -> list[Row]:
        """Complaints owing a warning, an overdue or an auto-close at `now`, locked; rows another
        replica holds are skipped."""
        ...


class PublicComplaints(Protocol):
    """The public Open311 reads: never the contact details."""

    async def by_ids(self, ids: Sequence[str]) -> list[PublicRow]: ...

    async def search(
        self,
        *,
        service_codes: Sequence[str] | None,
        closed: bool | None,
        start: datetime,
        end: datetime,
        limit: int,
    ) -> list[PublicRow]: ...

    async def id_for_ticket(self, ticket_no: str) -> str | None: ...


class ApiKeyRepository(Protocol):
    async def insert(self, key: ApiKey) -> None: ...

    async def by_hash(self, key_sha256: str) -> ApiKey | None: ...

    async def listed(self, *, include_revoked: bool) -> list[ApiKey]: ...

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        """Mark the key revoked (once: a revoked key keeps its first time); None if unknown."""
        ...


class CampaignRepository(Protocol):
    """The campaigns' implementation phases (from the campaigns topic) and the missing-survey
    scan's marks."""

    async def upsert_many(self, phases: Sequence[tuple[CampaignPhase, datetime]]) -> int:
        """The phases with the time of their record, in one write; an older record never
        overwrites a newer one. Returns how many campaigns changed."""
        ...

    async def around(self, day: date) -> list[CampaignPhase]: ...

    async def unchecked_ended_before(self, day: date) -> list[CampaignPhase]: ...

    async def claim_missing_check(self, campaign_id: str, now: datetime) -> bool: ...

    async def enterprises_without_survey(self, campaign_id: str) -> list[str]: ...

    async def mark_missing(self, campaign_id: str, enterprise_id: str, now: datetime) -> bool: ...


class SurveyRepository(Protocol):
    async def insert(self, s: survey_model.Survey, *, district_code: str) -> None:
        """Raises `SurveyExists` for a second survey of a project in a campaign."""
        ...

    async def add_tokens(self, survey_id: str, hashes: Iterable[str]) -> None: ...

    async def token_hashes(self, survey_id: str) -> frozenset[str]: ...

    async def get(self, survey_id: str, *, for_update: bool = False) -> SurveyRow | None: ...

    async def get_by_token(self, digest: str) -> SurveyRow | None:
        """The survey of a token, locked, knowing just this token (and whether it is used)."""
        ...

    async def save_answer(
        self, s: survey_model.Survey, digest: str, comment: str | None
    ) -> None: ...

    async def save_closed(self, s: survey_model.Survey) -> None: ...

    async def comments(self, survey_ids: Sequence[str]) -> dict[str, list[str]]:
        """The owners' comments of these surveys, as written, in an order that tells nothing of
        when each was written (sorted by text); surveys without comments are left out."""
        ...

    async def due_to_close(self, now: datetime, limit: int) -> list[SurveyRow]: ...

    async def listed(
        self, *, enterprise_id: str | None, district_code: str | None, campaign_id: str | None
    ) -> list[SurveyRow]: ...


class ComplaintsUnitOfWork(UnitOfWork, Protocol):
    """One transaction of the complaints service: its repositories, the outbox and the clock."""

    projects: ProjectRepository
    complaints: ComplaintRepository
    public: PublicComplaints
    campaigns: CampaignRepository
    surveys: SurveyRepository
    attachments: AttachmentStore  # the complaints' photos (owner kind "complaint")
    api_keys: ApiKeyRepository  # the Open311 clients' keys
