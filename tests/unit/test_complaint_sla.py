"""Complaint SLA clocks: the service's own working-day calendar on the shared reference files,
the limits in data/sla.json, warning points and what a timer owes (due_events)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtime.calendar import CHINA, CalendarError, WorkingCalendar
from services.complaints.adapters import categories_json, sla_json
from services.complaints.domain import categories as complaint_categories
from services.complaints.domain import complaint as c
from services.complaints.domain import sla

ROOT = Path(__file__).resolve().parents[2]
CALENDARS = ROOT / "reference" / "calendars"
DATA = ROOT / "services" / "complaints" / "data"


def load(*years: int) -> list[dict[str, Any]]:
    return [json.loads((CALENDARS / f"cn-{y}.json").read_text(encoding="utf-8")) for y in years]


def sla_data() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / "sla.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def policy(categories: complaint_categories.Categories) -> sla.SlaPolicy:
    return sla_json.parse(sla_data(), categories.ids)


def at(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=CHINA)


def end_of(y: int, m: int, d: int) -> datetime:
    return datetime.combine(date(y, m, d), time(23, 59, 59, 999999), tzinfo=CHINA)


# --- the calendar (this service's own reading of reference/calendars) --------------------------


def test_every_reference_file_loads_with_this_services_calendar() -> None:
    docs = [json.loads(f.read_text(encoding="utf-8")) for f in sorted(CALENDARS.glob("cn-*.json"))]
    assert len(docs) >= 2
    loaded = WorkingCalendar.from_data(docs)
    assert {2011, 2012} <= loaded.years


def test_national_day_2011_with_its_make_up_weekend(cal: WorkingCalendar) -> None:
    assert cal.is_working_day(date(2011, 9, 30))  # Friday before the holiday
    assert not any(cal.is_working_day(date(2011, 10, d)) for d in range(1, 8))
    assert cal.is_working_day(date(2011, 10, 8))  # Saturday, 调休上班
    assert cal.is_working_day(date(2011, 10, 9))  # Sunday, 调休上班
    assert not cal.is_working_day(date(2011, 10, 15))  # an ordinary Saturday
    assert cal.is_working_day(date(2011, 12, 31))  # Saturday worked for New Year 2012


def test_working_days_skip_a_weekend_and_the_holiday(cal: WorkingCalendar) -> None:
    assert cal.add_working_days(at(2011, 8, 19, 16), 1) == end_of(2011, 8, 22)  # Fri -> Mon
    assert cal.add_working_days(at(2011, 9, 30, 9), 1) == end_of(2011, 10, 8)  # -> make-up Sat
    assert cal.add_working_days(at(2011, 9, 29, 9), 5) == end_of(2011, 10, 11)
    # the China-time day counts: 2011-09-29 17:00 UTC is already Friday the 30th in Tianjin
    assert cal.add_working_days(datetime(2011, 9, 29, 17, tzinfo=UTC), 1) == end_of(2011, 10, 8)


def test_a_year_not_loaded_is_refused_not_guessed(cal: WorkingCalendar) -> None:
    with pytest.raises(CalendarError) as refused:
        cal.is_working_day(date(2013, 1, 4))
    assert refused.value.code == "year_not_loaded"
    assert "2013" in refused.value.zh
    with pytest.raises(CalendarError):
        cal.add_working_days(at(2012, 12, 28), 3)  # runs into 2013


def test_naive_datetimes_and_zero_days_are_refused(cal: WorkingCalendar) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cal.add_working_days(datetime(2011, 8, 1, 10), 1)  # naive on purpose
    with pytest.raises(ValueError, match="at least 1"):
        cal.add_working_days(at(2011, 8, 1), 0)


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ({"year": 2011, "holidays": [{"date": "2012-01-01"}]}, "date_outside_year"),
        ({"year": 2011, "working_days": [{"date": "2011-10-10"}]}, "make_up_on_weekday"),
        (
            {
                "year": 2011,
                "holidays": [
                    {"date": "2011-10-01", "name_zh": "国庆节", "name_en": "National Day"},
                    {"date": "2011-10-01", "name_zh": "国庆节", "name_en": "National Day"},
                ],
            },
            "duplicate_date",
        ),
        ({"year": "2011"}, "bad_year"),
        ({"year": 2011, "holidays": [{"date": "2011-13-01"}]}, "bad_date"),
    ],
)
def test_calendar_data_breaking_the_readme_rules_is_refused(doc: dict[str, Any], code: str) -> None:
    with pytest.raises(CalendarError) as refused:
        WorkingCalendar.from_data([doc])
    assert refused.value.code == code


def test_no_year_and_a_year_twice_are_refused() -> None:
    with pytest.raises(CalendarError) as empty:
        WorkingCalendar.from_data([])
    assert empty.value.code == "empty"
    with pytest.raises(CalendarError) as twice:
        WorkingCalendar.from_data(load(2011, 2011))
    assert twice.value.code == "duplicate_year"


# --- the data files ----------------------------------------------------------------------------


def test_the_category_list_is_the_realistic_one(
    categories: complaint_categories.Categories,
) -> None:
    assert categories.ids == (
        "safety",
        "water",
        "power",
        "gas",
        "heating",
        "elevator",
        "waste",
        "greenery",
        "security",
        "noise",
        "repair",
        "fees",
        "other",
    )
    assert categories.get("safety").name_zh == "安全隐患"
    assert categories.get("heating").name_zh == "供热"
    assert categories.get("safety").urgency == "urgent"
    assert categories.get("gas").urgency == "urgent"
    assert categories.get("noise").urgency == "normal"


@pytest.mark.parametrize(
    ("category", "limit"),
    [
        ("safety", sla.Limit(minutes=15)),
        ("water", sla.Limit(minutes=30)),
        ("power", sla.Limit(minutes=30)),
        ("gas", sla.Limit(minutes=30)),
        ("heating", sla.Limit(minutes=30)),
        ("elevator", sla.Limit(working_days=1)),
        ("noise", sla.Limit(working_days=1)),
        ("repair", sla.Limit(working_days=1)),
        ("fees", sla.Limit(working_days=1)),
        ("other", sla.Limit(working_days=1)),
    ],
)
def test_acceptance_limits_for_normal_urgency(
    policy: sla.SlaPolicy, category: str, limit: sla.Limit
) -> None:
    assert policy.rules(category, "normal").acceptance == limit


def test_every_category_has_rules_for_every_tier_and_a_higher_tier_is_never_slower(
    policy: sla.SlaPolicy, categories: complaint_categories.Categories, cal: WorkingCalendar
) -> None:
    assert sla.URGENCIES == ("normal", "urgent", "emergency")  # rising order
    filed = at(2011, 8, 15, 9)
    for category in categories.ids:
        normal, urgent, emergency = (
            (
                policy.acceptance_deadline(category, u, filed, cal),
                policy.completion_deadline(category, u, filed, cal),
            )
            for u in sla.URGENCIES
        )
        assert emergency[0] <= urgent[0] <= normal[0], category
        assert emergency[1] <= urgent[1] <= normal[1], category
        assert normal[0] < normal[1], category


def test_policy_settings_come_from_the_file(policy: sla.SlaPolicy) -> None:
    assert (policy.warning_percent, policy.auto_close_days, policy.max_transfers) == (80, 7, 2)
    # a category-specific override keeps the default for the clock it does not name
    assert policy.rules("fees", "normal") == sla.Rules(
        sla.Limit(working_days=1), sla.Limit(working_days=10)
    )
    assert policy.rules("water", "urgent").acceptance == sla.Limit(minutes=30)


# --- deadlines ---------------------------------------------------------------------------------


def test_minute_limits_run_through_the_night_and_the_holiday(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    filed = at(2011, 10, 1, 3, 0)  # 03:00 on National Day
    assert policy.acceptance_deadline("safety", "normal", filed, cal) == at(2011, 10, 1, 3, 15)
    assert policy.acceptance_deadline("water", "normal", filed, cal) == at(2011, 10, 1, 3, 30)
    assert policy.acceptance_deadline("gas", "urgent", filed, cal) == at(2011, 10, 1, 3, 15)


def test_one_working_day_to_accept_over_a_weekend(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    # Friday afternoon: the filing day never counts, Saturday and Sunday are not working days
    assert policy.acceptance_deadline("repair", "normal", at(2011, 8, 19, 16), cal) == end_of(
        2011, 8, 22
    )
    # Monday morning: due at the end of Tuesday
    assert policy.acceptance_deadline("repair", "normal", at(2011, 8, 22, 8), cal) == end_of(
        2011, 8, 23
    )


def test_one_working_day_to_accept_over_national_day_ends_on_the_make_up_saturday(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    for filed in (at(2011, 9, 30, 16), at(2011, 10, 1, 9), at(2011, 10, 7, 22)):
        assert policy.acceptance_deadline("noise", "normal", filed, cal) == end_of(2011, 10, 8)


def test_completion_in_working_days_across_the_national_day_holiday(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    filed = at(2011, 9, 29, 10)  # Thursday
    # 9-30 (1), 10-1..7 off, 10-8 Sat make-up (2), 10-9 Sun make-up (3), 10-10 (4), 10-11 (5)
    assert policy.completion_deadline("repair", "normal", filed, cal) == end_of(2011, 10, 11)
    assert policy.completion_deadline("water", "normal", filed, cal) == end_of(2011, 10, 9)
    assert policy.completion_deadline("safety", "urgent", filed, cal) == end_of(2011, 9, 30)
    # fees: 10 working days: 9-30, 10-8, 10-9 (3), 10-10..14 (8), 10-17, 10-18 (10)
    assert policy.completion_deadline("fees", "normal", filed, cal) == end_of(2011, 10, 18)


def test_completion_across_an_ordinary_weekend(policy: sla.SlaPolicy, cal: WorkingCalendar) -> None:
    assert policy.completion_deadline("waste", "normal", at(2011, 8, 19, 16), cal) == end_of(
        2011, 8, 26
    )


def test_an_unknown_category_or_urgency_has_no_rule(policy: sla.SlaPolicy) -> None:
    with pytest.raises(sla.SlaError, match="unknown category"):
        policy.rules("parking", "normal")
    with pytest.raises(sla.SlaError, match="unknown urgency"):
        policy.rules("water", "critical")  # type: ignore[arg-type]


# --- warning points ----------------------------------------------------------------------------


def test_warning_at_80_percent_of_a_minute_limit(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    filed = at(2011, 10, 1, 3, 0)
    assert policy.warning_at("safety", "normal", "acceptance", filed, cal) == at(2011, 10, 1, 3, 12)
    assert policy.warning_at("water", "normal", "acceptance", filed, cal) == at(2011, 10, 1, 3, 24)


def test_warning_at_80_percent_of_working_time(policy: sla.SlaPolicy, cal: WorkingCalendar) -> None:
    filed = at(2011, 9, 29, 10)
    # 5 working days: 80% is the end of the 4th working day (10-10), not a moment in the holiday
    assert policy.warning_at("repair", "normal", "completion", filed, cal) == end_of(2011, 10, 10)
    # 3 working days: 2.4 -> 40% into the 3rd working day, the make-up Sunday, at 09:36
    assert policy.warning_at("water", "normal", "completion", filed, cal) == at(2011, 10, 9, 9, 36)
    # 1 working day from the Friday before the holiday: 80% into the make-up Saturday
    assert policy.warning_at("repair", "normal", "acceptance", at(2011, 9, 30, 16), cal) == at(
        2011, 10, 8, 19, 12
    )


def test_the_warning_percent_is_data(
    categories: complaint_categories.Categories, cal: WorkingCalendar
) -> None:
    data = sla_data()
    data["warning_percent"] = 50
    half = sla_json.parse(data, categories.ids)
    filed = at(2011, 9, 29, 10)
    # 2.5 of 5 working days: halfway through the 3rd (the make-up Sunday)
    assert half.warning_at("repair", "normal", "completion", filed, cal) == at(2011, 10, 9, 12)
    assert half.warning_at("safety", "normal", "acceptance", filed, cal) == filed + timedelta(
        minutes=7, seconds=30
    )


def test_start_clocks_match_the_single_functions(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    filed = at(2011, 9, 29, 10)
    acceptance, completion = policy.start_clocks("gas", "urgent", filed, cal)
    assert acceptance == sla.Clock(
        "acceptance",
        policy.acceptance_deadline("gas", "urgent", filed, cal),
        policy.warning_at("gas", "urgent", "acceptance", filed, cal),
        calendar="elapsed",  # a limit in minutes counts no calendar
    )
    assert completion.deadline == policy.completion_deadline("gas", "urgent", filed, cal)
    assert completion.warn_at == policy.warning_at("gas", "urgent", "completion", filed, cal)
    assert completion.calendar == cal.label(2011)
    assert completion.calendar.startswith("official:2011@")


def test_extension_and_reopening_record_the_calendar_they_counted_on(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    _, completion = policy.start_clocks("other", "normal", at(2011, 12, 20), cal)
    assert completion.calendar == cal.label(2011)
    extended = policy.extend(completion, 10, cal)  # reaches into January 2012
    assert extended.deadline.year == 2012
    assert extended.calendar == f"{cal.label(2011)}+{cal.label(2012)}"
    fresh = policy.restart(completion, "other", "normal", at(2012, 3, 1), cal)
    assert fresh.calendar == cal.label(2012)
    assert fresh.calendar.startswith("official:2012@")


# --- breach and what a timer owes ----------------------------------------------------------------


def test_the_deadline_itself_is_in_time() -> None:
    clock = sla.Clock("completion", end_of(2011, 10, 11), end_of(2011, 10, 10))
    assert not sla.breached(clock, end_of(2011, 10, 11))
    assert sla.breached(clock, end_of(2011, 10, 11) + timedelta(microseconds=1))
    assert not sla.breached(clock, at(2011, 10, 11, 23, 59))
    with pytest.raises(ValueError, match="timezone-aware"):
        sla.breached(clock, datetime(2011, 10, 12))  # naive on purpose


def test_clock_due_kinds() -> None:
    clock = sla.Clock("acceptance", at(2011, 8, 1, 10, 15), at(2011, 8, 1, 10, 12))
    assert clock.due(at(2011, 8, 1, 10, 11)) is None
    assert clock.due(at(2011, 8, 1, 10, 12)) == "warning"
    assert clock.due(at(2011, 8, 1, 10, 16)) == "overdue"
    warned = sla.Clock(
        "acceptance", clock.deadline, clock.warn_at, warned_at=at(2011, 8, 1, 10, 12)
    )
    assert warned.due(at(2011, 8, 1, 10, 13)) is None
    assert warned.due(at(2011, 8, 1, 10, 16)) == "overdue"
    done = sla.Clock("acceptance", clock.deadline, clock.warn_at, overdue_at=at(2011, 8, 1, 10, 16))
    assert done.due(at(2011, 8, 1, 12)) is None


def test_extend_moves_the_deadline_in_working_days(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    clock = sla.Clock("completion", end_of(2011, 9, 30), at(2011, 9, 30, 4, 48))
    extended = policy.extend(clock, 3, cal)
    assert extended.deadline == end_of(2011, 10, 10)  # 10-8, 10-9, 10-10
    assert extended.warn_at == at(2011, 10, 10, 9, 36)  # 2.4 of the 3 days
    assert (extended.warned_at, extended.overdue_at) == (None, None)


def test_restart_gives_the_time_again_unless_the_deadline_is_later(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    clock = sla.Clock(
        "completion", end_of(2011, 8, 26), end_of(2011, 8, 25), warned_at=at(2011, 8, 25)
    )
    restarted = policy.restart(clock, "repair", "normal", at(2011, 8, 24), cal)
    assert restarted.deadline == end_of(2011, 8, 31)
    assert restarted.warned_at == at(2011, 8, 25)  # a mark once set stays
    far = sla.Clock("completion", end_of(2011, 9, 30), end_of(2011, 9, 29))
    assert policy.restart(far, "repair", "normal", at(2011, 8, 24), cal) is far


# --- the data is checked on load -----------------------------------------------------------------


def _broken(change: Any) -> dict[str, Any]:
    data = copy.deepcopy(sla_data())
    change(data)
    return data


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["by_category"].update(parking={}), "not a category"),
        (lambda d: d["default"].pop("urgent"), "default.urgent must be an object"),
        (
            lambda d: d["default"]["normal"].update(acceptance={"minutes": 5, "working_days": 1}),
            "exactly one",
        ),
        (lambda d: d["default"]["normal"].update(acceptance={}), "exactly one"),
        (lambda d: d["default"]["normal"].update(completion={"working_days": 0}), "from 1"),
        (lambda d: d["default"]["normal"].update(completion={"working_days": True}), "from 1"),
        (lambda d: d["default"]["normal"].update(completion={"days": 3}), "unknown keys"),
        (lambda d: d["by_category"]["safety"].update(critical={}), "unknown keys"),
        (lambda d: d.update(warning_percent=100), "warning_percent"),
        (lambda d: d.update(max_transfers=-1), "max_transfers"),
        (lambda d: d.update(auto_close_days=0), "auto_close_days"),
    ],
)
def test_sla_data_that_makes_no_sense_is_refused(
    categories: complaint_categories.Categories, change: Any, message: str
) -> None:
    with pytest.raises(sla.SlaError, match=message):
        sla_json.parse(_broken(change), categories.ids)


# --- due_events on a complaint -------------------------------------------------------------------

STAFF = c.Staff("S-1", "E-1")


def filed(policy: sla.SlaPolicy, cal: WorkingCalendar, category: str, now: datetime) -> c.Complaint:
    cats = categories_json.parse(json.loads((DATA / "categories.json").read_text(encoding="utf-8")))
    by_category: dict[str, dict[str, str | bool]] = {
        "safety": {"hazard": "fire", "people_at_risk": False},
        "repair": {"facility": "lighting"},
    }
    answers = by_category[category]
    return c.file_complaint(
        complaint_id="C-1",
        project_id="P-1",
        enterprise_id="E-1",
        district_code="120101",
        category=cats.get(category),
        description="消防通道被杂物堵塞",
        channel="web",
        now=now,
        policy=policy,
        calendar=cal,
        answers=answers,
        urgency="normal",
    )


def test_acceptance_warning_then_overdue_each_once(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    complaint = filed(policy, cal, "safety", at(2011, 10, 1, 3, 0))
    assert sla.due_events(complaint, at(2011, 10, 1, 3, 11)) == []
    assert sla.due_events(complaint, at(2011, 10, 1, 3, 12)) == [("warning", "acceptance")]
    warned = c.record_due(complaint, [("warning", "acceptance")], at(2011, 10, 1, 3, 12))
    assert warned.acceptance.warned_at == at(2011, 10, 1, 3, 12)
    assert sla.due_events(warned, at(2011, 10, 1, 3, 14)) == []
    assert sla.due_events(warned, at(2011, 10, 1, 3, 16)) == [("overdue", "acceptance")]
    late = c.record_due(warned, [("overdue", "acceptance")], at(2011, 10, 1, 3, 16))
    assert sla.due_events(late, at(2011, 10, 1, 4, 0)) == []
    # recording again never moves a mark
    again = c.record_due(late, [("overdue", "acceptance")], at(2011, 10, 1, 5, 0))
    assert again.acceptance.overdue_at == at(2011, 10, 1, 3, 16)


def test_a_breach_found_before_its_warning_is_reported_as_overdue_only(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    complaint = filed(policy, cal, "safety", at(2011, 10, 1, 3, 0))
    due = sla.due_events(complaint, at(2011, 10, 1, 3, 20))
    assert due == [("overdue", "acceptance")]
    marked = c.record_due(complaint, due, at(2011, 10, 1, 3, 20))
    assert marked.acceptance.warned_at is None
    assert sla.due_events(marked, at(2011, 10, 1, 3, 25)) == []


def test_both_clocks_can_be_due_at_once(policy: sla.SlaPolicy, cal: WorkingCalendar) -> None:
    complaint = filed(policy, cal, "repair", at(2011, 9, 29, 10))  # nobody ever accepts it
    assert sla.due_events(complaint, at(2011, 10, 12, 0, 0)) == [
        ("overdue", "acceptance"),
        ("overdue", "completion"),
    ]


def test_acceptance_stops_at_acceptance_completion_runs_on(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    complaint = c.accept(
        filed(policy, cal, "repair", at(2011, 9, 29, 10)), STAFF, at(2011, 9, 29, 11)
    )
    assert sla.due_events(complaint, at(2011, 10, 1, 0, 0)) == []  # acceptance deadline passed
    assert sla.due_events(complaint, end_of(2011, 10, 10)) == [("warning", "completion")]
    assert sla.due_events(complaint, at(2011, 10, 12, 0, 0)) == [("overdue", "completion")]


def test_completion_stands_still_while_the_owner_is_asked_and_runs_again_when_reopened(
    policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    complaint = c.accept(
        filed(policy, cal, "repair", at(2011, 9, 29, 10)), STAFF, at(2011, 9, 29, 11)
    )
    replied = c.reply(complaint, "S-1", "已更换楼道灯", at(2011, 9, 30, 10))
    assert sla.due_events(replied, at(2011, 10, 20)) == []
    reopened = c.give_feedback(
        replied,
        satisfied=False,
        rating=2,
        comment="灯还是不亮",
        now=at(2011, 10, 20),
        policy=policy,
        calendar=cal,
    )
    # a fresh 5 working days from the reopening: 10-21, 10-24..27
    assert reopened.completion.deadline == end_of(2011, 10, 27)
    assert sla.due_events(reopened, at(2011, 10, 21)) == []
    assert sla.due_events(reopened, at(2011, 10, 28)) == [("overdue", "completion")]
    closed = c.give_feedback(
        c.reply(reopened, "S-1", "已更换镇流器", at(2011, 10, 21)),
        satisfied=True,
        rating=5,
        comment=None,
        now=at(2011, 10, 21, 12),
        policy=policy,
        calendar=cal,
    )
    assert sla.due_events(closed, at(2011, 12, 1)) == []
