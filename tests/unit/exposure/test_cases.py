"""Cases decided from events, with the in-memory unit of work: opened by an overdue or inadequate
rectification, completed by the criticism notice, marked rectified; each change committed with
the trace of the event that caused it."""

from __future__ import annotations

from datetime import timedelta

from runtime.unit_of_work import Delivered
from schemas.base import Event
from schemas.exposure import v1 as exposure
from services.exposure.adapters.memory import MemoryExposureUnitOfWork
from services.exposure.domain import decisions
from services.exposure.service import cases, facts
from tests.unit.exposure.builders import (
    CORRELATION,
    T0,
    delivered,
    notice,
    overdue,
    rejected,
    unit,
    verified,
)


async def on_inspections(uow: MemoryExposureUnitOfWork, event: Event) -> Delivered[Event]:
    """The live inspections consumer: the fact first, then the decision (subscriptions.py)."""
    d = delivered(event)
    if event.ce_type == overdue("x").ce_type:
        await facts.record_overdue_orders(uow, [d])
        await cases.open_or_raise(uow, [d])
    elif event.ce_type == rejected("x").ce_type:
        await facts.record_inadequate_orders(uow, [d])
        await cases.open_or_raise(uow, [d])
    else:
        await facts.record_verifications(uow, [d])
        await cases.verified(uow, [d])
    return d


async def on_notice(uow: MemoryExposureUnitOfWork, event: Event) -> Delivered[Event]:
    d = delivered(event)
    await facts.record_criticisms(uow, [d])
    await cases.criticism(uow, [d])
    return d


def emitted(uow: MemoryExposureUnitOfWork) -> list[type[Event]]:
    return [type(w.event) for w in uow.outbox.pending + uow.outbox.committed]


async def test_an_overdue_order_opens_a_case_caused_by_that_event() -> None:
    uow = unit()
    cause = await on_inspections(uow, overdue("O-1"))
    [written] = uow.outbox.pending  # the consumer commits the joined transaction
    opened = written.event
    assert isinstance(opened, exposure.ExposureCaseOpened)
    assert (opened.case_id, opened.reason, opened.tier) == (
        decisions.case_id_of("O-1"),
        "rectification_overdue",
        "general",  # an urgent item, late
    )
    assert opened.items[0].note == ""  # the inspector's note stays with inspections
    assert (written.trace.correlation_id, written.trace.causation_id) == (CORRELATION, cause.ce.id)
    assert written.ce.source == "/wuye/exposure"
    case = await uow.cases.by_order("O-1")
    assert case is not None
    assert case.status == "opened"
    assert uow.cases.locked_orders == ["O-1"]


async def test_a_first_rejection_opens_nothing() -> None:
    uow = unit()
    await on_inspections(uow, rejected("O-1", inadequate=False))
    assert (uow.outbox.pending, uow.cases.cases) == ([], {})


async def test_an_inadequate_rectification_opens_a_case_of_its_own_tier() -> None:
    uow = unit()
    await on_inspections(uow, rejected("O-1", severity="serious"))
    case = await uow.cases.by_order("O-1")
    assert case is not None
    assert (case.tier, uow.cases.cases[case.case_id]["reason"]) == (
        "serious",
        "rectification_inadequate",
    )


async def test_an_inadequate_rectification_of_an_open_case_raises_its_tier() -> None:
    uow = unit()
    await on_inspections(uow, overdue("O-1", severity="general"))  # light
    await on_inspections(uow, rejected("O-1", severity="serious"))
    assert emitted(uow) == [exposure.ExposureCaseOpened, exposure.ExposureEvidenceAdded]
    evidence = uow.outbox.pending[-1].event
    assert isinstance(evidence, exposure.ExposureEvidenceAdded)
    assert (evidence.kind, evidence.tier, evidence.review_ends_at) == (
        "rectification_inadequate",
        "serious",
        None,  # no criticism yet: no review
    )


