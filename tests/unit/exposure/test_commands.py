"""The offices' and enterprises' commands, with the in-memory unit of work: review, withdrawal,
objections; who may act on which case; refusals commit nothing; the request's trace."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runtime.errors import DomainError, NotFound
from runtime.unit_of_work import Trace
from schemas.exposure import v1 as exposure
from services.exposure.adapters.memory import MemoryExposureUnitOfWork
from services.exposure.domain import decisions
from services.exposure.service import cases, commands, facts, publication
from tests.unit.exposure.builders import T0, delivered, notice, overdue, unit

REQUEST = Trace.start("corr-request")


async def case_in_review(uow: MemoryExposureUnitOfWork, order: str = "O-1") -> str:
    await cases.open_or_raise(uow, [delivered(overdue(order))])
    issued = delivered(notice(order, T0))
    await facts.record_criticisms(uow, [issued])
    await cases.criticism(uow, [issued])
    await uow.commit()
    return decisions.case_id_of(order)


def written_since(uow: MemoryExposureUnitOfWork, count: int) -> list[object]:
    return [w.event for w in uow.outbox.committed[count:]]


async def test_the_district_holds_then_confirms_and_confirming_publishes() -> None:
    uow = unit(T0 + timedelta(hours=2))
    case_id = await case_in_review(uow)
    before = len(uow.outbox.committed)
    await commands.review(
        uow, case_id, decision="hold", note="核查中", district_code="120101", trace=REQUEST
    )
    [held] = written_since(uow, before)
    assert isinstance(held, exposure.ExposureReviewed)
    assert (held.decision, held.district_code, held.reviewed_at) == (
        "hold",
        "120101",
        T0 + timedelta(hours=2),
    )
    assert await publication.act_on_due(lambda: uow, T0 + timedelta(days=30)) == 0  # held
    before = len(uow.outbox.committed)
    await commands.review(
        uow, case_id, decision="confirm", note="", district_code=None, trace=REQUEST
    )
    reviewed, published = written_since(uow, before)
    assert isinstance(reviewed, exposure.ExposureReviewed)
    assert reviewed.decision == "confirm"
    assert isinstance(published, exposure.ExposurePublished)
    assert {w.trace for w in uow.outbox.committed[before:]} == {REQUEST}
    assert all(w.trace.causation_id is None for w in uow.outbox.committed[before:])
    case = await uow.cases.get(case_id)
    assert case is not None
    assert case.status == "published"


async def test_another_districts_office_learns_nothing_about_the_case() -> None:
    uow = unit()
    case_id = await case_in_review(uow)
    before = len(uow.outbox.committed)
    with pytest.raises(NotFound):
        await commands.review(
            uow, case_id, decision="hold", note="", district_code="120104", trace=REQUEST
        )
    with pytest.raises(NotFound):
        await commands.withdraw(uow, case_id, district_code="120104", trace=REQUEST)
    with pytest.raises(NotFound):
        await commands.withdraw(uow, "no-such-case", district_code=None, trace=REQUEST)
    assert written_since(uow, before) == []


async def test_a_published_case_cannot_be_reviewed_again() -> None:
    uow = unit()
    case_id = await case_in_review(uow)
    await commands.review(
        uow, case_id, decision="confirm", note="", district_code=None, trace=REQUEST
    )
    commits, rollbacks = uow.commits, uow.rollbacks
    with pytest.raises(DomainError) as refused:
        await commands.review(
            uow, case_id, decision="hold", note="", district_code=None, trace=REQUEST
        )
    assert refused.value.code == "not_in_review"
    assert (uow.commits, uow.rollbacks) == (commits, rollbacks)  # nothing was written


async def test_a_withdrawal_is_taken_once() -> None:
    uow = unit(T0 + timedelta(days=1))
    case_id = await case_in_review(uow)
    await commands.withdraw(uow, case_id, district_code="120101", trace=REQUEST)
    withdrawn = uow.outbox.committed[-1].event
    assert isinstance(withdrawn, exposure.ExposureWithdrawn)
    assert (withdrawn.reason, withdrawn.withdrawn_at) == (
        "withdrawn_by_district",
        T0 + timedelta(days=1),
    )
    with pytest.raises(DomainError) as again:
        await commands.withdraw(uow, case_id, district_code=None, trace=REQUEST)
    assert again.value.code == "already_withdrawn"


async def test_an_enterprise_objects_to_its_own_case_once_at_a_time() -> None:
    uow = unit()
    case_id = await case_in_review(uow)
    with pytest.raises(NotFound):  # another enterprise learns nothing about the case
        await commands.object_to(uow, case_id, enterprise_id="E-0002", grounds="x", trace=REQUEST)
    objection_id = await commands.object_to(
        uow, case_id, enterprise_id="E-0001", grounds="已按期整改", trace=REQUEST
    )
    filed = uow.outbox.committed[-1].event
    assert isinstance(filed, exposure.ObjectionFiled)
    assert (filed.objection_id, filed.grounds) == (objection_id, "已按期整改")
    case = await uow.cases.get(case_id)
    assert case is not None
    assert case.pending_objection == objection_id
    with pytest.raises(DomainError) as second:
        await commands.object_to(
            uow, case_id, enterprise_id="E-0001", grounds="again", trace=REQUEST
        )
    assert second.value.code == "objection_pending"


async def test_an_upheld_objection_withdraws_the_case() -> None:
    uow = unit()
    case_id = await case_in_review(uow)
    objection_id = await commands.object_to(
        uow, case_id, enterprise_id="E-0001", grounds="理由", trace=REQUEST
    )
    with pytest.raises(NotFound):
        await commands.decide_objection(
            uow,
            case_id,
            objection_id,
            upheld=True,
            reason="x",
            district_code="120104",
            trace=REQUEST,
        )
    before = len(uow.outbox.committed)
    await commands.decide_objection(
        uow,
        case_id,
        objection_id,
        upheld=True,
        reason="成立",
        district_code="120101",
        trace=REQUEST,
    )
    decided, withdrawn = written_since(uow, before)
    assert isinstance(decided, exposure.ObjectionDecided)
    assert decided.upheld
    assert isinstance(withdrawn, exposure.ExposureWithdrawn)
    assert withdrawn.reason == "objection_upheld"
    assert uow.cases.objections[objection_id]["status"] == "upheld"


async def test_an_objection_upheld_after_a_withdrawal_withdraws_nothing_more() -> None:
    uow = unit()
    case_id = await case_in_review(uow)
    objection_id = await commands.object_to(
        uow, case_id, enterprise_id="E-0001", grounds="理由", trace=REQUEST
    )
    await commands.withdraw(uow, case_id, district_code=None, trace=REQUEST)
    before = len(uow.outbox.committed)
    await commands.decide_objection(
        uow, case_id, objection_id, upheld=True, reason="成立", district_code=None, trace=REQUEST
    )
    assert [type(e) for e in written_since(uow, before)] == [exposure.ObjectionDecided]


async def test_a_rejected_objection_lets_publication_go_ahead() -> None:
    uow = unit()
    case_id = await case_in_review(uow)
    objection_id = await commands.object_to(
        uow, case_id, enterprise_id="E-0001", grounds="理由", trace=REQUEST
    )
    with pytest.raises(DomainError) as unknown:
        await commands.decide_objection(
            uow, case_id, "other", upheld=False, reason="x", district_code=None, trace=REQUEST
        )
    assert unknown.value.code == "no_pending_objection"
    await commands.decide_objection(
        uow, case_id, objection_id, upheld=False, reason="无误", district_code=None, trace=REQUEST
    )
    assert uow.cases.objections[objection_id]["status"] == "rejected"
    assert await publication.act_on_due(lambda: uow, T0 + timedelta(days=10)) == 1
