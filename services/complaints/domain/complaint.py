"""A complaint and its first-inquiry responsibility (首问责任制): pure rules, no I/O, no clock but
the `now` passed in.

    filed --accept--> accepted --reply--> replied --feedback(satisfied)--> closed   [terminal]
                        |  ^                 |  \\--no feedback within N days--> closed
                transfer|  |                 |
                        +--+                 +--feedback(dissatisfied)--> reopened --reply--> replied

- The first staff member who accepts (签收) becomes the responsible person until closure. Accepting
  again is a no-op for that person and refused for anyone else: responsibility cannot move.
- A transfer (wrong enterprise, another department) changes the handling organisation only; the
  responsible person stays accountable and visible. More than `max_transfers` transfers escalate
  the complaint to the district office once (`Transferred.escalated` tells the handler to emit).
- Only the responsible person replies (a supervisor acting for them uses the same staff id), and
  only a replied complaint can be closed: there is no other way to `closed`.
- `reopened` is its own state rather than `accepted` again, so a reopening stays visible in lists
  and counts; it behaves like `accepted` (same responsible person; reply, transfer, extension) and
  gives the completion clock the category's time again from the reopening (sla.SlaPolicy.restart).
- Texts are plain text, checked by `owner_input` (refused, never silently edited).
- Contact details are optional (anonymous complaints are allowed) and personal data: they are
  kept out of `repr` (so out of logs) and out of `public_view()`, the only shape meant for events,
  lists and logs. The description, address and answers are left out of it as well.

- The tier (`urgency`) is the highest of the category's default (or the one staff chose) and
  what the answers say through the category's safety rules (`categories`); answers raise it,
  never lower it. The ids of the rules that matched are kept (`safety`).

Refusals are `TransitionRefused`: with `field` set it is bad input (422), without an illegal state
change (409).

Kept whole: the aggregate and its transitions are one state machine and change together (the
categories, the input checks and the SLA clocks have their own modules).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, NamedTuple, get_args

from runtime.calendar import WorkingCalendar
from services.complaints.domain import TransitionRefused as TransitionRefused
from services.complaints.domain import owner_input
from services.complaints.domain.categories import Category
from services.complaints.domain.sla import (
    URGENCIES,
    Clock,
    ClockName,
    DueKind,
    SlaPolicy,
    Urgency,
    breached,
)

Channel = Literal["web", "open311", "phone", "counter", "hotline"]
# Registered on an owner's behalf by a person who records it: by phone or at the counter (walk-in)
# (enterprise staff, the district office), or forwarded by the 12345 citizens' hotline.
STAFF_CHANNELS = frozenset({"phone", "counter", "hotline"})
Registrar = Literal["enterprise", "district_office", "hotline"]
"""Who registered a complaint on an owner's behalf (the staff id is `filed_by`)."""
MAX_EXTENSION_DAYS = 10


class Status(StrEnum):
    FILED = "filed"
    ACCEPTED = "accepted"
    REPLIED = "replied"
    REOPENED = "reopened"
    CLOSED = "closed"


HOLDING = frozenset({Status.ACCEPTED, Status.REOPENED})  # the responsible person has the ball
COMPLETION_RUNS = frozenset({Status.FILED, Status.ACCEPTED, Status.REOPENED})


# --- the complaint ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Contact:
    """Personal data: never in events, public pages or logs (hence the masked repr)."""

    name: str | None
    phone: str | None

    def __repr__(self) -> str:
        phone = None if self.phone is None else f"{self.phone[:3]}****{self.phone[-2:]}"
        return f"Contact(name={'***' if self.name else None}, phone={phone})"


@dataclass(frozen=True)
class Staff:
    staff_id: str
    org_id: str  # enterprise or department the staff member works for


@dataclass(frozen=True)
class Transfer:
    from_org: str
    to_org: str
    by: str
    reason: str
    at: datetime


@dataclass(frozen=True)
class Reply:
    by: str
    text: str
    at: datetime


@dataclass(frozen=True)
class Feedback:
    satisfied: bool
    rating: int
    comment: str | None
    at: datetime


@dataclass(frozen=True)
class Extension:
    requested_by: str
    working_days: int
    reason: str
    requested_at: datetime
    decision: Literal["pending", "approved", "refused"] = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None


@dataclass(frozen=True)
class Assignment:
    """指定办理: the district office named the organisation that must handle an escalated
    complaint; from then on nobody transfers it (the office may assign again)."""

    to_org: str
    by: str
    reason: str
    at: datetime
    taken_over: bool = False  # 自行办理: the office itself handles it, its officer responsible


