"""Campaigns (专项活动) and activity plans (具体活动方案): pure rules, no I/O, no clock.

A campaign is data: the 2011 notice 津物业〔2011〕4号 is one record (and the default template); next
year's campaign is another record with shifted dates. Its phases (四、时间安排) run on whole days in
China time, inclusive at both ends, one right after the other. In the planning phase (制定方案) every
district office with projects and every enterprise running projects submits its activity plan;
whoever has none when the phase's last day is over is overdue.

It stays whole because a campaign and its plans change for one reason, the notice: the phases
decide when plans are owed, and the plans are checked against the campaign's dates; split, each
half would have to know the other's rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum

from services.inspections.domain import actors

# Domain code may not import runtime; same fixed offset as runtime.scheduler.CHINA (no DST in China).
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
END_OF_DAY = time(23, 59, 59, 999999)
EARLIEST_YEAR, LATEST_YEAR = 2000, 2099
MAX_SPAN_DAYS = 366  # a campaign is a season's work, not a standing programme


class PhaseKind(StrEnum):
    MOBILISATION = "mobilisation"  # 动员部署
    PLANNING = "planning"  # 制定方案
    IMPLEMENTATION = "implementation"  # 实施


PHASE_ORDER = (PhaseKind.MOBILISATION, PhaseKind.PLANNING, PhaseKind.IMPLEMENTATION)
PHASE_TITLES = {
    PhaseKind.MOBILISATION: ("动员部署阶段", "Mobilisation"),
    PhaseKind.PLANNING: ("制定方案阶段", "Planning"),
    PhaseKind.IMPLEMENTATION: ("实施阶段", "Implementation"),
}


class SubmitterKind(StrEnum):
    DISTRICT = "district"
    ENTERPRISE = "enterprise"


SubmitterKey = tuple[SubmitterKind, str]
"""(kind, district code or enterprise id): who a plan belongs to."""


class CampaignError(ValueError):
    """Input that breaks a campaign rule; `field` names the offending input (body path)."""

    def __init__(self, code: str, zh: str, en: str, field: str) -> None:
        super().__init__(en)
        self.code, self.zh, self.en, self.field = code, zh, en, field


@dataclass(frozen=True)
class Refusal:
    """A request that is well-formed but not allowed now (a 409)."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class Phase:
    kind: PhaseKind
    starts_on: date
    ends_on: date  # inclusive

    @property
    def title_zh(self) -> str:
        return PHASE_TITLES[self.kind][0]

    @property
    def title_en(self) -> str:
        return PHASE_TITLES[self.kind][1]

    @property
    def starts_at(self) -> datetime:
        return datetime.combine(self.starts_on, time(0), tzinfo=CHINA)

    @property
    def ends_at(self) -> datetime:
        """The last instant of the phase: the end of its last day in China time."""
        return datetime.combine(self.ends_on, END_OF_DAY, tzinfo=CHINA)

    def contains(self, moment: datetime) -> bool:
        return self.starts_at <= moment <= self.ends_at


@dataclass(frozen=True)
class Campaign:
    campaign_id: str
    title_zh: str
    title_en: str
    notice_no: str | None  # 文号; None until the notice is issued
    window_starts_on: date  # 活动时间 (一、活动时间), inclusive
    window_ends_on: date
    phases: tuple[Phase, ...]

    @property
    def starts_on(self) -> date:
        return self.phases[0].starts_on

    @property
    def ends_on(self) -> date:
        return self.phases[-1].ends_on

    def phase(self, kind: PhaseKind) -> Phase | None:
        return next((p for p in self.phases if p.kind is kind), None)

    @property
    def planning(self) -> Phase:
        found = self.phase(PhaseKind.PLANNING)
        assert found is not None, "validate() guarantees a planning phase"
        return found

    def phase_at(self, moment: datetime) -> Phase | None:
        """The phase running at `moment` (any timezone), or None before or after the campaign."""
        return next((p for p in self.phases if p.contains(moment)), None)


