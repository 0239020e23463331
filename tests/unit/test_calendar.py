"""The working-day calendar, loaded from the shared reference files."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from runtime import provisional_calendar
from runtime.calendar import CHINA, CalendarError, ProvisionalYear, WorkingCalendar, fingerprint

CALENDARS = Path(__file__).resolve().parents[2] / "reference" / "calendars"


def load(*years: int) -> list[dict[str, Any]]:
    return [json.loads((CALENDARS / f"cn-{y}.json").read_text(encoding="utf-8")) for y in years]


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def due(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time(23, 59, 59, 999999), tzinfo=CHINA)


# --- the reference files -----------------------------------------------------------------------


def test_every_reference_file_loads_and_names_its_year() -> None:
    files = sorted(CALENDARS.glob("cn-*.json"))
    assert [f.name for f in files][:2] == ["cn-2011.json", "cn-2012.json"]
    docs = [json.loads(f.read_text(encoding="utf-8")) for f in files]
    for f, doc in zip(files, docs, strict=True):
        assert f.name == f"cn-{doc['year']}.json"
        assert str(doc["year"]) in doc["source"]
    WorkingCalendar.from_data(docs)  # the loader's own checks: years, weekends, duplicates


@pytest.mark.parametrize(
    ("year", "days_off", "make_up"),
    [
        (
            2011,
            3 + 7 + 3 + 3 + 3 + 3 + 7,
            ["2011-01-30", "2011-02-12", "2011-04-02", "2011-10-08", "2011-10-09", "2011-12-31"],
        ),
        (
            2012,
            3 + 7 + 3 + 3 + 3 + 8,
            ["2012-01-21", "2012-01-29", "2012-03-31", "2012-04-01", "2012-04-28", "2012-09-29"],
        ),
    ],
)
def test_reference_file_matches_the_state_council_notice(
    year: int, days_off: int, make_up: list[str]
) -> None:
    (doc,) = load(year)
    assert len(doc["holidays"]) == days_off
    assert [w["date"] for w in doc["working_days"]] == make_up
    assert all(date.fromisoformat(w).weekday() >= 5 for w in make_up)


# --- is_working_day ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [
        (date(2011, 3, 7), True),  # ordinary Monday
        (date(2011, 3, 11), True),  # ordinary Friday
        (date(2011, 3, 12), False),  # ordinary Saturday
        (date(2011, 3, 13), False),  # ordinary Sunday
        (date(2011, 1, 3), False),  # New Year holiday on a Monday
        (date(2011, 2, 8), False),  # last day of Spring Festival, a Tuesday
        (date(2011, 2, 9), True),
        (date(2011, 1, 30), True),  # Spring Festival make-up Sunday
        (date(2011, 2, 12), True),  # Spring Festival make-up Saturday
        (date(2011, 2, 13), False),  # the Sunday after it is an ordinary weekend
        (date(2011, 4, 2), True),  # Qingming make-up Saturday
        (date(2011, 4, 4), False),  # Qingming Monday
        (date(2011, 4, 5), False),  # Qingming Tuesday
        (date(2011, 5, 2), False),  # Labour Day Monday
        (date(2011, 6, 6), False),  # Dragon Boat Monday
        (date(2011, 9, 12), False),  # Mid-Autumn Monday
        (date(2011, 10, 7), False),  # National Day Friday
        (date(2011, 10, 8), True),  # National Day make-up Saturday
        (date(2011, 10, 9), True),  # National Day make-up Sunday
        (date(2011, 10, 15), False),  # next Saturday is an ordinary weekend
        (date(2011, 12, 31), True),  # 2012 New Year make-up Saturday, kept in the 2011 file
        (date(2012, 1, 3), False),
        (date(2012, 1, 21), True),
        (date(2012, 1, 27), False),
        (date(2012, 1, 29), True),
        (date(2012, 4, 1), True),
        (date(2012, 4, 30), False),  # Labour Day Monday
        (date(2012, 4, 28), True),
        (date(2012, 6, 22), False),  # Dragon Boat Friday
        (date(2012, 9, 29), True),
        (date(2012, 9, 30), False),  # Mid-Autumn Sunday
        (date(2012, 10, 5), False),
        (date(2012, 10, 8), True),
    ],
)
def test_is_working_day(cal: WorkingCalendar, day: date, working: bool) -> None:
    assert cal.is_working_day(day) is working


def test_is_working_day_takes_a_datetime_in_china_time(cal: WorkingCalendar) -> None:
    # 2011-09-30 17:00 UTC is already Saturday 2011-10-01 01:00 in Tianjin: a holiday.
    assert cal.is_working_day(datetime(2011, 9, 30, 17, 0, tzinfo=UTC)) is False
    assert cal.is_working_day(datetime(2011, 9, 30, 15, 0, tzinfo=UTC)) is True
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.is_working_day(datetime(2011, 9, 30, 15, 0))


def test_holiday_names(cal: WorkingCalendar) -> None:
    h = cal.holiday(date(2011, 10, 3))
    assert h is not None
    assert (h.name_zh, h.name_en) == ("国庆节", "National Day")
    assert cal.holiday(date(2011, 10, 8)) is None


# --- add_working_days ---------------------------------------------------------------------------


def test_friday_afternoon_with_one_day_is_due_at_the_end_of_monday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(at(2011, 3, 4, 16), 1) == due(2011, 3, 7)


def test_the_order_day_never_counts_even_early_in_the_morning(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(at(2011, 3, 7, 0, 1), 1) == due(2011, 3, 8)


def test_deadline_is_the_last_microsecond_of_the_day_in_china_time(cal: WorkingCalendar) -> None:
    result = cal.add_working_days(at(2011, 3, 7), 5)
    assert result == due(2011, 3, 14)
    assert result.utcoffset() == timedelta(hours=8)
    assert (result.hour, result.minute, result.second, result.microsecond) == (23, 59, 59, 999999)
    assert result.astimezone(UTC) == datetime(2011, 3, 14, 15, 59, 59, 999999, tzinfo=UTC)


def test_national_day_2011_counts_the_make_up_weekend(cal: WorkingCalendar) -> None:
    # Friday 2011-09-30: Oct 1-7 off; Sat Oct 8 (1) and Sun Oct 9 (2) worked; Mon Oct 10 (3).
    start = at(2011, 9, 30, 10)
    assert cal.add_working_days(start, 1) == due(2011, 10, 8)
    assert cal.add_working_days(start, 2) == due(2011, 10, 9)
    assert cal.add_working_days(start, 3) == due(2011, 10, 10)
    assert cal.add_working_days(start, 5) == due(2011, 10, 12)


def test_an_order_issued_during_the_holiday_counts_from_the_next_working_day(
    cal: WorkingCalendar,
) -> None:
    assert cal.add_working_days(at(2011, 10, 3), 1) == due(2011, 10, 8)


def test_mid_autumn_2011(cal: WorkingCalendar) -> None:
    # Fri Sep 9; Sat 10 - Mon 12 off; Tue 13 .. Fri 16 are 1..4; Mon 19 is 5.
    assert cal.add_working_days(at(2011, 9, 9), 1) == due(2011, 9, 13)
    assert cal.add_working_days(at(2011, 9, 9), 5) == due(2011, 9, 19)


def test_spring_festival_2011_make_up_sunday_and_saturday(cal: WorkingCalendar) -> None:
    # Fri Jan 28; Sun Jan 30 worked (1), Mon 31 (2), Tue Feb 1 (3); Feb 2-8 off; Wed Feb 9 (4),
    # Thu 10 (5), Fri 11 (6), Sat Feb 12 worked (7), Mon 14 (8).
    start = at(2011, 1, 28)
    assert cal.add_working_days(start, 1) == due(2011, 1, 30)
    assert cal.add_working_days(start, 3) == due(2011, 2, 1)
    assert cal.add_working_days(start, 4) == due(2011, 2, 9)
    assert cal.add_working_days(start, 7) == due(2011, 2, 12)
    assert cal.add_working_days(start, 8) == due(2011, 2, 14)


def test_year_boundary_2011_to_2012(cal: WorkingCalendar) -> None:
    # Fri 2011-12-30; Sat Dec 31 worked (1); 2012 Jan 1-3 off; Wed Jan 4 (2), Thu 5 (3).
    start = at(2011, 12, 30, 16)
    assert cal.add_working_days(start, 1) == due(2011, 12, 31)
    assert cal.add_working_days(start, 2) == due(2012, 1, 4)
    assert cal.add_working_days(start, 3) == due(2012, 1, 5)


def test_the_start_day_is_taken_in_china_time_not_utc(cal: WorkingCalendar) -> None:
    # 2011-09-29 17:00 UTC is Friday Sep 30 01:00 in Tianjin; the next working day is Oct 8.
    # Counting from the UTC date (Thursday) would wrongly give Friday Sep 30.
    assert cal.add_working_days(datetime(2011, 9, 29, 17, 0, tzinfo=UTC), 1) == due(2011, 10, 8)
    assert cal.add_working_days(datetime(2011, 9, 29, 15, 0, tzinfo=UTC), 1) == due(2011, 9, 30)


def test_spring_festival_and_qingming_2012(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(at(2012, 1, 20), 1) == due(2012, 1, 21)
    assert cal.add_working_days(at(2012, 1, 20), 2) == due(2012, 1, 29)
    assert cal.add_working_days(at(2012, 1, 20), 3) == due(2012, 1, 30)
    # Fri Mar 30; Sat 31 (1), Sun Apr 1 (2) worked; Apr 2-4 off; Thu Apr 5 (3).
    assert cal.add_working_days(at(2012, 3, 30), 2) == due(2012, 4, 1)
    assert cal.add_working_days(at(2012, 3, 30), 3) == due(2012, 4, 5)


def test_mid_autumn_and_national_day_2012(cal: WorkingCalendar) -> None:
    # Fri Sep 28; Sat Sep 29 worked (1); Sep 30 - Oct 7 off; Mon Oct 8 (2).
    assert cal.add_working_days(at(2012, 9, 28), 1) == due(2012, 9, 29)
    assert cal.add_working_days(at(2012, 9, 28), 2) == due(2012, 10, 8)


def test_n_must_be_positive_and_start_aware(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        cal.add_working_days(at(2011, 3, 7), 0)
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_working_days(datetime(2011, 3, 7, 10), 1)


# --- unknown years --------------------------------------------------------------------------------


def test_a_date_in_a_year_not_loaded_raises(cal: WorkingCalendar) -> None:
    with pytest.raises(CalendarError) as refused:
        cal.is_working_day(date(2013, 3, 4))
    assert refused.value.code == "year_not_loaded"
    assert "2013" in refused.value.zh
    with pytest.raises(CalendarError):
        cal.is_working_day(date(2010, 12, 31))


def test_counting_into_a_year_not_loaded_raises_instead_of_guessing(cal: WorkingCalendar) -> None:
    # Fri 2012-12-28: Mon Dec 31 is known, Jan 1 2013 is not (it is in fact a holiday).
    assert cal.add_working_days(at(2012, 12, 28), 1) == due(2012, 12, 31)
    with pytest.raises(CalendarError, match="2013"):
        cal.add_working_days(at(2012, 12, 28), 2)


def test_only_2012_loaded_does_not_know_the_2011_make_up_saturday() -> None:
    only_2012 = WorkingCalendar.from_data(load(2012))
    assert only_2012.years == frozenset({2012})
    with pytest.raises(CalendarError):
        only_2012.add_working_days(at(2011, 12, 30), 1)


# --- add_hours -------------------------------------------------------------------------------------


def test_urgent_hours_run_through_a_holiday(cal: WorkingCalendar) -> None:
    # 24 hours from Fri 2011-09-30 20:00 end on National Day itself, not after the week off.
    assert cal.add_hours(at(2011, 9, 30, 20), 24) == at(2011, 10, 1, 20)
    assert cal.add_hours(at(2012, 6, 22, 22), 4) == at(2012, 6, 23, 2)


def test_add_hours_returns_china_time_and_needs_no_loaded_year(cal: WorkingCalendar) -> None:
    result = cal.add_hours(datetime(2013, 7, 1, 20, 0, tzinfo=UTC), 4)
    assert result.utcoffset() == timedelta(hours=8)
    assert result == at(2013, 7, 2, 8)
    with pytest.raises(ValueError, match="at least 1"):
        cal.add_hours(at(2011, 3, 7), 0)


# --- refusing bad data -----------------------------------------------------------------------------


def doc(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"year": 2011, "source": "test", "holidays": [], "working_days": []}
    return base | overrides


@pytest.mark.parametrize(
    ("docs", "code"),
    [
        ([], "empty"),
        ([doc(), doc()], "duplicate_year"),
        ([doc(year="2011")], "bad_year"),
        ([doc(holidays="2011-10-01")], "bad_entries"),
        ([doc(holidays=[{"date": "2011-13-01", "name_zh": "x", "name_en": "x"}])], "bad_date"),
        ([doc(holidays=[{"date": "2011-10-01", "name_zh": "", "name_en": "x"}])], "bad_name"),
        (
            [doc(holidays=[{"date": "2012-01-01", "name_zh": "元旦", "name_en": "New Year"}])],
            "date_outside_year",
        ),
        (
            [doc(working_days=[{"date": "2011-10-10", "note_zh": "x"}])],  # a Monday
            "make_up_on_weekday",
        ),
        (
            [
                doc(
                    holidays=[{"date": "2011-10-08", "name_zh": "x", "name_en": "x"}],
                    working_days=[{"date": "2011-10-08", "note_zh": "x"}],
                )
            ],
            "duplicate_date",
        ),
        (
            [doc(holidays=[{"date": "2011-10-01", "name_zh": "x", "name_en": "x"}] * 2)],
            "duplicate_date",
        ),
    ],
)
def test_bad_calendar_data_is_refused(docs: list[dict[str, Any]], code: str) -> None:
    with pytest.raises(CalendarError) as refused:
        WorkingCalendar.from_data(docs)
    assert refused.value.code == code


# --- the provisional calendar (no official file for a year yet) -----------------------------------

PROVISIONAL_2027 = f"provisional:{provisional_calendar.SOURCE}:2027"


@pytest.fixture(scope="module")
def cal_2026() -> WorkingCalendar:
    """What production loads in December 2026: the official files, the library behind them."""
    return provisional_calendar.load(CALENDARS)


def test_the_library_is_the_pinned_one() -> None:
    assert provisional_calendar.SOURCE == "holidays-0.108"


def test_christmas_2026_is_not_the_end_of_the_city(cal_2026: WorkingCalendar) -> None:
    # Fri 2026-12-25 + 5 working days: Mon 28 (1) .. Thu 31 (4); Jan 1 2027 is New Year's Day
    # (statutory, from the library); Mon Jan 4 (5).
    assert 2027 not in cal_2026.years
    assert cal_2026.add_working_days(at(2026, 12, 25), 4) == due(2026, 12, 31)
    assert cal_2026.add_working_days(at(2026, 12, 25), 5) == due(2027, 1, 4)
    assert cal_2026.is_working_day(date(2027, 1, 1)) is False
    h = cal_2026.holiday(date(2027, 1, 1))
    assert h is not None
    assert h.name_zh == "元旦"


def official(year: int) -> str:
    """The label of the shipped official file for `year`: the year and its dates' fingerprint."""
    data = load(year)[0]
    cal = WorkingCalendar.from_data([data])
    return f"official:{year}@{fingerprint(cal.holidays.values(), cal.make_up_days)}"