@dataclass(frozen=True)
class Complaint:
    complaint_id: str
    project_id: str
    enterprise_id: str
    district_code: str
    category: str
    urgency: Urgency
    channel: Channel
    description: str = field(repr=False)
    filed_at: datetime
    acceptance: Clock
    completion: Clock
    contact: Contact | None = field(default=None, repr=False)
    address: str | None = field(default=None, repr=False)
    answers: Mapping[str, str | bool] = field(default_factory=dict, repr=False)
    photo_refs: tuple[str, ...] = ()
    safety: tuple[str, ...] = ()  # ids of the category's safety rules the answers met
    filed_by: str | None = None  # staff id when filed on the owner's behalf
    registered_by: Registrar | None = None  # and the kind of organisation they work for
    # and which one: the enterprise's id, the district office's org id, the hotline's agency id
    # (None before it was recorded)
    registered_org: str | None = None
    status: Status = Status.FILED
    responsible: Staff | None = None  # 首问责任人, fixed from acceptance to closure
    accepted_at: datetime | None = None
    handling_org: str | None = None  # who works on it now; changes with transfers
    transfers: tuple[Transfer, ...] = ()
    escalated_at: datetime | None = None
    assignment: Assignment | None = None  # the district office's, after an escalation
    replies: tuple[Reply, ...] = ()
    feedback: tuple[Feedback, ...] = ()
    reopen_count: int = 0
    extensions: tuple[Extension, ...] = ()
    closed_at: datetime | None = None
    close_reason: Literal["satisfied", "no_feedback"] | None = None

    @property
    def anonymous(self) -> bool:
        return self.contact is None

    @property
    def replied_at(self) -> datetime | None:
        return self.replies[-1].at if self.replies else None

    @property
    def pending_extension(self) -> Extension | None:
        if self.extensions and self.extensions[-1].decision == "pending":
            return self.extensions[-1]
        return None

    @property
    def running_clocks(self) -> tuple[Clock, ...]:
        """Acceptance runs until accepted; completion while the enterprise holds the complaint
        (not while the owner is asked for feedback, not after closure)."""
        clocks: list[Clock] = []
        if self.status is Status.FILED:
            clocks.append(self.acceptance)
        if self.status in COMPLETION_RUNS:
            clocks.append(self.completion)
        return tuple(clocks)

    def public_view(self) -> dict[str, object]:
        """Facts safe for events, lists and logs: no contact, address, description or answers."""
        return {
            "complaint_id": self.complaint_id,
            "project_id": self.project_id,
            "enterprise_id": self.enterprise_id,
            "district_code": self.district_code,
            "category": self.category,
            "urgency": self.urgency,
            "channel": self.channel,
            "status": self.status.value,
            "anonymous": self.anonymous,
            "filed_at": self.filed_at,
            "accepted_at": self.accepted_at,
            "responsible_staff_id": self.responsible.staff_id if self.responsible else None,
            "responsible_org_id": self.responsible.org_id if self.responsible else None,
            "handling_org": self.handling_org,
            "transfer_count": len(self.transfers),
            "escalated_at": self.escalated_at,
            "replied_at": self.replied_at,
            "reopen_count": self.reopen_count,
            "acceptance_deadline": self.acceptance.deadline,
            "completion_deadline": self.completion.deadline,
            "closed_at": self.closed_at,
            "close_reason": self.close_reason,
        }


class Transferred(NamedTuple):
    complaint: Complaint
    escalated: bool  # True only for the transfer that crossed the limit: emit once


# --- commands ------------------------------------------------------------------------------------


