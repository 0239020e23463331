"""The campaign's own figures (issue 16) without a database: the window's instants, the rates,
the public subset and the CSV (domain/figures.py), and the facts' fold attributed to a campaign by
their own time (the in-memory fake of the figure queries, fed through the service's handlers)."""

from __future__ import annotations

import csv
import uuid
from datetime import date, datetime, timedelta

import pytest

from runtime.auth import Principal, Role
from schemas.campaigns import v1 as campaigns
from schemas.inspections import v1 as inspections
from services.exposure.adapters.memory_queries import MemoryFigureQueries
from services.exposure.domain import figures
from services.exposure.domain.figures import CHINA, Figures, Window
from services.exposure.entrypoints.policy import figures_refusal
from services.exposure.service import facts
from tests import factories
from tests.unit.exposure.builders import delivered, unit

MONTH = Window("quality-month-2011", "物业服务质量月", date(2011, 8, 1), date(2011, 8, 31))


def test_a_window_runs_from_china_midnight_of_its_first_day_to_after_its_last() -> None:
    assert MONTH.start == datetime(2011, 8, 1, tzinfo=CHINA)
    assert MONTH.end == datetime(2011, 9, 1, tzinfo=CHINA)  # the 31st is included
    assert (figures.ALL_TIME.start, figures.ALL_TIME.end) == (None, None)


def test_rates_are_computed_from_the_counts_and_none_when_nothing_is_due() -> None:
    f = Figures(
        by="district", key="120101", name="和平区", self_inspections=3, patrols=1,
        group_failures={("self", "waste"): 1, ("patrol", "waste"): 1, ("self", "order"): 2},
        orders_due=4, orders_on_time=3, complaints_acceptance_due=2,
        complaints_accepted_on_time=1, survey_households=200, survey_responses=50,
        satisfied=45.0, rated_responses=50,
    )  # fmt: skip
    assert f.inspections == 4
    assert f.group_failure_rate("waste") == 0.5  # 2 of 4 inspections
    assert f.group_failure_rate("waste", patrols_only=True) == 1.0  # the one patrol
    assert f.group_failure_rate("order", patrols_only=True) == 0.0
    assert f.group_failure_rate("premises") == 0.0
    assert f.on_time_rectification_rate == 0.75
    assert f.acceptance_rate == 0.5
    assert f.completion_rate is None  # nothing due: no rate, not 0 %
    assert f.survey_coverage == 0.25
    assert f.satisfaction_rate == 0.9
    empty = Figures(by="district", key="120102", name="河东区")
    assert empty.group_failure_rate("waste") is None
    assert empty.satisfaction_rate is None


def _read(text: str) -> list[dict[str, str]]:
    assert text.startswith("\ufeff")  # Excel's BOM
    return list(csv.DictReader(text[1:].splitlines()))


def test_the_public_csv_leaves_out_what_is_not_public() -> None:
    row = Figures(
        by="enterprise", key="=E-1", name="津城物业", self_inspections=5, patrols=2,
        plans_submitted=1, plans_due=1, cases_opened=3, cases_published=1,
    )  # fmt: skip
    [full] = _read(figures.figures_csv(MONTH, [row], "enterprise", public=False))
    [public] = _read(figures.figures_csv(MONTH, [row], "enterprise", public=True))
    for private in ("企业自查 Self-inspections", "已交活动方案 Plans submitted",
                    "新立曝光案件 Cases opened",
                    "垃圾不合格率（%，全部检查） Waste failure rate (%, all inspections)"):  # fmt: skip
        assert private in full
        assert private not in public
    assert public["已公开曝光 Cases published"] == "1"
    assert public["巡查 Patrols"] == "2"
    assert full["企业自查 Self-inspections"] == "5"
    assert full["企业编号 Enterprise id"] == "'=E-1"  # no spreadsheet formula
    assert full["起止日期 Dates"] == "2011-08-01/2011-08-31"
    assert full["按期整改率（%） On-time rectification (%)"] == ""  # nothing due
    all_time = _read(figures.figures_csv(figures.ALL_TIME, [row], "enterprise", public=True))
    assert all_time[0]["专项行动 Campaign"] == "全部 all time"
    with pytest.raises(ValueError, match="another kind"):
        figures.figures_csv(MONTH, [row], "district", public=True)