def test_every_deadline_says_which_calendar_produced_it(cal_2026: WorkingCalendar) -> None:
    assert cal_2026.basis(at(2026, 12, 1), due(2026, 12, 8)) == official(2026)
    assert (
        cal_2026.basis(at(2026, 12, 25), due(2027, 1, 4)) == f"{official(2026)}+{PROVISIONAL_2027}"
    )
    # the day of `start` never counts: filed on the last day of 2026, counted on 2027 only
    assert cal_2026.basis(at(2026, 12, 31, 20), due(2027, 1, 4)) == PROVISIONAL_2027
    assert re.fullmatch(r"official:2026@[0-9a-f]{8}", cal_2026.label(2026))
    assert cal_2026.label(2027) == PROVISIONAL_2027


def test_spring_festival_2027_comes_from_the_library(cal_2026: WorkingCalendar) -> None:
    # Statutory Spring Festival 2027 (Feb 5-10 in the library, observed days included).
    assert not any(cal_2026.is_working_day(date(2027, 2, d)) for d in range(5, 11))
    assert cal_2026.is_working_day(date(2027, 2, 11)) is True


def test_operators_see_a_provisional_year_in_the_metric(cal_2026: WorkingCalendar) -> None:
    cal_2026.is_working_day(date(2027, 3, 1))
    value = REGISTRY.get_sample_value(
        "wuye_calendar_provisional_years",
        {"year": "2027", "source": provisional_calendar.SOURCE},
    )
    assert value == 1


