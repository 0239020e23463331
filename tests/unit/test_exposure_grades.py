"""The board's grade formula (绿/黄/红): None inputs, boundaries, reasons, enterprise folding."""

from __future__ import annotations

import pytest

from services.exposure.domain import grades
from services.exposure.domain.grades import Assessment, GradeInputs, grade_enterprise, grade_project

GOOD = GradeInputs(
    mean_score=92.0,
    on_time_rectification_rate=1.0,
    on_time_completion_rate=0.95,
    satisfaction_rate=0.9,
    published_case=False,
)


def inputs(**changes: object) -> GradeInputs:
    fields = {**GOOD.__dict__, **changes}
    return GradeInputs(**fields)  # type: ignore[arg-type]


def codes(a: Assessment) -> list[str]:
    return [r.code for r in a.reasons]


def test_a_project_meeting_every_standard_is_green() -> None:
    a = grade_project(GOOD)
    assert (a.grade, a.label_zh, a.label_en) == ("green", "绿色（良好）", "green (good)")
    assert codes(a) == ["all_met"]


def test_nothing_known_is_yellow_because_there_is_no_inspection() -> None:
    a = grade_project(GradeInputs(None, None, None, None, published_case=False))
    assert a.grade == "yellow"
    assert codes(a) == ["no_inspection"]
    assert a.reasons[0].zh == "尚无检查记录"


def test_unknown_rates_do_not_block_green_but_an_inspection_is_needed() -> None:
    only_score = GradeInputs(85.0, None, None, None, published_case=False)
    assert grade_project(only_score).grade == "green"
    perfect_rates_no_inspection = inputs(mean_score=None)
    assert grade_project(perfect_rates_no_inspection).grade == "yellow"
    assert codes(grade_project(perfect_rates_no_inspection)) == ["no_inspection"]


def test_a_published_case_makes_any_project_red() -> None:
    a = grade_project(inputs(published_case=True))
    assert a.grade == "red"
    assert codes(a) == ["published_case"]
    assert a.reasons[0].zh == "正在公开曝光"
    # even without any other data
    assert grade_project(GradeInputs(None, None, None, None, published_case=True)).grade == "red"


@pytest.mark.parametrize(
    ("field", "red_value", "not_red_value", "code"),
    [
        ("on_time_rectification_rate", 0.5999, 0.60, "rectification_low"),
        ("satisfaction_rate", 0.5999, 0.60, "satisfaction_low"),
        ("mean_score", 59.99, 60.0, "score_low"),
    ],
)
def test_red_thresholds_are_strictly_below_60(
    field: str, red_value: float, not_red_value: float, code: str
) -> None:
    red = grade_project(inputs(**{field: red_value}))
    assert red.grade == "red"
    assert codes(red) == [code]
    at_boundary = grade_project(inputs(**{field: not_red_value}))
    assert at_boundary.grade == "yellow"
    assert code not in codes(at_boundary)


def test_zero_rates_are_known_values_not_missing_data() -> None:
    assert codes(grade_project(inputs(on_time_rectification_rate=0.0))) == ["rectification_low"]
    assert codes(grade_project(inputs(satisfaction_rate=0.0))) == ["satisfaction_low"]
    assert codes(grade_project(inputs(mean_score=0.0))) == ["score_low"]


def test_complaint_completion_alone_never_makes_red() -> None:
    a = grade_project(inputs(on_time_completion_rate=0.0))
    assert a.grade == "yellow"
    assert codes(a) == ["completion_below_green"]


def test_green_boundaries_are_inclusive() -> None:
    exactly = GradeInputs(
        mean_score=85.0,
        on_time_rectification_rate=0.9,
        on_time_completion_rate=0.9,
        satisfaction_rate=0.8,
        published_case=False,
    )
    assert grade_project(exactly).grade == "green"
    # the ratios a page computes from counts land on the same boundaries
    assert grades.rate(9, 10) == 0.9
    assert grades.rate(27, 30) == 0.9
    assert grade_project(inputs(on_time_rectification_rate=grades.rate(27, 30))).grade == "green"


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("mean_score", 84.99, "score_below_green"),
        ("on_time_rectification_rate", 0.8999, "rectification_below_green"),
        ("on_time_completion_rate", 0.8999, "completion_below_green"),
        ("satisfaction_rate", 0.7999, "satisfaction_below_green"),
    ],
)
def test_just_below_a_green_threshold_is_yellow_with_that_reason(
    field: str, value: float, code: str
) -> None:
    a = grade_project(inputs(**{field: value}))
    assert a.grade == "yellow"
    assert codes(a) == [code]


