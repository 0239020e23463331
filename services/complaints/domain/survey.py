"""Owner satisfaction surveys (业主满意度调查, notice 三(一)4): pure rules, no I/O.

- An enterprise opens a survey for one of its projects while a campaign window is open (that the
  project is the enterprise's is the handler's check, against the registry).
- Each household gets a one-time token. Only its SHA-256 hash is kept: tokens carry 128 random
  bits, so a plain hash cannot be reversed by guessing and no salt is needed. The survey does not
  know which household holds which token, so answers are anonymous. A token answers once; a
  reused token is refused. `Survey.token_hashes` may be just the hash being checked when an
  adapter loads a survey for one answer: the rules only test membership.
- Every question is scored 1-5 and every question must be answered. `overall` is required in
  each survey: the satisfaction rate is the share of responses whose `overall` is 4 or 5.
- Answers are kept as a running tally (counts and sums), not a list, so answering stays O(1) and
  enterprise results pool exactly: an enterprise's mean per question is over all its responses
  (each household weighs the same), not the mean of its projects' means.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

from services.complaints.domain import TransitionRefused as TransitionRefused

OVERALL = "overall"
SATISFIED_FROM = 4  # an overall score of 4 or 5 counts as satisfied
MAX_HOUSEHOLDS = 100_000
TOKEN_BYTES = 16


@dataclass(frozen=True)
class Question:
    id: str
    label_zh: str
    label_en: str


DEFAULT_QUESTIONS: tuple[Question, ...] = (
    Question(OVERALL, "总体满意度", "Overall satisfaction"),
    Question("cleaning", "环境卫生与垃圾清运", "Cleaning and waste removal"),
    Question("greenery", "绿化养护", "Greenery"),
    Question("security", "秩序维护与安全", "Order and security"),
    Question("repair", "公共设施维修", "Repair of common facilities"),
    Question("complaints", "投诉处理与服务态度", "Complaint handling and attitude"),
)


@dataclass(frozen=True)
class Campaign:
    """The window in which surveys may run, e.g. the campaign's activity window."""

    campaign_id: str
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Tally:
    responses: int = 0
    satisfied: int = 0  # responses with overall >= SATISFIED_FROM
    sums: Mapping[str, int] = field(default_factory=dict)  # per question
    counts: Mapping[str, int] = field(default_factory=dict)  # per question

    def add(self, scores: Mapping[str, int]) -> Tally:
        return Tally(
            self.responses + 1,
            self.satisfied + (scores[OVERALL] >= SATISFIED_FROM),
            {**self.sums, **{q: self.sums.get(q, 0) + s for q, s in scores.items()}},
            {**self.counts, **{q: self.counts.get(q, 0) + 1 for q in scores}},
        )

    def __add__(self, other: Tally) -> Tally:
        keys = set(self.sums) | set(other.sums)
        return Tally(
            self.responses + other.responses,
            self.satisfied + other.satisfied,
            {q: self.sums.get(q, 0) + other.sums.get(q, 0) for q in keys},
            {q: self.counts.get(q, 0) + other.counts.get(q, 0) for q in keys},
        )


@dataclass(frozen=True)
class Results:
    """What `SurveyClosed` carries; for an enterprise, pooled over its surveys."""

    enterprise_id: str
    project_id: str | None  # None for enterprise-wide results
    households: int
    responses: int
    coverage: float  # responses / households
    satisfaction_rate: float | None  # None without responses
    means: Mapping[str, float | None]  # per question; None without responses


@dataclass(frozen=True)
class Survey:
    survey_id: str
    enterprise_id: str
    project_id: str
    campaign_id: str
    households: int
    questions: tuple[Question, ...]
    opened_at: datetime
    closes_at: datetime
    status: Literal["open", "closed"] = "open"
    token_hashes: frozenset[str] = frozenset()
    used: frozenset[str] = frozenset()
    tally: Tally = Tally()
    closed_at: datetime | None = None