def test_the_library_year_loads_through_the_same_checks() -> None:
    for year in (2027, 2028, 2030, 2100):
        doc = provisional_calendar.library_year(year)
        assert doc is not None
        assert WorkingCalendar.from_data([doc]).years == frozenset({year})
        assert "PROVISIONAL" in doc["source"]


def test_a_year_the_library_cannot_provide_stays_an_error(cal_2026: WorkingCalendar) -> None:
    assert provisional_calendar.library_year(2101) is None
    assert provisional_calendar.provisional_year(1949) is None
    with pytest.raises(CalendarError) as refused:
        cal_2026.is_working_day(date(2101, 3, 1))
    assert refused.value.code == "year_not_loaded"
    with pytest.raises(CalendarError):
        cal_2026.basis(at(2100, 12, 1), due(2101, 1, 5))


def test_the_official_file_wins_over_the_library() -> None:
    asked: list[int] = []

    def source(year: int) -> ProvisionalYear | None:
        asked.append(year)
        return ProvisionalYear(doc(year=year), f"provisional:test:{year}")

    both = WorkingCalendar.from_data(load(2011), provisional=source)
    assert both.label(2011) == official(2011)
    assert both.is_working_day(date(2011, 10, 3)) is False  # the official National Day
    assert asked == []
    assert both.label(2012) == "provisional:test:2012"
    assert both.is_working_day(date(2012, 1, 3)) is True  # the test source knows no holidays
    both.is_working_day(date(2012, 5, 3))
    assert asked == [2012]  # asked once per year