def file_complaint(
    *,
    complaint_id: str,
    project_id: str,
    enterprise_id: str,
    district_code: str,
    category: Category,
    description: str,
    channel: Channel,
    now: datetime,
    policy: SlaPolicy,
    calendar: WorkingCalendar,
    urgency: Urgency | None = None,
    contact: Contact | None = None,
    address: str | None = None,
    answers: Mapping[str, str | bool] | None = None,
    photo_refs: Sequence[str] = (),
    filed_by: str | None = None,
    registered_by: Registrar | None = None,
    registered_org: str | None = None,
) -> Complaint:
    """A new complaint with both SLA clocks started. `urgency` defaults to the category's; the
    answers' safety rules raise it (never lower it) to the highest tier they name."""
    _aware(now)
    if channel not in get_args(Channel):
        raise TransitionRefused(
            "bad_channel", f"受理渠道无效：{channel}", f"unknown channel {channel!r}", "channel"
        )
    if (channel in STAFF_CHANNELS) != (filed_by is not None):
        raise TransitionRefused(
            "filed_by_mismatch",
            "电话、窗口和 12345 热线受理须记录登记人员，网上和 Open311 受理不能填写登记人员",
            "phone, counter and hotline complaints name the person who registered them; "
            "web and Open311 complaints do not",
            "filed_by",
        )
    if (
        (filed_by is None) != (registered_by is None)
        or (registered_by is None and registered_org is not None)
        or (registered_by is not None and (channel == "hotline") != (registered_by == "hotline"))
    ):
        raise TransitionRefused(
            "registered_by_mismatch",
            "代业主登记须记录登记单位类别；12345 热线转来的投诉由热线登记",
            "a complaint registered for an owner names who registered it; the 12345 hotline "
            "channel is the hotline's alone",
            "channel",
        )
    chosen = category.urgency if urgency is None else urgency
    if chosen not in URGENCIES:
        raise TransitionRefused(
            "bad_urgency", f"紧急程度无效：{chosen}", f"unknown urgency {chosen!r}", "urgency"
        )
    checked = owner_input.answers(category, answers or {})
    raised = category.raised_by(checked, now)
    tier = max((chosen, *(rule.tier for rule in raised)), key=URGENCIES.index)
    acceptance, completion = policy.start_clocks(category.id, tier, now, calendar)
    return Complaint(
        complaint_id=complaint_id,
        project_id=project_id,
        enterprise_id=enterprise_id,
        district_code=district_code,
        category=category.id,
        urgency=tier,
        channel=channel,
        description=owner_input.plain_text(
            description, "description", owner_input.MAX_DESCRIPTION, min_chars=5
        ),
        filed_at=now,
        acceptance=acceptance,
        completion=completion,
        contact=None if contact is None else _contact(contact),
        address=None
        if address is None
        else owner_input.plain_text(address, "address", owner_input.MAX_ADDRESS, line=True),
        answers=checked,
        photo_refs=owner_input.photo_refs(photo_refs),
        safety=tuple(rule.id for rule in raised),
        filed_by=filed_by,
        registered_by=registered_by,
        registered_org=registered_org,
    )


def accept(complaint: Complaint, staff: Staff, now: datetime) -> Complaint:
    """签收. The first acceptor becomes the responsible person; the same person again is a
    no-op (the very same object comes back, so the handler emits nothing)."""
    _aware(now)
    _not_closed(complaint)
    if complaint.responsible is not None:
        if complaint.responsible.staff_id == staff.staff_id:
            return complaint
        who = complaint.responsible.staff_id
        raise TransitionRefused(
            "already_accepted",
            f"已由 {who} 签收，首问责任人不可变更",
            f"already accepted by {who}; the first-inquiry responsible person cannot change",
        )
    return replace(
        complaint,
        status=Status.ACCEPTED,
        responsible=staff,
        accepted_at=now,
        handling_org=staff.org_id,
    )


def transfer(
    complaint: Complaint,
    to_org: str,
    reason: str,
    now: datetime,
    *,
    by: str,
    max_transfers: int = 2,
) -> Transferred:
    """转办 to another enterprise or department; the responsible person does not change."""
    _aware(now)
    if max_transfers < 0:
        raise ValueError(f"max_transfers must not be negative, got {max_transfers}")
    _require_holding(complaint, "转办", "transfer")
    target = to_org.strip()
    if not target or len(target) > owner_input.MAX_ORG:
        raise TransitionRefused(
            "bad_org",
            f"转办对象须为 1 至 {owner_input.MAX_ORG} 个字符的单位编号",
            f"the receiving organisation must be an id of 1 to {owner_input.MAX_ORG} characters",
            "to_org",
        )
    if complaint.assignment is not None:
        raise TransitionRefused(
            "assigned_by_district",
            "区县物业办已指定办理单位，不能再转办",
            "the district office has named who handles this complaint; it cannot be transferred",
            "to_org",
        )
    if target == complaint.handling_org:
        raise TransitionRefused(
            "same_org",
            "投诉已由该单位办理，不能转办给自己",
            "the complaint is already with that organisation",
            "to_org",
        )
    text = owner_input.plain_text(
        reason, "reason", owner_input.MAX_REASON, min_chars=owner_input.MIN_REASON
    )
    assert complaint.handling_org is not None  # set at acceptance
    transfers = (*complaint.transfers, Transfer(complaint.handling_org, target, by, text, now))
    escalate = len(transfers) > max_transfers and complaint.escalated_at is None
    return Transferred(
        replace(
            complaint,
            handling_org=target,
            transfers=transfers,
            escalated_at=now if escalate else complaint.escalated_at,
        ),
        escalate,
    )


