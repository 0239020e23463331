"""SLA clocks of a complaint, configured as data (`data/sla.json`, parsed by `adapters.sla_json`)
per category and urgency.

Two clocks start when a complaint is filed:

- `acceptance` (签收时限): runs until a staff member accepts; a limit in `minutes` runs around the
  clock, holidays included (a gas smell at 3 a.m. on National Day is still urgent, a person trapped
  in a lift on New Year's Eve is an emergency);
- `completion` (办结时限): counted from filing, not from acceptance, so a late acceptance does not
  buy time. It runs while the enterprise holds the complaint (filed, accepted, reopened) and stands
  still while the owner is asked for feedback. `working_days` count on the shared holiday/调休
  calendar; the day of filing never counts and the deadline is the end of the last working day.

A warning falls at `warning_percent` (80 by default) of the limit: of elapsed time for a minute
limit, of *working* time for a working-day limit (each working day counted as a whole day, so 80%
of 5 working days is the end of the 4th, never a moment inside a holiday).

Overdue and warning are marks on the clock, each set once (`warned_at`, `overdue_at`): the
`ComplaintOverdue` contract is "once per complaint and clock", so an extension or a reopening moves
a deadline but never re-arms a mark already set. `due_events` lists what a timer should emit now;
the handler records it (complaint.record_due) in the same transaction as the outbox rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Literal, Protocol, get_args

from runtime.calendar import CHINA, WorkingCalendar, china

ClockName = Literal["acceptance", "completion"]
# Tiers in rising order (the order ranks them): `emergency` is for a life at risk now, e.g. someone
# trapped in a lift (TSG T5002: the maintenance unit on site within 30 minutes in a city).
Urgency = Literal["normal", "urgent", "emergency"]
DueKind = Literal["warning", "overdue"]
CLOCKS: tuple[ClockName, ...] = get_args(ClockName)
URGENCIES: tuple[Urgency, ...] = get_args(Urgency)
DAY_US = 24 * 3600 * 1_000_000
ELAPSED = "elapsed"  # the basis of a limit in minutes: no calendar involved


class SlaError(ValueError):
    """SLA data that does not make sense, or a category/urgency it has no rule for."""


@dataclass(frozen=True)
class Limit:
    """Exactly one of `minutes` (elapsed, around the clock) and `working_days` is set."""

    minutes: int | None = None
    working_days: int | None = None

    def deadline(self, start: datetime, calendar: WorkingCalendar) -> datetime:
        if self.minutes is not None:
            return china(start) + timedelta(minutes=self.minutes)
        assert self.working_days is not None
        return calendar.add_working_days(start, self.working_days)

    def basis(self, start: datetime, deadline: datetime, calendar: WorkingCalendar) -> str:
        """Which calendar the deadline rests on (`ELAPSED` for a limit in minutes)."""
        if self.minutes is not None:
            return ELAPSED
        return calendar.basis(start, deadline)

    def warning_at(self, start: datetime, calendar: WorkingCalendar, percent: int) -> datetime:
        if self.minutes is not None:
            return china(start) + timedelta(microseconds=self.minutes * 60_000_000 * percent // 100)
        assert self.working_days is not None
        return working_point(calendar, start, self.working_days, percent)


@dataclass(frozen=True)
class Rules:
    acceptance: Limit
    completion: Limit

    def limit(self, clock: ClockName) -> Limit:
        return self.acceptance if clock == "acceptance" else self.completion


@dataclass(frozen=True)
class Clock:
    name: ClockName
    deadline: datetime
    warn_at: datetime
    warned_at: datetime | None = None
    overdue_at: datetime | None = None
    # the calendar(s) the deadline was counted on, e.g. 'official:2026@5d41402a' or
    # 'provisional:holidays-0.108:2027' (runtime.calendar); None on clocks stored before it
    calendar: str | None = None

    def due(self, now: datetime) -> DueKind | None:
        """What this clock owes at `now`, if it is running. A breach found before its warning
        was sent is reported as overdue only: a late warning would say nothing new."""
        if self.overdue_at is not None:
            return None
        if breached(self, now):
            return "overdue"
        if self.warned_at is None and now >= self.warn_at:
            return "warning"
        return None


def breached(clock: Clock, now: datetime) -> bool:
    """The deadline itself is still in time; a moment after it is not."""
    return china(now) > clock.deadline


class HasClocks(Protocol):
    @property
    def running_clocks(self) -> tuple[Clock, ...]: ...


def due_events(complaint: HasClocks, now: datetime) -> list[tuple[DueKind, ClockName]]:
    """What is due at `now` and not yet recorded on the complaint, one entry per clock."""
    due: list[tuple[DueKind, ClockName]] = []
    for clock in complaint.running_clocks:
        kind = clock.due(now)
        if kind is not None:
            due.append((kind, clock.name))
    return due


def working_point(calendar: WorkingCalendar, start: datetime, days: int, percent: int) -> datetime:
    """The moment `percent`% of `days` working days after `start` (whole working days)."""
    whole, rest = divmod(days * percent, 100)
    if rest == 0:
        return calendar.add_working_days(start, whole)
    day = calendar.add_working_days(start, whole + 1).date()
    return datetime.combine(day, time(), tzinfo=CHINA) + timedelta(
        microseconds=rest * DAY_US // 100
    )


@dataclass(frozen=True)
class SlaPolicy:
    default: Mapping[Urgency, Rules]
    by_category: Mapping[tuple[str, Urgency], Rules]
    categories: frozenset[str]
    warning_percent: int = 80
    auto_close_days: int = 7
    max_transfers: int = 2

    def rules(self, category: str, urgency: Urgency) -> Rules:
        if category not in self.categories:
            raise SlaError(f"unknown category {category!r}")
        if urgency not in URGENCIES:
            raise SlaError(f"unknown urgency {urgency!r}")
        return self.by_category.get((category, urgency), self.default[urgency])

    def acceptance_deadline(
        self, category: str, urgency: Urgency, filed_at: datetime, calendar: WorkingCalendar
    ) -> datetime:
        return self.rules(category, urgency).acceptance.deadline(filed_at, calendar)

    def completion_deadline(
        self, category: str, urgency: Urgency, filed_at: datetime, calendar: WorkingCalendar
    ) -> datetime:
        return self.rules(category, urgency).completion.deadline(filed_at, calendar)

    def warning_at(
        self,
        category: str,
        urgency: Urgency,
        clock: ClockName,
        filed_at: datetime,
        calendar: WorkingCalendar,
    ) -> datetime:
        limit = self.rules(category, urgency).limit(clock)
        return limit.warning_at(filed_at, calendar, self.warning_percent)

    def start_clocks(
        self, category: str, urgency: Urgency, filed_at: datetime, calendar: WorkingCalendar
    ) -> tuple[Clock, Clock]:
        """The acceptance and completion clocks of a complaint filed at `filed_at`."""
        rules = self.rules(category, urgency)
        clocks = []
        for name in CLOCKS:
            limit = rules.limit(name)
            deadline = limit.deadline(filed_at, calendar)
            clocks.append(
                Clock(
                    name,
                    deadline,
                    limit.warning_at(filed_at, calendar, self.warning_percent),
                    calendar=limit.basis(filed_at, deadline, calendar),
                )
            )
        acceptance, completion = clocks
        return acceptance, completion

    def extend(self, clock: Clock, working_days: int, calendar: WorkingCalendar) -> Clock:
        """The clock with its deadline moved by `working_days` (an approved extension). A warning
        not yet sent moves to `warning_percent` of the extension; marks already set stay."""
        deadline = calendar.add_working_days(clock.deadline, working_days)
        warn_at = working_point(calendar, clock.deadline, working_days, self.warning_percent)
        basis = join_bases(clock.calendar, calendar.basis(clock.deadline, deadline))
        return replace(clock, deadline=deadline, warn_at=warn_at, calendar=basis)

    def restart(
        self,
        clock: Clock,
        category: str,
        urgency: Urgency,
        now: datetime,
        calendar: WorkingCalendar,
    ) -> Clock:
        """On reopening: the responsible person gets the category's completion time again from
        `now`, unless the current (possibly extended) deadline is later. Marks stay set."""
        limit = self.rules(category, urgency).completion
        fresh = limit.deadline(now, calendar)
        if fresh <= clock.deadline:
            return clock
        return replace(
            clock,
            deadline=fresh,
            warn_at=limit.warning_at(now, calendar, self.warning_percent),
            calendar=limit.basis(now, fresh, calendar),
        )


def join_bases(*bases: str | None) -> str | None:
    """'official:2026@…' + 'official:2026@…+provisional:…:2027' -> each label once, in order."""
    labels = [label for basis in bases if basis for label in basis.split("+")]
    return "+".join(dict.fromkeys(labels)) or None
