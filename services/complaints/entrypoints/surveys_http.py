"""HTTP API for owner satisfaction surveys: the enterprise opens, hands out tokens and closes;
households answer with their token (no login); offices read results. Translators only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from runtime.http import RequestTrace
from services.complaints.domain import survey as survey_model
from services.complaints.entrypoints.deps import Deps
from services.complaints.entrypoints.policy import Enterprise, Reader
from services.complaints.service import survey_handling

router = APIRouter(prefix="/api/v1", tags=["surveys"])

# The one-time token travels in a header, never in the URL (URLs end up in logs and histories).
SurveyToken = Annotated[
    str, Header(alias="X-Survey-Token", min_length=16, max_length=128, description="问卷凭证")
]


class OpenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(min_length=1, max_length=64, description="项目编号")
    households: int = Field(ge=1, le=survey_model.MAX_HOUSEHOLDS, description="户数")
    closes_at: AwareDatetime | None = Field(
        default=None, description="截止时间; default: the end of the implementation phase"
    )
    tokens: int | None = Field(
        default=None,
        ge=0,
        le=survey_handling.MAX_TOKENS_PER_CALL,
        description="现在发放的凭证数; default: one per household, at most "
        f"{survey_handling.MAX_TOKENS_PER_CALL}",
    )


class TokensIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    count: int = Field(ge=1, le=survey_handling.MAX_TOKENS_PER_CALL, description="凭证数")


class AnswerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scores: dict[Annotated[str, Field(max_length=64)], Annotated[int, Field(ge=1, le=5)]] = Field(
        max_length=50, description="每题评分 1-5, by question id"
    )
    comment: str | None = Field(default=None, max_length=500, description="意见建议（不公开）")


def _survey(s: survey_model.Survey, district_code: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "survey_id": s.survey_id,
        "campaign_id": s.campaign_id,
        "project_id": s.project_id,
        "enterprise_id": s.enterprise_id,
        "households": s.households,
        "status": s.status,
        "opened_at": s.opened_at,
        "closes_at": s.closes_at,
        "closed_at": s.closed_at,
        "questions": [{"id": q.id, "zh": q.label_zh, "en": q.label_en} for q in s.questions],
    }
    if district_code is not None:
        out["district_code"] = district_code
    return out


def _results(r: survey_model.Results) -> dict[str, Any]:
    return {
        "households": r.households,
        "responses": r.responses,
        "coverage": r.coverage,
        "satisfaction_rate": r.satisfaction_rate,
        "means": dict(r.means),
    }


@router.post("/surveys", status_code=201)
async def open_survey(
    body: OpenIn, deps: Deps, trace: RequestTrace, principal: Enterprise
) -> dict[str, Any]:
    """业主满意度调查: open for one of your projects during a campaign's implementation phase. The
    tokens are shown only in this response (and in later token calls): hand one to each household."""
    opened = await survey_handling.open_survey(
        deps.units(),
        principal,
        project_id=body.project_id,
        households=body.households,
        closes_at=body.closes_at,
        issue=body.tokens,
        trace=trace,
    )
    return {**_survey(opened.survey), "tokens": opened.tokens}


@router.post("/surveys/answers", status_code=201)
async def answer(body: AnswerIn, deps: Deps, token: SurveyToken) -> dict[str, Any]:
    """A household answers once with its token (no login)."""
    await survey_handling.answer(deps.units(), token, body.scores, body.comment)
    return {"status": "answered", "message_zh": "感谢您的评价", "message_en": "thank you"}


@router.get("/surveys/questions")
async def questions(deps: Deps, token: SurveyToken) -> dict[str, Any]:
    """The questions of the token's survey, for the answering form."""
    s = await survey_handling.questions_for_token(deps.units(), token)
    return {
        "survey_id": s.survey_id,
        "status": s.status,
        "closes_at": s.closes_at,
        "questions": [{"id": q.id, "zh": q.label_zh, "en": q.label_en} for q in s.questions],
    }


@router.get("/surveys/results")
async def enterprise_results(
    deps: Deps,
    principal: Reader,
    enterprise_id: Annotated[str, Query(min_length=1, max_length=64)],
    campaign_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Pooled over the enterprise's surveys in your scope (each household weighs the same)."""
    pooled, count = await survey_handling.enterprise_results(
        deps.units(), principal, enterprise_id, campaign_id
    )
    return {
        "enterprise_id": enterprise_id,
        "campaign_id": campaign_id,
        "surveys": count,
        **_results(pooled),
    }


@router.post("/surveys/{survey_id}/tokens", status_code=201)
async def issue_tokens(
    survey_id: str, body: TokensIn, deps: Deps, principal: Enterprise
) -> dict[str, Any]:
    tokens = await survey_handling.issue_tokens(deps.units(), principal, survey_id, body.count)
    return {"survey_id": survey_id, "tokens": tokens}


@router.post("/surveys/{survey_id}/close")
async def close(
    survey_id: str, deps: Deps, trace: RequestTrace, principal: Enterprise
) -> dict[str, Any]:
    closed, results = await survey_handling.close(deps.units(), principal, survey_id, trace=trace)
    return {**_survey(closed), "results": _results(results)}


@router.get("/surveys/{survey_id}/results")
async def results(survey_id: str, deps: Deps, principal: Reader) -> dict[str, Any]:
    row = await survey_handling.results(deps.units(), principal, survey_id)
    return {
        **_survey(row.survey, row.district_code),
        "results": _results(survey_model.results(row.survey)),
    }


@router.get("/surveys/{survey_id}/comments")
async def comments(survey_id: str, deps: Deps, principal: Reader) -> dict[str, Any]:
    """调查留言: the owners' comments of a closed survey, for the enterprise (its projects), the
    district office (its district) and the city office; never public. Phone numbers, ID-card
    numbers, e-mail addresses and names are masked; the order says nothing of when each was
    written. While the survey is open: 409 `survey_still_open`, as for its results."""
    found = await survey_handling.comments(deps.units(), principal, survey_id)
    return {
        **_survey(found.row.survey, found.row.district_code),
        "responses": found.row.survey.tally.responses,
        "comments": found.comments,
    }
