"""Campaign handlers with the in-memory unit of work: creating campaigns, plans in the planning
phase, who sees which plans, and the timer's announcements and overdue flags (each once). Campaign
events go out under their own source, /wuye/inspections/campaign_handlers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest

from runtime.errors import DomainError, Forbidden, InvalidInput, NotFound
from runtime.unit_of_work import Trace
from schemas.campaigns import v1 as campaigns
from services.inspections.adapters.campaigns import TemplateFiles
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork
from services.inspections.domain import campaign
from services.inspections.service import campaign_handlers
from tests.unit.inspections.conftest import CITY, E1, HEPING, OWNER

TEMPLATES = TemplateFiles(Path("services/inspections/data/campaign-templates"))
CAMPAIGN = "quality-month-2011"


def china(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2011, month, day, hour, minute, tzinfo=campaign.CHINA)


PLANNING = china(8, 8, 10)
AFTER_DEADLINE = china(8, 14, 0, 1)


def plan(summary: str = "第一版") -> campaign.PlanContent:
    return campaign.PlanContent(
        departments=("综合办公室",),
        staff=(campaign.StaffMember("张三", "联络员", "13800138000"),),
        schedule=(campaign.ScheduleItem(date(2011, 8, 20), "张贴宣传海报"),),
        summary=summary,
    )


@pytest.fixture
async def created(uow: MemoryInspectionsUnitOfWork) -> MemoryInspectionsUnitOfWork:
    """The 2011 campaign, recorded before it began."""
    uow.clock.current = china(7, 22)  # type: ignore[attr-defined]
    template = await TEMPLATES.get(CAMPAIGN)
    assert template is not None
    await campaign_handlers.create_campaign(uow, template, created_by="city-1")
    return uow


async def test_a_campaign_is_created_once(uow: MemoryInspectionsUnitOfWork) -> None:
    uow.clock.current = china(7, 22)  # type: ignore[attr-defined]
    template = await TEMPLATES.get(CAMPAIGN)
    assert template is not None
    view = await campaign_handlers.create_campaign(uow, template, created_by="city-1")

    assert (view["campaign_id"], view["current_phase"]) == (CAMPAIGN, None)
    assert uow.campaigns.rows[CAMPAIGN].created_by == "city-1"
    with pytest.raises(DomainError) as twice:
        await campaign_handlers.create_campaign(uow, template, created_by="city-1")
    assert twice.value.code == "campaign_exists"


async def test_next_years_campaign_from_the_template(uow: MemoryInspectionsUnitOfWork) -> None:
    view = await campaign_handlers.create_from_template(
        uow, TEMPLATES, CAMPAIGN, 2012, created_by="c"
    )

    assert view["campaign_id"] == "quality-month-2012"
    assert [p["starts_on"] for p in view["phases"]] == [
        date(2012, 7, 26),
        date(2012, 8, 6),
        date(2012, 8, 14),
    ]
    assert uow.campaigns.rows["quality-month-2012"].template_id == CAMPAIGN
    with pytest.raises(NotFound):
        await campaign_handlers.create_from_template(uow, TEMPLATES, "nope", 2012, created_by="c")


async def test_a_plan_in_the_planning_phase_is_saved_and_announced_on_the_campaigns_source(
    created: MemoryInspectionsUnitOfWork,
) -> None:
    uow = created
    uow.clock.current = PLANNING  # type: ignore[attr-defined]
    trace = Trace("corr-plan")
    saved = await campaign_handlers.submit_plan(uow, CAMPAIGN, plan(), E1, "e1", trace=trace)
    again = await campaign_handlers.submit_plan(
        uow, CAMPAIGN, plan("第二版"), E1, "e1", trace=trace
    )

    assert (saved["version"], saved["submitter_name"]) == (1, "津城物业服务有限公司")
    assert saved["staff"][0]["phone"] == "13800138000"  # the submitter's own plan
    assert (again["plan_id"], again["version"]) == (saved["plan_id"], 2)
    assert uow.campaigns.share_locked == [CAMPAIGN, CAMPAIGN]
    assert uow.outbox.committed == []  # nothing under /wuye/inspections
    submitted = uow.campaign_outbox.committed
    assert [type(w.event) for w in submitted] == [campaigns.PlanSubmitted] * 2
    assert {w.ce.source for w in submitted} == {"/wuye/inspections/campaigns"}
    assert {w.ce.correlationid for w in submitted} == {"corr-plan"}


@pytest.mark.parametrize(
    ("now", "code"),
    [(china(8, 5, 23, 59), "planning_not_started"), (AFTER_DEADLINE, "planning_ended")],
)
async def test_a_plan_outside_the_planning_phase_is_refused(
    created: MemoryInspectionsUnitOfWork, now: datetime, code: str
) -> None:
    created.clock.current = now  # type: ignore[attr-defined]
    with pytest.raises(DomainError) as refused:
        await campaign_handlers.submit_plan(
            created, CAMPAIGN, plan(), E1, "e1", trace=Trace.start()
        )
    assert refused.value.code == code
    assert created.campaigns.plans == {}
    assert created.campaign_outbox.committed == []


async def test_plan_refusals_by_role_content_and_campaign(
    created: MemoryInspectionsUnitOfWork,
) -> None:
    created.clock.current = PLANNING  # type: ignore[attr-defined]
    with pytest.raises(Forbidden):
        await campaign_handlers.submit_plan(
            created, CAMPAIGN, plan(), CITY, "c", trace=Trace.start()
        )
    with pytest.raises(NotFound):
        await campaign_handlers.submit_plan(created, "nope", plan(), E1, "e1", trace=Trace.start())
    outside = replace(plan(), schedule=(campaign.ScheduleItem(date(2012, 1, 1), "x"),))
    with pytest.raises(InvalidInput) as invalid:
        await campaign_handlers.submit_plan(
            created, CAMPAIGN, outside, E1, "e1", trace=Trace.start()
        )
    assert invalid.value.field == "schedule.0.date"
    assert created.campaign_outbox.committed == []


async def test_who_sees_which_plans_and_who_is_missing(
    created: MemoryInspectionsUnitOfWork,
) -> None:
    uow = created
    uow.clock.current = PLANNING  # type: ignore[attr-defined]
    await campaign_handlers.submit_plan(uow, CAMPAIGN, plan(), E1, "e1", trace=Trace.start())
    nankai_enterprise = campaign.own_key("enterprise", None, "E-0003")
    assert nankai_enterprise is not None
    await uow.campaigns.save_plan(
        CAMPAIGN,
        campaign.Submitter(*nankai_enterprise, "渤海物业服务有限公司"),
        plan(),
        submitted_by="e3",
        submitted_at=PLANNING,
    )

    city = await campaign_handlers.list_plans(uow, CAMPAIGN, CITY)
    assert {p["submitter_id"] for p in city} == {"E-0001", "E-0003"}
    assert all("phone" not in s for p in city for s in p["staff"])
    heping = await campaign_handlers.list_plans(uow, CAMPAIGN, HEPING)
    assert [p["submitter_id"] for p in heping] == ["E-0001"]  # E-0003 runs nothing in 和平区
    with pytest.raises(Forbidden):
        await campaign_handlers.list_plans(uow, CAMPAIGN, OWNER)

    missing = await campaign_handlers.missing_plans(uow, CAMPAIGN, HEPING)
    assert [m["submitter_id"] for m in missing["missing"]] == ["120101", "E-0002"]
    assert not missing["deadline_passed"]
    with pytest.raises(Forbidden):
        await campaign_handlers.missing_plans(uow, CAMPAIGN, E1)


async def test_the_timer_announces_each_phase_once(created: MemoryInspectionsUnitOfWork) -> None:
    uow = created
    for moment in (china(7, 25, 23, 59), china(7, 26), china(7, 30), PLANNING, PLANNING):
        uow.clock.current = moment  # type: ignore[attr-defined]
        await campaign_handlers.run_campaigns(lambda: uow)

    started = uow.campaign_outbox.events
    assert [e.phase for e in started if isinstance(e, campaigns.CampaignPhaseStarted)] == [
        "mobilisation",
        "planning",
    ]
    assert len(started) == 2


async def test_the_timer_flags_each_missing_plan_once_after_the_deadline(
    created: MemoryInspectionsUnitOfWork,
) -> None:
    uow = created
    uow.clock.current = PLANNING  # type: ignore[attr-defined]
    await campaign_handlers.submit_plan(uow, CAMPAIGN, plan(), E1, "e1", trace=Trace.start())
    uow.clock.current = AFTER_DEADLINE  # type: ignore[attr-defined]
    emitted = await campaign_handlers.run_campaigns(lambda: uow)
    assert await campaign_handlers.run_campaigns(lambda: uow) == 0

    overdue = [e for e in uow.campaign_outbox.events if isinstance(e, campaigns.PlanOverdue)]
    owed = sorted(e.district_code or e.enterprise_id or "" for e in overdue)
    assert owed == ["120101", "120103", "120104", "E-0002", "E-0003"]
    started = [
        e.phase for e in uow.campaign_outbox.events if isinstance(e, campaigns.CampaignPhaseStarted)
    ]
    assert started == ["implementation"]  # the phase running now
    assert emitted == len(overdue) + 1
    assert uow.campaigns.rows[CAMPAIGN].overdue_checked_at == AFTER_DEADLINE


async def test_a_campaign_recorded_after_its_deadline_owes_nothing(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    uow.clock.current = china(12, 1)  # type: ignore[attr-defined]
    assert await campaign_handlers.ensure_default_campaign(uow, TEMPLATES)
    assert not await campaign_handlers.ensure_default_campaign(uow, TEMPLATES)

    await campaign_handlers.run_campaigns(lambda: uow)
    assert not [e for e in uow.campaign_outbox.events if isinstance(e, campaigns.PlanOverdue)]
    assert uow.campaigns.rows[CAMPAIGN].overdue_checked_at == china(12, 1)  # scanned, once


async def test_the_campaigns_are_listed_and_read_with_the_phase_running_now(
    created: MemoryInspectionsUnitOfWork,
) -> None:
    uow = created
    uow.clock.current = PLANNING  # type: ignore[attr-defined]

    [listed] = await campaign_handlers.list_campaigns(uow)
    one = await campaign_handlers.get_campaign(uow, CAMPAIGN)

    assert listed == one == campaign_handlers.campaign_view(uow.campaigns.rows[CAMPAIGN], PLANNING)
    assert (one["campaign_id"], one["current_phase"]) == (CAMPAIGN, "planning")
    assert [p["kind"] for p in one["phases"]][:2] == ["mobilisation", "planning"]
    assert one["plan_deadline"] < AFTER_DEADLINE
    uow.clock.current = china(7, 22)  # type: ignore[attr-defined]
    assert (await campaign_handlers.get_campaign(uow, CAMPAIGN))["current_phase"] is None
    with pytest.raises(NotFound):
        await campaign_handlers.get_campaign(uow, "no-such-campaign")


async def test_a_phase_is_announced_once_with_the_trace_given(
    created: MemoryInspectionsUnitOfWork,
) -> None:
    uow = created
    uow.clock.current = PLANNING  # type: ignore[attr-defined]
    c = uow.campaigns.rows[CAMPAIGN].campaign
    trace = Trace("corr-timer")

    assert await campaign_handlers.announce_phase(uow, c, c.planning, trace) == 1
    assert await campaign_handlers.announce_phase(uow, c, c.planning, trace) == 0

    [written] = uow.campaign_outbox.committed
    assert isinstance(written.event, campaigns.CampaignPhaseStarted)
    assert (written.event.phase, written.trace) == ("planning", trace)


async def test_missing_plans_are_flagged_once_with_the_trace_given(
    created: MemoryInspectionsUnitOfWork,
) -> None:
    uow = created
    uow.clock.current = AFTER_DEADLINE  # type: ignore[attr-defined]
    row = uow.campaigns.rows[CAMPAIGN]
    trace = Trace("corr-timer")

    flagged = await campaign_handlers.flag_overdue_plans(uow, row, trace)

    assert await campaign_handlers.flag_overdue_plans(uow, row, trace) == 0
    written = uow.campaign_outbox.committed
    assert flagged == len(written) == 6  # the three districts and the three enterprises
    assert all(isinstance(w.event, campaigns.PlanOverdue) for w in written)
    assert {w.trace for w in written} == {trace}
