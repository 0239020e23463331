"""Satisfaction survey handlers: load -> decide (domain) -> save with the event, one transaction
each; the closing and SurveyMissing scans; the campaign consumer.

Scope comes from the caller's principal only: an enterprise opens, closes and reads surveys of
its own projects; a district office reads its district's; the city office reads all. Owners only
answer, with a one-time token. A survey outside the caller's scope answers like a missing one.
Events carry no personal data: no token, no single answer, no comment.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal, TypeVar

import asyncpg

from runtime import db, outbox
from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.consumer import Handler
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound
from runtime.scheduler import PeriodicJob
from schemas import cloudevents
from schemas.base import Event
from schemas.campaigns import v1 as campaigns
from schemas.surveys import v1 as events
from services.complaints.adapters import complaints as projects
from services.complaints.adapters import surveys as repo
from services.complaints.domain import TransitionRefused
from services.complaints.domain import survey as model

SOURCE = "/wuye/complaints"
MAX_TOKENS_PER_CALL = 2000
SCAN_BATCH = 200
NOT_FOUND = Message("满意度调查不存在", "survey not found")
T = TypeVar("T")
_MISSING_NS = uuid.UUID("6f1c1d2e-7a3b-5c4d-9e8f-0a1b2c3d4e5f")


@dataclass(frozen=True)
class Opened:
    survey: model.Survey
    tokens: list[str]  # shown once; only their SHA-256 are stored


def phase_window(phase: repo.CampaignPhase) -> model.Campaign:
    """The implementation phase as instants: from its first day's start to its last day's end
    (China time)."""
    return model.Campaign(
        phase.campaign_id, _china_midnight(phase.starts_on), _china_midnight(phase.ends_on, 1)
    )


def _china_midnight(day: date, plus_days: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=plus_days), time(), tzinfo=CHINA)


# --- enterprise actions ------------------------------------------------------------------------------


async def open_survey(
    pool: asyncpg.Pool,
    principal: Principal,
    *,
    project_id: str,
    households: int,
    closes_at: datetime | None,
    issue: int | None,
    now: datetime,
) -> Opened:
    """Only while a known campaign's implementation phase runs; only for the enterprise's own
    project; one survey per project and campaign. Hands out the first tokens at once."""
    _require_enterprise(principal)
    async with pool.acquire() as conn, conn.transaction():
        project = await projects.get_project(conn, project_id)
        if project is None or project.enterprise_id != principal.enterprise_id:
            raise NotFound("project_not_found", Message("项目不存在", "project not found"))
        today = now.astimezone(CHINA).date()
        running = [
            w
            for w in map(phase_window, await repo.campaigns_around(conn, today))
            if w.starts_at <= now < w.ends_at
        ]
        if not running:
            raise DomainError(
                "not_in_implementation_phase",
                Message(
                    "当前不在专项活动的实施阶段,不能发起满意度调查",
                    "a survey can only be opened during a campaign's implementation phase",
                ),
            )
        campaign = running[-1]  # the latest-starting one, should phases ever overlap
        survey = _decide(
            lambda: model.open_survey(
                survey_id=str(uuid.uuid4()),
                enterprise_id=project.enterprise_id,
                project_id=project.project_id,
                households=households,
                campaign=campaign,
                now=now,
                closes_at=closes_at,
            )
        )
        try:
            await repo.insert(conn, survey, district_code=project.district_code)
        except repo.AlreadyExists as exc:
            raise DomainError(
                "survey_exists",
                Message(
                    "该项目在本次活动中已发起过满意度调查",
                    "this project already has a survey in this campaign",
                ),
            ) from exc
        count = min(households, MAX_TOKENS_PER_CALL) if issue is None else issue
        tokens: list[str] = []
        if count:
            survey, tokens = _decide(lambda: model.issue_tokens(survey, count))
            await repo.add_tokens(conn, survey.survey_id, survey.token_hashes)
        await outbox.enqueue(
            conn,
            events.SurveyOpened(
                **_facts(survey, project.district_code),
                questions=tuple(q.id for q in survey.questions),
                opened_at=survey.opened_at,
                closes_at=survey.closes_at,
            ),
            source=SOURCE,
        )
    return Opened(survey, tokens)


async def issue_tokens(
    pool: asyncpg.Pool, principal: Principal, survey_id: str, count: int
) -> list[str]:
    """More one-time tokens (never more in total than households); shown once."""
    _require_enterprise(principal)
    async with pool.acquire() as conn, conn.transaction():
        row = await _load_own(conn, principal, survey_id)
        known = replace(row.survey, token_hashes=await repo.token_hashes(conn, survey_id))
        issued, tokens = _decide(lambda: model.issue_tokens(known, count))
        await repo.add_tokens(conn, survey_id, issued.token_hashes - known.token_hashes)
    return tokens


async def close(
    pool: asyncpg.Pool, principal: Principal, survey_id: str, now: datetime
) -> tuple[model.Survey, model.Results]:
    _require_enterprise(principal)
    async with pool.acquire() as conn, conn.transaction():
        row = await _load_own(conn, principal, survey_id)
        return await _close(conn, row, now, "enterprise")


async def _close(
    conn: db.Connection, row: repo.Row, now: datetime, how: Literal["enterprise", "auto"]
) -> tuple[model.Survey, model.Results]:
    closed, results = _decide(lambda: model.close(row.survey, now))
    await repo.save_closed(conn, closed)
    await outbox.enqueue(
        conn,
        events.SurveyClosed(
            **_facts(closed, row.district_code),
            how=how,
            responses=results.responses,
            coverage=min(results.coverage, 1.0),
            satisfaction_rate=results.satisfaction_rate,
            means=dict(results.means),
            closed_at=now,
        ),
        source=SOURCE,
    )
    return closed, results


# --- the household's answer ----------------------------------------------------------------------------


async def answer(
    pool: asyncpg.Pool,
    token: str,
    scores: Mapping[str, int],
    comment: str | None,
    now: datetime,
) -> model.Survey:
    """One answer per token; an unknown token is 404, a used one 409."""
    digest = model.token_hash(token)
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.get_by_token(conn, digest)
        if row is None:
            raise NotFound(
                "survey_token_not_found", Message("问卷凭证无效", "unknown survey token")
            )
        survey = _decide(lambda: model.answer(row.survey, token, scores, now))
        await repo.save_answer(conn, survey, digest, comment)
    return survey


async def questions_for_token(pool: asyncpg.Pool, token: str) -> model.Survey:
    """The survey a token belongs to (for showing the questions before answering)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.get_by_token(conn, model.token_hash(token))
    if row is None:
        raise NotFound("survey_token_not_found", Message("问卷凭证无效", "unknown survey token"))
    return row.survey


