"""Loading the working-day calendar: the official files first, the `holidays` library second.

The State Council publishes next year's holidays and make-up working days (调休) each December;
until someone adds `reference/calendars/cn-<year>.json`, deadlines reaching into that year are
counted on a PROVISIONAL calendar: the statutory holidays of China from the maintained PyPI library
`holidays` (its own make-up days where it already knows them). It is usually right about the
holidays themselves and wrong about the make-up days, so deadlines stay computable but every one
records its basis (`provisional:holidays-<version>:<year>`), operators get a `calendar_provisional`
warning and the `wuye_calendar_provisional_years` gauge, and adding the official file (next start)
changes only deadlines computed after it: stored deadlines are never recomputed.

A year the library has no data for either (before 1950 or after 2100 in 0.108) stays a
`CalendarError`, which the services answer as a server-side 503 (the platform's problem).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

import holidays
import structlog
from holidays.countries.china import China
from prometheus_client import Gauge

from runtime.calendar import SATURDAY, ProvisionalYear, WorkingCalendar

log = structlog.get_logger(__name__)

SOURCE = f"holidays-{version('holidays')}"
PROVISIONAL_YEARS = Gauge(
    "wuye_calendar_provisional_years",
    "1 for each calendar year this process counts deadlines on provisionally (no official "
    "reference/calendars/cn-<year>.json: statutory holidays from the holidays library, 调休 unknown).",
    ["year", "source"],
)


def load(directory: Path) -> WorkingCalendar:
    """The official `cn-<year>.json` files of `directory`, with the library for missing years."""
    files = sorted(directory.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no calendar files in {directory}")
    return WorkingCalendar.from_data(
        (json.loads(f.read_text("utf-8")) for f in files), provisional=provisional_year
    )


def provisional_year(year: int) -> ProvisionalYear | None:
    """China's statutory holidays of `year` from the library, or None if it has none for it."""
    doc = library_year(year)
    if doc is None:
        log.error(
            "calendar_year_missing",
            year=year,
            action=f"add reference/calendars/cn-{year}.json: deadlines in {year} answer 503",
        )
        return None
    label = f"provisional:{SOURCE}:{year}"
    PROVISIONAL_YEARS.labels(str(year), SOURCE).set(1)
    log.warning(
        "calendar_provisional",
        year=year,
        basis=label,
        holidays=len(doc["holidays"]),
        make_up_days=len(doc["working_days"]),
        action=(
            f"add reference/calendars/cn-{year}.json from the State Council notice; deadlines "
            "computed until then keep their provisional basis"
        ),
    )
    return ProvisionalYear(doc, label)


@cache
def library_year(year: int) -> Mapping[str, Any] | None:
    """The library's year as a `cn-<year>.json` document (names in Chinese and English)."""
    if not China.start_year <= year <= China.end_year:
        return None
    zh = China(years=year, language="zh_CN")  # type: ignore[no-untyped-call]
    en = China(years=year, language="en_US")  # type: ignore[no-untyped-call]
    days = sorted(d for d in zh if d.year == year)
    if not days:
        return None
    make_up = sorted(d for d in zh.weekend_workdays if d.year == year and d.weekday() >= SATURDAY)
    return {
        "year": year,
        "source": f"PROVISIONAL {year}: statutory holidays from the holidays library ({SOURCE})",
        "holidays": [
            {"date": d.isoformat(), "name_zh": _name(zh, d), "name_en": _name(en, d)} for d in days
        ],
        "working_days": [{"date": d.isoformat()} for d in make_up if d not in zh],
    }


def _name(names: holidays.HolidayBase, day: date) -> str:
    return str(names.get(day) or "法定节假日")
