"""The fact projections and the evidence, with the in-memory unit of work: what each run of
events leaves, and one write per run."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta

import pytest

from schemas.base import Event
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from services.exposure.adapters.memory_queries import MemoryCaseQueries
from services.exposure.service import facts
from tests import factories
from tests.unit.exposure.builders import (
    T0,
    complaint_closed,
    complaint_filed,
    complaint_overdue,
    delivered,
    inspection_completed,
    notice,
    ordered,
    overdue,
    rejected,
    survey_closed,
    unit,
    verified,
)


async def test_failed_inspections_are_kept_as_evidence_with_their_envelope() -> None:
    uow = unit()
    failed = [delivered(factories.inspection_failed()) for _ in range(2)]
    await facts.record_evidence(uow, failed)
    assert uow.facts.writes == 1  # one statement for the run
    assert set(uow.facts.evidence) == {d.ce.id for d in failed}
    row = uow.facts.evidence[failed[0].ce.id]
    assert (row["source_type"], row["correlation_id"]) == (
        failed[0].ce.type,
        failed[0].ce.correlationid,
    )
    assert row["failed_items"][0]["item_id"] == "waste.daily"
    assert uow.outbox.committed == []  # facts emit nothing


async def test_the_same_failed_inspection_twice_is_one_evidence() -> None:
    uow = unit()
    once = delivered(factories.inspection_failed())
    await facts.record_evidence(uow, [once, once])
    await facts.record_evidence(uow, [once])
    assert len(uow.facts.evidence) == 1


async def test_completed_inspections_are_inserted_once() -> None:
    uow = unit()
    await facts.record_inspections(
        uow, [delivered(inspection_completed("I1", 70.0)), delivered(inspection_completed("I2"))]
    )
    await facts.record_inspections(uow, [delivered(inspection_completed("I1", 99.0))])
    assert uow.facts.inspection_facts["I1"]["score"] == 70.0  # DO NOTHING: the first stays
    assert set(uow.facts.inspection_facts) == {"I1", "I2"}
    assert uow.facts.writes == 2


async def test_order_facts_combine_whichever_event_comes_first() -> None:
    uow = unit()
    order = "O-1"
    verified_at = T0 + timedelta(days=2)
    await facts.record_verifications(uow, [delivered(verified(order, verified_at))])
    await facts.record_orders(uow, [delivered(ordered(order))])
    await facts.record_overdue_orders(uow, [delivered(overdue(order, at=T0 + timedelta(days=1)))])
    row = uow.facts.order_facts[order]
    assert (row["ordered_at"], row["verified_at"], row["on_time"]) == (T0, verified_at, False)
    assert (row["overdue"], row["overdue_at"]) == (True, T0 + timedelta(days=1))


async def test_only_the_final_rejection_is_an_order_fact() -> None:
    uow = unit()
    await facts.record_inadequate_orders(
        uow, [delivered(rejected("O-1", inadequate=False)), delivered(rejected("O-2"))]
    )
    assert set(uow.facts.order_facts) == {"O-2"}
    assert uow.facts.order_facts["O-2"]["inadequate_at"] is not None


async def test_a_run_of_first_rejections_writes_nothing() -> None:
    uow = unit()
    await facts.record_inadequate_orders(uow, [delivered(rejected("O-1", inadequate=False))])
    assert (uow.facts.order_facts, uow.facts.writes) == ({}, 0)


async def test_complaint_facts_keep_each_clock_apart() -> None:
    uow = unit()
    await facts.record_overdue_complaints(uow, [delivered(complaint_overdue("acceptance"))])
    assert uow.facts.complaint_facts["C1"]["acceptance_overdue"] is True  # the figures' 签收
    assert uow.facts.complaint_facts["C1"]["completion_overdue"] is False  # not 按期办结
    await facts.record_complaints(uow, [delivered(complaint_filed())])
    await facts.record_overdue_complaints(uow, [delivered(complaint_overdue("completion"))])
    await facts.record_closed_complaints(uow, [delivered(complaint_closed(T0 + timedelta(days=3)))])
    row = uow.facts.complaint_facts["C1"]
    assert (row["filed_at"], row["completion_overdue"], row["closed_at"]) == (
        T0,
        True,
        T0 + timedelta(days=3),
    )
    assert "owner_account" not in row
    assert "ticket_no" not in row


async def test_closed_surveys_are_inserted_once() -> None:
    uow = unit()
    await facts.record_surveys(
        uow, [delivered(survey_closed("S1", 30)), delivered(survey_closed("S2", 0))]
    )
    await facts.record_surveys(uow, [delivered(survey_closed("S1", 99))])
    assert uow.facts.survey_facts["S1"]["responses"] == 30
    assert uow.facts.survey_facts["S2"]["satisfaction_rate"] is None


async def test_only_criticisms_of_rectification_orders_with_a_project_are_facts() -> None:
    uow = unit()
    kept = notice("O-1", T0)
    await facts.record_criticisms(
        uow,
        [
            delivered(kept),
            delivered(notice("O-1", T0, kind="reminder")),
            delivered(notice("C-1", T0, subject_kind="complaint")),
            delivered(notice("O-2", T0, project_id=None)),
        ],
    )
    assert list(uow.facts.criticism_facts) == [kept.notice_id]
    assert [c.notice_id for c in await uow.facts.criticisms_of("O-1")] == [kept.notice_id]
    assert await uow.facts.latest_criticism("O-1") == T0
    assert await uow.facts.latest_criticism(str(uuid.uuid4())) is None


async def test_a_handler_refuses_an_event_of_another_type() -> None:
    with pytest.raises(TypeError, match="SurveyClosed"):
        await facts.record_surveys(unit(), [delivered(complaint_filed())])


async def test_plans_keep_the_highest_version_and_the_table_counts_them_per_district() -> None:
    def plan(submitter: str, version: int, *, district: bool = False) -> campaigns.PlanSubmitted:
        return campaigns.PlanSubmitted(
            campaign_id="qm-2012", plan_id=f"P-{submitter}", version=version,
            submitter_kind="district" if district else "enterprise", submitter_name="某",
            submitted_at=T0, district_code=submitter if district else None,
            enterprise_id=None if district else submitter,
        )  # fmt: skip

    uow = unit()
    queries = MemoryCaseQueries(uow.cases, uow.facts)  # type: ignore[arg-type]
    assert await queries.campaign_plans() is None
    phase = campaigns.CampaignPhaseStarted(
        campaign_id="qm-2012", phase="planning", phase_title_zh="制定方案阶段",
        starts_on=date(2012, 8, 6), ends_on=date(2012, 8, 13), title_zh="2012年质量月",
    )  # fmt: skip
    await facts.record_campaign_phases(uow, [delivered(phase)])
    run = [plan("E-1", 2), plan("E-1", 1), plan("120101", 1, district=True)]
    await facts.record_plans(uow, [delivered(e) for e in run])
    assert uow.facts.plan_facts[("qm-2012", "enterprise", "E-1")]["version"] == 2
    queries.registry.update({"P-1": ("120101", "E-1"), "P-2": ("120101", "E-2"),
                             "P-3": ("120103", "E-1")})  # fmt: skip
    shown = await queries.campaign_plans()
    assert shown is not None
    assert (shown.title_zh, shown.deadline_on) == ("2012年质量月", date(2012, 8, 13))
    assert {d: (c.submitted, c.due) for d, c in shown.by_district.items()} == {
        "120101": (2, 3),
        "120103": (1, 2),
    }


def accepted(complaint_id: str, at: datetime) -> Event:
    return complaints.ComplaintAccepted.model_validate(
        {
            "complaint_id": complaint_id,
            "project_id": "P1",
            "enterprise_id": "E-0001",
            "district_code": "120101",
            "category": "water",
            "responsible_org_id": "E-0001",
            "responsible_staff_id": "staff-1",
            "accepted_at": at,
        }
    )


async def test_an_acceptance_is_kept_once_beside_the_complaints_other_facts() -> None:
    uow = unit()
    await facts.record_complaints(uow, [delivered(complaint_filed())])

    await facts.record_accepted_complaints(
        uow, [delivered(accepted("C1", T0 + timedelta(hours=2))), delivered(accepted("C2", T0))]
    )
    await facts.record_accepted_complaints(uow, [delivered(accepted("C1", T0 + timedelta(days=9)))])

    assert uow.facts.complaint_facts["C1"]["accepted_at"] == T0 + timedelta(hours=2)  # the first
    assert uow.facts.complaint_facts["C1"]["filed_at"] == T0
    assert uow.facts.complaint_facts["C2"]["accepted_at"] == T0  # accepted before filed arrived
    assert uow.facts.writes == 3  # one per run


def drawn(draw_id: str, seed: str) -> Event:
    return inspections.PatrolsDrawn.model_validate(
        {
            "draw_id": draw_id,
            "district_code": "120101",
            "drawn_at": T0,
            "drawn_by": "office-1",
            "algorithm": "sha256-rank-v1",
            "seed": seed,
            "projects": [{"project_id": "P1", "enterprise_id": "E-0001"}],
            "excluded_project_ids": [],
            "inspectors": [{"inspector_id": "I-1", "conflicts": []}],
            "project_count": 1,
            "inspectors_per_project": 1,
            "exclusion_days": 90,
            "patrols": [
                {
                    "patrol_id": "p-1",
                    "project_id": "P1",
                    "project_name": "P1 小区",
                    "enterprise_id": "E-0001",
                    "inspector_ids": ["I-1"],
                }
            ],
            "due_by": T0 + timedelta(days=14),
        }
    )


async def test_a_draw_is_kept_once_for_the_boards_draws_page() -> None:
    uow = unit()
    first = drawn("D-1", "ab" * 8)

    await facts.record_draws(uow, [delivered(first), delivered(drawn("D-2", "cd" * 8))])
    await facts.record_draws(uow, [delivered(drawn("D-1", "ef" * 8))])  # redelivered, changed

    assert set(uow.facts.draw_facts) == {"D-1", "D-2"}
    assert uow.facts.draw_facts["D-1"] == first
    assert uow.facts.writes == 2
