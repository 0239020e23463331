"""Safety answers set the tier (issue 13): every category's questions are walked through every
combination of answers, in and out of the flood season, against a table written here by hand, so
a change to categories.json that moves a tier has to change this table too."""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runtime.calendar import CHINA, WorkingCalendar
from services.complaints.adapters import categories_json, sla_json
from services.complaints.domain import categories as complaint_categories
from services.complaints.domain import complaint as c
from services.complaints.domain import sla
from tests.unit.conftest import categories_data

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "services" / "complaints" / "data"
IN_FLOOD = datetime(2011, 7, 20, 3, 0, tzinfo=CHINA)  # a night in the main flood season
DRY = datetime(2011, 11, 16, 10, 0, tzinfo=CHINA)

Answers = Mapping[str, str | bool]
Expect = tuple[sla.Urgency, tuple[str, ...]]


@pytest.fixture(scope="module")
def policy(categories: complaint_categories.Categories) -> sla.SlaPolicy:
    return sla_json.parse(
        json.loads((DATA / "sla.json").read_text(encoding="utf-8")), categories.ids
    )


# --- the table: what every category's answers must give -----------------------------------------


def _safety(a: Answers, flood: bool) -> Expect:
    flags = {
        "fire": "fire_safety",
        "electric": "electric_hazard",
        "falling": "falling_or_structure",
        "structure": "falling_or_structure",
    }
    found = ("people_in_danger",) if a["people_at_risk"] else ()
    if a["hazard"] in flags:
        found += (flags[a["hazard"]],)
    return ("emergency" if a["people_at_risk"] else "urgent", found)


def _water(a: Answers, flood: bool) -> Expect:
    if a["problem"] == "no_water" and a.get("scope") in ("building", "estate"):
        return ("urgent", ("water_cut_building",))
    return ("normal", ())


def _power(a: Answers, flood: bool) -> Expect:
    if a["scope"] in ("building", "estate"):
        return ("urgent", ("power_cut_building",))
    return ("normal", ())


def _gas(a: Answers, flood: bool) -> Expect:
    # the category is urgent by default; a smell names what to do
    return ("urgent", ("gas_smell",) if a["smell"] else ())


def _elevator(a: Answers, flood: bool) -> Expect:
    return ("emergency", ("lift_entrapment",)) if a["trapped"] else ("normal", ())


def _repair(a: Answers, flood: bool) -> Expect:
    if flood and a["facility"] in ("roof_leak", "downpipe"):
        return ("urgent", ("flood_roof_drainage",))
    return ("normal", ())


def _normal(a: Answers, flood: bool) -> Expect:
    return ("normal", ())


EXPECTED: dict[str, Callable[[Answers, bool], Expect]] = {
    "safety": _safety,
    "water": _water,
    "power": _power,
    "gas": _gas,
    "heating": _normal,
    "elevator": _elevator,
    "waste": _normal,
    "greenery": _normal,
    "security": _normal,
    "noise": _normal,
    "repair": _repair,
    "fees": _normal,
    "other": _normal,
}


def every_answer_set(category: complaint_categories.Category) -> Iterator[dict[str, str | bool]]:
    """Every combination of the yes/no and choice answers (an optional one also left out); text
    questions get a fixed answer (they never set a tier)."""
    options: list[list[tuple[str, str | bool] | None]] = []
    for q in category.questions:
        values: list[str | bool]
        if q.kind == "yesno":
            values = [True, False]
        elif q.kind == "choice":
            values = [choice.id for choice in q.choices]
        else:
            values = ["3号楼"]
        row: list[tuple[str, str | bool] | None] = [(q.id, v) for v in values]
        options.append(row if q.required else [*row, None])
    for combination in itertools.product(*options):
        yield dict(pair for pair in combination if pair is not None)


def file(
    category: complaint_categories.Category,
    answers: Answers,
    now: datetime,
    policy: sla.SlaPolicy,
    cal: WorkingCalendar,
    **extra: Any,
) -> c.Complaint:
    args: dict[str, Any] = {
        "complaint_id": "C-1",
        "project_id": "P-1",
        "enterprise_id": "E-1",
        "district_code": "120101",
        "category": category,
        "description": "情况紧急,请尽快处理。",
        "channel": "web",
        "now": now,
        "policy": policy,
        "calendar": cal,
        "answers": answers,
    }
    return c.file_complaint(**(args | extra))


def test_the_table_covers_every_category(categories: complaint_categories.Categories) -> None:
    assert set(EXPECTED) == set(categories.ids)


@pytest.mark.parametrize("category_id", sorted(EXPECTED))
@pytest.mark.parametrize("now", [IN_FLOOD, DRY], ids=["flood-season", "dry-season"])
def test_every_answer_of_every_category_gives_the_tier_in_the_table(
    categories: complaint_categories.Categories,
    policy: sla.SlaPolicy,
    cal: WorkingCalendar,
    category_id: str,
    now: datetime,
) -> None:
    category = categories.get(category_id)
    seen = 0
    for answers in every_answer_set(category):
        complaint = file(category, answers, now, policy, cal)
        expected = EXPECTED[category_id](answers, now == IN_FLOOD)
        assert (complaint.urgency, complaint.safety) == expected, (category_id, answers)
        seen += 1
    assert seen >= 1


