"""Issuing notices from events and from due ladder steps, with the in-memory unit of work: for each
kind of rule (notice, reminder with its ladder, criticism, personal receipt), what is recorded,
what is published (with its trace), and what is refused or skipped."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from runtime.scheduler import FixedClock
from runtime.unit_of_work import EventFailed, Trace
from schemas.base import Event
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from services.notifications.adapters.memory import MemoryStore
from services.notifications.domain import rules
from services.notifications.domain.notices import LadderStep
from services.notifications.service import issuing
from tests import factories
from tests.unit.notifications.support import (
    BOOK,
    NOW,
    batch,
    delivered,
    endpoint,
    event,
    sign_off_all,
    store,
)

NOTICES = issuing.notices_for(BOOK)


async def test_a_failed_inspection_notifies_the_enterprise_its_manager_and_the_district() -> None:
    db = store()
    enterprise_mail = await endpoint(db, "enterprise", "E-0001")
    manager_hook = await endpoint(
        db, "manager", "P-120101-0001", "webhook", "https://hooks.example.cn/m"
    )
    failed = delivered(factories.inspection_failed(), correlation_id="corr-77")
    uow = db.unit()

    await NOTICES(uow, [failed])
    await uow.commit()  # as the consumer does, with the inbox claim

    (notice,) = db.tables.notices.values()
    assert notice.notice_id == rules.notice_id(failed.ce.id, "inspection-failed")
    assert (notice.kind, notice.rule_id, notice.issued_at) == ("notice", "inspection-failed", NOW)
    assert (notice.cause_event_id, notice.correlation_id) == (failed.ce.id, "corr-77")
    assert [(c.recipient_kind, c.recipient_id, c.cc) for c in notice.copies] == [
        ("enterprise", "E-0001", False),
        ("manager", "P-120101-0001", False),
        ("district", "120101", True),
    ]
    assert sorted(d.endpoint_id for d in notice.deliveries) == sorted(
        [enterprise_mail, manager_hook]
    )
    assert {s.status for s in db.tables.deliveries.values()} == {"pending"}
    assert db.tables.wake_ups == 1
    (written,) = db.published
    assert isinstance(written.event, notifications.NoticeIssued)
    assert written.event.notice_id == notice.notice_id
    assert written.trace == Trace("corr-77", failed.ce.id)
    assert written.ce.source == "/wuye/notifications"


async def test_a_manager_is_reached_only_through_channels_of_the_projects_enterprise() -> None:
    db = store()
    await endpoint(db, "manager", "P-120101-0001", owner="E-former")  # a former enterprise's
    uow = db.unit()

    await NOTICES(uow, [delivered(factories.inspection_failed())])

    (notice,) = db.tables.notices.values()
    assert [c.recipient_kind for c in notice.copies] == ["enterprise", "district"]
    assert notice.deliveries == ()
    assert db.tables.wake_ups == 0  # nothing to send, no worker woken


async def test_a_reminder_schedules_its_criticism_after_the_configured_wait() -> None:
    db = store()
    overdue = factories.rectification_overdue(order_id="O-1")
    uow = db.unit()

    await NOTICES(uow, [delivered(overdue, correlation_id="corr-9")])

    (notice,) = db.tables.notices.values()
    assert notice.kind == "reminder"
    (stored,) = db.tables.escalations.values()
    assert stored.status == "pending"
    assert stored.step == LadderStep(
        escalation_id=notice.notice_id,
        rule_id="rectification-overdue-criticism",
        subject_kind="rectification_order",
        subject_id="O-1",
        due_at=overdue.detected_at + timedelta(hours=72),
        cause_event_id=notice.cause_event_id,
        cause_type=inspections.RectificationOverdue.ce_type,
        cause_payload=overdue.model_dump_json(),
        correlation_id="corr-9",
    )


async def test_a_submission_calls_the_pending_criticism_off() -> None:
    db = store()
    uow = db.unit()
    await NOTICES(uow, [delivered(factories.rectification_overdue(order_id="O-1"))])
    submitted = delivered(factories.rectification_submitted(order_id="O-1"))

    await NOTICES(uow, [submitted])

    (stored,) = db.tables.escalations.values()
    assert (stored.status, stored.settled_by, stored.settled_at) == (
        "cancelled",
        submitted.ce.id,
        NOW,
    )
    # a submission tells only the district office that it waits for verification
    rules_issued = sorted(n.rule_id for n in db.tables.notices.values())
    assert rules_issued == ["rectification-overdue-reminder", "rectification-submitted-verify"]


async def test_a_criticism_is_drafted_and_ends_every_pending_ladder_of_its_subject() -> None:
    db = store()
    uow = db.unit()
    await NOTICES(uow, [delivered(factories.rectification_overdue(order_id="O-1"))])

    await NOTICES(uow, [delivered(factories.rectification_rejected(order_id="O-1"))])
    await uow.commit()

    assert [n.kind for n in db.tables.notices.values()] == ["reminder"]  # not issued yet
    (drafted,) = db.tables.drafts.values()
    assert (drafted.status, drafted.notice_no) == ("draft", None)
    assert "文号签发时编定" in drafted.body_zh
    assert drafted.title_zh.endswith("（文号签发时编定）")
    (stored,) = db.tables.escalations.values()
    assert (stored.status, stored.settled_by) == ("cancelled", drafted.draft_id)
    assert [type(w.event).__name__ for w in db.published] == ["NoticeIssued", "CriticismDrafted"]

    (criticism,) = await sign_off_all(db)
    assert criticism.notice_id == drafted.draft_id
    assert criticism.notice_no == "和平区物业通〔2011〕1号"
    assert [(c.recipient_kind, c.cc) for c in criticism.copies] == [
        ("enterprise", False),
        ("district", True),
        ("city", True),
    ]
    issued = db.published[-1].event
    assert isinstance(issued, notifications.NoticeIssued)
    assert (issued.kind, issued.notice_no, issued.sign_off) == (
        "criticism",
        criticism.notice_no,
        "office",
    )


async def test_criticism_numbers_run_per_district_and_year() -> None:
    db = store(project=None)
    uow = db.unit()
    for district in ("120101", "120101", "120104"):
        rejected = factories.rectification_rejected(
            order_id=f"O-{district}-{len(db.tables.notices)}"
        )
        await NOTICES(uow, [delivered(rejected.model_copy(update={"district_code": district}))])
    await uow.commit()
    await sign_off_all(db)

    assert sorted(n.notice_no or "" for n in db.tables.notices.values()) == [
        "南开区物业通〔2011〕1号",
        "和平区物业通〔2011〕1号",
        "和平区物业通〔2011〕2号",
    ]


def complaint_filed(complaint_id: str, **more: Any) -> Event:
    """ComplaintFiled of a normal water complaint filed on the web at NOW about E-0001's project
    in 和平区 (`owner_account` in `more` for a signed-in owner)."""
    return event(
        "cn.tj.wuye.complaints.ComplaintFiled.v1",
        complaint_id=complaint_id,
        project_id="P-120101-0001",
        enterprise_id="E-0001",
        district_code="120101",
        category="water",
        urgency="normal",
        channel="web",
        filed_at=NOW,
        **more,
    )


async def test_a_receipt_to_an_owner_is_personal_and_never_published() -> None:
    db = store()
    filed = complaint_filed("C-1", owner_account="owner-42")
    uow = db.unit()

    await NOTICES(uow, [delivered(filed)])
    await uow.commit()

    notices = {n.rule_id: n for n in db.tables.notices.values()}
    assert sorted(notices) == ["complaint-new", "complaint-receipt"]
    notice = notices["complaint-receipt"]
    assert [(c.recipient_kind, c.recipient_id) for c in notice.copies] == [("owner", "owner-42")]
    assert db.published == []


async def test_an_anonymous_filing_brings_no_receipt_only_the_enterprise_notice() -> None:
    db = store()
    filed = complaint_filed("C-2")
    uow = db.unit()

    await NOTICES(uow, [delivered(filed)])
    await uow.commit()

    (notice,) = db.tables.notices.values()
    assert notice.rule_id == "complaint-new"
    assert [(c.recipient_kind, c.recipient_id) for c in notice.copies] == [("enterprise", "E-0001")]
    assert db.published == []


async def test_a_redelivered_cause_issues_nothing_new() -> None:
    db = store()
    once = delivered(factories.rectification_overdue(order_id="O-1"))
    uow = db.unit()

    await NOTICES(uow, [once])
    await NOTICES(uow, [once])
    await uow.commit()

    assert len(db.tables.notices) == 1
    assert len(db.tables.escalations) == 1
    assert len(db.published) == 1


async def test_a_run_of_events_is_recorded_together_in_order() -> None:
    db = store()
    await endpoint(db, "enterprise", "E-0001")
    run = batch(
        factories.inspection_failed(),
        factories.rectification_overdue(order_id="O-1"),
        factories.inspection_failed(),
    )
    uow = db.unit()

    await NOTICES(uow, run)
    await uow.commit()

    assert len(db.tables.notices) == 3
    assert db.tables.wake_ups == 1  # one write of the run, one wake-up
    assert [w.trace for w in db.published] == [Trace(d.ce.correlationid, d.ce.id) for d in run]


async def test_a_failing_event_names_its_place_in_the_run() -> None:
    db = store()
    good = factories.inspection_failed()
    bad = factories.rectification_overdue().model_copy(update={"detected_at": None})
    uow = db.unit()

    with pytest.raises(EventFailed) as failed:
        await NOTICES(uow, batch(good, bad))

    assert failed.value.position == 1


async def test_the_issue_time_is_the_units_clock() -> None:
    later = NOW + timedelta(days=3)
    db = store(at=later)
    uow = db.unit()

    await NOTICES(uow, [delivered(factories.inspection_failed())])

    (notice,) = db.tables.notices.values()
    assert notice.issued_at == later


# -- the ladder ------------------------------------------------------------------------------------


async def _remind(db: MemoryStore, order_id: str = "O-1") -> None:
    await NOTICES(db.unit(), [delivered(factories.rectification_overdue(order_id=order_id))])


async def test_a_due_step_drafts_its_criticism_once() -> None:
    db = store()
    await _remind(db)
    (stored,) = db.tables.escalations.values()
    due = stored.step.due_at

    assert (
        await issuing.escalate_next(db.unit(FixedClock(due - timedelta(minutes=1))), BOOK) is None
    )
    assert await issuing.escalate_next(db.unit(FixedClock(due)), BOOK) is True
    assert await issuing.escalate_next(db.unit(FixedClock(due + timedelta(days=30))), BOOK) is None

    (drafted,) = db.tables.drafts.values()
    assert drafted.rule_id == "rectification-overdue-criticism"
    assert drafted.drafted_at == due
    stored = db.tables.escalations[stored.step.escalation_id]
    assert (stored.status, stored.settled_by) == ("issued", drafted.draft_id)
    written = db.published[-1]
    assert isinstance(written.event, notifications.CriticismDrafted)
    assert written.event.notice_id == drafted.draft_id
    assert written.trace == Trace(stored.step.correlation_id, stored.step.cause_event_id)

    signed_at = due + timedelta(days=2)
    (criticism,) = await sign_off_all(db, signed_at)
    assert (criticism.notice_id, criticism.issued_at) == (drafted.draft_id, signed_at)
    # the body states the facts as of the draft, the document is dated at sign-off
    assert f"截至{rules.in_china(due):%Y年%m月%d日}" in criticism.body_zh
    assert f"{rules.in_china(signed_at):%Y年%m月%d日}" not in criticism.body_zh
    written = db.published[-1]
    assert written.trace == Trace(stored.step.correlation_id, stored.step.cause_event_id)


async def test_a_step_that_cannot_be_issued_is_marked_failed_and_writes_nothing_else() -> None:
    db = store()
    await _remind(db)
    (stored,) = db.tables.escalations.values()
    stored.step = replace(stored.step, cause_payload='{"not": "an event"}')
    notices_before = dict(db.tables.notices)
    published_before = list(db.published)

    assert await issuing.escalate_next(db.unit(FixedClock(stored.step.due_at)), BOOK) is False

    stored = db.tables.escalations[stored.step.escalation_id]
    assert stored.status == "failed"
    assert (stored.settled_by or "").startswith("ValidationError")
    assert db.tables.notices == notices_before
    assert db.published == published_before


async def test_a_pass_issues_every_due_criticism_and_counts_them() -> None:
    db = store()
    for order in ("O-1", "O-2", "O-3"):
        await _remind(db, order)
    due = max(s.step.due_at for s in db.tables.escalations.values())

    assert await issuing.escalate_due(lambda: db.unit(FixedClock(due)), BOOK) == 3
    assert await issuing.escalate_due(lambda: db.unit(FixedClock(due)), BOOK) == 0
    await sign_off_all(db)

    criticisms = [n for n in db.tables.notices.values() if n.kind == "criticism"]
    assert sorted(n.notice_no or "" for n in criticisms) == [
        f"和平区物业通〔2011〕{seq}号" for seq in (1, 2, 3)
    ]