def open_survey(
    *,
    survey_id: str,
    enterprise_id: str,
    project_id: str,
    households: int,
    campaign: Campaign,
    now: datetime,
    closes_at: datetime | None = None,
    questions: Sequence[Question] = DEFAULT_QUESTIONS,
) -> Survey:
    """Open during the campaign window; closes at `closes_at` (default: the window's end)."""
    _aware(now)
    if not campaign.starts_at <= now < campaign.ends_at:
        raise TransitionRefused(
            "outside_campaign",
            "不在活动期间，不能发起满意度调查",
            "a survey can only be opened while the campaign window is open",
        )
    end = campaign.ends_at if closes_at is None else _aware(closes_at)
    if not now < end <= campaign.ends_at:
        raise TransitionRefused(
            "bad_closes_at",
            "截止时间须晚于现在且不晚于活动结束",
            "the closing time must be after now and no later than the campaign's end",
            "closes_at",
        )
    if (
        not isinstance(households, int)
        or isinstance(households, bool)
        or not 1 <= households <= MAX_HOUSEHOLDS
    ):
        raise TransitionRefused(
            "bad_households",
            f"户数须为 1 至 {MAX_HOUSEHOLDS} 的整数",
            f"the number of households must be a whole number from 1 to {MAX_HOUSEHOLDS}",
            "households",
        )
    ids = [q.id for q in questions]
    if OVERALL not in ids or len(set(ids)) != len(ids):
        raise TransitionRefused(
            "bad_questions",
            f"问题编号不能重复，且必须包含总体满意度（{OVERALL}）",
            f"question ids must be unique and include the overall question ({OVERALL!r})",
            "questions",
        )
    return Survey(
        survey_id,
        enterprise_id,
        project_id,
        campaign.campaign_id,
        households,
        tuple(questions),
        now,
        end,
    )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_tokens(
    survey: Survey, count: int, entropy: Callable[[int], bytes] = secrets.token_bytes
) -> tuple[Survey, list[str]]:
    """`count` new one-time tokens (to hand out, one per household) and the survey that knows
    their hashes. Never more tokens than households."""
    _require_open(survey)
    if count < 1 or len(survey.token_hashes) + count > survey.households:
        raise TransitionRefused(
            "too_many_tokens",
            f"凭证总数不能超过户数 {survey.households}",
            f"no more tokens than the {survey.households} households",
            "count",
        )
    tokens = [
        base64.urlsafe_b64encode(entropy(TOKEN_BYTES)).rstrip(b"=").decode("ascii")
        for _ in range(count)
    ]
    hashes = {token_hash(t) for t in tokens}
    if len(hashes) != count or hashes & survey.token_hashes:
        raise ValueError("the entropy source repeated itself")
    return replace(survey, token_hashes=survey.token_hashes | hashes), tokens


def answer(survey: Survey, token: str, scores: Mapping[str, int], now: datetime) -> Survey:
    """One household's answer: the token must be the survey's and unused; every question 1-5."""
    _aware(now)
    _require_open(survey)
    if now >= survey.closes_at:
        raise TransitionRefused("survey_closed", "调查已截止", "the survey has closed for answers")
    digest = token_hash(token)
    if digest not in survey.token_hashes:
        raise TransitionRefused(
            "bad_token", "问卷凭证无效", "this survey token is not valid", "token"
        )
    if digest in survey.used:
        raise TransitionRefused(
            "token_used",
            "该凭证已经答过问卷，每户只能答一次",
            "this token has already been used: each household answers once",
        )
    asked = {q.id for q in survey.questions}
    for key in scores:
        if key not in asked:
            raise TransitionRefused(
                "unknown_question", "问卷中没有这个问题", "no such question", f"scores.{key}"
            )
    for qid in (q.id for q in survey.questions):
        value = scores.get(qid)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 5:
            raise TransitionRefused(
                "bad_score",
                "每个问题须打 1 至 5 分",
                "every question needs a score from 1 to 5",
                f"scores.{qid}",
            )
    return replace(survey, used=survey.used | {digest}, tally=survey.tally.add(scores))


def due_to_close(survey: Survey, now: datetime) -> bool:
    """Should a timer close this survey at `now`?"""
    return survey.status == "open" and _aware(now) >= survey.closes_at


def close(survey: Survey, now: datetime) -> tuple[Survey, Results]:
    """Close (early by the enterprise, or by the timer) and give the scores for `SurveyClosed`."""
    _aware(now)
    _require_open(survey)
    closed = replace(survey, status="closed", closed_at=now)
    return closed, results(closed)


def results(survey: Survey) -> Results:
    ids = [q.id for q in survey.questions]
    return _results(survey.enterprise_id, survey.project_id, survey.households, survey.tally, ids)


def enterprise_results(enterprise_id: str, surveys: Iterable[Survey]) -> Results:
    """Pooled over the enterprise's surveys: households and responses add up, means and the
    satisfaction rate are over all responses."""
    tally, households, ids = Tally(), 0, dict[str, None]()
    for survey in surveys:
        if survey.enterprise_id != enterprise_id:
            raise ValueError(f"survey {survey.survey_id} is not enterprise {enterprise_id}'s")
        tally, households = tally + survey.tally, households + survey.households
        ids.update(dict.fromkeys(q.id for q in survey.questions))
    if households == 0:
        raise ValueError(f"no surveys of enterprise {enterprise_id} to aggregate")
    return _results(enterprise_id, None, households, tally, list(ids))


def missing(enterprises: Iterable[str], surveys_in_campaign: Iterable[Survey]) -> list[str]:
    """Enterprises that opened no survey in the campaign (for `SurveyMissing`), in input order."""
    surveyed = {s.enterprise_id for s in surveys_in_campaign}
    return [e for e in dict.fromkeys(enterprises) if e not in surveyed]


def _results(
    enterprise_id: str, project_id: str | None, households: int, tally: Tally, ids: list[str]
) -> Results:
    """Means per question over the responses that were asked it (surveys may differ)."""
    n = tally.responses
    return Results(
        enterprise_id,
        project_id,
        households,
        n,
        n / households,
        tally.satisfied / n if n else None,
        {q: (tally.sums[q] / tally.counts[q] if tally.counts.get(q) else None) for q in ids},
    )


def _require_open(survey: Survey) -> None:
    if survey.status != "open":
        raise TransitionRefused("survey_closed", "调查已结束", "the survey is closed")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got {moment!r}")
    return moment