async def test_a_light_case_criticised_first_is_reviewed_once_found_inadequate() -> None:
    uow = unit()
    await on_inspections(uow, overdue("O-1", severity="general"))
    await on_notice(uow, notice("O-1", T0 + timedelta(days=1)))  # light: no review
    case = await uow.cases.by_order("O-1")
    assert case is not None
    assert case.status == "opened"
    await on_inspections(uow, rejected("O-1", severity="serious"))
    case = await uow.cases.by_order("O-1")
    assert case is not None
    assert (case.tier, case.status) == ("serious", "in_review")
    assert case.review_ends_at == T0 + timedelta(days=1, hours=120)


async def test_an_inadequate_rectification_changes_no_withdrawn_case() -> None:
    uow = unit()
    await on_inspections(uow, overdue("O-1"))
    case = await uow.cases.by_order("O-1")
    assert case is not None
    await cases.emit(uow, decisions.withdrawal(case, T0), delivered(overdue("x")).trace)
    before = len(uow.outbox.pending)
    await on_inspections(uow, rejected("O-1", severity="serious"))
    assert len(uow.outbox.pending) == before


async def test_the_criticism_notice_puts_a_publishable_case_into_review() -> None:
    uow = unit()
    await on_inspections(uow, overdue("O-1"))
    issued = notice("O-1", T0 + timedelta(days=3))
    cause = await on_notice(uow, issued)
    written = uow.outbox.pending[-1]
    assert isinstance(written.event, exposure.ExposureEvidenceAdded)
    assert (written.event.kind, written.event.notice_id) == ("criticism_notice", issued.notice_id)
    assert written.trace.causation_id == cause.ce.id
    case = await uow.cases.by_order("O-1")
    assert case is not None
    assert (case.status, case.review_ends_at) == ("in_review", T0 + timedelta(days=3, hours=120))
    assert uow.cases.locked_orders == ["O-1", "O-1"]


async def test_a_criticism_consumed_before_the_overdue_event_still_counts() -> None:
    uow = unit()
    await on_notice(uow, notice("O-1", T0 + timedelta(days=3)))
    assert uow.outbox.pending == []  # no case yet
    await on_inspections(uow, overdue("O-1"))
    assert emitted(uow) == [exposure.ExposureCaseOpened, exposure.ExposureEvidenceAdded]
    case = await uow.cases.by_order("O-1")
    assert case is not None
    assert case.status == "in_review"


async def test_the_same_notice_twice_is_evidence_once() -> None:
    uow = unit()
    await on_inspections(uow, overdue("O-1"))
    issued = notice("O-1", T0)
    await on_notice(uow, issued)
    await on_notice(uow, issued)
    assert emitted(uow) == [exposure.ExposureCaseOpened, exposure.ExposureEvidenceAdded]


async def test_other_notices_and_withdrawn_cases_take_no_criticism() -> None:
    uow = unit()
    await on_inspections(uow, overdue("O-1"))
    await on_notice(uow, notice("O-1", T0, kind="reminder"))
    await on_notice(uow, notice("O-1", T0, project_id=None))
    assert emitted(uow) == [exposure.ExposureCaseOpened]
    case = await uow.cases.by_order("O-1")
    assert case is not None
    await cases.emit(uow, decisions.withdrawal(case, T0), delivered(overdue("x")).trace)
    await on_notice(uow, notice("O-1", T0))
    assert emitted(uow)[-1] is exposure.ExposureWithdrawn


async def test_a_verified_rectification_marks_the_case_rectified_once() -> None:
    uow = unit()
    await on_inspections(uow, verified("O-0", T0))  # no case: nothing
    await on_inspections(uow, overdue("O-1"))
    await on_inspections(uow, verified("O-1", T0 + timedelta(days=5)))
    await on_inspections(uow, verified("O-1", T0 + timedelta(days=6)))
    assert emitted(uow) == [exposure.ExposureCaseOpened, exposure.ExposureRectified]
    case = await uow.cases.by_order("O-1")
    assert case is not None
    assert case.rectified_at == T0 + timedelta(days=5)


async def test_a_second_opening_of_one_order_changes_nothing() -> None:
    """The case id derives from the order: a duplicate opening is applied as nothing."""
    uow = unit()
    d = delivered(overdue("O-1"))
    await cases.open_or_raise(uow, [d])
    await cases.open_or_raise(uow, [delivered(overdue("O-1"))])
    assert emitted(uow) == [exposure.ExposureCaseOpened]
