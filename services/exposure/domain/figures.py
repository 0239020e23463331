"""The campaign's own figures (issue 16): per campaign (or all time), per district and per
enterprise, the counts the fact tables hold and the rates computed from them; which of them the
public board shows; their CSV.

Attribution: a fact belongs to a campaign when its own time falls within the campaign's dates
(`Window`: first day of its earliest phase to last day of its latest phase seen, China time, both
inclusive) — an inspection by when it took place, an order by when it was issued (its deadline when
the order event was not seen), a complaint by when it was filed, a survey by when it closed, an
activity by the day it was held, a case by when it opened. Plans are the campaign's own (by id).

Public subset (the board): what the offices did and what owners experienced — patrols and their
failures by item group, rectification on time, complaints accepted and closed within SLA,
satisfaction and survey coverage, activities held, published cases. Kept to the city office's page:
self-inspections (the enterprise's own checks: publishing them would reward checking less),
activity plans (an administrative duty between the offices and the enterprises, not a service
outcome), and cases not yet published (open, in review, held: the objection process has not
decided them)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Literal

CHINA = timezone(timedelta(hours=8))
By = Literal["district", "enterprise"]

GROUPS: tuple[tuple[str, str, str], ...] = (
    ("premises", "房屋", "Premises"),
    ("waste", "垃圾", "Waste"),
    ("greenery", "绿化", "Greenery"),
    ("order", "秩序", "Order"),
    ("facilities", "设施设备", "Facilities"),
)
"""The five item groups of the contract checklist (contract-self-inspection.v1)."""


@dataclass(frozen=True)
class Window:
    """What the figures cover: a campaign's dates, or all time (no campaign, no dates)."""

    campaign_id: str | None = None
    title_zh: str | None = None
    starts_on: date | None = None
    ends_on: date | None = None

    @property
    def start(self) -> datetime | None:
        """The first instant (China midnight of the first day), None for all time."""
        return None if self.starts_on is None else datetime.combine(self.starts_on, time(), CHINA)

    @property
    def end(self) -> datetime | None:
        """The first instant after the window (midnight after the last day), None for open."""
        if self.ends_on is None:
            return None
        return datetime.combine(self.ends_on + timedelta(days=1), time(), CHINA)


ALL_TIME = Window()


def rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True)
class Figures:
    """One district's or enterprise's figures in a window: counts, and the rates computed from
    them (None where nothing was due)."""

    by: By
    key: str
    name: str
    self_inspections: int = 0
    self_failed: int = 0
    patrols: int = 0
    patrols_failed: int = 0
    group_failures: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """(kind, group) -> inspections of that kind with at least one failed item of the group."""
    orders_due: int = 0
    orders_on_time: int = 0
    complaints_filed: int = 0
    complaints_acceptance_due: int = 0
    complaints_accepted_on_time: int = 0
    complaints_due: int = 0
    complaints_on_time: int = 0
    surveys_closed: int = 0
    survey_households: int = 0
    survey_responses: int = 0
    satisfied: float = 0.0
    """Sum over surveys with a satisfaction rate of rate x responses."""
    rated_responses: int = 0
    cultural_activities: int = 0
    publicity_activities: int = 0
    activity_participants: int = 0
    cases_opened: int = 0
    cases_published: int = 0
    plans_submitted: int | None = None
    plans_due: int | None = None

    @property
    def inspections(self) -> int:
        return self.self_inspections + self.patrols

    def group_failure_rate(self, group: str, *, patrols_only: bool = False) -> float | None:
        """Share of inspections (patrols only, or both kinds) with at least one failed item of
        the group."""
        kinds = ("patrol",) if patrols_only else ("self", "patrol")
        failed = sum(self.group_failures.get((k, group), 0) for k in kinds)
        return rate(failed, self.patrols if patrols_only else self.inspections)

    @property
    def on_time_rectification_rate(self) -> float | None:
        return rate(self.orders_on_time, self.orders_due)

    @property
    def acceptance_rate(self) -> float | None:
        """签收及时率 accepted before the acceptance deadline / accepted or past it."""
        return rate(self.complaints_accepted_on_time, self.complaints_acceptance_due)

    @property
    def completion_rate(self) -> float | None:
        """按期办结率 closed and never past the completion deadline / closed or past it."""
        return rate(self.complaints_on_time, self.complaints_due)

    @property
    def satisfaction_rate(self) -> float | None:
        if not self.rated_responses:
            return None
        return min(1.0, max(0.0, self.satisfied / self.rated_responses))

    @property
    def survey_coverage(self) -> float | None:
        """答卷覆盖率 responses / households surveyed (one answer per household: the survey's
        tokens are issued per household), over the surveys closed in the window."""
        return rate(self.survey_responses, self.survey_households)

    @property
    def activities(self) -> int:
        return self.cultural_activities + self.publicity_activities


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value  # no spreadsheet formulas