def assign(complaint: Complaint, to_org: str, reason: str, now: datetime, *, by: str) -> Complaint:
    """指定办理 by the district office, for a complaint escalated for being passed on too often
    (首问责任): the named organisation handles it (the one handling it now, to order it to, or
    another) and nobody transfers it again. The responsible person does not change."""
    _aware(now)
    if complaint.escalated_at is None:
        raise TransitionRefused(
            "not_escalated",
            "只有因多次转办提请督办的投诉才能由区县物业办指定办理单位",
            "only a complaint escalated for too many transfers can be assigned by the office",
        )
    _require_holding(complaint, "指定办理单位", "assign")
    if complaint.assignment is not None and complaint.assignment.taken_over:
        raise TransitionRefused(
            "taken_over",
            "区县物业办已自行办理此投诉，不再指定其他单位",
            "the district office handles this complaint itself; it assigns it no more",
        )
    target = to_org.strip()
    if not target or len(target) > owner_input.MAX_ORG:
        raise TransitionRefused(
            "bad_org",
            f"办理单位须为 1 至 {owner_input.MAX_ORG} 个字符的单位编号",
            f"the organisation must be an id of 1 to {owner_input.MAX_ORG} characters",
            "to_org",
        )
    text = owner_input.plain_text(
        reason, "reason", owner_input.MAX_REASON, min_chars=owner_input.MIN_REASON
    )
    return replace(complaint, handling_org=target, assignment=Assignment(target, by, text, now))


def take_over(complaint: Complaint, office: Staff, reason: str, now: datetime) -> Complaint:
    """自行办理 by the district office, the other answer to an escalation: the office becomes the
    responsible person (首问责任人) and the handling organisation, and nobody transfers it again.
    The one case where responsibility moves, by the office that supervises it."""
    _aware(now)
    assigned = assign(complaint, office.org_id, reason, now, by=office.staff_id)
    assert assigned.assignment is not None
    return replace(
        assigned, responsible=office, assignment=replace(assigned.assignment, taken_over=True)
    )


def reply(complaint: Complaint, by: str, text: str, now: datetime) -> Complaint:
    """答复 the owner: only the responsible person, only while holding the complaint."""
    _aware(now)
    _require_holding(complaint, "答复", "reply to")
    _require_responsible(complaint, by, "答复", "reply")
    body = owner_input.plain_text(text, "text", owner_input.MAX_REPLY)
    return replace(
        complaint, status=Status.REPLIED, replies=(*complaint.replies, Reply(by, body, now))
    )


def give_feedback(
    complaint: Complaint,
    *,
    satisfied: bool,
    rating: int,
    comment: str | None,
    now: datetime,
    policy: SlaPolicy,
    calendar: WorkingCalendar,
) -> Complaint:
    """The owner rates the reply: satisfied closes, dissatisfied reopens to the same person."""
    _aware(now)
    _not_closed(complaint)
    if complaint.status is not Status.REPLIED:
        raise TransitionRefused(
            "not_replied",
            "尚未答复业主，不能评价或办结",
            "the owner has had no reply yet; there is nothing to rate and it cannot be closed",
        )
    if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
        raise TransitionRefused(
            "bad_rating",
            "评分须为 1 至 5 的整数",
            "the rating must be a whole number 1-5",
            "rating",
        )
    note = None
    if comment is not None and comment.strip():
        note = owner_input.plain_text(comment, "comment", owner_input.MAX_COMMENT)
    history = (*complaint.feedback, Feedback(satisfied, rating, note, now))
    if satisfied:
        return replace(
            complaint,
            status=Status.CLOSED,
            feedback=history,
            closed_at=now,
            close_reason="satisfied",
        )
    completion = policy.restart(
        complaint.completion, complaint.category, complaint.urgency, now, calendar
    )
    return replace(
        complaint,
        status=Status.REOPENED,
        feedback=history,
        reopen_count=complaint.reopen_count + 1,
        completion=completion,
    )


def auto_close(complaint: Complaint, now: datetime, days: int) -> Complaint | None:
    """Timer: a reply the owner has not rated `days` calendar days (elapsed) after it closes
    the complaint. None when not due (not replied, or too early)."""
    _aware(now)
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    replied_at = complaint.replied_at
    if complaint.status is not Status.REPLIED or replied_at is None:
        return None
    if now < replied_at + timedelta(days=days):
        return None
    return replace(complaint, status=Status.CLOSED, closed_at=now, close_reason="no_feedback")