def validate(c: Campaign) -> Campaign:
    """Return the campaign unchanged, or raise `CampaignError` naming the first offending field."""
    if not c.phases:
        raise CampaignError(
            "no_phases", "至少需要一个阶段", "at least one phase is needed", "phases"
        )
    kinds = [p.kind for p in c.phases]
    for i, phase in enumerate(c.phases):
        where = f"phases.{i}"
        if kinds.count(phase.kind) > 1:
            raise CampaignError(
                "duplicate_phase",
                f"阶段 {phase.kind.value} 重复",
                f"phase {phase.kind.value} appears twice",
                f"{where}.kind",
            )
        for name, day in (("starts_on", phase.starts_on), ("ends_on", phase.ends_on)):
            _check_year(day, f"{where}.{name}")
        if phase.ends_on < phase.starts_on:
            raise CampaignError(
                "phase_ends_before_start",
                "阶段结束日期早于开始日期",
                "a phase ends before it starts",
                f"{where}.ends_on",
            )
        if i == 0:
            continue
        before = c.phases[i - 1]
        if PHASE_ORDER.index(phase.kind) < PHASE_ORDER.index(before.kind):
            raise CampaignError(
                "phase_order",
                "阶段顺序应为：动员部署、制定方案、实施",
                "phases go in the order mobilisation, planning, implementation",
                f"{where}.kind",
            )
        if phase.starts_on != before.ends_on + timedelta(days=1):
            overlap = phase.starts_on <= before.ends_on
            raise CampaignError(
                "phases_overlap" if overlap else "phases_gap",
                "阶段之间不得重叠" if overlap else "阶段之间不得有间隔，应在前一阶段结束次日开始",
                "phases must not overlap"
                if overlap
                else "a phase starts the day after the previous one ends",
                f"{where}.starts_on",
            )
    if PhaseKind.PLANNING not in kinds:
        raise CampaignError(
            "no_planning_phase",
            "活动必须包含制定方案阶段",
            "a campaign needs a planning phase, when activity plans are submitted",
            "phases",
        )
    if (c.ends_on - c.starts_on).days + 1 > MAX_SPAN_DAYS:
        raise CampaignError(
            "campaign_too_long",
            f"活动全程不得超过 {MAX_SPAN_DAYS} 天",
            f"a campaign lasts at most {MAX_SPAN_DAYS} days",
            f"phases.{len(c.phases) - 1}.ends_on",
        )
    if c.window_ends_on < c.window_starts_on:
        raise CampaignError(
            "window_ends_before_start",
            "活动时间的结束日期早于开始日期",
            "the activity window ends before it starts",
            "activity_window.ends_on",
        )
    if c.window_starts_on < c.starts_on:
        raise CampaignError(
            "window_outside_phases",
            "活动时间不得早于第一个阶段开始",
            "the activity window starts before the first phase",
            "activity_window.starts_on",
        )
    if c.window_ends_on > c.ends_on:
        raise CampaignError(
            "window_outside_phases",
            "活动时间不得晚于最后一个阶段结束",
            "the activity window ends after the last phase",
            "activity_window.ends_on",
        )
    return c


def _check_year(day: date, field: str) -> None:
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        raise CampaignError(
            "date_out_of_range",
            f"日期须在 {EARLIEST_YEAR} 年至 {LATEST_YEAR} 年之间",
            f"dates must lie in the years {EARLIEST_YEAR}..{LATEST_YEAR}",
            field,
        )


def shift_years(
    template: Campaign, year: int, *, campaign_id: str | None = None, notice_no: str | None = None
) -> Campaign:
    """Next year's campaign from a template: every date moved by whole years so the campaign
    starts in `year`; the year in the id and titles follows. 29 February becomes 1 March for a
    start and 28 February for an end, which keeps phases contiguous. The notice number is the new
    notice's (None until issued), never the template's."""
    if not EARLIEST_YEAR <= year <= LATEST_YEAR:
        raise CampaignError(
            "date_out_of_range",
            f"年份须在 {EARLIEST_YEAR} 至 {LATEST_YEAR} 之间",
            f"the year must lie in {EARLIEST_YEAR}..{LATEST_YEAR}",
            "year",
        )
    source = template.starts_on.year
    years = year - source

    def text(value: str) -> str:
        return value.replace(str(source), str(year))

    return replace(
        template,
        campaign_id=campaign_id or _shifted_id(template.campaign_id, source, year),
        title_zh=text(template.title_zh),
        title_en=text(template.title_en),
        notice_no=notice_no,
        window_starts_on=_shift(template.window_starts_on, years, start=True),
        window_ends_on=_shift(template.window_ends_on, years, start=False),
        phases=tuple(
            Phase(
                p.kind,
                _shift(p.starts_on, years, start=True),
                _shift(p.ends_on, years, start=False),
            )
            for p in template.phases
        ),
    )


def _shifted_id(campaign_id: str, source: int, year: int) -> str:
    if str(source) in campaign_id:
        return campaign_id.replace(str(source), str(year))
    return f"{campaign_id}-{year}"


def _shift(day: date, years: int, *, start: bool) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a common year
        return date(day.year + years, 3, 1) if start else date(day.year + years, 2, 28)


# --- activity plans -------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffMember:
    name: str
    role: str
    phone: str | None  # personal data: stored, shown to the submitter, never in events or lists


@dataclass(frozen=True)
class ScheduleItem:
    on: date
    activity_zh: str


