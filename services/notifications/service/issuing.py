"""Issuing notices: from events (in the consumer's transaction) or from a due ladder step (in the
escalation job's transaction). Everything a notice causes is written in that one transaction: the
notice, its copies (the inboxes), a delivery row per external channel (before anything is sent),
the ladder step it schedules or cancels, and `NoticeIssued` in the outbox.

A circulated criticism (通报批评) is not issued here but drafted (`draft`): the district office
signs it off (`service/criticisms.py`), which numbers and issues it through `issue`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from runtime.unit_of_work import BatchHandler, Delivered, EventFailed, Trace
from schemas import catalog
from schemas.base import Event
from schemas.notifications import v1 as notifications
from services.notifications.domain import rules
from services.notifications.domain.notices import (
    Copy,
    Delivery,
    Draft,
    Endpoint,
    LadderStep,
    Notice,
)
from services.notifications.service.ports import NotificationsUnitOfWork

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Cause:
    """The event a notice answers, and the work it belongs to."""

    event_id: str
    event_type: str
    correlation_id: str

    @property
    def trace(self) -> Trace:
        return Trace(self.correlation_id, self.event_id)


async def issue(
    uow: NotificationsUnitOfWork,
    book: rules.RuleBook,
    rule: rules.Rule,
    event: Event,
    cause: Cause,
    issued_at: datetime,
    *,
    drafted_at: datetime | None = None,
) -> Notice | None:
    """`rule`'s notice for `event` (the caller records it, with others of its run), or None if it
    names nobody. Its ladder effects and `NoticeIssued` are written here, in order. A criticism
    is issued only from its signed-off draft (`drafted_at`): its number is taken here, in the
    sign-off's transaction."""
    notice_id = rules.notice_id(cause.event_id, rule.id)
    project_id = getattr(event, "project_id", None)
    project = await uow.projects.facts(project_id) if project_id is not None else None
    everyone = await uow.projects.enterprises() if "enterprises" in (*rule.to, *rule.cc) else []
    addressees = rules.addressees(rule, event, project, everyone)
    enterprise_id = getattr(event, "enterprise_id", None) or (
        project.enterprise_id if project else None
    )
    # A project manager is reached only through channels that the project's enterprise (today's,
    # not a former one) registered for them.
    endpoints: dict[rules.Addressee, list[Endpoint]] = {
        a: await uow.endpoints.reaching(a.kind, a.id, enterprise_id)
        for a in addressees
        if a.kind != "owner"
    }
    addressees = [a for a in addressees if a.kind != "manager" or endpoints.get(a)]
    if not addressees:
        log.info("notice_not_addressed", rule=rule.id, reason="no recipient can be named")
        return None
    names = rules.names(event, project)
    district_code = getattr(event, "district_code", None) or (
        project.district_code if project else None
    )
    notice_no = None
    if rule.kind == "criticism":
        year = rules.in_china(issued_at).year
        seq = await uow.notices.next_number(district_code or "000000", year)
        notice_no = book.criticism_number(names["district_name"], year, seq)
    rendered = book.render(
        rule,
        {
            "e": event,
            **names,
            "notice_no": notice_no or "",
            "issued_at": issued_at,
            "drafted_at": drafted_at or issued_at,
            "escalation_hours": f"{rule.escalate.after_hours:g}" if rule.escalate else "",
        },
    )
    subject_id = str(getattr(event, rule.subject.field))
    copies: list[Copy] = []
    deliveries: list[Delivery] = []
    for a in addressees:
        copy_id = rules.copy_id(notice_id, a)
        copies.append(Copy(copy_id, notice_id, a.kind, a.id, a.cc))
        deliveries.extend(
            Delivery(
                rules.delivery_id(copy_id, ep.endpoint_id),
                copy_id,
                notice_id,
                ep.endpoint_id,
                ep.channel,
                ep.address,
            )
            for ep in endpoints.get(a, ())
        )
    notice = Notice(
        notice_id=notice_id,
        rule_id=rule.id,
        kind=rule.kind,
        reason=rule.reason,
        notice_no=notice_no,
        subject_kind=rule.subject.kind,
        subject_id=subject_id,
        project_id=project_id,
        enterprise_id=enterprise_id,
        district_code=district_code,
        title_zh=rendered.title_zh,
        body_zh=rendered.body_zh,
        title_en=rendered.title_en,
        body_en=rendered.body_en,
        cause_event_id=cause.event_id,
        cause_type=cause.event_type,
        correlation_id=cause.correlation_id,
        issued_at=issued_at,
        copies=tuple(copies),
        deliveries=tuple(deliveries),
    )
    if rule.publish:
        await uow.outbox.add(
            notifications.NoticeIssued(
                notice_id=notice_id,
                kind=rule.kind,
                rule_id=rule.id,
                notice_no=notice_no,
                reason=rule.reason,
                subject_kind=rule.subject.kind,
                subject_id=subject_id,
                project_id=project_id,
                project_name=names["project_name"] or None,
                enterprise_id=enterprise_id,
                enterprise_name=names["enterprise_name"] or None,
                district_code=district_code,
                recipients=tuple(
                    notifications.Recipient.model_validate({"kind": a.kind, "id": a.id, "cc": a.cc})
                    for a in addressees
                ),
                title_zh=rules.clip(rendered.title_zh, 300),
                body_zh=rules.clip(rendered.body_zh, 20000),
                title_en=rules.clip(rendered.title_en, 300),
                body_en=rules.clip(rendered.body_en, 20000),
                cause_event_id=cause.event_id,
                cause_type=cause.event_type,
                issued_at=issued_at,
                sign_off="office" if rule.kind == "criticism" else None,
            ),
            cause.trace,
        )
    if rule.kind == "criticism":
        # One failure never brings two criticisms: pending ladders about the subject end here.
        await uow.escalations.cancel(
            rule.subject.kind, subject_id, rule_id=None, at=issued_at, by=notice_id
        )
    if rule.escalate is not None:
        await uow.escalations.schedule(
            LadderStep(
                escalation_id=notice_id,
                rule_id=rule.escalate.rule,
                subject_kind=rule.subject.kind,
                subject_id=subject_id,
                due_at=getattr(event, rule.escalate.at)
                + timedelta(hours=rule.escalate.after_hours),
                cause_event_id=cause.event_id,
                cause_type=cause.event_type,
                cause_payload=event.model_dump_json(),
                correlation_id=cause.correlation_id,
            )
        )
    log.info(
        "notice_issued",
        notice_id=notice_id,
        rule=rule.id,
        kind=rule.kind,
        notice_no=notice_no,
        recipients=len(addressees),
        deliveries=len(deliveries),
    )
    return notice