def request_extension(
    complaint: Complaint, by: str, working_days: int, reason: str, now: datetime
) -> Complaint:
    """The responsible person asks the district office for more time, before the deadline."""
    _aware(now)
    _require_holding(complaint, "申请延期", "request an extension for")
    _require_responsible(complaint, by, "申请延期", "request an extension")
    if complaint.pending_extension is not None:
        raise TransitionRefused(
            "extension_pending",
            "已有延期申请等待区县物业办审批",
            "an extension request is already waiting for the district office",
        )
    if breached(complaint.completion, now):
        raise TransitionRefused(
            "deadline_passed",
            "办结期限已过，不能再申请延期",
            "the completion deadline has passed; an extension must be requested before it",
        )
    if (
        not isinstance(working_days, int)
        or isinstance(working_days, bool)
        or not 1 <= working_days <= MAX_EXTENSION_DAYS
    ):
        raise TransitionRefused(
            "bad_extension_days",
            f"延期天数须为 1 至 {MAX_EXTENSION_DAYS} 个工作日",
            f"an extension is 1 to {MAX_EXTENSION_DAYS} working days",
            "working_days",
        )
    text = owner_input.plain_text(
        reason, "reason", owner_input.MAX_REASON, min_chars=owner_input.MIN_EXTENSION_REASON
    )
    extension = Extension(by, working_days, text, now)
    return replace(complaint, extensions=(*complaint.extensions, extension))


def decide_extension(
    complaint: Complaint,
    *,
    approve: bool,
    decided_by: str,
    now: datetime,
    policy: SlaPolicy,
    calendar: WorkingCalendar,
) -> Complaint:
    """The district office approves (the completion deadline moves) or refuses the request.
    A request made in time may be decided after the deadline; an overdue mark already set stays."""
    _aware(now)
    _not_closed(complaint)
    pending = complaint.pending_extension
    if pending is None:
        raise TransitionRefused(
            "no_pending_extension",
            "没有待审批的延期申请",
            "there is no extension request to decide",
        )
    decided = replace(
        pending,
        decision="approved" if approve else "refused",
        decided_by=decided_by,
        decided_at=now,
    )
    completion = complaint.completion
    if approve:
        completion = policy.extend(completion, pending.working_days, calendar)
    return replace(
        complaint, extensions=(*complaint.extensions[:-1], decided), completion=completion
    )


def record_due(
    complaint: Complaint, due: Iterable[tuple[DueKind, ClockName]], now: datetime
) -> Complaint:
    """Mark what `sla.due_events` listed as emitted; a mark already set is never moved."""
    _aware(now)
    clocks = {"acceptance": complaint.acceptance, "completion": complaint.completion}
    for kind, name in due:
        clock = clocks[name]
        if kind == "warning" and clock.warned_at is None:
            clocks[name] = replace(clock, warned_at=now)
        elif kind == "overdue" and clock.overdue_at is None:
            clocks[name] = replace(clock, overdue_at=now)
    return replace(complaint, acceptance=clocks["acceptance"], completion=clocks["completion"])


def _contact(contact: Contact) -> Contact | None:
    checked = owner_input.contact_details(contact.name, contact.phone)
    return None if checked is None else Contact(*checked)


# --- state checks --------------------------------------------------------------------------------


def _not_closed(complaint: Complaint) -> None:
    if complaint.status is Status.CLOSED:
        raise TransitionRefused(
            "closed", "投诉已办结，不能再操作", "the complaint is closed; nothing more can be done"
        )


def _require_holding(complaint: Complaint, action_zh: str, action_en: str) -> None:
    _not_closed(complaint)
    if complaint.status is Status.FILED:
        raise TransitionRefused(
            "not_accepted",
            f"投诉尚未签收，无法{action_zh}",
            f"the complaint has not been accepted; cannot {action_en} it yet",
        )
    if complaint.status is Status.REPLIED:
        raise TransitionRefused(
            "awaiting_feedback",
            f"已答复业主，正在等待业主评价，无法{action_zh}",
            f"the owner has been replied to and their feedback is awaited; cannot {action_en} it",
        )


def _require_responsible(complaint: Complaint, by: str, action_zh: str, action_en: str) -> None:
    assert complaint.responsible is not None  # set whenever the complaint is held
    if by != complaint.responsible.staff_id:
        who = complaint.responsible.staff_id
        raise TransitionRefused(
            "not_responsible",
            f"只有首问责任人 {who} 可以{action_zh}",
            f"only the responsible person ({who}) may {action_en}",
        )


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got {moment!r}")
    return moment
