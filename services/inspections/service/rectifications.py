"""Rectification orders: issued with a failed inspection, then submitted, verified or rejected,
and marked overdue by a time-driven scan. Each step is one unit of work with its event."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runtime import attachments
from runtime.calendar import CHINA, CalendarError, WorkingCalendar
from runtime.documents import OfficialDocument
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound, Unavailable
from runtime.unit_of_work import Trace
from schemas import fields
from schemas.inspections import v1 as inspections
from services.inspections.domain import actors, checklist, project_registry, rectification
from services.inspections.domain.project_registry import ProjectFacts
from services.inspections.service.ports import InspectionsUnitOfWork, OrderRow

SCAN_BATCH = 500


ELAPSED = "elapsed"  # the basis of a deadline in hours: no calendar involved


@dataclass(frozen=True)
class Deadline:
    at: datetime
    # which calendar produced it: 'official:2026@5d41402a', 'provisional:holidays-0.108:2027' (joined with
    # '+' across years) or 'elapsed'; stored with the order, never recomputed
    calendar: str


@dataclass(frozen=True)
class Rules:
    """Reference data the handlers need, loaded once at startup."""

    calendar: WorkingCalendar
    deadlines: rectification.DeadlinePolicy


# -- issuing ----------------------------------------------------------------------------------------


def deadlines_for(
    rules: Rules, failed: tuple[checklist.FailedItem, ...], now: datetime
) -> tuple[Deadline, ...]:
    """The deadline of each failed item's order, computed before anything is written, so the
    InspectionFailed notice can state them."""
    deadlines = []
    for f in failed:
        try:
            rule = rules.deadlines.rule_for(f.item.severity, f.item.item_id)
            at = rule.deadline(now, rules.calendar)
            basis = ELAPSED if rule.hours is not None else rules.calendar.basis(now, at)
            deadlines.append(Deadline(at, basis))
        except CalendarError as exc:
            # Never guess a deadline: the operator must load the year's holiday calendar.
            raise Unavailable(
                exc.code,
                Message(
                    f"平台暂时无法计算整改期限（{exc.zh}），这是平台的问题，不是提交的内容有误",
                    f"the platform cannot set the deadline ({exc.en}); a problem on our side, "
                    "not with what was submitted",
                ),
            ) from exc
    return tuple(deadlines)


async def issue_orders(
    uow: InspectionsUnitOfWork,
    *,
    inspection_id: str,
    project: ProjectFacts,
    failed: tuple[checklist.FailedItem, ...],
    deadlines: tuple[Deadline, ...],
    now: datetime,
    trace: Trace,
) -> list[str]:
    """One order per failed item (with the deadline from `deadlines_for`), in the inspection's
    transaction; return the order ids."""
    ids = []
    for f, deadline in zip(failed, deadlines, strict=True):
        order = rectification.new_order(str(uuid.uuid4()), now, deadline.at)
        row = OrderRow(
            order=order,
            inspection_id=inspection_id,
            project_id=project.project_id,
            project_name=project.project_name,
            enterprise_id=project.enterprise_id,
            enterprise_name=project.enterprise_name,
            district_code=project.district_code,
            items=[_item(f)],
            severity=f.item.severity,
        )
        await uow.orders.add(row, deadline_calendar=deadline.calendar)
        await uow.outbox.add(
            inspections.RectificationOrdered(
                **_facts(row), ordered_at=now, deadline_calendar=deadline.calendar
            ),
            trace,
        )
        ids.append(order.order_id)
    return ids


def _item(f: checklist.FailedItem) -> dict[str, Any]:
    return {
        "item_id": f.item.item_id,
        "group": f.item.group,
        "title_zh": f.item.title_zh,
        "title_en": f.item.title_en,
        "severity": f.item.severity,
        "note": f.note,
    }


def _facts(row: OrderRow) -> dict[str, Any]:
    return {
        "order_id": row.order.order_id,
        "inspection_id": row.inspection_id,
        "project_id": row.project_id,
        "project_name": row.project_name,
        "enterprise_id": row.enterprise_id,
        "enterprise_name": row.enterprise_name,
        "district_code": row.district_code,
        "items": tuple(inspections.FailedItem(**i) for i in row.items),
        "severity": row.severity,
        "deadline": row.order.deadline,
    }


# -- the enterprise submits, the district office decides ------------------------------------------

EVIDENCE_KIND = "rectification"  # attachments' owner kind of the enterprise's evidence photos


def evidence_owner(order_id: str, submission_no: int) -> str:
    return f"{order_id}:{submission_no}"


def attachment_ref(r: attachments.Ref) -> fields.AttachmentRef:
    return fields.AttachmentRef(
        attachment_id=r.attachment_id,
        sha256=r.sha256,
        content_type=r.content_type,
    )


async def submit(
    uow: InspectionsUnitOfWork,
    order_id: str,
    actor: actors.Actor,
    actor_id: str,
    *,
    evidence_text: str,
    photo_refs: list[str],
    trace: Trace,
    photos: tuple[attachments.Prepared, ...] = (),
) -> OrderRow:
    """`photos` (already checked by `runtime.attachments.prepare_all`) are stored with the
    submission in its transaction; their ids join `photo_refs`, their references the event."""
    async with uow:
        now = uow.clock.now()
        row = await _load(uow, order_id, actor)
        _refuse(actors.may_submit_rectification(actor, row.enterprise_id))
        late = rectification.mark_overdue(row.order, now)
        if late is not None:
            # The deadline passed before the scan noticed: record the overdue first, once.
            row = await _record_overdue(uow, row, late, now, trace)
        ids = [*photo_refs, *(p.attachment_id for p in photos)]
        order = _transition(lambda: rectification.submit(row.order, evidence_text, ids, now))
        refs = await uow.attachments.put(
            EVIDENCE_KIND, evidence_owner(order_id, order.submissions), photos, now
        )
        await uow.orders.save(order)
        await uow.orders.add_history(
            order_id,
            "submitted",
            actor=actor_id,
            actor_role=actor.role,
            at=now,
            evidence_text=order.evidence_text,
            photo_refs=order.photo_refs,
        )
        updated = _with(row, order)
        await uow.outbox.add(
            inspections.RectificationSubmitted(
                **_facts(updated),
                submission_no=order.submissions,
                photo_count=len(order.photo_refs),
                attachments=tuple(attachment_ref(r) for r in refs),
                submitted_at=now,
                before_deadline=now <= order.deadline,
            ),
            trace,
        )
        await uow.commit()
        return updated


async def decide(
    uow: InspectionsUnitOfWork,
    order_id: str,
    actor: actors.Actor,
    actor_id: str,
    *,
    decision: str,
    reason: str,
    trace: Trace,
) -> OrderRow:
    """Verify (验收合格) or reject (退回) a submitted order; the second rejection is 整改不到位."""
    async with uow:
        now = uow.clock.now()
        row = await _load(uow, order_id, actor)
        _refuse(actors.may_decide_rectification(actor))
        event: inspections.RectificationVerified | inspections.RectificationRejected
        if decision == "verify":
            order = _transition(lambda: rectification.verify(row.order, now))
            await uow.orders.save(order)
            await uow.orders.add_history(
                order_id, "verified", actor=actor_id, actor_role=actor.role, at=now
            )
            updated = _with(row, order)
            event = inspections.RectificationVerified(
                **_facts(updated), verified_at=now, on_time=bool(order.on_time)
            )
        else:
            order = _transition(lambda: rectification.reject(row.order, reason, now))
            await uow.orders.save(order)
            inadequate = order.status is rectification.Status.INADEQUATE
            await uow.orders.add_history(
                order_id,
                "inadequate" if inadequate else "rejected",
                actor=actor_id,
                actor_role=actor.role,
                at=now,
                reason=order.rejection_reason,
            )
            updated = _with(row, order)
            event = inspections.RectificationRejected(
                **_facts(updated),
                rejection_no=order.rejections,
                reason=order.rejection_reason or "",
                inadequate=inadequate,
                rejected_at=now,
            )
        await uow.outbox.add(event, trace)
        await uow.commit()
        return updated


async def _load(uow: InspectionsUnitOfWork, order_id: str, actor: actors.Actor) -> OrderRow:
    row = await uow.orders.get(order_id, for_update=True)
    # An order outside the caller's scope answers like a missing one: ids cannot be probed.
    if row is None or not project_registry.can_see(actor, row.district_code, row.enterprise_id):
        raise NotFound("order_not_found", Message("整改单不存在", "rectification order not found"))
    return row


def _refuse(refusal: actors.Refusal | None) -> None:
    if refusal is not None:
        raise Forbidden(refusal.code, Message(refusal.zh, refusal.en))


def _transition(step: Any) -> rectification.Order:
    try:
        result: rectification.Order = step()
    except rectification.TransitionRefused as exc:
        error = InvalidInput if exc.field else DomainError
        raise error(exc.code, Message(exc.zh, exc.en), field=exc.field) from exc
    return result


def _with(row: OrderRow, order: rectification.Order) -> OrderRow:
    return OrderRow(**{**row.__dict__, "order": order})


# -- the overdue scan ---------------------------------------------------------------------------------


async def mark_overdue(units: Callable[[], InspectionsUnitOfWork]) -> int:
    """Mark every order whose deadline passed while still owed, and emit RectificationOverdue
    once per order; a unit of work per batch of `SCAN_BATCH`. Safe on several replicas: the
    orders are locked (others skip them) and the domain refuses to mark an order twice. Returns
    the number of orders marked."""
    trace = Trace.start()
    total = 0
    while True:
        async with units() as uow:
            now = uow.clock.now()
            due = await uow.orders.due(now, SCAN_BATCH)
            for row in due:
                marked = rectification.mark_overdue(row.order, now)
                if marked is None:
                    continue
                await _record_overdue(uow, row, marked, now, trace)
                total += 1
            await uow.commit()
        if len(due) < SCAN_BATCH:
            return total


async def _record_overdue(
    uow: InspectionsUnitOfWork,
    row: OrderRow,
    marked: rectification.Order,
    now: datetime,
    trace: Trace,
) -> OrderRow:
    await uow.orders.save(marked)
    await uow.orders.add_history(
        marked.order_id, "overdue", actor="scheduler", actor_role="system", at=now
    )
    updated = _with(row, marked)
    await uow.outbox.add(
        inspections.RectificationOverdue(
            **_facts(updated), status=marked.status.value, detected_at=now
        ),
        trace,
    )
    return updated


# -- the order as an official document (整改通知书) -------------------------------------------------

SEVERITY_ZH = {"general": "一般", "serious": "严重", "urgent": "紧急"}


@dataclass(frozen=True)
class OrderDocument:
    row: OrderRow  # its district and enterprise: who may open it (entrypoints/policy.py)
    document: OfficialDocument


async def order_document(uow: InspectionsUnitOfWork, order_id: str) -> OrderDocument | None:
    """The rectification order as an official document (整改通知书) of its district office,
    numbered from the district-year sequence taken when the order was made; None if none."""
    async with uow:
        row = await uow.orders.get(order_id)
        if row is None:
            return None
        names = {d["district_code"]: d["district_name"] for d in await uow.projects.districts()}
    return OrderDocument(row, official_order(row, names.get(row.district_code, row.district_code)))


def official_order(row: OrderRow, district_name: str) -> OfficialDocument:
    if row.doc_year is None or row.doc_seq is None:
        raise ValueError("an order has its number once stored")
    o = row.order
    deadline = o.deadline.astimezone(CHINA)
    lines = [
        f"经检查，贵单位服务的物业项目“{row.project_name}”存在下列问题，现责令限期整改：",
    ]
    for n, item in enumerate(row.items, 1):
        severity = SEVERITY_ZH.get(str(item.get("severity")), str(item.get("severity") or ""))
        note = f"：{item['note']}" if item.get("note") else ""
        lines.append(f"{n}. 【{severity}】{item['title_zh']}{note}")
    lines += [
        f"请于{deadline.year}年{deadline.month}月{deadline.day}日 {deadline:%H:%M}前完成整改，"
        "并通过物业服务监管平台提交整改情况说明及照片，由区物业管理办公室验收。",
        "逾期未整改或整改不到位的，将予以通报批评，并在市物业管理协会网站公开曝光。",
        f"（整改单编号：{o.order_id}；检查编号：{row.inspection_id}）",
    ]
    return OfficialDocument(
        issuer=f"天津市{district_name}物业管理办公室",
        number=rectification.document_number(district_name, row.doc_year, row.doc_seq),
        title=f"关于{row.project_name}限期整改的通知",
        addressee=row.enterprise_name,
        body="\n".join(lines),
        issued_on=o.ordered_at.astimezone(CHINA).date(),
        copy_to="天津市物业管理办公室",
    )