def test_adding_the_official_file_later_changes_only_later_deadlines() -> None:
    def library_only(year: int) -> ProvisionalYear | None:
        return ProvisionalYear(doc(year=year), f"provisional:test:{year}")

    before = WorkingCalendar.from_data(load(2011), provisional=library_only)
    start = at(2011, 12, 30, 16)
    early = (before.add_working_days(start, 2), before.basis(start, due(2012, 1, 2)))
    # Sat Dec 31 is a make-up day (1); the provisional 2012 (no holidays) says Mon Jan 2 (2),
    # the official notice Wed Jan 4
    assert early == (due(2012, 1, 2), f"{official(2011)}+provisional:test:2012")
    after = WorkingCalendar.from_data(load(2011, 2012), provisional=library_only)
    assert after.add_working_days(start, 2) == due(2012, 1, 4)
    assert after.basis(start, due(2012, 1, 4)) == f"{official(2011)}+{official(2012)}"
    assert early == (due(2012, 1, 2), f"{official(2011)}+provisional:test:2012")  # a value: kept


def test_an_official_year_is_versioned_by_its_dates_not_its_layout() -> None:
    """A corrected file for the same year (the State Council amends a notice, a transcription is
    fixed) gives deadlines another label than the file it replaced; reformatting does not."""
    original = load(2026)[0]
    label = WorkingCalendar.from_data([original]).label(2026)
    assert re.fullmatch(r"official:2026@[0-9a-f]{8}", label)
    relaid = {
        "working_days": list(reversed(original["working_days"])),
        "source": "re-typed, same dates",
        "holidays": list(reversed(original["holidays"])),
        "year": 2026,
    }
    assert WorkingCalendar.from_data([relaid]).label(2026) == label
    corrected = json.loads(json.dumps(original))
    corrected["holidays"] = corrected["holidays"][:-1]  # one day fewer off
    assert WorkingCalendar.from_data([corrected]).label(2026) != label
    renamed = json.loads(json.dumps(original))
    renamed["holidays"][0]["name_zh"] = "新年"
    assert WorkingCalendar.from_data([renamed]).label(2026) != label
    # two years loaded together: each keeps its own file's version
    both = WorkingCalendar.from_data(load(2011, 2012))
    assert both.label(2011) == official(2011)
    assert both.label(2012) == official(2012)
    assert official(2011).split("@")[1] != official(2012).split("@")[1]


def test_a_provisional_source_answering_for_another_year_is_refused() -> None:
    wrong = WorkingCalendar.from_data(
        load(2011), provisional=lambda y: ProvisionalYear(doc(year=y + 1), "x")
    )
    with pytest.raises(CalendarError) as refused:
        wrong.is_working_day(date(2012, 1, 3))
    assert refused.value.code == "bad_year"


def test_operators_get_a_warning_when_a_provisional_year_comes_into_use() -> None:
    with capture_logs() as logs:
        year = provisional_calendar.provisional_year(2031)
        missing = provisional_calendar.provisional_year(2150)
    assert year is not None
    assert year.label == f"provisional:{provisional_calendar.SOURCE}:2031"
    assert missing is None
    warning = next(e for e in logs if e["event"] == "calendar_provisional")
    assert warning["log_level"] == "warning"
    assert warning["year"] == 2031
    assert "cn-2031.json" in warning["action"]
    error = next(e for e in logs if e["event"] == "calendar_year_missing")
    assert error["log_level"] == "error"
