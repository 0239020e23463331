"""Exposure cases decided from events (live only; a replay does not decide again), and the
emitting of exposure events.

Every change of a case is an exposure event: `emit` writes it to the outbox and applies it to the
cases (`CaseRepository.apply`) in the same unit of work. `apply_from_topic` applies events read
back from `wuye.exposure.events`, which is also what a replay runs (rebuild.py).
"""

from __future__ import annotations

import structlog

from runtime.unit_of_work import Delivered, Trace, each
from schemas.base import Event
from schemas.exposure import v1 as exposure
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from services.exposure.domain import decisions
from services.exposure.domain.decisions import Criticism
from services.exposure.service.ports import ExposureUnitOfWork

log = structlog.get_logger(__name__)


async def emit(uow: ExposureUnitOfWork, event: exposure._CaseEvent, trace: Trace) -> None:
    ce = await uow.outbox.add(event, trace)
    await uow.cases.apply(event, ce.id)
    log.info("case_changed", event_type=ce.type, case_id=event.case_id)


async def _apply_from_topic(uow: ExposureUnitOfWork, delivered: Delivered[Event]) -> None:
    """The board consumer: events emitted here were applied already; others (a replay into a
    fresh database, a second region) are applied now."""
    await uow.cases.apply(delivered.event, delivered.ce.id)


apply_from_topic = each(_apply_from_topic)


async def _add_criticism(
    uow: ExposureUnitOfWork, order_id: str, project_id: str, notice: Criticism, trace: Trace
) -> None:
    case = await uow.cases.by_order(order_id)
    if case is None:
        return  # no case yet: it picks the notice up when it opens
    if await uow.cases.has_notice(case.case_id, notice.notice_id):
        return
    evidence = decisions.criticism_evidence(case, uow.policy, project_id, notice)
    if evidence is not None:
        await emit(uow, evidence, trace)


async def _open_or_raise(uow: ExposureUnitOfWork, delivered: Delivered[Event]) -> None:
    """An overdue order, or a final rejection, opens a case (or raises its tier)."""
    event = delivered.event
    assert isinstance(event, inspections.RectificationOverdue | inspections.RectificationRejected)
    failed = decisions.failure(event)
    if failed is None:
        return
    await uow.cases.lock_order(event.order_id)
    case = await uow.cases.by_order(event.order_id)
    if case is None:
        await emit(uow, decisions.opening(failed, uow.policy), delivered.trace)
        # A criticism notice consumed before this event is evidence already.
        for notice in await uow.facts.criticisms_of(event.order_id):
            await _add_criticism(uow, event.order_id, event.project_id, notice, delivered.trace)
    elif decisions.raises_tier(case, failed):
        latest = await uow.facts.latest_criticism(event.order_id)
        evidence = decisions.inadequate_evidence(case, failed, uow.policy, latest)
        await emit(uow, evidence, delivered.trace)


open_or_raise = each(_open_or_raise)


async def _criticism(uow: ExposureUnitOfWork, delivered: Delivered[Event]) -> None:
    """The criticism notice about an order completes its case's evidence (the fact is recorded
    by facts.record_criticisms, in this transaction, before this runs)."""
    event = delivered.event
    assert isinstance(event, notifications.NoticeIssued)
    if event.kind != "criticism" or event.subject_kind != "rectification_order":
        return
    if event.project_id is None:
        return
    await uow.cases.lock_order(event.subject_id)
    notice = Criticism(event.notice_id, event.notice_no, event.issued_at)
    await _add_criticism(uow, event.subject_id, event.project_id, notice, delivered.trace)


criticism = each(_criticism)


async def _verified(uow: ExposureUnitOfWork, delivered: Delivered[Event]) -> None:
    event = delivered.event
    assert isinstance(event, inspections.RectificationVerified)
    case = await uow.cases.by_order(event.order_id)
    if case is None:
        return
    change = decisions.rectified(case, event.project_id, event.verified_at)
    if change is not None:
        await emit(uow, change, delivered.trace)


verified = each(_verified)
