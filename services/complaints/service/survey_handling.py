"""Satisfaction survey handlers: load -> decide (domain) -> save with the event, one unit of work
each; the closing and SurveyMissing scans (run by `entrypoints/jobs.py`); the campaign reaction.

Who may see and do what is `service.access`: an enterprise opens, closes and reads surveys of its
own projects; a district office reads its district's; the city office reads all. Owners only
answer, with a one-time token.
Events carry no personal data: no token, no single answer, no comment.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Literal

from runtime.auth import Principal
from runtime.calendar import CHINA
from runtime.errors import DomainError, Message, NotFound
from runtime.unit_of_work import Delivered, Trace
from schemas import privacy
from schemas.base import Event
from schemas.campaigns import v1 as campaigns
from schemas.surveys import v1 as surveys
from services.complaints.domain import survey as survey_model
from services.complaints.service import access
from services.complaints.service.decide import decide
from services.complaints.service.ports import (
    CampaignPhase,
    ComplaintsUnitOfWork,
    SurveyExists,
    SurveyRow,
)

MAX_TOKENS_PER_CALL = 2000
SCAN_BATCH = 200
NOT_FOUND = Message("满意度调查不存在", "survey not found")
_MISSING_NS = uuid.UUID("6f1c1d2e-7a3b-5c4d-9e8f-0a1b2c3d4e5f")


@dataclass(frozen=True)
class Opened:
    survey: survey_model.Survey
    tokens: list[str]  # shown once; only their SHA-256 are stored


def phase_window(phase: CampaignPhase) -> survey_model.Campaign:
    """The implementation phase as instants: from its first day's start to its last day's end
    (China time)."""
    return survey_model.Campaign(
        phase.campaign_id, _china_midnight(phase.starts_on), _china_midnight(phase.ends_on, 1)
    )


def _china_midnight(day: date, plus_days: int = 0) -> datetime:
    return datetime.combine(day + timedelta(days=plus_days), time(), tzinfo=CHINA)


# --- enterprise actions ------------------------------------------------------------------------------


async def open_survey(
    uow: ComplaintsUnitOfWork,
    principal: Principal,
    *,
    project_id: str,
    households: int,
    closes_at: datetime | None,
    issue: int | None,
    trace: Trace,
) -> Opened:
    """Only while a known campaign's implementation phase runs; only for the enterprise's own
    project; one survey per project and campaign. Hands out the first tokens at once."""
    access.require_survey_runner(principal)
    async with uow:
        now = uow.clock.now()
        project = await uow.projects.get(project_id)
        if project is None or project.enterprise_id != principal.enterprise_id:
            raise NotFound("project_not_found", Message("项目不存在", "project not found"))
        today = now.astimezone(CHINA).date()
        running = [
            w
            for w in map(phase_window, await uow.campaigns.around(today))
            if w.starts_at <= now < w.ends_at
        ]
        if not running:
            raise DomainError(
                "not_in_implementation_phase",
                Message(
                    "当前不在专项活动的实施阶段，不能发起满意度调查",
                    "a survey can only be opened during a campaign's implementation phase",
                ),
            )
        campaign = running[-1]  # the latest-starting one, should phases ever overlap
        survey = decide(
            lambda: survey_model.open_survey(
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
            await uow.surveys.insert(survey, district_code=project.district_code)
        except SurveyExists as exc:
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
            survey, tokens = decide(lambda: survey_model.issue_tokens(survey, count))
            await uow.surveys.add_tokens(survey.survey_id, survey.token_hashes)
        await uow.outbox.add(
            surveys.SurveyOpened(
                **_facts(survey, project.district_code),
                questions=tuple(q.id for q in survey.questions),
                opened_at=survey.opened_at,
                closes_at=survey.closes_at,
            ),
            trace,
        )
        await uow.commit()
    return Opened(survey, tokens)


async def issue_tokens(
    uow: ComplaintsUnitOfWork, principal: Principal, survey_id: str, count: int
) -> list[str]:
    """More one-time tokens (never more in total than households); shown once."""
    access.require_survey_runner(principal)
    async with uow:
        row = await _load_own(uow, principal, survey_id)
        known = replace(row.survey, token_hashes=await uow.surveys.token_hashes(survey_id))
        issued, tokens = decide(lambda: survey_model.issue_tokens(known, count))
        await uow.surveys.add_tokens(survey_id, issued.token_hashes - known.token_hashes)
        await uow.commit()
    return tokens


async def close(
    uow: ComplaintsUnitOfWork, principal: Principal, survey_id: str, *, trace: Trace
) -> tuple[survey_model.Survey, survey_model.Results]:
    access.require_survey_runner(principal)
    async with uow:
        row = await _load_own(uow, principal, survey_id)
        done = await _close(uow, row, "enterprise", trace)
        await uow.commit()
    return done


async def _close(
    uow: ComplaintsUnitOfWork,
    row: SurveyRow,
    how: Literal["enterprise", "auto"],
    trace: Trace,
) -> tuple[survey_model.Survey, survey_model.Results]:
    now = uow.clock.now()
    closed, results = decide(lambda: survey_model.close(row.survey, now))
    await uow.surveys.save_closed(closed)
    await uow.outbox.add(
        surveys.SurveyClosed(
            **_facts(closed, row.district_code),
            how=how,
            responses=results.responses,
            coverage=min(results.coverage, 1.0),
            satisfaction_rate=results.satisfaction_rate,
            means=dict(results.means),
            closed_at=now,
        ),
        trace,
    )
    return closed, results


# --- the household's answer ----------------------------------------------------------------------------


async def answer(
    uow: ComplaintsUnitOfWork, token: str, scores: Mapping[str, int], comment: str | None
) -> survey_model.Survey:
    """One answer per token; an unknown token is 404, a used one 409. No event: answers are
    anonymous and counted, the results go out when the survey closes."""
    digest = survey_model.token_hash(token)
    async with uow:
        now = uow.clock.now()
        row = await uow.surveys.get_by_token(digest)
        if row is None:
            raise NotFound(
                "survey_token_not_found", Message("问卷凭证无效", "unknown survey token")
            )
        survey = decide(lambda: survey_model.answer(row.survey, token, scores, now))
        await uow.surveys.save_answer(survey, digest, comment)
        await uow.commit()
    return survey


async def questions_for_token(uow: ComplaintsUnitOfWork, token: str) -> survey_model.Survey:
    """The survey a token belongs to (for showing the questions before answering)."""
    async with uow:
        row = await uow.surveys.get_by_token(survey_model.token_hash(token))
    if row is None:
        raise NotFound("survey_token_not_found", Message("问卷凭证无效", "unknown survey token"))
    return row.survey


# --- reading -------------------------------------------------------------------------------------------


async def results(uow: ComplaintsUnitOfWork, principal: Principal, survey_id: str) -> SurveyRow:
    async with uow:
        row = await uow.surveys.get(survey_id)
    if row is None or not access.can_see_survey(principal, row.survey, row.district_code):
        raise NotFound("survey_not_found", NOT_FOUND)
    if row.survey.status == "open":
        # The enterprise knows which household holds which token: results while answers still
        # come in would let it read one household's scores from the change. Closed only.
        raise DomainError(
            "survey_still_open",
            Message(
                "调查尚未结束，结束后才能查看结果", "results are available once the survey closes"
            ),
        )
    return row


@dataclass(frozen=True)
class Comments:
    """A closed survey's comments as staff read them: personal data masked, sorted by text (the
    order of writing is not kept: it could point at a household)."""

    row: SurveyRow
    comments: list[str]


def masked(comment: str) -> str:
    """What staff read of an owner's comment: phone numbers, ID-card numbers, e-mail addresses
    and names masked as on public topics (`schemas.privacy.scrub`). The comment is anonymous,
    and the enterprise must not learn who wrote it from the text."""
    return privacy.scrub(comment)


async def comments(uow: ComplaintsUnitOfWork, principal: Principal, survey_id: str) -> Comments:
    """One survey's comments, for those who may read its results (the enterprise its own
    projects', a district office its district's, the city office all), once it is closed: the
    enterprise hands out the tokens, so a comment appearing while answers come in could be
    matched to a household (as the results are)."""
    row = await results(uow, principal, survey_id)
    async with uow:
        found = await uow.surveys.comments([survey_id])
    return Comments(row, sorted(masked(c) for c in found.get(survey_id, [])))


async def comments_in_scope(
    uow: ComplaintsUnitOfWork, principal: Principal, campaign_id: str | None = None
) -> tuple[list[Comments], int]:
    """The closed surveys in the caller's scope with their comments (masked), and how many
    surveys in scope are still open (their comments come once they close)."""
    access.require_survey_reader(principal)
    async with uow:
        rows = await uow.surveys.listed(
            enterprise_id=principal.enterprise_id,
            district_code=principal.district_code,
            campaign_id=campaign_id,
        )
        closed = [r for r in rows if r.survey.status == "closed"]
        found = await uow.surveys.comments([r.survey.survey_id for r in closed])
    out = [
        Comments(r, sorted(masked(c) for c in found.get(r.survey.survey_id, []))) for r in closed
    ]
    return out, len(rows) - len(closed)


async def enterprise_results(
    uow: ComplaintsUnitOfWork, principal: Principal, enterprise_id: str, campaign_id: str | None
) -> tuple[survey_model.Results, int]:
    """Pooled over the enterprise's surveys in the caller's scope (a district office sees only
    its district's projects); with the number of surveys pooled."""
    if not access.may_read_enterprise_results(principal, enterprise_id):
        raise NotFound("survey_not_found", NOT_FOUND)
    async with uow:
        rows = await uow.surveys.listed(
            enterprise_id=enterprise_id,
            district_code=principal.district_code,
            campaign_id=campaign_id,
        )
    rows = [r for r in rows if r.survey.status == "closed"]  # open surveys would leak answers
    if not rows:
        raise NotFound("survey_not_found", NOT_FOUND)
    return survey_model.enterprise_results(enterprise_id, (r.survey for r in rows)), len(rows)


# --- timers --------------------------------------------------------------------------------------------


async def close_due(uow: ComplaintsUnitOfWork, *, limit: int = SCAN_BATCH) -> int:
    """Close open surveys whose closing time has come (at the unit's `now`), one batch; one
    SurveyClosed each, exactly once (rows are locked and their status changes in the outbox
    row's transaction). Returns how many were closed."""
    async with uow:
        due = await uow.surveys.due_to_close(uow.clock.now(), limit)
        for row in due:
            await _close(uow, row, "auto", Trace.start())
        await uow.commit()
    return len(due)


async def campaigns_to_check(uow: ComplaintsUnitOfWork) -> list[CampaignPhase]:
    """Campaigns whose implementation phase is over at the unit's `now`, not yet scanned for
    missing surveys."""
    async with uow:
        now = uow.clock.now()
        today = now.astimezone(CHINA).date()
        candidates = await uow.campaigns.unchecked_ended_before(today + timedelta(days=1))
    return [p for p in candidates if now >= phase_window(p).ends_at]


async def report_missing(uow: ComplaintsUnitOfWork, phase: CampaignPhase) -> int:
    """After a campaign's implementation phase: SurveyMissing once per enterprise running
    projects that opened no survey. The campaign is claimed in the same transaction as the
    outbox rows. Returns how many were reported."""
    total = 0
    deadline = phase_window(phase).ends_at
    async with uow:
        now = uow.clock.now()
        if not await uow.campaigns.claim_missing_check(phase.campaign_id, now):
            return 0
        for enterprise_id in await uow.campaigns.enterprises_without_survey(phase.campaign_id):
            if not await uow.campaigns.mark_missing(phase.campaign_id, enterprise_id, now):
                continue
            await uow.outbox.add(
                surveys.SurveyMissing(
                    survey_id=str(uuid.uuid5(_MISSING_NS, f"{phase.campaign_id}/{enterprise_id}")),
                    campaign_id=phase.campaign_id,
                    enterprise_id=enterprise_id,
                    deadline=deadline,
                    detected_at=now,
                ),
                Trace.start(),
            )
            total += 1
        await uow.commit()
    return total


# --- the local campaign table, fed by the campaigns topic ------------------------------------------


async def on_phase_started(uow: ComplaintsUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    """CampaignPhaseStarted: keep each campaign's implementation phase dates (other phases are
    not needed here), the whole run in one write."""
    phases: list[tuple[CampaignPhase, datetime]] = []
    for delivered in batch:
        event = delivered.event
        if not isinstance(event, campaigns.CampaignPhaseStarted):
            raise TypeError(f"not a campaign phase: {delivered.ce.type}")
        if event.phase == "implementation":
            phase = CampaignPhase(event.campaign_id, event.title_zh, event.starts_on, event.ends_on)
            phases.append((phase, delivered.ce.time))
    await uow.campaigns.upsert_many(phases)


# --- helpers -------------------------------------------------------------------------------------------


async def _load_own(uow: ComplaintsUnitOfWork, principal: Principal, survey_id: str) -> SurveyRow:
    row = await uow.surveys.get(survey_id, for_update=True)
    if row is None or row.survey.enterprise_id != principal.enterprise_id:
        raise NotFound("survey_not_found", NOT_FOUND)
    return row


def _facts(s: survey_model.Survey, district_code: str) -> dict[str, object]:
    return {
        "survey_id": s.survey_id,
        "campaign_id": s.campaign_id,
        "enterprise_id": s.enterprise_id,
        "project_id": s.project_id,
        "district_code": district_code,
        "households": s.households,
    }
