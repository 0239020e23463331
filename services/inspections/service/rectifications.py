"""Rectification orders: issued with a failed inspection, then submitted, verified or rejected,
and marked overdue by a time-driven scan. Each step is one transaction with its event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from runtime import db, outbox
from runtime.calendar import CalendarError, WorkingCalendar
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound, Unavailable
from schemas.inspections import v1 as events
from services.inspections.adapters import rectifications as repo
from services.inspections.adapters.repository import Project
from services.inspections.domain import checklist, policy, rectification

SOURCE = "/wuye/inspections"
SCAN_BATCH = 500


ELAPSED = "elapsed"  # the basis of a deadline in hours: no calendar involved


@dataclass(frozen=True)
class Deadline:
    at: datetime
    # which calendar produced it: 'official:2026', 'provisional:holidays-0.108:2027' (joined with
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
                    f"平台暂时无法计算整改期限({exc.zh}),这是平台的问题,不是提交的内容有误",
                    f"the platform cannot set the deadline ({exc.en}); a problem on our side, "
                    "not with what was submitted",
                ),
            ) from exc
    return tuple(deadlines)


async def issue_orders(
    conn: db.Connection,
    *,
    inspection_id: str,
    project: Project,
    failed: tuple[checklist.FailedItem, ...],
    deadlines: tuple[Deadline, ...],
    now: datetime,
) -> list[str]:
    """One order per failed item (with the deadline from `deadlines_for`), in the inspection's
    transaction; return the order ids."""
    ids = []
    for f, deadline in zip(failed, deadlines, strict=True):
        order = rectification.new_order(str(uuid.uuid4()), now, deadline.at)
        item = _item(f)
        await repo.insert_order(
            conn,
            order,
            inspection_id=inspection_id,
            project_id=project.project_id,
            enterprise_id=project.enterprise_id,
            enterprise_name=project.enterprise_name,
            district_code=project.district_code,
            items=[item],
            severity=f.item.severity,
            deadline_calendar=deadline.calendar,
        )
        row = repo.OrderRow(
            order=order,
            inspection_id=inspection_id,
            project_id=project.project_id,
            project_name=project.project_name,
            enterprise_id=project.enterprise_id,
            enterprise_name=project.enterprise_name,
            district_code=project.district_code,
            items=[item],
            severity=f.item.severity,
        )
        await outbox.enqueue(
            conn,
            events.RectificationOrdered(
                **_facts(row), ordered_at=now, deadline_calendar=deadline.calendar
            ),
            source=SOURCE,
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


def _facts(row: repo.OrderRow) -> dict[str, Any]:
    return {
        "order_id": row.order.order_id,
        "inspection_id": row.inspection_id,
        "project_id": row.project_id,
        "project_name": row.project_name,
        "enterprise_id": row.enterprise_id,
        "enterprise_name": row.enterprise_name,
        "district_code": row.district_code,
        "items": tuple(events.FailedItem(**i) for i in row.items),
        "severity": row.severity,
        "deadline": row.order.deadline,
    }


# -- the enterprise submits, the district office decides ------------------------------------------


async def submit(
    pool: asyncpg.Pool,
    order_id: str,
    actor: policy.Actor,
    actor_id: str,
    *,
    evidence_text: str,
    photo_refs: list[str],
    now: datetime,
) -> repo.OrderRow:
    async with pool.acquire() as conn, conn.transaction():
        row = await _load(conn, order_id, actor)
        if not (actor.role == "enterprise" and actor.enterprise_id == row.enterprise_id):
            raise Forbidden(
                "not_the_enterprise",
                Message(
                    "只有被责令整改的物业企业可以提交整改", "only the ordered enterprise submits"
                ),
            )
        late = rectification.mark_overdue(row.order, now)
        if late is not None:
            # The deadline passed before the scan noticed: record the overdue first, once.
            row = await _record_overdue(conn, row, late, now)
        order = _transition(lambda: rectification.submit(row.order, evidence_text, photo_refs, now))
        await repo.save(conn, order)
        await repo.add_history(
            conn,
            order_id,
            "submitted",
            actor=actor_id,
            actor_role=actor.role,
            at=now,
            evidence_text=order.evidence_text,
            photo_refs=order.photo_refs,
        )
        updated = _with(row, order)
        await outbox.enqueue(
            conn,
            events.RectificationSubmitted(
                **_facts(updated),
                submission_no=order.submissions,
                photo_count=len(order.photo_refs),
                submitted_at=now,
                before_deadline=now <= order.deadline,
            ),
            source=SOURCE,
        )
        return updated


async def decide(
    pool: asyncpg.Pool,
    order_id: str,
    actor: policy.Actor,
    actor_id: str,
    *,
    decision: str,
    reason: str,
    now: datetime,
) -> repo.OrderRow:
    async with pool.acquire() as conn, conn.transaction():
        row = await _load(conn, order_id, actor)
        if actor.role not in ("district_office", "city_office"):
            raise Forbidden(
                "not_a_supervisor",
                Message(
                    "只有区县物业办或市物业办可以验收整改",
                    "only a district or city office verifies",
                ),
            )
        if decision == "verify":
            order = _transition(lambda: rectification.verify(row.order, now))
            await repo.save(conn, order)
            await repo.add_history(
                conn, order_id, "verified", actor=actor_id, actor_role=actor.role, at=now
            )
            updated = _with(row, order)
            await outbox.enqueue(
                conn,
                events.RectificationVerified(
                    **_facts(updated), verified_at=now, on_time=bool(order.on_time)
                ),
                source=SOURCE,
            )
            return updated
        order = _transition(lambda: rectification.reject(row.order, reason, now))
        await repo.save(conn, order)
        action = "inadequate" if order.status is rectification.Status.INADEQUATE else "rejected"
        await repo.add_history(
            conn, order_id, action, actor=actor_id, actor_role=actor.role, at=now,
            reason=order.rejection_reason,
        )  # fmt: skip
        updated = _with(row, order)
        await outbox.enqueue(
            conn,
            events.RectificationRejected(
                **_facts(updated),
                rejection_no=order.rejections,
                reason=order.rejection_reason or "",
                inadequate=order.status is rectification.Status.INADEQUATE,
                rejected_at=now,
            ),
            source=SOURCE,
        )
        return updated


async def _load(conn: db.Connection, order_id: str, actor: policy.Actor) -> repo.OrderRow:
    row = await repo.get_for_update(conn, order_id)
    # An order outside the caller's scope answers like a missing one: ids cannot be probed.
    if row is None or not can_see(actor, row.district_code, row.enterprise_id):
        raise NotFound("order_not_found", Message("整改单不存在", "rectification order not found"))
    return row


def can_see(actor: policy.Actor, district_code: str, enterprise_id: str) -> bool:
    if actor.role == "city_office":
        return True
    if actor.role == "district_office":
        return actor.district_code == district_code
    return actor.role == "enterprise" and actor.enterprise_id == enterprise_id


def _transition(step: Any) -> rectification.Order:
    try:
        result: rectification.Order = step()
    except rectification.TransitionRefused as exc:
        error = InvalidInput if exc.field else DomainError
        raise error(exc.code, Message(exc.zh, exc.en), field=exc.field) from exc
    return result


def _with(row: repo.OrderRow, order: rectification.Order) -> repo.OrderRow:
    return repo.OrderRow(**{**row.__dict__, "order": order})


# -- the overdue scan ---------------------------------------------------------------------------------


async def overdue_job(pool: asyncpg.Pool, now: datetime) -> int:
    """Mark every order whose deadline passed while still owed, and emit RectificationOverdue
    once per order. Safe on several replicas: rows are claimed FOR UPDATE SKIP LOCKED and the
    domain refuses to mark an order twice."""
    total = 0
    while True:
        async with pool.acquire() as conn, conn.transaction():
            due = await repo.due_for_update(conn, now, SCAN_BATCH)
            for row in due:
                marked = rectification.mark_overdue(row.order, now)
                if marked is None:
                    continue
                await _record_overdue(conn, row, marked, now)
                total += 1
        if len(due) < SCAN_BATCH:
            return total


async def _record_overdue(
    conn: db.Connection, row: repo.OrderRow, marked: rectification.Order, now: datetime
) -> repo.OrderRow:
    await repo.save(conn, marked)
    await repo.add_history(
        conn, marked.order_id, "overdue", actor="scheduler", actor_role="system", at=now
    )
    updated = _with(row, marked)
    await outbox.enqueue(
        conn,
        events.RectificationOverdue(**_facts(updated), status=marked.status.value, detected_at=now),
        source=SOURCE,
    )
    return updated
