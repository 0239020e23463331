"""Grades of the public board (绿/黄/红 green/yellow/red): pure rules, no I/O.

A project's grade comes from four indicators and one fact:

- mean inspection score (平均检查得分, 0..100, self-inspections and patrols alike; None: none yet),
- on-time rectification rate (按期整改率): orders verified on time and never overdue / orders due
  (verified, overdue or closed as 整改不到位); None while no order is due,
- on-time completion rate of complaints (按期办结率): complaints closed and never past their
  completion deadline / complaints due (closed, or past that deadline while still open); None while
  none is due,
- satisfaction rate (满意率) of the latest closed survey that has responses; None without one,
- whether the project has an exposure case that is published now (公开曝光中).

    red     a published case, or on-time rectification < 60 %, or satisfaction < 60 %,
            or mean score < 60;
    green   not red, at least one inspection, mean score >= 85, on-time rectification and
            on-time completion >= 90 % and satisfaction >= 80 % (each where known);
    yellow  otherwise.

An enterprise is red if any of its projects is red, green if it has projects and all are green,
else yellow. Unknown rates (None) never make a grade worse: a project is judged on what is known,
but it needs at least one inspection to be green. Boundaries are inclusive for the better grade
(exactly 60 % is not red, exactly 85 / 90 % / 80 % can be green).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

Grade = Literal["green", "yellow", "red"]

RED_BELOW_SCORE = 60.0
RED_BELOW_RECTIFICATION = 0.60
RED_BELOW_SATISFACTION = 0.60
GREEN_FROM_SCORE = 85.0
GREEN_FROM_RECTIFICATION = 0.90
GREEN_FROM_COMPLETION = 0.90
GREEN_FROM_SATISFACTION = 0.80

LABELS: dict[Grade, tuple[str, str]] = {
    "green": ("绿色（良好）", "green (good)"),
    "yellow": ("黄色（需关注）", "yellow (watch)"),
    "red": ("红色（问题突出）", "red (serious problems)"),
}
"""Grade -> (Chinese, English) label. The colours are traffic lights (red is the worst), which is
the opposite of 红榜 (the honour roll), so a label always says what the colour means."""
LISTS: dict[Grade, tuple[str, str]] = {
    "green": ("红榜", "Honour roll"),
    "yellow": ("关注名单", "Watch list"),
    "red": ("黑榜", "Black list"),
}
"""Grade -> the board list it puts an enterprise on: 红榜 the best, 黑榜 the worst."""

FORMULA_ZH = (
    "红色（列入黑榜）：正在公开曝光，或按期整改率低于60%，或满意率低于60%，或检查平均得分低于60分。"
    "绿色（列入红榜）：至少有一次检查，检查平均得分不低于85分，按期整改率和投诉按期办结率均不低于"
    "90%，满意率不低于80%（尚无数据的指标不计），且未被公开曝光。其余为黄色（列入关注名单）。"
    "企业：任一项目为红色则为红色，全部项目为绿色则为绿色，否则为黄色。"
    "按期整改率 = 按期验收合格且未逾期的整改单 ÷ 已到期的整改单（已验收、已逾期或整改不到位）；"
    "按期办结率 = 未超办结时限即办结的投诉 ÷ 已到期的投诉（已办结或已超办结时限）；"
    "满意率取最近一次有答卷的满意度调查。"
)
FORMULA_EN = (
    "Red (black list): an exposure case is published, or on-time rectification is below 60%, or satisfaction is "
    "below 60%, or the mean inspection score is below 60. Green (honour roll): at least one inspection, a mean "
    "score of 85 or more, on-time rectification and on-time complaint completion of 90% or more, "
    "satisfaction of 80% or more (indicators without data are not counted), and no published "
    "case. Yellow (watch list) otherwise. An enterprise is red if any of its projects is red, green if all its "
    "projects are green, yellow otherwise. On-time rectification = orders verified on time and "
    "never overdue / orders due (verified, overdue or inadequately rectified); on-time completion "
    "= complaints closed within the completion deadline / complaints due (closed or past that "
    "deadline); satisfaction is from the latest survey with responses."
)


@dataclass(frozen=True)
class Reason:
    """One short, bilingual reason behind a grade; `code` is stable for programs and tests."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class GradeInputs:
    """What a project is graded on. Rates are 0..1, the score 0..100; None means no data."""

    mean_score: float | None
    on_time_rectification_rate: float | None
    on_time_completion_rate: float | None
    satisfaction_rate: float | None
    published_case: bool