Value = int | float | None
Kind = Literal["count", "rate"]


@dataclass(frozen=True)
class Column:
    """One figure as every representation shows it: `key` is its JSON field, `header` its CSV
    header (Chinese, then English); a count is a whole number (None: not applicable), a rate a
    fraction 0-1 (None: nothing was due), shown in percent with one decimal on pages and in CSV."""

    key: str
    header: str
    public: bool
    kind: Kind
    value: Callable[[Figures], Value]

    def csv_cell(self, f: Figures) -> str:
        v = self.value(f)
        if self.kind == "rate":
            return _pct(None if v is None else float(v))
        return "" if v is None else str(v)


def _group_rate(group: str, *, patrols_only: bool) -> Callable[[Figures], Value]:
    return lambda f: f.group_failure_rate(group, patrols_only=patrols_only)


def _all_columns() -> tuple[Column, ...]:
    full: list[Column] = [
        Column(
            "plans_submitted",
            "已交活动方案 Plans submitted",
            False,
            "count",
            lambda f: f.plans_submitted,
        ),
        Column("plans_due", "应交活动方案 Plans due", False, "count", lambda f: f.plans_due),
        Column(
            "self_inspections",
            "企业自查 Self-inspections",
            False,
            "count",
            lambda f: f.self_inspections,
        ),
        Column(
            "self_inspections_failed",
            "自查不合格 Self-inspections failed",
            False,
            "count",
            lambda f: f.self_failed,
        ),
        Column("patrols", "巡查 Patrols", True, "count", lambda f: f.patrols),
        Column(
            "patrols_failed", "巡查不合格 Patrols failed", True, "count", lambda f: f.patrols_failed
        ),
    ]
    for group, zh, en in GROUPS:
        full.append(
            Column(
                f"{group}_failure_rate_all_inspections",
                f"{zh}不合格率（%，全部检查） {en} failure rate (%, all inspections)",
                False,
                "rate",
                _group_rate(group, patrols_only=False),
            )
        )
        full.append(
            Column(
                f"{group}_failure_rate_patrols",
                f"{zh}不合格率（%，巡查） {en} failure rate (%, patrols)",
                True,
                "rate",
                _group_rate(group, patrols_only=True),
            )
        )
    full += [
        Column("orders_due", "应整改 Orders due", True, "count", lambda f: f.orders_due),
        Column("orders_on_time", "按期整改 Rectified on time", True, "count",
               lambda f: f.orders_on_time),
        Column("on_time_rectification_rate", "按期整改率（%） On-time rectification (%)", True,
               "rate", lambda f: f.on_time_rectification_rate),
        Column("complaints_filed", "受理投诉 Complaints filed", True, "count",
               lambda f: f.complaints_filed),
        Column("complaints_acceptance_due", "应签收 Acceptance due", True, "count",
               lambda f: f.complaints_acceptance_due),
        Column("complaints_accepted_on_time", "按时签收 Accepted within SLA", True, "count",
               lambda f: f.complaints_accepted_on_time),
        Column("acceptance_rate", "签收及时率（%） Accepted within SLA (%)", True, "rate",
               lambda f: f.acceptance_rate),
        Column("complaints_completion_due", "应办结 Completion due", True, "count",
               lambda f: f.complaints_due),
        Column("complaints_closed_on_time", "按期办结 Closed within SLA", True, "count",
               lambda f: f.complaints_on_time),
        Column("completion_rate", "按期办结率（%） Closed within SLA (%)", True, "rate",
               lambda f: f.completion_rate),
        Column("surveys_closed", "满意度调查 Surveys closed", True, "count",
               lambda f: f.surveys_closed),
        Column("survey_households", "调查户数 Households surveyed", True, "count",
               lambda f: f.survey_households),
        Column("survey_responses", "答卷 Responses", True, "count", lambda f: f.survey_responses),
        Column("survey_coverage", "答卷覆盖率（%） Survey coverage (%)", True, "rate",
               lambda f: f.survey_coverage),
        Column("satisfaction_rate", "满意率（%） Satisfaction (%)", True, "rate",
               lambda f: f.satisfaction_rate),
        Column("cultural_activities", "文化活动 Cultural activities", True, "count",
               lambda f: f.cultural_activities),
        Column("publicity_activities", "宣传活动 Publicity activities", True, "count",
               lambda f: f.publicity_activities),
        Column("activity_participants", "活动参与人次 Participants", True, "count",
               lambda f: f.activity_participants),
        Column("cases_opened", "新立曝光案件 Cases opened", False, "count",
               lambda f: f.cases_opened),
        Column("cases_published", "已公开曝光 Cases published", True, "count",
               lambda f: f.cases_published),
    ]  # fmt: skip
    return tuple(full)


