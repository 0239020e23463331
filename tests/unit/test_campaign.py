"""Campaign rules: phase validation, the phase at a time, next year's campaign, who owes a plan."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from schemas.campaigns import v1 as campaigns
from services.inspections.adapters.campaigns import campaign_from_json
from services.inspections.domain import campaign as c
from services.inspections.domain.campaign import CHINA, PhaseKind, SubmitterKind

TEMPLATES = Path("services/inspections/data/campaign-templates")


def notice_2011() -> c.Campaign:
    body = json.loads((TEMPLATES / "quality-month-2011.json").read_text("utf-8"))
    return campaign_from_json(body)


def with_phases(*phases: tuple[PhaseKind, date, date]) -> c.Campaign:
    return dataclasses.replace(
        notice_2011(),
        window_starts_on=phases[0][1],
        window_ends_on=phases[-1][2],
        phases=tuple(c.Phase(*p) for p in phases),
    )


def china(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, ss, tzinfo=CHINA)


def field_of(campaign: c.Campaign) -> str:
    with pytest.raises(c.CampaignError) as caught:
        c.validate(campaign)
    return caught.value.field


# --- the 2011 template --------------------------------------------------------------------


def test_the_2011_template_is_the_notice() -> None:
    campaign = c.validate(notice_2011())
    assert campaign.notice_no == "津物业〔2011〕4号"
    assert (campaign.window_starts_on, campaign.window_ends_on) == (
        date(2011, 8, 1),
        date(2011, 10, 31),
    )
    assert [(p.kind, p.starts_on, p.ends_on, p.title_zh) for p in campaign.phases] == [
        (PhaseKind.MOBILISATION, date(2011, 7, 26), date(2011, 8, 5), "动员部署阶段"),
        (PhaseKind.PLANNING, date(2011, 8, 6), date(2011, 8, 13), "制定方案阶段"),
        (PhaseKind.IMPLEMENTATION, date(2011, 8, 14), date(2011, 10, 31), "实施阶段"),
    ]


# --- validation ---------------------------------------------------------------------------

M, P, IMPL = PhaseKind.MOBILISATION, PhaseKind.PLANNING, PhaseKind.IMPLEMENTATION


def test_overlapping_phases_are_refused_naming_the_later_start() -> None:
    campaign = with_phases(
        (M, date(2012, 7, 26), date(2012, 8, 6)), (P, date(2012, 8, 6), date(2012, 8, 13))
    )
    assert field_of(campaign) == "phases.1.starts_on"
    with pytest.raises(c.CampaignError, match="overlap"):
        c.validate(campaign)


def test_a_gap_between_phases_is_refused() -> None:
    campaign = with_phases(
        (M, date(2012, 7, 26), date(2012, 8, 4)), (P, date(2012, 8, 6), date(2012, 8, 13))
    )
    with pytest.raises(c.CampaignError) as caught:
        c.validate(campaign)
    assert (caught.value.code, caught.value.field) == ("phases_gap", "phases.1.starts_on")


def test_a_phase_ending_before_it_starts_is_refused() -> None:
    campaign = with_phases((P, date(2012, 8, 13), date(2012, 8, 6)))
    assert field_of(campaign) == "phases.0.ends_on"


def test_phases_out_of_order_or_repeated_are_refused() -> None:
    backwards = with_phases(
        (P, date(2012, 8, 6), date(2012, 8, 13)), (M, date(2012, 8, 14), date(2012, 8, 20))
    )
    assert field_of(backwards) == "phases.1.kind"
    twice = with_phases(
        (P, date(2012, 8, 6), date(2012, 8, 13)), (P, date(2012, 8, 14), date(2012, 8, 20))
    )
    assert field_of(twice) == "phases.0.kind"


def test_a_campaign_without_a_planning_phase_is_refused() -> None:
    campaign = with_phases((M, date(2012, 7, 26), date(2012, 8, 5)))
    assert field_of(campaign) == "phases"


def test_a_single_day_planning_phase_is_valid() -> None:
    c.validate(with_phases((P, date(2012, 8, 6), date(2012, 8, 6))))


def test_dates_outside_sensible_years_are_refused() -> None:
    campaign = with_phases((P, date(1999, 8, 6), date(1999, 8, 13)))
    assert field_of(campaign) == "phases.0.starts_on"
    long = with_phases((P, date(2012, 1, 1), date(2013, 1, 2)))
    assert field_of(long) == "phases.0.ends_on"


def test_the_activity_window_must_lie_within_the_phases() -> None:
    early = dataclasses.replace(notice_2011(), window_starts_on=date(2011, 7, 25))
    assert field_of(early) == "activity_window.starts_on"
    late = dataclasses.replace(notice_2011(), window_ends_on=date(2011, 11, 1))
    assert field_of(late) == "activity_window.ends_on"
    backwards = dataclasses.replace(
        notice_2011(), window_starts_on=date(2011, 9, 1), window_ends_on=date(2011, 8, 31)
    )
    assert field_of(backwards) == "activity_window.ends_on"


# --- the phase at a given time (whole days, China time, inclusive) ------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (china(2011, 7, 25, 23, 59, 59), None),
        (china(2011, 7, 26), M),
        (china(2011, 8, 5, 23, 59, 59), M),
        (china(2011, 8, 6), P),
        (china(2011, 8, 13, 23, 59, 59), P),
        (china(2011, 8, 14), IMPL),
        (china(2011, 10, 31, 23, 59, 59), IMPL),
        (china(2011, 11, 1), None),
        # 2011-08-13 16:30 UTC is 2011-08-14 00:30 in Tianjin: planning is over there.
        (datetime(2011, 8, 13, 16, 30, tzinfo=UTC), IMPL),
        (datetime(2011, 8, 13, 15, 59, 59, tzinfo=UTC), P),
    ],
)
def test_phase_at(moment: datetime, expected: PhaseKind | None) -> None:
    phase = notice_2011().phase_at(moment)
    assert (phase.kind if phase else None) == expected


def test_only_the_running_phase_is_announced() -> None:
    campaign = notice_2011()
    assert c.phases_to_announce(campaign, china(2011, 7, 20)) == ()
    assert [p.kind for p in c.phases_to_announce(campaign, china(2011, 8, 7))] == [P]
    assert c.phases_to_announce(campaign, china(2012, 1, 1)) == ()


# --- next year's campaign -----------------------------------------------------------------


def test_template_shifted_to_2012() -> None:
    campaign = c.validate(c.shift_years(notice_2011(), 2012))
    assert campaign.campaign_id == "quality-month-2012"
    assert campaign.title_zh == "2012年物业管理优质服务和宣传月活动"
    assert campaign.notice_no is None  # the 2012 notice has its own number, not 2011's
    assert (campaign.window_starts_on, campaign.window_ends_on) == (
        date(2012, 8, 1),
        date(2012, 10, 31),
    )
    assert [(p.kind, p.starts_on, p.ends_on) for p in campaign.phases] == [
        (M, date(2012, 7, 26), date(2012, 8, 5)),
        (P, date(2012, 8, 6), date(2012, 8, 13)),
        (IMPL, date(2012, 8, 14), date(2012, 10, 31)),
    ]


def test_shift_takes_an_explicit_id_and_notice_number() -> None:
    campaign = c.shift_years(
        notice_2011(), 2013, campaign_id="summer-2013", notice_no="津物业〔2013〕2号"
    )
    assert (campaign.campaign_id, campaign.notice_no) == ("summer-2013", "津物业〔2013〕2号")


def test_shifting_29_february_keeps_phases_contiguous() -> None:
    leap = with_phases(
        (M, date(2012, 2, 20), date(2012, 2, 28)),
        (P, date(2012, 2, 29), date(2012, 3, 5)),
        (IMPL, date(2012, 3, 6), date(2012, 4, 30)),
    )
    shifted = c.validate(c.shift_years(c.validate(leap), 2013))
    assert [(p.starts_on, p.ends_on) for p in shifted.phases[:2]] == [
        (date(2013, 2, 20), date(2013, 2, 28)),
        (date(2013, 3, 1), date(2013, 3, 5)),
    ]


def test_shift_to_a_year_out_of_range_names_the_year() -> None:
    with pytest.raises(c.CampaignError) as caught:
        c.shift_years(notice_2011(), 2100)
    assert caught.value.field == "year"


# --- submitting plans ---------------------------------------------------------------------


def test_plans_are_accepted_only_in_the_planning_phase() -> None:
    campaign = notice_2011()
    before = c.submission_refusal(campaign, china(2011, 8, 5, 23, 59), deadline_scanned=False)
    assert before is not None
    assert before.code == "planning_not_started"
    for moment in (china(2011, 8, 6), china(2011, 8, 13, 23, 59, 59)):
        assert c.submission_refusal(campaign, moment, deadline_scanned=False) is None
    after = c.submission_refusal(campaign, china(2011, 8, 14), deadline_scanned=False)
    assert after is not None
    assert (after.code, after.zh) == ("planning_ended", "制定方案阶段已结束")


def test_once_the_overdue_scan_ran_no_plan_is_accepted() -> None:
    refusal = c.submission_refusal(notice_2011(), china(2011, 8, 13, 23), deadline_scanned=True)
    assert refusal is not None
    assert refusal.code == "planning_ended"


def test_schedule_dates_must_lie_in_the_campaign() -> None:
    plan = c.PlanContent(
        departments=("办公室",),
        staff=(c.StaffMember("张三", "联络员", None),),
        schedule=(
            c.ScheduleItem(date(2011, 8, 20), "张贴宣传海报"),
            c.ScheduleItem(date(2011, 11, 2), "总结"),
        ),
        summary="",
    )
    with pytest.raises(c.CampaignError) as caught:
        c.check_plan(notice_2011(), plan)
    assert caught.value.field == "schedule.1.date"


def test_a_department_listed_twice_is_refused() -> None:
    plan = c.PlanContent(("办公室", "工程部", "办公室"), (), (), "")
    with pytest.raises(c.CampaignError) as caught:
        c.check_plan(notice_2011(), plan)
    assert caught.value.field == "departments.2"


# --- who must submit, who is missing ------------------------------------------------------

PROJECTS = (
    c.ProjectRef("120101", "和平区", "E-0001", "津城物业"),
    c.ProjectRef("120101", "和平区", "E-0002", "海河物业"),
    c.ProjectRef("120103", "河西区", "E-0001", "津城物业"),
    c.ProjectRef("120104", "南开区", "E-0003", "渤海物业"),
)


def test_every_district_with_a_project_and_every_enterprise_running_one_must_submit() -> None:
    required = c.required_submitters(PROJECTS)
    assert [s.key for s in required] == [
        (SubmitterKind.DISTRICT, "120101"),
        (SubmitterKind.DISTRICT, "120103"),
        (SubmitterKind.DISTRICT, "120104"),
        (SubmitterKind.ENTERPRISE, "E-0001"),
        (SubmitterKind.ENTERPRISE, "E-0002"),
        (SubmitterKind.ENTERPRISE, "E-0003"),
    ]
    assert required[3].name == "津城物业"


def test_missing_are_those_without_a_plan() -> None:
    required = c.required_submitters(PROJECTS)
    submitted = [(SubmitterKind.DISTRICT, "120103"), (SubmitterKind.ENTERPRISE, "E-0001")]
    assert [s.submitter_id for s in c.missing(required, submitted)] == [
        "120101",
        "120104",
        "E-0002",
        "E-0003",
    ]
    assert c.missing([], submitted) == ()


def test_a_district_office_oversees_its_plan_and_its_enterprises() -> None:
    assert c.district_scope("120101", PROJECTS) == {
        (SubmitterKind.DISTRICT, "120101"),
        (SubmitterKind.ENTERPRISE, "E-0001"),
        (SubmitterKind.ENTERPRISE, "E-0002"),
    }
    assert c.own_key("enterprise", None, "E-0003") == (SubmitterKind.ENTERPRISE, "E-0003")
    assert c.own_key("city_office", None, None) is None


def test_a_campaign_recorded_after_its_planning_phase_owed_no_plans() -> None:
    campaign = notice_2011()
    assert c.plans_were_owed(campaign, china(2011, 7, 22))
    assert c.plans_were_owed(campaign, china(2011, 8, 13, 23))
    assert not c.plans_were_owed(campaign, china(2011, 8, 14) + timedelta(days=400))


# --- events carry no staff, and name one submitter ----------------------------------------


def test_plan_events_carry_no_staff_and_exactly_one_submitter() -> None:
    assert not {"staff", "phone", "departments"} & set(campaigns.PlanSubmitted.model_fields)
    event = campaigns.PlanOverdue(
        campaign_id="quality-month-2011",
        submitter_kind="enterprise",
        enterprise_id="E-0002",
        submitter_name="海河物业",
        deadline=notice_2011().planning.ends_at,
        deadline_on=date(2011, 8, 13),
        detected_at=china(2011, 8, 14),
    )
    assert event.partition_key() == "quality-month-2011"
    assert event.subject() == "quality-month-2011/enterprise/E-0002"
    with pytest.raises(ValueError, match="exactly"):
        campaigns.PlanOverdue.model_validate(
            {**event.model_dump(), "district_code": "120101"}  # two submitters
        )