@dataclass(frozen=True)
class Assessment:
    grade: Grade
    reasons: tuple[Reason, ...]

    @property
    def label_zh(self) -> str:
        return LABELS[self.grade][0]

    @property
    def label_en(self) -> str:
        return LABELS[self.grade][1]


def rate(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when there is nothing to count."""
    if denominator < 0 or numerator < 0 or numerator > denominator:
        raise ValueError(f"not a rate: {numerator}/{denominator}")
    return None if denominator == 0 else numerator / denominator


def _down(value: float) -> float:
    """Rounded down to one decimal (with a little slack for binary fractions), so a value just
    below a threshold never reads as the threshold itself ("60.0% below 60%")."""
    return math.floor(value * 10 + 1e-9) / 10


def _pct(value: float) -> str:
    return f"{_down(value * 100):.1f}%"


def _score(value: float) -> str:
    return f"{_down(value):.1f}"


def grade_project(inputs: GradeInputs) -> Assessment:
    """The project's grade and every reason for it (for red: all red reasons; for yellow: what
    keeps it from green)."""
    score = inputs.mean_score
    rectification = inputs.on_time_rectification_rate
    completion = inputs.on_time_completion_rate
    satisfaction = inputs.satisfaction_rate

    red: list[Reason] = []
    if inputs.published_case:
        red.append(Reason("published_case", "正在公开曝光", "an exposure case is published"))
    if rectification is not None and rectification < RED_BELOW_RECTIFICATION:
        red.append(
            Reason(
                "rectification_low",
                f"按期整改率 {_pct(rectification)} 低于 60%",
                f"on-time rectification {_pct(rectification)} below 60%",
            )
        )
    if satisfaction is not None and satisfaction < RED_BELOW_SATISFACTION:
        red.append(
            Reason(
                "satisfaction_low",
                f"满意率 {_pct(satisfaction)} 低于 60%",
                f"satisfaction {_pct(satisfaction)} below 60%",
            )
        )
    if score is not None and score < RED_BELOW_SCORE:
        red.append(
            Reason(
                "score_low",
                f"检查平均得分 {_score(score)} 低于 60 分",
                f"mean inspection score {_score(score)} below 60",
            )
        )
    if red:
        return Assessment("red", tuple(red))

    short: list[Reason] = []
    if score is None:
        short.append(Reason("no_inspection", "尚无检查记录", "no inspection yet"))
    elif score < GREEN_FROM_SCORE:
        short.append(
            Reason(
                "score_below_green",
                f"检查平均得分 {_score(score)} 低于 85 分",
                f"mean inspection score {_score(score)} below 85",
            )
        )
    if rectification is not None and rectification < GREEN_FROM_RECTIFICATION:
        short.append(
            Reason(
                "rectification_below_green",
                f"按期整改率 {_pct(rectification)} 低于 90%",
                f"on-time rectification {_pct(rectification)} below 90%",
            )
        )
    if completion is not None and completion < GREEN_FROM_COMPLETION:
        short.append(
            Reason(
                "completion_below_green",
                f"投诉按期办结率 {_pct(completion)} 低于 90%",
                f"on-time complaint completion {_pct(completion)} below 90%",
            )
        )
    if satisfaction is not None and satisfaction < GREEN_FROM_SATISFACTION:
        short.append(
            Reason(
                "satisfaction_below_green",
                f"满意率 {_pct(satisfaction)} 低于 80%",
                f"satisfaction {_pct(satisfaction)} below 80%",
            )
        )
    if short:
        return Assessment("yellow", tuple(short))
    return Assessment(
        "green", (Reason("all_met", "各项指标均达标", "every indicator meets the standard"),)
    )


def grade_enterprise(projects: Iterable[Assessment]) -> Assessment:
    """Red if any project is red, green if there are projects and all are green, else yellow."""
    counts: dict[Grade, int] = {"green": 0, "yellow": 0, "red": 0}
    for assessment in projects:
        counts[assessment.grade] += 1
    total = sum(counts.values())
    if counts["red"]:
        n = counts["red"]
        return Assessment(
            "red",
            (Reason("red_projects", f"{n} 个项目为红色", f"{n} project{'s' * (n != 1)} red"),),
        )
    if total == 0:
        return Assessment(
            "yellow", (Reason("no_projects", "尚无登记项目", "no registered project"),)
        )
    if counts["green"] == total:
        return Assessment("green", (Reason("all_green", "全部项目为绿色", "all projects green"),))
    n = counts["yellow"]
    return Assessment(
        "yellow",
        (Reason("yellow_projects", f"{n} 个项目为黄色", f"{n} project{'s' * (n != 1)} yellow"),),
    )
