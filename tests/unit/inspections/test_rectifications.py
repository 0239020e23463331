"""Rectification orders with the in-memory unit of work: the enterprise submits, an office
verifies or rejects, the overdue scan marks each order once."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from runtime import attachments
from runtime.errors import DomainError, Forbidden, NotFound
from runtime.unit_of_work import Trace
from schemas.inspections import v1 as inspections
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork
from services.inspections.domain import rectification
from services.inspections.service import rectifications, statutory_intervals
from services.inspections.service.ports import OrderRow
from tests.unit.inspections.conftest import CITY, E1, E2, HEPING, NANKAI, NOW

DEADLINE = NOW + timedelta(days=3)


@pytest.fixture
async def order(uow: MemoryInspectionsUnitOfWork) -> OrderRow:
    """An order to E-0001 about P-120101-0001 (和平区), due in three days."""
    row = OrderRow(
        order=rectification.new_order("order-1", NOW - timedelta(days=1), DEADLINE),
        inspection_id="inspection-1",
        project_id="P-120101-0001",
        project_name="和平区·海河花园",
        enterprise_id="E-0001",
        enterprise_name="津城物业服务有限公司",
        district_code="120101",
        items=[
            {
                "item_id": "waste.daily",
                "group": "保洁",
                "title_zh": "垃圾日产日清",
                "title_en": "Daily waste",
                "severity": "serious",
                "note": "未清运",
            }
        ],
        severity="serious",
    )
    await uow.orders.add(row, deadline_calendar="official:2026")
    stored = await uow.orders.get("order-1")  # with its number (文号)
    assert stored is not None
    assert (stored.doc_year, stored.doc_seq) == (2026, 1)
    return stored


async def submit(uow: MemoryInspectionsUnitOfWork, actor: object, trace: Trace) -> OrderRow:
    return await rectifications.submit(
        uow,
        "order-1",
        actor,  # type: ignore[arg-type]
        "staff-1",
        evidence_text="已清运,附照片",
        photo_refs=["photos/1.jpg"],
        trace=trace,
    )


async def test_the_ordered_enterprise_submits_its_rectification(
    uow: MemoryInspectionsUnitOfWork, order: OrderRow, trace: Trace
) -> None:
    row = await submit(uow, E1, trace)

    assert row.order.status is rectification.Status.SUBMITTED
    assert uow.orders.rows["order-1"].order.submissions == 1
    [entry] = uow.orders.history_rows["order-1"]
    assert (entry["action"], entry["actor"], entry["photo_refs"]) == (
        "submitted",
        "staff-1",
        ["photos/1.jpg"],
    )
    [written] = uow.outbox.committed
    assert isinstance(written.event, inspections.RectificationSubmitted)
    assert (written.event.submission_no, written.event.before_deadline) == (1, True)
    assert written.trace == trace


async def test_a_late_submission_records_the_overdue_first(
    uow: MemoryInspectionsUnitOfWork, order: OrderRow, trace: Trace
) -> None:
    uow.clock.advance(timedelta(days=4))  # type: ignore[attr-defined]
    await submit(uow, E1, trace)

    kinds = [type(e).__name__ for e in uow.outbox.events]
    assert kinds == ["RectificationOverdue", "RectificationSubmitted"]
    assert [h["action"] for h in uow.orders.history_rows["order-1"]] == ["overdue", "submitted"]
    assert uow.orders.rows["order-1"].order.overdue_at == NOW + timedelta(days=4)


@pytest.mark.parametrize(
    ("actor", "error"), [(E2, NotFound), (NANKAI, NotFound), (HEPING, Forbidden)]
)
async def test_only_the_ordered_enterprise_submits(
    uow: MemoryInspectionsUnitOfWork,
    order: OrderRow,
    trace: Trace,
    actor: object,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await submit(uow, actor, trace)
    assert uow.outbox.committed == []
    assert uow.orders.rows["order-1"] == order


async def decide(
    uow: MemoryInspectionsUnitOfWork, actor: object, decision: str, trace: Trace
) -> OrderRow:
    return await rectifications.decide(
        uow,
        "order-1",
        actor,  # type: ignore[arg-type]
        "officer-1",
        decision=decision,
        reason="照片不清楚,请补充",
        trace=trace,
    )


async def test_an_office_verifies_a_submitted_order(
    uow: MemoryInspectionsUnitOfWork, order: OrderRow, trace: Trace
) -> None:
    await submit(uow, E1, Trace.start())
    row = await decide(uow, HEPING, "verify", trace)

    assert row.order.status is rectification.Status.VERIFIED
    verified = uow.outbox.committed[-1]
    assert isinstance(verified.event, inspections.RectificationVerified)
    assert verified.event.on_time is True
    assert verified.trace == trace
    assert uow.orders.history_rows["order-1"][-1]["action"] == "verified"


async def test_the_second_rejection_closes_the_order_as_inadequate(
    uow: MemoryInspectionsUnitOfWork, order: OrderRow, trace: Trace
) -> None:
    await submit(uow, E1, trace)
    first = await decide(uow, CITY, "reject", trace)
    await submit(uow, E1, trace)
    second = await decide(uow, CITY, "reject", trace)

    assert (first.order.status, second.order.status) == (
        rectification.Status.REJECTED,
        rectification.Status.INADEQUATE,
    )
    rejected = [e for e in uow.outbox.events if isinstance(e, inspections.RectificationRejected)]
    assert [(e.rejection_no, e.inadequate) for e in rejected] == [(1, False), (2, True)]
    actions = [h["action"] for h in uow.orders.history_rows["order-1"]]
    assert actions == ["submitted", "rejected", "submitted", "inadequate"]


async def test_an_enterprise_does_not_decide_and_an_unsubmitted_order_is_not_verified(
    uow: MemoryInspectionsUnitOfWork, order: OrderRow, trace: Trace
) -> None:
    with pytest.raises(Forbidden):
        await decide(uow, E1, "verify", trace)
    with pytest.raises(DomainError):  # still 'ordered': nothing to verify
        await decide(uow, HEPING, "verify", trace)
    assert uow.outbox.committed == []


async def test_the_overdue_scan_marks_each_owed_order_once(
    uow: MemoryInspectionsUnitOfWork, order: OrderRow
) -> None:
    other = replace(order, order=rectification.new_order("order-2", NOW, NOW + timedelta(days=30)))
    await uow.orders.add(other, deadline_calendar="official:2026")
    uow.clock.advance(timedelta(days=4))  # type: ignore[attr-defined]

    assert await rectifications.mark_overdue(lambda: uow) == 1
    assert await rectifications.mark_overdue(lambda: uow) == 0

    [written] = uow.outbox.committed
    assert isinstance(written.event, inspections.RectificationOverdue)
    assert (written.event.order_id, written.event.status) == ("order-1", "ordered")
    assert written.trace.causation_id is None  # started by a timer, not by an event
    assert uow.orders.rows["order-2"].order.overdue_at is None
    assert uow.orders.history_rows["order-1"][-1]["actor"] == "scheduler"


async def test_an_order_is_its_district_offices_numbered_document(
    uow: MemoryInspectionsUnitOfWork, order: OrderRow
) -> None:
    found = await rectifications.order_document(uow, "order-1")

    assert found is not None
    assert found.row == order
    doc = found.document
    assert doc == rectifications.official_order(order, "和平区")
    assert doc.issuer == "天津市和平区物业管理办公室"
    assert doc.number == rectification.document_number("和平区", 2026, 1)
    assert (doc.addressee, doc.title) == (
        "津城物业服务有限公司",
        "关于和平区·海河花园限期整改的通知",
    )
    assert "【" in doc.body
    assert "垃圾日产日清：未清运" in doc.body
    assert doc.issued_on == (NOW - timedelta(days=1)).date()
    assert await rectifications.order_document(uow, "no-such-order") is None
    with pytest.raises(ValueError, match="number"):
        rectifications.official_order(replace(order, doc_seq=None), "和平区")


def test_evidence_is_kept_per_submission_and_referenced_without_its_size() -> None:
    assert rectifications.evidence_owner("order-1", 2) == "order-1:2"
    photo_id = "0b6f1c2e-5d4a-4e8b-9f10-2a3b4c5d6e7f"
    ref = attachments.Ref(photo_id, "ab" * 32, "image/jpeg", 800, 600, has_original=True)
    wire = rectifications.attachment_ref(ref)
    assert (wire.attachment_id, wire.sha256, wire.content_type) == (
        photo_id,
        "ab" * 32,
        "image/jpeg",
    )
    assert statutory_intervals.photo_owner("F-1", "S-2") == "F-1:S-2"
