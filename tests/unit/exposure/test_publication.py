"""The publication job's handler, with the in-memory unit of work: publication once the review
window ends, the ends of the display periods, and what holds a case back."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from schemas.exposure import v1 as exposure
from services.exposure.adapters.memory import MemoryExposureUnitOfWork
from services.exposure.domain import decisions
from services.exposure.service import cases, commands, facts, publication
from tests.unit.exposure.builders import T0, delivered, notice, overdue, unit, verified


def same(uow: MemoryExposureUnitOfWork) -> Callable[[], MemoryExposureUnitOfWork]:
    """Every transaction of the job on the same in-memory state."""
    return lambda: uow


async def in_review(uow: MemoryExposureUnitOfWork, order: str, severity: str = "urgent") -> str:
    """A case whose criticism came at T0: its review window ends at T0 + 120 h."""
    await cases.open_or_raise(uow, [delivered(overdue(order, severity=severity))])
    issued = delivered(notice(order, T0))
    await facts.record_criticisms(uow, [issued])
    await cases.criticism(uow, [issued])
    await uow.commit()
    return decisions.case_id_of(order)


async def published(uow: MemoryExposureUnitOfWork, order: str) -> datetime:
    await in_review(uow, order)
    at = T0 + timedelta(hours=120)
    assert await publication.act_on_due(same(uow), at) == 1
    return at


async def test_a_case_is_published_when_its_review_window_ends() -> None:
    uow = unit()
    case_id = await in_review(uow, "O-1")
    assert await publication.act_on_due(same(uow), T0 + timedelta(hours=119)) == 0
    at = T0 + timedelta(hours=120)
    assert await publication.act_on_due(same(uow), at) == 1
    written = uow.outbox.committed[-1]
    assert isinstance(written.event, exposure.ExposurePublished)
    assert (written.event.case_id, written.event.published_at) == (case_id, at)
    assert written.event.min_until == at + timedelta(days=90)
    assert written.event.max_until == at + timedelta(days=365)
    assert written.trace.causation_id is None  # time, not an event, caused it
    assert written.trace.correlation_id not in {
        w.trace.correlation_id for w in uow.outbox.committed[:-1]
    }
    case = await uow.cases.get(case_id)
    assert case is not None
    assert case.status == "published"
    assert await publication.act_on_due(same(uow), at) == 0


async def test_a_light_case_is_never_published() -> None:
    uow = unit()
    await in_review(uow, "O-1", severity="general")
    assert await publication.act_on_due(same(uow), T0 + timedelta(days=400)) == 0
    case = await uow.cases.by_order("O-1")
    assert case is not None
    assert (case.tier, case.status) == ("light", "opened")


async def test_a_pending_objection_holds_publication() -> None:
    uow = unit()
    case_id = await in_review(uow, "O-1")
    await commands.object_to(
        uow,
        case_id,
        enterprise_id="E-0001",
        grounds="期限计算有误",
        trace=delivered(overdue("x")).trace,
    )
    assert await publication.act_on_due(same(uow), T0 + timedelta(days=10)) == 0


async def test_the_maximum_period_ends_an_unrectified_case() -> None:
    uow = unit()
    at = await published(uow, "O-1")
    end = at + timedelta(days=365)
    assert await publication.act_on_due(same(uow), end - timedelta(minutes=1)) == 0
    assert await publication.act_on_due(same(uow), end) == 1
    withdrawn = uow.outbox.committed[-1].event
    assert isinstance(withdrawn, exposure.ExposureWithdrawn)
    assert (withdrawn.reason, withdrawn.withdrawn_at) == ("display_period_ended", end)


async def test_a_rectified_case_ends_after_the_minimum_period() -> None:
    uow = unit()
    at = await published(uow, "O-1")
    await cases.verified(uow, [delivered(verified("O-1", at + timedelta(days=10)))])
    await uow.commit()
    minimum = at + timedelta(days=90)
    assert await publication.act_on_due(same(uow), minimum - timedelta(seconds=1)) == 0
    assert await publication.act_on_due(same(uow), minimum) == 1
    withdrawn = uow.outbox.committed[-1].event
    assert isinstance(withdrawn, exposure.ExposureWithdrawn)
    assert withdrawn.reason == "rectified_period_served"


async def test_each_case_is_its_own_transaction() -> None:
    uow = unit()
    await in_review(uow, "O-1")
    await in_review(uow, "O-2")
    commits = uow.commits
    assert await publication.act_on_due(same(uow), T0 + timedelta(days=6)) == 2
    assert (
        uow.commits == commits + 2
    )  # one commit per case; the pass that found none writes nothing
