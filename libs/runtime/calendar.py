"""The working-day calendar: public holidays and make-up working days (调休) as data, no I/O.

Shared by the services' domain layers (the one part of the runtime they may import: it is pure
and has no dependencies), so rectification deadlines and complaint SLA clocks count working days
the same way.

The State Council publishes each year's holidays in December; a weekend day may become a working
day (调休上班) and a weekday a holiday. The dates live in `reference/calendars/cn-<year>.json`,
shared as files with every service that counts working days; an adapter reads them and hands the
parsed dicts to `WorkingCalendar.from_data`.

The official files are the authority. A year without one may come from a `provisional` source
(`runtime.provisional_calendar`: the statutory holidays of the maintained `holidays` library, without
the 调休 the State Council has not yet published), so the city does not stop at New Year; every
deadline records which calendar produced it (`basis`: e.g. `official:2026@5d41402a`, the year
and a fingerprint of the file's dates, so a corrected file for the same year is told apart from the
one it replaced; `provisional:holidays-0.108:2027`). A year neither gives raises `CalendarError`: guessing "every
weekday works" would quietly give wrong deadlines at New Year.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

# China has no daylight saving: a fixed offset is exact.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
END_OF_DAY = time(23, 59, 59, 999999)
SATURDAY = 5


class CalendarError(ValueError):
    """A date the loaded calendar cannot answer for, or calendar data that does not make sense."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code, self.zh, self.en = code, zh, en


@dataclass(frozen=True)
class Holiday:
    day: date
    name_zh: str
    name_en: str


@dataclass(frozen=True)
class ProvisionalYear:
    """A year from a provisional source: a document shaped like `cn-<year>.json` and the basis
    label deadlines counted on it record (`provisional:<source>-<version>:<year>`)."""

    doc: Mapping[str, Any]
    label: str


# year -> the provisional year, or None when the source cannot provide it either
ProvisionalSource = Callable[[int], ProvisionalYear | None]


def official_label(year: int, version: str) -> str:
    return f"official:{year}@{version}"


