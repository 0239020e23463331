"""The offices' and enterprises' commands on a case (the office API calls these): load the case,
check who may act on it, let the domain decide, emit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Literal, TypeVar

from runtime.errors import DomainError, Message, NotFound
from runtime.unit_of_work import Trace
from services.exposure.domain import decisions
from services.exposure.domain.cases import Case, Refused
from services.exposure.service.cases import emit
from services.exposure.service.ports import ExposureUnitOfWork

T = TypeVar("T")


def _not_found() -> NotFound:
    return NotFound("case_not_found", Message("案件不存在", "no such case"))


def _refused(exc: Refused) -> DomainError:
    return DomainError(exc.code, Message(exc.zh, exc.en))


def _decided(decide: Callable[[], T]) -> T:
    try:
        return decide()
    except Refused as exc:
        raise _refused(exc) from exc


async def _case(uow: ExposureUnitOfWork, case_id: str, district_code: str | None) -> Case:
    """A command's case: locked, in the acting office's district (a district office acts on its
    own district's cases; the city office, None, on all)."""
    case = await uow.cases.get(case_id, lock=True)
    if case is None:
        raise _not_found()
    if district_code is not None and case.district_code != district_code:
        raise _not_found()
    return case


async def review(
    uow: ExposureUnitOfWork,
    case_id: str,
    *,
    decision: Literal["hold", "confirm"],
    note: str,
    district_code: str | None,
    trace: Trace,
) -> None:
    async with uow:
        case = await _case(uow, case_id, district_code)
        now = uow.clock.now()
        photos = await uow.facts.photos_of(case.inspection_id, case.item_ids)
        reviewed = _decided(lambda: decisions.review(case, uow.policy, decision, note, now, photos))
        for event in reviewed:
            await emit(uow, event, trace)
        await uow.commit()


async def withdraw(
    uow: ExposureUnitOfWork, case_id: str, *, district_code: str | None, trace: Trace
) -> None:
    async with uow:
        case = await _case(uow, case_id, district_code)
        now = uow.clock.now()
        await emit(uow, _decided(lambda: decisions.withdrawal(case, now)), trace)
        await uow.commit()


async def object_to(
    uow: ExposureUnitOfWork, case_id: str, *, enterprise_id: str, grounds: str, trace: Trace
) -> str:
    """The enterprise objects to its own case; returns the objection's id."""
    async with uow:
        case = await _case(uow, case_id, None)
        if case.enterprise_id != enterprise_id:
            raise _not_found()
        objection_id = str(uuid.uuid4())
        now = uow.clock.now()
        filed = _decided(
            lambda: decisions.objection(case, enterprise_id, grounds, objection_id, now)
        )
        await emit(uow, filed, trace)
        await uow.commit()
        return objection_id


async def decide_objection(
    uow: ExposureUnitOfWork,
    case_id: str,
    objection_id: str,
    *,
    upheld: bool,
    reason: str,
    district_code: str | None,
    trace: Trace,
) -> None:
    async with uow:
        case = await _case(uow, case_id, district_code)
        now = uow.clock.now()
        for event in _decided(
            lambda: decisions.objection_decision(case, objection_id, upheld, reason, now)
        ):
            await emit(uow, event, trace)
        await uow.commit()