# What a draft shows where its number will be.
DRAFT_NUMBER_ZH = "文号签发时编定"


async def draft(
    uow: NotificationsUnitOfWork,
    book: rules.RuleBook,
    rule: rules.Rule,
    event: Event,
    cause: Cause,
    drafted_at: datetime,
) -> Draft | None:
    """Draft `rule`'s criticism for `event` for the district office to sign off (None if it would
    name nobody). It has no number yet; like an issued criticism, it ends the pending ladders
    about its subject, so one failure never brings two drafts."""
    draft_id = rules.notice_id(cause.event_id, rule.id)
    project_id = getattr(event, "project_id", None)
    project = await uow.projects.facts(project_id) if project_id is not None else None
    if not rules.addressees(rule, event, project):
        log.info("criticism_not_drafted", rule=rule.id, reason="no recipient can be named")
        return None
    names = rules.names(event, project)
    enterprise_id = getattr(event, "enterprise_id", None) or (
        project.enterprise_id if project else None
    )
    district_code = getattr(event, "district_code", None) or (
        project.district_code if project else None
    )
    rendered = book.render(
        rule,
        {
            "e": event,
            **names,
            "notice_no": DRAFT_NUMBER_ZH,
            "issued_at": drafted_at,
            "drafted_at": drafted_at,
            "escalation_hours": "",
        },
    )
    subject_id = str(getattr(event, rule.subject.field))
    drafted = Draft(
        draft_id=draft_id,
        rule_id=rule.id,
        reason=rule.reason,
        subject_kind=rule.subject.kind,
        subject_id=subject_id,
        project_id=project_id,
        enterprise_id=enterprise_id,
        district_code=district_code,
        title_zh=rendered.title_zh,
        body_zh=rendered.body_zh,
        cause_event_id=cause.event_id,
        cause_type=cause.event_type,
        cause_payload=event.model_dump_json(),
        correlation_id=cause.correlation_id,
        drafted_at=drafted_at,
    )
    await uow.drafts.add(drafted)
    await uow.outbox.add(
        notifications.CriticismDrafted(
            notice_id=draft_id,
            rule_id=rule.id,
            reason=rule.reason,
            subject_kind=rule.subject.kind,
            subject_id=subject_id,
            project_id=project_id,
            enterprise_id=enterprise_id,
            district_code=district_code,
            cause_event_id=cause.event_id,
            cause_type=cause.event_type,
            drafted_at=drafted_at,
        ),
        cause.trace,
    )
    await uow.escalations.cancel(
        rule.subject.kind, subject_id, rule_id=None, at=drafted_at, by=draft_id
    )
    log.info("criticism_drafted", draft_id=draft_id, rule=rule.id, district=district_code)
    return drafted