# --- reading -------------------------------------------------------------------------------------------


def can_see(principal: Principal, row: repo.Row) -> bool:
    if principal.role is Role.CITY_OFFICE:
        return True
    if principal.role is Role.DISTRICT_OFFICE:
        return principal.district_code == row.district_code
    if principal.role is Role.ENTERPRISE:
        return principal.enterprise_id == row.survey.enterprise_id
    return False


async def results(pool: asyncpg.Pool, principal: Principal, survey_id: str) -> repo.Row:
    async with pool.acquire() as conn:
        row = await repo.get(conn, survey_id)
    if row is None or not can_see(principal, row):
        raise NotFound("survey_not_found", NOT_FOUND)
    if row.survey.status == "open":
        # The enterprise knows which household holds which token: results while answers still
        # come in would let it read one household's scores from the change. Closed only.
        raise DomainError(
            "survey_still_open",
            Message(
                "调查尚未结束,结束后才能查看结果", "results are available once the survey closes"
            ),
        )
    return row


async def enterprise_results(
    pool: asyncpg.Pool, principal: Principal, enterprise_id: str, campaign_id: str | None
) -> tuple[model.Results, int]:
    """Pooled over the enterprise's surveys in the caller's scope (a district office sees only
    its district's projects); with the number of surveys pooled."""
    if principal.role is Role.ENTERPRISE and principal.enterprise_id != enterprise_id:
        raise NotFound("survey_not_found", NOT_FOUND)
    if principal.role not in (Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE):
        raise Forbidden(
            "role_not_allowed", Message("当前角色无权查看调查结果", "your role may not")
        )
    async with pool.acquire() as conn:
        rows = await repo.list_surveys(
            conn,
            enterprise_id=enterprise_id,
            district_code=principal.district_code,
            campaign_id=campaign_id,
        )
    rows = [r for r in rows if r.survey.status == "closed"]  # open surveys would leak answers
    if not rows:
        raise NotFound("survey_not_found", NOT_FOUND)
    return model.enterprise_results(enterprise_id, (r.survey for r in rows)), len(rows)