def test_someone_trapped_in_a_lift_is_an_emergency_accepted_within_minutes_on_a_holiday_night(
    categories: complaint_categories.Categories, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    night = datetime(2011, 10, 2, 23, 50, tzinfo=CHINA)  # National Day holiday, near midnight
    trapped = file(categories.get("elevator"), {"trapped": True}, night, policy, cal)
    assert trapped.urgency == "emergency"
    assert trapped.safety == ("lift_entrapment",)
    assert trapped.acceptance.deadline == night + timedelta(minutes=5)
    assert trapped.acceptance.warn_at == night + timedelta(minutes=4)
    assert trapped.completion.deadline == night + timedelta(hours=24)  # not after the holiday
    # a lift that only stopped stays a normal complaint with a working-day limit
    stopped = file(categories.get("elevator"), {"trapped": False}, night, policy, cal)
    assert stopped.urgency == "normal"
    assert stopped.acceptance.deadline > night + timedelta(days=1)


def test_the_emergency_tier_is_never_slower_than_urgent_for_any_category(
    categories: complaint_categories.Categories, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    for category in categories.ids:
        for when in (IN_FLOOD, DRY, datetime(2011, 9, 30, 18, tzinfo=CHINA)):
            emergency = policy.start_clocks(category, "emergency", when, cal)
            urgent = policy.start_clocks(category, "urgent", when, cal)
            assert emergency[0].deadline <= urgent[0].deadline, category
            assert emergency[1].deadline <= urgent[1].deadline, category
            assert emergency[0].deadline - when <= timedelta(minutes=5), category


def test_staff_may_not_lower_the_tier_the_answers_set_but_may_raise_it(
    categories: complaint_categories.Categories, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    staff = {"channel": "phone", "filed_by": "S-1", "registered_by": "enterprise"}
    gas = categories.get("gas")
    smell = file(gas, {"smell": True}, DRY, policy, cal, urgency="normal", **staff)
    assert (smell.urgency, smell.safety) == ("urgent", ("gas_smell",))
    calm = file(gas, {"smell": False}, DRY, policy, cal, urgency="normal", **staff)
    assert (calm.urgency, calm.safety) == ("normal", ())
    lift = categories.get("elevator")
    trapped = file(lift, {"trapped": True}, DRY, policy, cal, urgency="urgent", **staff)
    assert trapped.urgency == "emergency"
    noise = categories.get("noise")
    raised = file(noise, {"source": "equipment"}, DRY, policy, cal, urgency="urgent", **staff)
    assert (raised.urgency, raised.safety) == ("urgent", ())


@pytest.mark.parametrize(
    ("moment", "urgent"),
    [
        (datetime(2011, 5, 31, 23, 59, tzinfo=CHINA), False),
        (datetime(2011, 6, 1, 0, 0, tzinfo=CHINA), True),
        (datetime(2011, 5, 31, 16, 0, tzinfo=UTC), True),  # 06-01 00:00 in Tianjin
        (datetime(2011, 9, 30, 23, 59, tzinfo=CHINA), True),
        (datetime(2011, 9, 30, 16, 0, tzinfo=UTC), False),  # 10-01 00:00 in Tianjin
        (datetime(2012, 8, 1, 12, 0, tzinfo=CHINA), True),
    ],
)
def test_the_flood_season_runs_june_1_to_september_30_china_time(
    categories: complaint_categories.Categories,
    policy: sla.SlaPolicy,
    cal: WorkingCalendar,
    moment: datetime,
    urgent: bool,
) -> None:
    leak = file(categories.get("repair"), {"facility": "roof_leak"}, moment, policy, cal)
    assert leak.urgency == ("urgent" if urgent else "normal")


@pytest.mark.parametrize(
    ("moment", "urgent"),
    [
        (datetime(2012, 6, 14, 23, 59, tzinfo=CHINA), False),
        (datetime(2012, 6, 14, 16, 0, tzinfo=UTC), True),  # 06-15 00:00 in Tianjin
        (datetime(2012, 9, 15, 23, 59, tzinfo=CHINA), True),
        (datetime(2012, 9, 15, 16, 0, tzinfo=UTC), False),  # 09-16 00:00 in Tianjin
    ],
)
def test_the_flood_season_s_dates_are_configuration(
    policy: sla.SlaPolicy, cal: WorkingCalendar, moment: datetime, urgent: bool
) -> None:
    """SEASONS={"flood": "06-15..09-15"}: the dates the city's flood-control headquarters gave
    for Tianjin (in 2025) replace the file's; the rule and its advice stay."""
    moved = categories_json.parse(categories_data(), {"flood": "06-15..09-15"})
    leak = file(moved.get("repair"), {"facility": "downpipe"}, moment, policy, cal)
    assert leak.urgency == ("urgent" if urgent else "normal")
    assert leak.safety == (("flood_roof_drainage",) if urgent else ())


@pytest.mark.parametrize(
    ("dates", "says"),
    [
        ({"typhoon": "07-01..08-31"}, "'typhoon' is not a season"),
        ({"flood": "06-15"}, "not a span like 06-01..09-30"),
        ({"flood": "06-31..09-15"}, "SEASONS.flood: '06-31' is not a month-day"),
        ({"flood": "6-1..9-30"}, "is not a month-day"),
    ],
)
def test_a_season_configured_wrong_is_refused_with_the_reason(
    dates: dict[str, str], says: str
) -> None:
    with pytest.raises(categories_json.CategoryError, match=says):
        categories_json.parse(categories_data(), dates)


def test_the_alerts_of_a_complaint_carry_bilingual_advice(
    categories: complaint_categories.Categories, policy: sla.SlaPolicy, cal: WorkingCalendar
) -> None:
    trapped = file(categories.get("elevator"), {"trapped": True}, DRY, policy, cal)
    [alert] = categories.alerts(trapped)
    assert "电梯轿厢内张贴的应急救援电话" in alert.advice_zh
    assert "119" in alert.advice_zh
    assert "emergency rescue number posted inside the lift car" in alert.advice_en
    gas = file(categories.get("gas"), {"smell": True}, DRY, policy, cal)
    [advice] = categories.alerts(gas)
    assert "燃气公司" in advice.advice_zh
    assert "离开" in advice.advice_zh
    assert "gas company" in advice.advice_en
    plain = file(categories.get("noise"), {"source": "business"}, DRY, policy, cal)
    assert categories.alerts(plain) == ()
    for category in categories.by_id.values():
        for rule in category.safety:
            assert rule.advice_zh.strip()
            assert rule.advice_en.strip()


def elevator(data: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = next(x for x in data["categories"] if x["id"] == "elevator")
    return found


def repair_rule(data: dict[str, Any]) -> dict[str, Any]:
    repair = next(x for x in data["categories"] if x["id"] == "repair")
    rule: dict[str, Any] = repair["safety"][0]
    return rule


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: elevator(d)["safety"][0].update(tier="critical"), "tier must be one of"),
        (lambda d: elevator(d)["safety"][0].update(when={"stuck": True}), "no question 'stuck'"),
        (lambda d: elevator(d)["safety"][0].update(when={"trapped": "yes"}), "true or false"),
        (lambda d: elevator(d)["safety"][0].update(when={"building": "3"}), "free-text"),
        (lambda d: elevator(d)["safety"][0].update(when={}), "at least one question"),
        (lambda d: elevator(d)["safety"][0].update(season="winter"), "season must be one of"),
        (lambda d: elevator(d)["safety"][0].pop("advice_en"), "advice_en"),
        (lambda d: elevator(d)["safety"][0].update(level=1), "unknown keys"),
        (lambda d: elevator(d)["safety"].append(elevator(d)["safety"][0]), "listed twice"),
        (lambda d: repair_rule(d).update(when={"facility": ["roof_leak", "x"]}), "choice ids"),
        (lambda d: d["seasons"][0].update({"from": "06-31"}), "month-day"),
        (lambda d: d["seasons"][0].update({"to": "9-30"}), "month-day"),
        (lambda d: d["seasons"].append(copy.deepcopy(d["seasons"][0])), "listed twice"),
    ],
)
def test_safety_rules_that_make_no_sense_are_refused_at_load(
    change: Callable[[dict[str, Any]], object], message: str
) -> None:
    data = categories_data()
    change(data)
    with pytest.raises(categories_json.CategoryError, match=message):
        categories_json.parse(data)


def test_a_season_may_wrap_the_new_year() -> None:
    winter = complaint_categories.Season("heating", "供暖期", "heating season", (11, 15), (3, 15))
    assert winter.contains(datetime(2011, 12, 31).date())
    assert winter.contains(datetime(2012, 3, 15).date())
    assert not winter.contains(datetime(2012, 3, 16).date())
    assert not winter.contains(datetime(2011, 11, 14).date())


def test_the_seasons_setting_reaches_the_service_s_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    """SEASONS in the environment (JSON, as Kubernetes sets it) is what the service loads."""
    from services.complaints import bootstrap
    from services.complaints.settings import ComplaintsSettings

    monkeypatch.setenv("SEASONS", '{"flood": "06-15..09-15"}')
    monkeypatch.setenv("DATABASE_URL", "postgresql://unused/none")
    rules = bootstrap._load_rules(ComplaintsSettings())
    [rule] = rules.categories.get("repair").safety
    assert rule.season is not None
    assert (rule.season.start, rule.season.end) == ((6, 15), (9, 15))
    monkeypatch.delenv("SEASONS")
    [default] = bootstrap._load_rules(ComplaintsSettings()).categories.get("repair").safety
    assert default.season is not None
    assert (default.season.start, default.season.end) == ((6, 1), (9, 30))
