"""Working days for the complaint clocks: the shared holiday/调休 files read as data, no I/O.

The facts live in `reference/calendars/cn-<year>.json` (see `reference/README.md`); an adapter
reads the files and hands the parsed documents to `WorkingCalendar.from_data`. The inspections
service interprets the same files with its own module: services never import each other, so these
few lines of date arithmetic are deliberately duplicated rather than shared as code. Keep the two
in step with the README's rules, not with each other's code:

- a working day is Monday-Friday and not a listed holiday, or a listed make-up day (调休上班);
- every date lies in its own file's year; a make-up day is a weekend day; no date twice;
- a date in a year that was not loaded is refused (`CalendarError`), never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any

# Domain code may not import runtime; same fixed offset as runtime.scheduler.CHINA (no DST).
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
END_OF_DAY = time(23, 59, 59, 999999)
SATURDAY = 5


class CalendarError(ValueError):
    """A day the loaded calendar cannot answer for, or calendar data that breaks the rules."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code, self.zh, self.en = code, zh, en


@dataclass(frozen=True)
class WorkingCalendar:
    years: frozenset[int]
    holidays: frozenset[date]
    make_up_days: frozenset[date]

    @classmethod
    def from_data(cls, docs: Iterable[Mapping[str, Any]]) -> WorkingCalendar:
        years: set[int] = set()
        holidays: set[date] = set()
        make_up: set[date] = set()
        for doc in docs:
            year = doc.get("year")
            if not isinstance(year, int) or isinstance(year, bool) or year in years:
                raise CalendarError(
                    "bad_year", f"日历年份无效或重复:{year!r}", f"bad or repeated year {year!r}"
                )
            years.add(year)
            for key, into in (("holidays", holidays), ("working_days", make_up)):
                for entry in doc.get(key, []):
                    day = _day(entry, year)
                    if day in holidays or day in make_up:
                        raise CalendarError(
                            "duplicate_date", f"日期 {day} 重复出现", f"date {day} appears twice"
                        )
                    if into is make_up and day.weekday() < SATURDAY:
                        raise CalendarError(
                            "make_up_on_weekday",
                            f"{day} 是周一至周五,不能列为调休上班日",
                            f"{day} is a Monday-Friday; only a weekend day can be a make-up day",
                        )
                    into.add(day)
        if not years:
            raise CalendarError("empty", "未加载任何年份的日历", "no calendar year given")
        return cls(frozenset(years), frozenset(holidays), frozenset(make_up))

    def is_working_day(self, day: date) -> bool:
        if day.year not in self.years:
            raise CalendarError(
                "year_not_loaded",
                f"未加载 {day.year} 年的节假日安排,无法判断 {day} 是否为工作日",
                f"no holiday calendar loaded for {day.year}; cannot tell whether {day} is a working day",
            )
        if day in self.holidays:
            return False
        return day.weekday() < SATURDAY or day in self.make_up_days

    def add_working_days(self, start: datetime, n: int) -> datetime:
        """The end (23:59:59.999999 China time) of the n-th working day after the China-time day
        of `start`; the day of `start` never counts, whatever the hour."""
        if n < 1:
            raise ValueError(f"n must be at least 1, got {n}")
        day = china(start).date()
        counted = 0
        while counted < n:
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return datetime.combine(day, END_OF_DAY, tzinfo=CHINA)


def china(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got {moment!r}")
    return moment.astimezone(CHINA)


def _day(entry: object, year: int) -> date:
    raw = entry.get("date") if isinstance(entry, Mapping) else None
    try:
        day = date.fromisoformat(str(raw))
    except ValueError:
        raise CalendarError(
            "bad_date", f"{year} 年日历中的日期无效:{raw!r}", f"calendar {year}: bad date {raw!r}"
        ) from None
    if day.year != year:
        raise CalendarError(
            "date_outside_year",
            f"日期 {day} 不属于 {year} 年,请放入 {day.year} 年的日历文件",
            f"date {day} is not in {year}; put it in the {day.year} calendar file",
        )
    return day