def test_the_json_has_the_csvs_columns_and_the_public_json_no_other() -> None:
    row = Figures(
        by="enterprise", key="E-1", name="津城物业", self_inspections=5, patrols=2,
        orders_due=4, orders_on_time=3, plans_submitted=1, plans_due=1, cases_opened=3,
    )  # fmt: skip
    full = figures.figures_json(MONTH, [MONTH], [row], "enterprise", "120101", public=False)
    public = figures.figures_json(MONTH, [MONTH], [row], "enterprise", "120101", public=True)
    assert full["campaign"] == {
        "campaign_id": MONTH.campaign_id, "title_zh": MONTH.title_zh,
        "starts_on": MONTH.starts_on, "ends_on": MONTH.ends_on,
    }  # fmt: skip
    [f] = full["rows"]  # type: ignore[misc]
    [p] = public["rows"]  # type: ignore[misc]
    assert list(f) == ["key", "name", *(c.key for c in figures.COLUMNS)]
    assert list(p) == ["key", "name", *(c.key for c in figures.COLUMNS if c.public)]
    for private in ("self_inspections", "plans_submitted", "plans_due", "cases_opened",
                    "waste_failure_rate_all_inspections"):  # fmt: skip
        assert private in f
        assert private not in p
    assert (f["self_inspections"], f["on_time_rectification_rate"]) == (5, 0.75)
    assert (p["patrols"], p["completion_rate"]) == (2, None)  # nothing due: null, not 0
    [csv_row] = _read(figures.figures_csv(MONTH, [row], "enterprise", public=False))
    for c in figures.COLUMNS:  # the CSV's cell is the JSON's value, formatted
        value = f[c.key]
        shown = "" if value is None else f"{value * 100:.1f}" if c.kind == "rate" else str(value)
        assert csv_row[c.header] == shown, c.key
    assert len({c.key for c in figures.COLUMNS}) == len(figures.COLUMNS)


async def test_facts_count_in_the_campaign_whose_dates_hold_their_own_time() -> None:
    uow = unit()
    inside = datetime(2011, 8, 31, 23, 30, tzinfo=CHINA)  # the last evening: inside
    after = datetime(2011, 9, 1, 0, 0, tzinfo=CHINA)  # the next midnight: outside
    for at in (inside, after):
        failed = factories.inspection_failed(inspected_at=at)  # a patrol, a waste item
        completed = inspections.InspectionCompleted(
            **failed.model_dump(exclude={"failed_items"}), passed=False, failed_item_count=1
        )
        await facts.record_inspections(uow, [delivered(completed), delivered(completed)])
        await facts.record_evidence(uow, [delivered(failed)])
    for on in (date(2011, 8, 31), date(2011, 9, 1)):
        await facts.record_activities(uow, [delivered(_activity(on))])
    queries = MemoryFigureQueries(uow.cases, uow.facts)

    [month] = await queries.figures(MONTH, "district", None)
    [always] = await queries.figures(figures.ALL_TIME, "district", None)
    assert (month.patrols, always.patrols) == (1, 2)
    assert month.group_failure_rate("waste", patrols_only=True) == 1.0
    assert (month.cultural_activities, always.cultural_activities) == (1, 2)
    assert await queries.figures(MONTH, "district", "120102") == []  # another district


async def test_a_campaigns_dates_widen_as_its_phases_start() -> None:
    uow = unit()

    def phase(kind: str, starts: date, ends: date) -> campaigns.CampaignPhaseStarted:
        return campaigns.CampaignPhaseStarted(
            campaign_id="quality-month-2011", phase=kind, phase_title_zh="阶段",  # type: ignore[arg-type]
            starts_on=starts, ends_on=ends, title_zh="物业服务质量月",
        )  # fmt: skip

    await facts.record_campaign_phases(
        uow, [delivered(phase("mobilisation", date(2011, 8, 1), date(2011, 8, 5)))]
    )
    await facts.record_campaign_phases(
        uow, [delivered(phase("implementation", date(2011, 8, 11), date(2011, 8, 31)))]
    )
    [window] = await MemoryFigureQueries(uow.cases, uow.facts).campaigns()
    assert (window.starts_on, window.ends_on) == (date(2011, 8, 1), date(2011, 8, 31))


def _activity(on: date) -> campaigns.ActivityHeld:
    return campaigns.ActivityHeld(
        record_id=str(uuid.uuid4()), project_id="P-120101-0001", enterprise_id="E-0001",
        district_code="120101", kind="cultural", held_on=on, participants=40,
        recorded_at=datetime(2011, 9, 2, tzinfo=CHINA) - timedelta(hours=1),
    )  # fmt: skip


def test_who_sees_the_full_figures() -> None:
    city = Principal("c", Role.CITY_OFFICE)
    heping = Principal("d", Role.DISTRICT_OFFICE, district_code="120101")
    enterprise = Principal("e", Role.ENTERPRISE, enterprise_id="E-0001")
    assert figures_refusal(city, None) is None
    assert figures_refusal(city, "120103") is None
    assert figures_refusal(heping, "120101") is None
    refused = figures_refusal(heping, "120103")
    assert refused is not None
    assert "本区" in refused.zh
    assert figures_refusal(heping, None) is not None  # the city table is the city office's
    refused = figures_refusal(enterprise, None)
    assert refused is not None
    assert "公开曝光台" in refused.zh