COLUMNS: tuple[Column, ...] = _all_columns()
"""Every figure, in the order the CSV and the JSON give them."""


def columns(public: bool) -> list[Column]:
    """Every column, or the public ones (the board's page, CSV and JSON)."""
    return [c for c in COLUMNS if c.public or not public]


_KEYS: dict[By, tuple[str, str]] = {
    "district": ("区划代码 District code", "区县 District"),
    "enterprise": ("企业编号 Enterprise id", "企业 Enterprise"),
}


def figures_csv(window: Window, rows: Sequence[Figures], by: By, *, public: bool) -> str:
    """The figures as CSV (Excel BOM, Chinese + English headers, rates in percent with one
    decimal, empty for nothing due); the first two columns name the window."""
    if any(r.by != by for r in rows):
        raise ValueError(f"figures_csv(by={by!r}) was given figures of another kind")
    chosen = columns(public)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["专项行动 Campaign", "起止日期 Dates", *_KEYS[by], *(c.header for c in chosen)]
    )
    campaign = _text(window.campaign_id or "全部 all time")
    dates = (
        f"{window.starts_on.isoformat()}/{window.ends_on.isoformat()}"
        if window.starts_on and window.ends_on
        else ""
    )
    for r in rows:
        writer.writerow([campaign, dates, _text(r.key), _text(r.name),
                         *(c.csv_cell(r) for c in chosen)])  # fmt: skip
    return "\ufeff" + buffer.getvalue()


def window_json(window: Window) -> dict[str, object]:
    return {
        "campaign_id": window.campaign_id,
        "title_zh": window.title_zh,
        "starts_on": window.starts_on,
        "ends_on": window.ends_on,
    }


def figures_json(
    window: Window,
    campaigns: Sequence[Window],
    rows: Sequence[Figures],
    by: By,
    district_code: str | None,
    *,
    public: bool,
) -> dict[str, object]:
    """The figures as the JSON API gives them: the window and the campaigns to choose from, what
    a row is (`by`: a district, or an enterprise of `district_code`), and per row its key, name
    and the columns' values (`COLUMNS`' keys; rates as fractions 0-1, null when nothing was
    due): the same columns and numbers as the CSV, nothing else."""
    if any(r.by != by for r in rows):
        raise ValueError(f"figures_json(by={by!r}) was given figures of another kind")
    chosen = columns(public)
    return {
        "campaign": window_json(window),
        "campaigns": [window_json(c) for c in campaigns],
        "by": by,
        "district_code": district_code,
        "rows": [
            {"key": r.key, "name": r.name, **{c.key: c.value(r) for c in chosen}} for r in rows
        ],
    }
