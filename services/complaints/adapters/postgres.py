"""The complaints service's unit of work on PostgreSQL: the repositories of `service.ports` bound
to one transaction's connection. The SQL itself is in the modules per aggregate
(`adapters.complaints`, `adapters.surveys`, `adapters.open311`); these classes only bind it."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from runtime import db
from runtime.attachments import AttachmentStore, PgAttachmentStore
from runtime.unit_of_work import PgUnitOfWork
from services.complaints.adapters import complaints as complaint_sql
from services.complaints.adapters import open311 as open311_sql
from services.complaints.adapters import surveys as survey_sql
from services.complaints.adapters.api_keys import PgApiKeys
from services.complaints.adapters.projects import PgProjects
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain import survey as survey_model
from services.complaints.service.ports import (
    ApiKeyRepository,
    CampaignPhase,
    CampaignRepository,
    ComplaintRepository,
    Idempotency,
    ProjectRepository,
    PublicComplaints,
    PublicRow,
    Row,
    SurveyRepository,
    SurveyRow,
)

SOURCE = "/wuye/complaints"


class PgComplaints:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def next_ticket_number(self) -> int:
        return await complaint_sql.next_ticket_number(self._conn)

    async def insert(
        self,
        c: complaint_model.Complaint,
        *,
        ticket_no: str,
        token_sha256: str,
        idempotency: Idempotency | None = None,
    ) -> None:
        await complaint_sql.insert(
            self._conn, c, ticket_no=ticket_no, token_sha256=token_sha256, idempotency=idempotency
        )

    async def get_by_idempotency_key(self, scope: str, key: str) -> tuple[Row, str] | None:
        return await complaint_sql.get_by_idempotency_key(self._conn, scope, key)

    async def replace_token(self, complaint_id: str, token_sha256: str) -> None:
        await complaint_sql.replace_token(self._conn, complaint_id, token_sha256)

    async def save(self, c: complaint_model.Complaint, *, auto_close_at: datetime | None) -> None:
        await complaint_sql.save(self._conn, c, auto_close_at=auto_close_at)

    async def get(self, complaint_id: str, *, for_update: bool = False) -> Row | None:
        return await complaint_sql.get(self._conn, complaint_id, for_update=for_update)

    async def get_by_token(self, token_sha256: str, *, for_update: bool = False) -> Row | None:
        return await complaint_sql.get_by_token(self._conn, token_sha256, for_update=for_update)

    async def listed(
        self,
        *,
        enterprise_id: str | None,
        district_code: str | None,
        status: str | None,
        limit: int,
    ) -> list[Row]:
        return await complaint_sql.list_complaints(
            self._conn,
            enterprise_id=enterprise_id,
            district_code=district_code,
            status=status,
            limit=limit,
        )

    async def due_for_update(self, now: datetime, limit: int) -> list[Row]:
        return await complaint_sql.due_for_update(self._conn, now, limit)


class PgPublicComplaints:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def by_ids(self, ids: Sequence[str]) -> list[PublicRow]:
        return await open311_sql.by_ids(self._conn, ids)

    async def search(
        self,
        *,
        service_codes: Sequence[str] | None,
        closed: bool | None,
        start: datetime,
        end: datetime,
        limit: int,
    ) -> list[PublicRow]:
        return await open311_sql.search(
            self._conn,
            service_codes=service_codes,
            closed=closed,
            start=start,
            end=end,
            limit=limit,
        )

    async def id_for_ticket(self, ticket_no: str) -> str | None:
        return await open311_sql.id_for_ticket(self._conn, ticket_no)


class PgCampaigns:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def upsert_many(self, phases: Sequence[tuple[CampaignPhase, datetime]]) -> int:
        return await survey_sql.upsert_campaigns(self._conn, phases)

    async def around(self, day: date) -> list[CampaignPhase]:
        return await survey_sql.campaigns_around(self._conn, day)

    async def unchecked_ended_before(self, day: date) -> list[CampaignPhase]:
        return await survey_sql.unchecked_campaigns_ended_before(self._conn, day)

    async def claim_missing_check(self, campaign_id: str, now: datetime) -> bool:
        return await survey_sql.claim_missing_check(self._conn, campaign_id, now)

    async def enterprises_without_survey(self, campaign_id: str) -> list[str]:
        return await survey_sql.enterprises_without_survey(self._conn, campaign_id)

    async def mark_missing(self, campaign_id: str, enterprise_id: str, now: datetime) -> bool:
        return await survey_sql.mark_missing(self._conn, campaign_id, enterprise_id, now)


class PgSurveys:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def insert(self, s: survey_model.Survey, *, district_code: str) -> None:
        await survey_sql.insert(self._conn, s, district_code=district_code)

    async def add_tokens(self, survey_id: str, hashes: Iterable[str]) -> None:
        await survey_sql.add_tokens(self._conn, survey_id, hashes)

    async def token_hashes(self, survey_id: str) -> frozenset[str]:
        return await survey_sql.token_hashes(self._conn, survey_id)

    async def get(self, survey_id: str, *, for_update: bool = False) -> SurveyRow | None:
        return await survey_sql.get(self._conn, survey_id, for_update=for_update)

    async def get_by_token(self, digest: str) -> SurveyRow | None:
        return await survey_sql.get_by_token(self._conn, digest)

    async def save_answer(self, s: survey_model.Survey, digest: str, comment: str | None) -> None:
        await survey_sql.save_answer(self._conn, s, digest, comment)

    async def save_closed(self, s: survey_model.Survey) -> None:
        await survey_sql.save_closed(self._conn, s)

    async def comments(self, survey_ids: Sequence[str]) -> dict[str, list[str]]:
        return await survey_sql.comments(self._conn, survey_ids)

    async def due_to_close(self, now: datetime, limit: int) -> list[SurveyRow]:
        return await survey_sql.due_to_close(self._conn, now, limit)

    async def listed(
        self, *, enterprise_id: str | None, district_code: str | None, campaign_id: str | None
    ) -> list[SurveyRow]:
        return await survey_sql.list_surveys(
            self._conn,
            enterprise_id=enterprise_id,
            district_code=district_code,
            campaign_id=campaign_id,
        )


class PgComplaintsUnitOfWork(PgUnitOfWork):
    """`service.ports.ComplaintsUnitOfWork` on one PostgreSQL transaction."""

    projects: ProjectRepository
    complaints: ComplaintRepository
    public: PublicComplaints
    campaigns: CampaignRepository
    surveys: SurveyRepository
    attachments: AttachmentStore
    api_keys: ApiKeyRepository

    def _bind(self, conn: db.Connection) -> None:
        self.api_keys = PgApiKeys(conn)
        self.projects = PgProjects(conn)
        self.complaints = PgComplaints(conn)
        self.public = PgPublicComplaints(conn)
        self.campaigns = PgCampaigns(conn)
        self.surveys = PgSurveys(conn)
        self.attachments = PgAttachmentStore(conn)