def test_every_red_reason_is_listed_and_none_of_the_yellow_ones() -> None:
    a = grade_project(
        GradeInputs(
            mean_score=50.0,
            on_time_rectification_rate=0.25,
            on_time_completion_rate=0.1,
            satisfaction_rate=0.4,
            published_case=True,
        )
    )
    assert a.grade == "red"
    assert codes(a) == ["published_case", "rectification_low", "satisfaction_low", "score_low"]


def test_yellow_lists_everything_that_keeps_it_from_green() -> None:
    a = grade_project(
        GradeInputs(
            mean_score=70.0,
            on_time_rectification_rate=0.75,
            on_time_completion_rate=0.5,
            satisfaction_rate=0.7,
            published_case=False,
        )
    )
    assert a.grade == "yellow"
    assert codes(a) == [
        "score_below_green",
        "rectification_below_green",
        "completion_below_green",
        "satisfaction_below_green",
    ]
    assert a.reasons[1].zh == "按期整改率 75.0% 低于 90%"
    assert a.reasons[1].en == "on-time rectification 75.0% below 90%"


def test_a_value_just_under_a_threshold_never_reads_as_the_threshold() -> None:
    a = grade_project(inputs(satisfaction_rate=0.59996, mean_score=59.996))
    assert a.reasons[0].zh == "满意率 59.9% 低于 60%"
    assert a.reasons[1].en == "mean inspection score 59.9 below 60"


def test_rate() -> None:
    assert grades.rate(0, 0) is None
    assert grades.rate(0, 4) == 0.0
    assert grades.rate(4, 4) == 1.0
    assert grades.rate(3, 5) == 0.6
    for bad in ((5, 4), (-1, 4), (0, -1)):
        with pytest.raises(ValueError, match="not a rate"):
            grades.rate(*bad)


def _a(grade: grades.Grade) -> Assessment:
    return Assessment(grade, ())


def test_an_enterprise_is_red_if_any_project_is_red() -> None:
    a = grade_enterprise([_a("green"), _a("red"), _a("yellow"), _a("red")])
    assert a.grade == "red"
    assert codes(a) == ["red_projects"]
    assert (a.reasons[0].zh, a.reasons[0].en) == ("2 个项目为红色", "2 projects red")


def test_an_enterprise_is_green_only_if_all_its_projects_are() -> None:
    assert grade_enterprise([_a("green"), _a("green")]).grade == "green"
    mixed = grade_enterprise([_a("green"), _a("yellow")])
    assert mixed.grade == "yellow"
    assert mixed.reasons[0].en == "1 project yellow"


def test_an_enterprise_without_projects_is_not_green() -> None:
    a = grade_enterprise([])
    assert a.grade == "yellow"
    assert codes(a) == ["no_projects"]


def test_the_published_formula_states_the_thresholds_the_code_uses() -> None:
    for zh, en in (
        ("低于60%", "below 60%"),
        ("不低于85分", "85 or more"),
        ("不低于90%", "90% or more"),
    ):
        assert zh in grades.FORMULA_ZH
        assert en in grades.FORMULA_EN
    assert "满意率不低于80%" in grades.FORMULA_ZH
    assert "satisfaction of 80% or more" in grades.FORMULA_EN
    assert grades.RED_BELOW_SCORE == 60
    assert grades.GREEN_FROM_SCORE == 85
    assert (grades.GREEN_FROM_RECTIFICATION, grades.GREEN_FROM_COMPLETION) == (0.9, 0.9)
    assert grades.GREEN_FROM_SATISFACTION == 0.8


def test_the_honour_roll_is_the_best_and_the_black_list_the_worst() -> None:
    # 红榜 is the honour roll to a Chinese reader: it must never hold the red (worst) grade.
    assert grades.LISTS["green"][0] == "红榜"
    assert grades.LISTS["red"][0] == "黑榜"
    assert grades.FORMULA_ZH.startswith("红色（列入黑榜）")
    for grade, (zh, en) in grades.LABELS.items():
        assert "（" in zh, grade  # a colour always says what it means
        assert "(" in en, grade