async def cancel_ladders(
    uow: NotificationsUnitOfWork, book: rules.RuleBook, delivered: Delivered[Event], now: datetime
) -> int:
    """An event that resolves a subject (a submission, a reply) stops its pending ladders."""
    cancelled = 0
    for rule in book.cancels(delivered.ce.type):
        assert rule.escalate is not None
        cancelled += await uow.escalations.cancel(
            rule.subject.kind,
            str(getattr(delivered.event, rule.subject.field)),
            rule_id=rule.escalate.rule,
            at=now,
            by=delivered.ce.id,
        )
    if cancelled:
        log.info("ladder_cancelled", count=cancelled)
    return cancelled


def notices_for(book: rules.RuleBook) -> BatchHandler[NotificationsUnitOfWork]:
    """The handler of every event the rules react to: issue what the rules say, cancel what the
    event resolves; the run's notices are recorded together (one statement per table)."""

    async def issue_notices(
        uow: NotificationsUnitOfWork, batch: Sequence[Delivered[Event]]
    ) -> None:
        wanted = [
            rules.notice_id(d.ce.id, rule.id)
            for d in batch
            for rule in book.for_event(d.ce.type, d.event)
        ]
        issued = await uow.notices.existing(wanted) | await uow.drafts.existing(wanted)
        notices: list[Notice] = []
        for position, delivered in enumerate(batch):
            try:
                now = uow.clock.now()
                cause = Cause(
                    delivered.ce.id,
                    delivered.ce.type,
                    delivered.ce.correlationid or delivered.ce.id,
                )
                for rule in book.for_event(delivered.ce.type, delivered.event):
                    if rules.notice_id(cause.event_id, rule.id) in issued:
                        continue  # a redelivered cause issues nothing new
                    if rule.kind == "criticism":  # the district office signs it off
                        drafted = await draft(uow, book, rule, delivered.event, cause, now)
                        if drafted is not None:
                            issued.add(drafted.draft_id)
                        continue
                    notice = await issue(uow, book, rule, delivered.event, cause, now)
                    if notice is not None:
                        notices.append(notice)
                        issued.add(notice.notice_id)
                await cancel_ladders(uow, book, delivered, now)
            except Exception as exc:
                raise EventFailed(position) from exc
        await uow.notices.add(notices)

    return issue_notices


async def escalate_due(units: Callable[[], NotificationsUnitOfWork], book: rules.RuleBook) -> int:
    """Draft every criticism that is due, each in its own transaction; return how many."""
    issued = 0
    while (outcome := await escalate_next(units(), book)) is not None:
        issued += outcome
    return issued


async def escalate_next(uow: NotificationsUnitOfWork, book: rules.RuleBook) -> bool | None:
    """Draft the earliest due criticism whose reminder went unanswered, in its own transaction:
    True when drafted, False when it failed (marked `failed`, for an operator), None when none is
    due. Safe on many replicas: each step is claimed once."""
    async with uow:
        now = uow.clock.now()
        step = await uow.escalations.claim_due(now)
        if step is None:
            return None
        with structlog.contextvars.bound_contextvars(
            correlation_id=step.correlation_id, event_id=step.cause_event_id
        ):
            try:
                async with uow.savepoint():  # one bad step stops nothing
                    notice_id = await _issue_step(uow, book, step, now)
            except Exception as exc:
                log.error("ladder_step_failed", escalation_id=step.escalation_id, exc_info=exc)
                await uow.escalations.failed(
                    step.escalation_id, f"{type(exc).__name__}: {exc}"[:500]
                )
                outcome = False
            else:
                await uow.escalations.settled_by(step.escalation_id, notice_id)
                outcome = True
        await uow.commit()
        return outcome


async def _issue_step(
    uow: NotificationsUnitOfWork, book: rules.RuleBook, step: LadderStep, now: datetime
) -> str | None:
    event = catalog.EVENT_TYPES[step.cause_type].model_validate(json.loads(step.cause_payload))
    rule = book.rules[step.rule_id]
    cause = Cause(step.cause_event_id, step.cause_type, step.correlation_id)
    notice_id = rules.notice_id(cause.event_id, rule.id)
    if await uow.notices.existing([notice_id]) or await uow.drafts.existing([notice_id]):
        return None
    if rule.kind == "criticism":
        drafted = await draft(uow, book, rule, event, cause, now)
        return drafted.draft_id if drafted is not None else None
    notice = await issue(uow, book, rule, event, cause, now)
    if notice is None:
        return None
    await uow.notices.add([notice])
    return notice.notice_id