@dataclass(frozen=True)
class PlanContent:
    departments: tuple[str, ...]
    staff: tuple[StaffMember, ...]
    schedule: tuple[ScheduleItem, ...]
    summary: str


def check_plan(c: Campaign, plan: PlanContent) -> None:
    """Raise `CampaignError` for a plan that does not fit the campaign."""
    seen: set[str] = set()
    for i, name in enumerate(plan.departments):
        if name.strip() in seen:
            raise CampaignError(
                "duplicate_department",
                f"责任部门 {name} 重复",
                f"department {name} is listed twice",
                f"departments.{i}",
            )
        seen.add(name.strip())
    for i, item in enumerate(plan.schedule):
        if not c.starts_on <= item.on <= c.ends_on:
            raise CampaignError(
                "schedule_outside_campaign",
                f"日程日期须在活动期间（{c.starts_on}至{c.ends_on}）",
                f"schedule dates must lie within the campaign ({c.starts_on}..{c.ends_on})",
                f"schedule.{i}.date",
            )


def submission_refusal(c: Campaign, now: datetime, *, deadline_scanned: bool) -> Refusal | None:
    """Plans are accepted only while the planning phase runs. `deadline_scanned`: the overdue scan
    already ran, so the phase is over whatever a late request's clock says."""
    planning = c.planning
    if now < planning.starts_at:
        return Refusal(
            "planning_not_started",
            f"制定方案阶段尚未开始（{planning.starts_on}开始）",
            f"the planning phase has not started yet (starts {planning.starts_on})",
        )
    if now > planning.ends_at or deadline_scanned:
        return Refusal(
            "planning_ended",
            "制定方案阶段已结束",
            f"the planning phase has ended ({planning.ends_on})",
        )
    return None


# --- who must submit ------------------------------------------------------------------------


@dataclass(frozen=True)
class ProjectRef:
    """The registry facts that decide who owes a plan."""

    district_code: str
    district_name: str
    enterprise_id: str
    enterprise_name: str


@dataclass(frozen=True)
class Submitter:
    kind: SubmitterKind
    submitter_id: str  # district code or enterprise id
    name: str

    @property
    def key(self) -> SubmitterKey:
        return (self.kind, self.submitter_id)


def required_submitters(projects: Iterable[ProjectRef]) -> tuple[Submitter, ...]:
    """Every district with a project and every enterprise running one: districts first, by code,
    then enterprises by id."""
    districts: dict[str, str] = {}
    enterprises: dict[str, str] = {}
    for p in projects:
        _keep_smallest(districts, p.district_code, p.district_name)
        _keep_smallest(enterprises, p.enterprise_id, p.enterprise_name)
    return tuple(
        Submitter(SubmitterKind.DISTRICT, code, name) for code, name in sorted(districts.items())
    ) + tuple(
        Submitter(SubmitterKind.ENTERPRISE, eid, name) for eid, name in sorted(enterprises.items())
    )


def _keep_smallest(names: dict[str, str], key: str, name: str) -> None:
    """Deterministic when the registry spells one name two ways."""
    names[key] = min(names.get(key, name), name)


def missing(
    required: Iterable[Submitter], submitted: Iterable[SubmitterKey]
) -> tuple[Submitter, ...]:
    done = set(submitted)
    return tuple(s for s in required if s.key not in done)


def plans_were_owed(c: Campaign, announced_at: datetime) -> bool:
    """A campaign recorded after its planning phase ended (an archive of a past year) owed no
    plans: nobody could have submitted one, so nobody is overdue."""
    return announced_at <= c.planning.ends_at


def phases_to_announce(c: Campaign, now: datetime) -> tuple[Phase, ...]:
    """The phase running at `now`, if any. A phase already over when first seen is not announced
    late: a 'planning has started' notice after the deadline would only mislead."""
    running = c.phase_at(now)
    return (running,) if running else ()


# --- who sees which plans -------------------------------------------------------------------


def own_key(role: str, district_code: str | None, enterprise_id: str | None) -> SubmitterKey | None:
    """The plan a caller submits: a district office for its district, an enterprise for itself."""
    if role == actors.DISTRICT_OFFICE and district_code:
        return (SubmitterKind.DISTRICT, district_code)
    if role == actors.ENTERPRISE and enterprise_id:
        return (SubmitterKind.ENTERPRISE, enterprise_id)
    return None


def district_scope(district_code: str, projects: Iterable[ProjectRef]) -> frozenset[SubmitterKey]:
    """What a district office oversees: its own plan and those of the enterprises with projects in
    its district."""
    enterprises = {p.enterprise_id for p in projects if p.district_code == district_code}
    return frozenset(
        {(SubmitterKind.DISTRICT, district_code)}
        | {(SubmitterKind.ENTERPRISE, e) for e in enterprises}
    )
