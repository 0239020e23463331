"""The working-day calendar: public holidays and make-up working days (调休) as data, no I/O.

Shared by the services' domain layers (the one part of the runtime they may import: it is pure
and has no dependencies), so rectification deadlines and complaint SLA clocks count working days
the same way.

The State Council publishes each year's holidays in December; a weekend day may become a working
day (调休上班) and a weekday a holiday. The dates live in `reference/calendars/cn-<year>.json`,
shared as files with every service that counts working days; an adapter reads them and hands the
parsed dicts to `WorkingCalendar.from_data`. A date in a year that was not loaded raises
`CalendarError`: guessing "every weekday works" would quietly give wrong deadlines at New Year.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
class WorkingCalendar:
    years: frozenset[int]
    holidays: Mapping[date, Holiday]
    make_up_days: frozenset[date]  # weekend days that are working days (调休上班)

    @classmethod
    def from_data(cls, years: Iterable[Mapping[str, Any]]) -> WorkingCalendar:
        """Build from parsed `cn-<year>.json` documents; every date must lie in its file's year."""
        loaded: set[int] = set()
        holidays: dict[date, Holiday] = {}
        make_up: set[date] = set()
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
                        f"{day} 是工作日(周一至周五),不能列为调休上班日",
                        f"{day} is a Monday-Friday; only a weekend day can be a make-up working day",
                    )
                make_up.add(day)
        if not loaded:
            raise CalendarError("empty", "未加载任何年份的日历", "no calendar year given")
        return cls(frozenset(loaded), holidays, frozenset(make_up))

    def is_working_day(self, day: date) -> bool:
        """Mon-Fri unless a public holiday; Sat/Sun only if a make-up working day.

        A datetime is taken in China time (its calendar day there), so it must be timezone-aware.
        """
        if isinstance(day, datetime):
            day = china(day).date()
        if day.year not in self.years:
            raise CalendarError(
                "year_not_loaded",
                f"未加载 {day.year} 年的节假日安排,无法判断 {day} 是否为工作日",
                f"no holiday calendar loaded for {day.year}; cannot tell whether {day} is a working day",
            )
        if day in self.holidays:
            return False
        return day.weekday() < SATURDAY or day in self.make_up_days

    def holiday(self, day: date) -> Holiday | None:
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
            f"日历的 year 字段无效:{year!r}",
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
            "bad_date", f"{year} 年日历中的日期无效:{raw!r}", f"calendar {year}: bad date {raw!r}"
        ) from None
    if day.year != year:
        # Keeps "year loaded" meaning "every date of that year is known": a make-up day for next
        # New Year that falls in December (e.g. 2011-12-31) belongs in the December year's file.
        raise CalendarError(
            "date_outside_year",
            f"日期 {day} 不属于 {year} 年,请放入 {day.year} 年的日历文件",
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