# --- jobs ----------------------------------------------------------------------------------------------


async def close_job(pool: asyncpg.Pool, now: datetime) -> int:
    """Close open surveys whose closing time has come; one SurveyClosed each, exactly once (rows
    are locked and their status changes in the outbox row's transaction)."""
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await repo.due_to_close(conn, now, SCAN_BATCH)
            for row in due:
                await _close(conn, row, now, "auto")
            total += len(due)
        if len(due) < SCAN_BATCH:
            return total


async def missing_job(pool: asyncpg.Pool, now: datetime) -> int:
    """After a campaign's implementation phase: SurveyMissing once per enterprise running projects
    that opened no survey. The campaign is claimed in the same transaction as the outbox rows."""
    total = 0
    today = now.astimezone(CHINA).date()
    async with pool.acquire() as conn:
        candidates = await repo.unchecked_campaigns_ended_before(conn, today + timedelta(days=1))
    for phase in candidates:
        deadline = phase_window(phase).ends_at
        if now < deadline:
            continue
        async with pool.acquire() as conn, conn.transaction():
            if not await repo.claim_missing_check(conn, phase.campaign_id, now):
                continue
            for enterprise_id in await repo.enterprises_without_survey(conn, phase.campaign_id):
                if not await repo.mark_missing(conn, phase.campaign_id, enterprise_id, now):
                    continue
                await outbox.enqueue(
                    conn,
                    events.SurveyMissing(
                        survey_id=str(
                            uuid.uuid5(_MISSING_NS, f"{phase.campaign_id}/{enterprise_id}")
                        ),
                        campaign_id=phase.campaign_id,
                        enterprise_id=enterprise_id,
                        deadline=deadline,
                        detected_at=now,
                    ),
                    source=SOURCE,
                )
                total += 1
    return total


JOBS = (
    PeriodicJob("survey-close", close_job, interval_s=60),
    PeriodicJob("survey-missing", missing_job, interval_s=300),
)


# --- the local campaign table, fed by the campaigns topic ------------------------------------------


async def on_phase_started(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    """Keep each campaign's implementation phase dates; other phases are not needed here."""
    assert isinstance(event, campaigns.CampaignPhaseStarted)
    if event.phase != "implementation":
        return
    await repo.upsert_campaign(
        conn,
        repo.CampaignPhase(event.campaign_id, event.title_zh, event.starts_on, event.ends_on),
        ce.time,
    )


CAMPAIGN_HANDLERS: Mapping[str, Handler] = {
    campaigns.CampaignPhaseStarted.ce_type: on_phase_started,
}


# --- helpers -------------------------------------------------------------------------------------------


def _require_enterprise(principal: Principal) -> None:
    if principal.role is not Role.ENTERPRISE or principal.enterprise_id is None:
        raise Forbidden(
            "not_enterprise",
            Message("只有物业企业可以发起和结束满意度调查", "only enterprises run surveys"),
        )


async def _load_own(conn: db.Connection, principal: Principal, survey_id: str) -> repo.Row:
    row = await repo.get(conn, survey_id, for_update=True)
    if row is None or row.survey.enterprise_id != principal.enterprise_id:
        raise NotFound("survey_not_found", NOT_FOUND)
    return row


def _facts(s: model.Survey, district_code: str) -> dict[str, object]:
    return {
        "survey_id": s.survey_id,
        "campaign_id": s.campaign_id,
        "enterprise_id": s.enterprise_id,
        "project_id": s.project_id,
        "district_code": district_code,
        "households": s.households,
    }


def _decide(step: Callable[[], T]) -> T:
    try:
        return step()
    except TransitionRefused as exc:
        error = InvalidInput if exc.field else DomainError
        raise error(exc.code, Message(exc.zh, exc.en), field=exc.field) from exc
