"""Owner satisfaction surveys: the campaign window, one-time tokens (one answer per household),
score checks, and the aggregation per project and per enterprise."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from functools import partial

import pytest

from runtime.calendar import CHINA
from services.complaints.domain import survey as sv


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


# the notice's activity window, 2011-08-01 .. 2011-10-31
CAMPAIGN = sv.Campaign("2011-quality-month", at(2011, 8, 1, 0), at(2011, 11, 1, 0))
OPENED = at(2011, 8, 20)
QUESTIONS = (
    sv.Question("overall", "总体满意度", "Overall"),
    sv.Question("cleaning", "环境卫生", "Cleaning"),
)


def counter() -> Callable[[int], bytes]:
    """A deterministic entropy source: distinct bytes on every call."""
    calls: Iterator[int] = iter(range(1, 10_000))
    return lambda n: next(calls).to_bytes(n, "big")


def opened(
    households: int = 10,
    *,
    project_id: str = "P-1",
    enterprise_id: str = "E-1",
    questions: tuple[sv.Question, ...] = QUESTIONS,
) -> sv.Survey:
    return sv.open_survey(
        survey_id=f"S-{project_id}",
        enterprise_id=enterprise_id,
        project_id=project_id,
        households=households,
        campaign=CAMPAIGN,
        now=OPENED,
        questions=questions,
    )


def with_tokens(survey: sv.Survey, count: int | None = None) -> tuple[sv.Survey, list[str]]:
    return sv.issue_tokens(survey, survey.households if count is None else count, counter())


def answered(survey: sv.Survey, tokens: list[str], *scores: tuple[int, int]) -> sv.Survey:
    for token, (overall, cleaning) in zip(tokens, scores, strict=False):
        survey = sv.answer(survey, token, {"overall": overall, "cleaning": cleaning}, OPENED)
    return survey


def refused(action: Callable[[], object]) -> sv.TransitionRefused:
    with pytest.raises(sv.TransitionRefused) as info:
        action()
    return info.value


# --- opening -------------------------------------------------------------------------------------


def test_a_survey_opens_inside_the_campaign_window_and_closes_at_its_end() -> None:
    survey = sv.open_survey(
        survey_id="S-1",
        enterprise_id="E-1",
        project_id="P-1",
        households=480,
        campaign=CAMPAIGN,
        now=OPENED,
    )
    assert survey.status == "open"
    assert survey.campaign_id == "2011-quality-month"
    assert survey.closes_at == CAMPAIGN.ends_at
    assert survey.questions == sv.DEFAULT_QUESTIONS
    assert survey.questions[0].id == "overall"
    assert survey.tally == sv.Tally()


@pytest.mark.parametrize("now", [at(2011, 7, 31, 23, 59), at(2011, 11, 1, 0), at(2012, 3, 1)])
def test_outside_the_campaign_window_no_survey_opens(now: datetime) -> None:
    error = refused(
        lambda: sv.open_survey(
            survey_id="S-1",
            enterprise_id="E-1",
            project_id="P-1",
            households=10,
            campaign=CAMPAIGN,
            now=now,
        )
    )
    assert error.code == "outside_campaign"
    assert error.field is None


def test_opening_checks_its_fields() -> None:
    def open_with(**kw: object) -> object:
        args: dict[str, object] = {
            "survey_id": "S-1",
            "enterprise_id": "E-1",
            "project_id": "P-1",
            "households": 10,
            "campaign": CAMPAIGN,
            "now": OPENED,
        }
        return sv.open_survey(**{**args, **kw})  # type: ignore[arg-type]

    assert refused(lambda: open_with(closes_at=at(2011, 11, 2))).field == "closes_at"
    assert refused(lambda: open_with(closes_at=OPENED)).field == "closes_at"
    for households in (0, -5, True, 100_001):
        assert refused(partial(open_with, households=households)).field == "households"
    no_overall = (sv.Question("cleaning", "环境卫生", "Cleaning"),)
    assert refused(lambda: open_with(questions=no_overall)).field == "questions"
    twice = (*QUESTIONS, sv.Question("cleaning", "卫生", "Cleaning"))
    assert refused(lambda: open_with(questions=twice)).field == "questions"
    early = open_with(closes_at=at(2011, 9, 30))
    assert isinstance(early, sv.Survey)
    assert early.closes_at == at(2011, 9, 30)


# --- tokens --------------------------------------------------------------------------------------


def test_tokens_are_kept_only_as_hashes() -> None:
    survey, tokens = with_tokens(opened(3))
    assert len(tokens) == len(set(tokens)) == 3
    assert survey.token_hashes == {hashlib.sha256(t.encode()).hexdigest() for t in tokens}
    assert not set(tokens) & survey.token_hashes
    assert all(len(t) == 22 for t in tokens)  # 128 bits, base64url without padding


def test_real_tokens_are_random() -> None:
    survey, first = sv.issue_tokens(opened(4), 2)
    _, second = sv.issue_tokens(survey, 2)
    assert len(set(first) | set(second)) == 4


def test_never_more_tokens_than_households() -> None:
    survey, _ = with_tokens(opened(3), 2)
    error = refused(lambda: sv.issue_tokens(survey, 2, counter()))
    assert (error.code, error.field) == ("too_many_tokens", "count")
    assert refused(lambda: sv.issue_tokens(survey, 0, counter())).code == "too_many_tokens"


def test_an_entropy_source_that_repeats_itself_is_caught() -> None:
    with pytest.raises(ValueError, match="repeated"):
        sv.issue_tokens(opened(3), 2, lambda n: b"\x00" * n)


# --- answering -----------------------------------------------------------------------------------


def test_each_household_answers_once() -> None:
    survey, tokens = with_tokens(opened(3))
    once = sv.answer(survey, tokens[0], {"overall": 5, "cleaning": 4}, OPENED)
    assert once.tally.responses == 1
    error = refused(lambda: sv.answer(once, tokens[0], {"overall": 1, "cleaning": 1}, OPENED))
    assert error.code == "token_used"
    assert "每户只能答一次" in error.zh
    assert error.field is None
    # the refused second answer changed nothing; another household still answers
    twice = sv.answer(once, tokens[1], {"overall": 3, "cleaning": 3}, OPENED)
    assert twice.tally == sv.Tally(
        2, 1, {"overall": 8, "cleaning": 7}, {"overall": 2, "cleaning": 2}
    )


def test_an_unknown_token_or_one_of_another_survey_is_refused() -> None:
    survey, _ = with_tokens(opened(3))
    other, other_tokens = sv.issue_tokens(opened(3, project_id="P-2"), 1)
    assert other.token_hashes
    for token in ("guessed-token", other_tokens[0]):
        error = refused(partial(sv.answer, survey, token, {"overall": 5, "cleaning": 5}, OPENED))
        assert (error.code, error.field) == ("bad_token", "token")


@pytest.mark.parametrize(
    ("scores", "field"),
    [
        ({"overall": 5}, "scores.cleaning"),
        ({"overall": 0, "cleaning": 3}, "scores.overall"),
        ({"overall": 6, "cleaning": 3}, "scores.overall"),
        ({"overall": 5, "cleaning": True}, "scores.cleaning"),
        ({"overall": 4.5, "cleaning": 3}, "scores.overall"),
        ({"overall": 5, "cleaning": 5, "parking": 1}, "scores.parking"),
    ],
)
def test_every_question_needs_a_whole_score_from_1_to_5(scores: dict[str, int], field: str) -> None:
    survey, tokens = with_tokens(opened(2))
    error = refused(lambda: sv.answer(survey, tokens[0], scores, OPENED))
    assert error.field == field
    # a refused answer does not use up the token
    assert sv.answer(survey, tokens[0], {"overall": 5, "cleaning": 5}, OPENED).tally.responses == 1


def test_no_answers_after_the_closing_time_or_after_closing() -> None:
    survey, tokens = with_tokens(opened(2))
    late = refused(
        lambda: sv.answer(survey, tokens[0], {"overall": 5, "cleaning": 5}, CAMPAIGN.ends_at)
    )
    assert late.code == "survey_closed"
    closed, _ = sv.close(survey, at(2011, 9, 1))
    after = refused(
        lambda: sv.answer(closed, tokens[0], {"overall": 5, "cleaning": 5}, at(2011, 9, 2))
    )
    assert after.code == "survey_closed"
    assert refused(lambda: sv.issue_tokens(closed, 1, counter())).code == "survey_closed"


# --- closing and the scores ----------------------------------------------------------------------


def test_close_returns_the_scores_of_the_project() -> None:
    survey, tokens = with_tokens(opened(10))
    survey = answered(survey, tokens, (5, 4), (4, 2), (2, 3), (3, 5))
    closed, results = sv.close(survey, at(2011, 10, 31, 12))
    assert (closed.status, closed.closed_at) == ("closed", at(2011, 10, 31, 12))
    assert results == sv.Results(
        enterprise_id="E-1",
        project_id="P-1",
        households=10,
        responses=4,
        coverage=0.4,
        satisfaction_rate=0.5,  # overall 5 and 4 count; 2 and 3 do not
        means={"overall": 3.5, "cleaning": 3.5},
    )
    assert refused(lambda: sv.close(closed, at(2011, 11, 1))).code == "survey_closed"


def test_satisfaction_counts_overall_4_and_above_only() -> None:
    survey, tokens = with_tokens(opened(3))
    survey = answered(survey, tokens, (4, 1), (3, 5), (5, 1))
    results = sv.results(survey)
    assert results.satisfaction_rate == pytest.approx(2 / 3)
    assert results.means == {"overall": 4.0, "cleaning": pytest.approx(7 / 3)}


def test_a_survey_nobody_answered_has_no_rate_and_no_means() -> None:
    _, results = sv.close(opened(50), at(2011, 10, 31))
    assert (results.responses, results.coverage, results.satisfaction_rate) == (0, 0.0, None)
    assert results.means == {"overall": None, "cleaning": None}


def test_the_timer_closes_a_survey_at_its_closing_time() -> None:
    survey = opened(5)
    assert not sv.due_to_close(survey, CAMPAIGN.ends_at - timedelta(microseconds=1))
    assert sv.due_to_close(survey, CAMPAIGN.ends_at)
    closed, _ = sv.close(survey, CAMPAIGN.ends_at)
    assert not sv.due_to_close(closed, at(2011, 12, 1))


# --- per enterprise ------------------------------------------------------------------------------


def test_enterprise_results_pool_all_responses_not_project_means() -> None:
    a, a_tokens = with_tokens(opened(10, project_id="P-A"))
    a = answered(a, a_tokens, (5, 5), (5, 3))
    b, b_tokens = with_tokens(opened(30, project_id="P-B"))
    b = answered(b, b_tokens, (1, 2))
    results = sv.enterprise_results("E-1", [a, b])
    assert results.project_id is None
    assert (results.households, results.responses) == (40, 3)
    assert results.coverage == 3 / 40
    assert results.satisfaction_rate == pytest.approx(2 / 3)
    # pooled: (5 + 5 + 1) / 3, not the mean of the project means (5 + 1) / 2 = 3
    assert results.means["overall"] == pytest.approx(11 / 3)
    assert results.means["cleaning"] == pytest.approx(10 / 3)


def test_enterprise_means_cover_questions_only_some_surveys_asked() -> None:
    extra = (*QUESTIONS, sv.Question("parking", "停车管理", "Parking"))
    a, a_tokens = with_tokens(opened(4, project_id="P-A", questions=extra))
    a = sv.answer(a, a_tokens[0], {"overall": 4, "cleaning": 4, "parking": 2}, OPENED)
    b, b_tokens = with_tokens(opened(4, project_id="P-B"))
    b = answered(b, b_tokens, (2, 2), (2, 2))
    results = sv.enterprise_results("E-1", [a, b])
    assert results.means == {
        "overall": pytest.approx(8 / 3),
        "cleaning": pytest.approx(8 / 3),
        "parking": 2.0,  # over the one response that was asked
    }


def test_enterprise_results_refuse_another_enterprises_survey_and_nothing() -> None:
    with pytest.raises(ValueError, match="not enterprise E-1"):
        sv.enterprise_results("E-1", [opened(3), opened(3, enterprise_id="E-2")])
    with pytest.raises(ValueError, match="no surveys"):
        sv.enterprise_results("E-1", [])


# --- SurveyMissing -------------------------------------------------------------------------------


def test_missing_lists_enterprises_without_any_survey_in_input_order_once() -> None:
    surveys = [opened(3, enterprise_id="E-2"), opened(3, enterprise_id="E-2", project_id="P-9")]
    closed, _ = sv.close(opened(3, enterprise_id="E-4"), at(2011, 9, 1))
    assert sv.missing(["E-3", "E-1", "E-2", "E-3", "E-4"], [*surveys, closed]) == ["E-3", "E-1"]
    assert sv.missing(["E-1"], []) == ["E-1"]
    assert sv.missing([], surveys) == []