def fingerprint(holidays: Iterable[Holiday], make_up_days: Iterable[date]) -> str:
    """The version of an official year: the first 8 hex digits of the SHA-256 of its dates and
    names in a canonical order (the file's layout, its `source` note and key order do not count,
    a changed, added or removed day does)."""
    canonical = {
        "holidays": sorted((h.day.isoformat(), h.name_zh, h.name_en) for h in holidays),
        "working_days": sorted(d.isoformat() for d in make_up_days),
    }
    text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class WorkingCalendar:
    years: frozenset[int]  # the years of official files
    holidays: Mapping[date, Holiday]
    make_up_days: frozenset[date]  # weekend days that are working days (调休上班)
    provisional: ProvisionalSource | None = field(default=None, compare=False)
    # official year -> its fingerprint (`fingerprint`), recorded in the basis labels
    versions: Mapping[int, str] = field(default_factory=dict)
    # provisional years looked up so far (the source is asked once per year and process)
    _extra: dict[int, tuple[WorkingCalendar, str] | None] = field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def from_data(
        cls, years: Iterable[Mapping[str, Any]], provisional: ProvisionalSource | None = None
    ) -> WorkingCalendar:
        """Build from parsed `cn-<year>.json` documents; every date must lie in its file's year.
        `provisional` answers for the years no document gives."""
        loaded: set[int] = set()
        holidays: dict[date, Holiday] = {}
        make_up: set[date] = set()
        versions: dict[int, str] = {}
        for doc in years:
            year = _year(doc)
            if year in loaded:
                raise CalendarError(
                    "duplicate_year",
                    f"{year} 年的日历重复加载",
                    f"calendar year {year} given twice",
                )
            loaded.add(year)
            for entry in _entries(doc, "holidays", year):
                day = _day(entry, year)
                if day in holidays:
                    raise _duplicate(day)
                holidays[day] = Holiday(
                    day, _text(entry, "name_zh", year), _text(entry, "name_en", year)
                )
            for entry in _entries(doc, "working_days", year):
                day = _day(entry, year)
                if day in make_up or day in holidays:
                    raise _duplicate(day)
                if day.weekday() < SATURDAY:
                    raise CalendarError(
                        "make_up_on_weekday",
                        f"{day} 是工作日（周一至周五），不能列为调休上班日",
                        f"{day} is a Monday-Friday; only a weekend day can be a make-up working day",
                    )
                make_up.add(day)
            versions[year] = fingerprint(
                (h for h in holidays.values() if h.day.year == year),
                (d for d in make_up if d.year == year),
            )
        if not loaded:
            raise CalendarError("empty", "未加载任何年份的日历", "no calendar year given")
        return cls(frozenset(loaded), holidays, frozenset(make_up), provisional, versions=versions)

    def _provisional_year(self, year: int) -> tuple[WorkingCalendar, str] | None:
        if year not in self._extra:
            found = None if self.provisional is None else self.provisional(year)
            if found is None:
                self._extra[year] = None
            else:
                one = WorkingCalendar.from_data([found.doc])
                if one.years != frozenset({year}):
                    raise CalendarError(
                        "bad_year",
                        f"临时日历给出的年份不是 {year}",
                        f"the provisional calendar answered for {sorted(one.years)}, not {year}",
                    )
                self._extra[year] = (one, found.label)
        return self._extra[year]

    def label(self, year: int) -> str:
        """The calendar a year's days come from: `official:<year>@<fingerprint>`, a provisional
        source's label, or CalendarError when neither has the year."""
        if year in self.years:
            return official_label(year, self.versions[year])
        return self._year_for(date(year, 1, 1))[1]

    def basis(self, start: datetime, end: datetime) -> str:
        """The calendars a deadline counted from `start` to `end` rests on: the labels of the
        years of the days after `start` up to `end` (China time), joined with '+'."""
        first = (china(start).date() + timedelta(days=1)).year
        last = china(end).date().year
        return "+".join(self.label(y) for y in range(first, max(first, last) + 1))

    def _year_for(self, day: date) -> tuple[WorkingCalendar, str]:
        if day.year in self.years:
            return self, official_label(day.year, self.versions[day.year])
        extra = self._provisional_year(day.year)
        if extra is None:
            raise CalendarError(
                "year_not_loaded",
                f"未加载 {day.year} 年的节假日安排，无法判断 {day} 是否为工作日",
                f"no holiday calendar loaded for {day.year}; cannot tell whether {day} is a working day",
            )
        return extra

    def is_working_day(self, day: date) -> bool:
        """Mon-Fri unless a public holiday; Sat/Sun only if a make-up working day.

        A datetime is taken in China time (its calendar day there), so it must be timezone-aware.
        """
        if isinstance(day, datetime):
            day = china(day).date()
        source, _ = self._year_for(day)
        if day in source.holidays:
            return False
        return day.weekday() < SATURDAY or day in source.make_up_days

    def holiday(self, day: date) -> Holiday | None:
        if day.year not in self.years and self.provisional is not None:
            extra = self._provisional_year(day.year)
            return None if extra is None else extra[0].holidays.get(day)
        return self.holidays.get(day)

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The end (23:59:59.999999 China time) of the n-th working day after the China-time day of
        `start`. The day of `start` itself never counts, whatever the hour."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        day = china(start).date()
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day, END_OF_DAY, tzinfo=CHINA)

    def add_hours(self, start: datetime, hours: int) -> datetime:
        """Plain elapsed hours: urgent work runs around the clock, holidays included."""
        if hours < 1:
            raise ValueError(f"hours must be at least 1, got {hours}")
        return china(start) + timedelta(hours=hours)


def china(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got {moment!r}")
    return moment.astimezone(CHINA)


def _year(doc: Mapping[str, Any]) -> int:
    year = doc.get("year")
    if not isinstance(year, int) or isinstance(year, bool):
        raise CalendarError(
            "bad_year",
            f"日历的 year 字段无效：{year!r}",
            f"calendar 'year' is not a number: {year!r}",
        )
    return year


def _entries(doc: Mapping[str, Any], key: str, year: int) -> list[Mapping[str, Any]]:
    entries = doc.get(key, [])
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise CalendarError(
            "bad_entries",
            f"{year} 年日历的 {key} 必须是对象列表",
            f"calendar {year}: '{key}' must be a list of objects",
        )
    return entries


def _day(entry: Mapping[str, Any], year: int) -> date:
    raw = entry.get("date")
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        raise CalendarError(
            "bad_date", f"{year} 年日历中的日期无效：{raw!r}", f"calendar {year}: bad date {raw!r}"
        ) from None
    if day.year != year:
        # Keeps "year loaded" meaning "every date of that year is known": a make-up day for next
        # New Year that falls in December (e.g. 2011-12-31) belongs in the December year's file.
        raise CalendarError(
            "date_outside_year",
            f"日期 {day} 不属于 {year} 年，请放入 {day.year} 年的日历文件",
            f"date {day} is not in {year}; put it in the {day.year} calendar file",
        )
    return day


def _text(entry: Mapping[str, Any], key: str, year: int) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CalendarError(
            "bad_name",
            f"{year} 年日历中 {entry.get('date')!r} 缺少 {key}",
            f"calendar {year}: entry {entry.get('date')!r} has no {key}",
        )
    return value


def _duplicate(day: date) -> CalendarError:
    return CalendarError(
        "duplicate_date",
        f"日期 {day} 在日历中重复出现",
        f"date {day} appears twice in the calendar",
    )
