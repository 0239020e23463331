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
- Texts are plain text. Control characters, bidi overrides and anything that looks like an HTML
  tag are refused, not neutralised: silently editing an owner's words would change what they
  said, and a refusal with a field-level reason lets them fix it. Pages escape everything anyway.
- Contact details are optional (anonymous complaints are allowed) and personal data: they are
  kept out of `repr` (so out of logs) and out of `public_view()`, the only shape meant for events,
  lists and logs. The description, address and answers are left out of it as well.

- The tier (`urgency`) is the highest of the category's default (or the one staff chose) and what
  the answers say: each category lists safety rules in `data/categories.json` (e.g. someone trapped
  in a lift -> `emergency`; a gas smell, a blocked fire exit, no water for a whole building, a roof
  leak or blocked downpipe in the flood season -> `urgent`). A rule may hold only in a season given
  as data (`seasons`: month-day ranges in China time). Answers can raise the tier, never lower it,
  and a staff member's choice cannot lower it below what the answers say. The ids of the rules
  that matched are kept (`safety`) so the owner's page and the notices can say what to do.

Refusals are `TransitionRefused`: with `field` set it is bad input (422), without an illegal state
change (409).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, NamedTuple, get_args

from runtime.calendar import WorkingCalendar, china
from services.complaints.domain import TransitionRefused as TransitionRefused
from services.complaints.domain.sla import (
    URGENCIES,
    Clock,
    ClockName,
    DueKind,
    SlaPolicy,
    Urgency,
    breached,
)

Channel = Literal["web", "open311", "phone", "counter"]
STAFF_CHANNELS = frozenset({"phone", "counter"})  # staff file on an owner's behalf
QuestionKind = Literal["text", "choice", "yesno"]
QUESTION_KINDS: dict[str, QuestionKind] = {k: k for k in get_args(QuestionKind)}
URGENCY_NAMES: dict[str, Urgency] = {u: u for u in URGENCIES}

MAX_DESCRIPTION = 2000
MAX_REPLY = 2000
MAX_COMMENT = 500
MAX_REASON = 500
MIN_REASON = 2
MIN_EXTENSION_REASON = 5
MAX_ANSWER = 200
MAX_ADDRESS = 200
MAX_NAME = 50
MAX_ORG = 64
MAX_PHOTOS = 9
MAX_EXTENSION_DAYS = 10
PHOTO_REF = re.compile(r"[A-Za-z0-9._/-]{1,200}")
HTML_TAG = re.compile(r"<\s*[/!?]?\s*[A-Za-z][^<>]*>|<!--")
BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MOBILE = re.compile(r"1[3-9][0-9]{9}")
LANDLINE = re.compile(r"0[0-9]{2,3}[0-9]{7,8}")


class Status(StrEnum):
    FILED = "filed"
    ACCEPTED = "accepted"
    REPLIED = "replied"
    REOPENED = "reopened"
    CLOSED = "closed"


HOLDING = frozenset({Status.ACCEPTED, Status.REOPENED})  # the responsible person has the ball
COMPLETION_RUNS = frozenset({Status.FILED, Status.ACCEPTED, Status.REOPENED})


class CategoryError(ValueError):
    """categories.json that does not make sense."""


# --- categories ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    id: str
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class Question:
    id: str
    label_zh: str
    label_en: str
    kind: QuestionKind
    required: bool
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Season:
    """A yearly stretch of days, e.g. the flood season (汛期) 06-01..09-30; may wrap the new year."""

    id: str
    name_zh: str
    name_en: str
    start: tuple[int, int]  # (month, day), inclusive
    end: tuple[int, int]  # (month, day), inclusive

    def contains(self, day: date) -> bool:
        md = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end


@dataclass(frozen=True)
class SafetyRule:
    """Answers that put a complaint in a tier: every `when` question must have one of its values
    (a yes/no question takes true or false), and the day of filing must be in `season` if set."""

    id: str
    tier: Urgency
    when: Mapping[str, frozenset[str | bool]]
    advice_zh: str
    advice_en: str
    season: Season | None = None

    def matches(self, answers: Mapping[str, str | bool], day: date) -> bool:
        if self.season is not None and not self.season.contains(day):
            return False
        return all(
            q in answers and _answer_in(answers[q], accepted) for q, accepted in self.when.items()
        )


def _answer_in(answer: str | bool, accepted: frozenset[str | bool]) -> bool:
    # compare kinds too: a yes/no answer matches only true/false, a choice answer only its ids
    return any(type(answer) is type(value) and answer == value for value in accepted)


@dataclass(frozen=True)
class Category:
    id: str
    name_zh: str
    name_en: str
    urgency: Urgency
    questions: tuple[Question, ...] = ()
    safety: tuple[SafetyRule, ...] = ()

    def raised_by(self, answers: Mapping[str, str | bool], at: datetime) -> tuple[SafetyRule, ...]:
        """The safety rules these (checked) answers meet when filed at `at` (China time)."""
        day = china(at).date()
        return tuple(rule for rule in self.safety if rule.matches(answers, day))


@dataclass(frozen=True)
class Categories:
    by_id: Mapping[str, Category]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Categories:
        """Build from parsed `data/categories.json`."""
        raw = data.get("categories")
        if not isinstance(raw, list) or not raw:
            raise CategoryError("categories must be a non-empty list")
        seasons = _seasons(data.get("seasons", []))
        by_id: dict[str, Category] = {}
        for spec in raw:
            category = _category(spec, seasons)
            if category.id in by_id:
                raise CategoryError(f"category {category.id!r} listed twice")
            by_id[category.id] = category
        return cls(by_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.by_id)

    def alerts(self, complaint: Complaint) -> tuple[SafetyRule, ...]:
        """The safety rules a filed complaint met, with the advice for the owner."""
        category = self.by_id.get(complaint.category)
        if category is None:
            return ()
        return tuple(r for r in category.safety if r.id in complaint.safety)

    def get(self, category_id: str) -> Category:
        category = self.by_id.get(category_id)
        if category is None:
            raise TransitionRefused(
                "unknown_category",
                f"投诉类别无效:{category_id}",
                f"unknown complaint category {category_id!r}",
                "category",
            )
        return category


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
    status: Status = Status.FILED
    responsible: Staff | None = None  # 首问责任人, fixed from acceptance to closure
    accepted_at: datetime | None = None
    handling_org: str | None = None  # who works on it now; changes with transfers
    transfers: tuple[Transfer, ...] = ()
    escalated_at: datetime | None = None
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
) -> Complaint:
    """A new complaint with both SLA clocks started. `urgency` defaults to the category's; the
    answers' safety rules raise it (never lower it) to the highest tier they name."""
    _aware(now)
    if channel not in get_args(Channel):
        raise TransitionRefused(
            "bad_channel", f"受理渠道无效:{channel}", f"unknown channel {channel!r}", "channel"
        )
    if (channel in STAFF_CHANNELS) != (filed_by is not None):
        raise TransitionRefused(
            "filed_by_mismatch",
            "电话和窗口受理须记录登记人员,网上和 Open311 受理不能填写登记人员",
            "phone and counter complaints name the staff member who filed them; "
            "web and Open311 complaints do not",
            "filed_by",
        )
    chosen = category.urgency if urgency is None else urgency
    if chosen not in URGENCIES:
        raise TransitionRefused(
            "bad_urgency", f"紧急程度无效:{chosen}", f"unknown urgency {chosen!r}", "urgency"
        )
    checked = _answers(category, answers or {})
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
        description=plain_text(description, "description", MAX_DESCRIPTION, min_chars=5),
        filed_at=now,
        acceptance=acceptance,
        completion=completion,
        contact=None if contact is None else _contact(contact),
        address=None if address is None else plain_text(address, "address", MAX_ADDRESS, line=True),
        answers=checked,
        photo_refs=_photo_refs(photo_refs),
        safety=tuple(rule.id for rule in raised),
        filed_by=filed_by,
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
            f"已由 {who} 签收,首问责任人不可变更",
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
    if not target or len(target) > MAX_ORG:
        raise TransitionRefused(
            "bad_org",
            f"转办对象须为 1 至 {MAX_ORG} 个字符的单位编号",
            f"the receiving organisation must be an id of 1 to {MAX_ORG} characters",
            "to_org",
        )
    if target == complaint.handling_org:
        raise TransitionRefused(
            "same_org",
            "投诉已由该单位办理,不能转办给自己",
            "the complaint is already with that organisation",
            "to_org",
        )
    text = plain_text(reason, "reason", MAX_REASON, min_chars=MIN_REASON)
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


def reply(complaint: Complaint, by: str, text: str, now: datetime) -> Complaint:
    """答复 the owner: only the responsible person, only while holding the complaint."""
    _aware(now)
    _require_holding(complaint, "答复", "reply to")
    _require_responsible(complaint, by, "答复", "reply")
    body = plain_text(text, "text", MAX_REPLY)
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
            "尚未答复业主,不能评价或办结",
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
        note = plain_text(comment, "comment", MAX_COMMENT)
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
            "办结期限已过,不能再申请延期",
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
    text = plain_text(reason, "reason", MAX_REASON, min_chars=MIN_EXTENSION_REASON)
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


# --- input checks ------------------------------------------------------------------------------


def plain_text(
    raw: str, field_name: str, max_chars: int, *, min_chars: int = 1, line: bool = False
) -> str:
    """Trimmed, NFC-normalised plain text with newlines as LF; refuses control characters
    (newline and tab allowed unless `line`), bidi overrides and HTML-looking tags."""
    if not isinstance(raw, str):
        raise TypeError(f"{field_name} must be a string")
    text = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n")).strip()
    allowed = "\t" if line else "\t\n"
    for char in text:
        if (unicodedata.category(char) == "Cc" and char not in allowed) or char in BIDI:
            raise TransitionRefused(
                "control_characters",
                "不能包含控制字符" + ("或换行" if line else ""),
                "control characters are not allowed" + (", nor line breaks" if line else ""),
                field_name,
            )
    if HTML_TAG.search(text):
        raise TransitionRefused(
            "html_not_allowed",
            "请使用纯文本,不能包含 HTML 标签",
            "plain text only: HTML tags are not allowed",
            field_name,
        )
    if len(text) < min_chars:
        raise TransitionRefused(
            "too_short",
            f"至少需要 {min_chars} 个字",
            f"at least {min_chars} characters are required",
            field_name,
        )
    if len(text) > max_chars:
        raise TransitionRefused(
            "too_long",
            f"不能超过 {max_chars} 个字(当前 {len(text)} 个)",
            f"at most {max_chars} characters (got {len(text)})",
            field_name,
        )
    return text


def normalise_phone(raw: str) -> str:
    """Mainland mobile (11 digits) or landline with area code; spaces, hyphens and +86 dropped."""
    digits = re.sub(r"[\s-]", "", raw)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
    if MOBILE.fullmatch(digits) or LANDLINE.fullmatch(digits):
        return digits
    raise TransitionRefused(
        "bad_phone",
        "电话号码格式不正确:请填写 11 位手机号或带区号的固定电话",
        "invalid phone number: give an 11-digit mobile number or a landline with its area code",
        "contact.phone",
    )


def _contact(contact: Contact) -> Contact | None:
    name = None
    if contact.name is not None and contact.name.strip():
        name = plain_text(contact.name, "contact.name", MAX_NAME, line=True)
    phone = None
    if contact.phone is not None and contact.phone.strip():
        phone = normalise_phone(contact.phone)
    return None if name is None and phone is None else Contact(name, phone)


def _answers(category: Category, raw: Mapping[str, str | bool]) -> dict[str, str | bool]:
    questions = {q.id: q for q in category.questions}
    for key in raw:
        if key not in questions:
            raise TransitionRefused(
                "unknown_question",
                f"“{category.name_zh}”类投诉没有这个问题:{key}",
                f"the {category.name_en} category has no question {key!r}",
                f"answers.{key}",
            )
    answers: dict[str, str | bool] = {}
    for q in category.questions:
        where = f"answers.{q.id}"
        value = raw.get(q.id)
        if value is None or (isinstance(value, str) and not value.strip()):
            if q.required:
                raise TransitionRefused(
                    "answer_required",
                    f"请回答:{q.label_zh}",
                    f"please answer: {q.label_en}",
                    where,
                )
            continue
        if q.kind == "yesno":
            if not isinstance(value, bool):
                raise TransitionRefused(
                    "answer_yesno", "请选择“是”或“否”", "answer yes or no", where
                )
            answers[q.id] = value
        elif q.kind == "choice":
            if not isinstance(value, str) or value not in {c.id for c in q.choices}:
                raise TransitionRefused(
                    "answer_choice", "请从给出的选项中选择", "pick one of the choices given", where
                )
            answers[q.id] = value
        else:
            if not isinstance(value, str):
                raise TransitionRefused("answer_text", "请填写文字", "answer in text", where)
            answers[q.id] = plain_text(value, where, MAX_ANSWER, line=True)
    return answers


def _photo_refs(raw: Sequence[str]) -> tuple[str, ...]:
    if isinstance(raw, str):  # a lone string is a Sequence[str] too; never split it into letters
        raise TypeError("photo_refs must be a sequence of references, not one string")
    refs = tuple(raw)
    if len(refs) > MAX_PHOTOS:
        raise TransitionRefused(
            "too_many_photos",
            f"照片最多 {MAX_PHOTOS} 张(当前 {len(refs)} 张)",
            f"at most {MAX_PHOTOS} photos (got {len(refs)})",
            "photo_refs",
        )
    for index, ref in enumerate(refs):
        if (
            not PHOTO_REF.fullmatch(ref)
            or ".." in ref
            or ref.startswith("/")
            or ref in refs[:index]
        ):
            raise TransitionRefused(
                "bad_photo_ref",
                f"第 {index + 1} 张照片的引用无效或重复",
                f"photo reference {index + 1} is invalid or repeated",
                f"photo_refs.{index}",
            )
    return refs


# --- state checks --------------------------------------------------------------------------------


def _not_closed(complaint: Complaint) -> None:
    if complaint.status is Status.CLOSED:
        raise TransitionRefused(
            "closed", "投诉已办结,不能再操作", "the complaint is closed; nothing more can be done"
        )


def _require_holding(complaint: Complaint, action_zh: str, action_en: str) -> None:
    _not_closed(complaint)
    if complaint.status is Status.FILED:
        raise TransitionRefused(
            "not_accepted",
            f"投诉尚未签收,无法{action_zh}",
            f"the complaint has not been accepted; cannot {action_en} it yet",
        )
    if complaint.status is Status.REPLIED:
        raise TransitionRefused(
            "awaiting_feedback",
            f"已答复业主,正在等待业主评价,无法{action_zh}",
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


# --- categories.json -----------------------------------------------------------------------------


def _category(spec: object, seasons: Mapping[str, Season]) -> Category:
    if not isinstance(spec, Mapping):
        raise CategoryError("each category must be an object")
    cid = _str(spec, "id", "category")
    urgency = URGENCY_NAMES.get(str(spec.get("urgency")))
    if urgency is None:
        raise CategoryError(f"category {cid}: urgency must be one of {list(URGENCIES)}")
    questions_raw = spec.get("questions", [])
    if not isinstance(questions_raw, list):
        raise CategoryError(f"category {cid}: questions must be a list")
    questions = tuple(_question(q, cid) for q in questions_raw)
    if len({q.id for q in questions}) != len(questions):
        raise CategoryError(f"category {cid}: a question id is listed twice")
    safety_raw = spec.get("safety", [])
    if not isinstance(safety_raw, list):
        raise CategoryError(f"category {cid}: safety must be a list")
    by_question = {q.id: q for q in questions}
    safety = tuple(_safety_rule(r, cid, by_question, seasons) for r in safety_raw)
    if len({r.id for r in safety}) != len(safety):
        raise CategoryError(f"category {cid}: a safety rule id is listed twice")
    return Category(
        cid,
        _str(spec, "name_zh", cid),
        _str(spec, "name_en", cid),
        urgency,
        questions,
        safety,
    )


def _safety_rule(
    spec: object, cid: str, questions: Mapping[str, Question], seasons: Mapping[str, Season]
) -> SafetyRule:
    if not isinstance(spec, Mapping):
        raise CategoryError(f"category {cid}: each safety rule must be an object")
    rid = _str(spec, "id", cid)
    where = f"{cid}.safety.{rid}"
    unknown = sorted(set(spec) - {"id", "tier", "when", "season", "advice_zh", "advice_en"})
    if unknown:
        raise CategoryError(f"{where}: unknown keys {unknown}")
    tier = URGENCY_NAMES.get(str(spec.get("tier")))
    if tier is None:
        raise CategoryError(f"{where}: tier must be one of {list(URGENCIES)}")
    raw_when = spec.get("when")
    if not isinstance(raw_when, Mapping) or not raw_when:
        raise CategoryError(f"{where}: when must name at least one question")
    when: dict[str, frozenset[str | bool]] = {}
    for qid, raw in raw_when.items():
        question = questions.get(qid)
        if question is None:
            raise CategoryError(f"{where}: {cid} has no question {qid!r}")
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise CategoryError(f"{where}.{qid}: give at least one answer")
        if question.kind == "yesno":
            if not all(isinstance(v, bool) for v in values):
                raise CategoryError(f"{where}.{qid}: a yes/no question takes true or false")
        elif question.kind == "choice":
            ids = {c.id for c in question.choices}
            if not all(isinstance(v, str) and v in ids for v in values):
                raise CategoryError(f"{where}.{qid}: answers must be choice ids of {sorted(ids)}")
        else:
            raise CategoryError(f"{where}.{qid}: free-text answers cannot set a tier")
        when[qid] = frozenset(values)
    season = None
    if "season" in spec:
        season = seasons.get(str(spec["season"]))
        if season is None:
            raise CategoryError(f"{where}: season must be one of {sorted(seasons)}")
    return SafetyRule(
        rid,
        tier,
        when,
        _str(spec, "advice_zh", where),
        _str(spec, "advice_en", where),
        season,
    )


def _seasons(raw: object) -> dict[str, Season]:
    if not isinstance(raw, list) or not all(isinstance(s, Mapping) for s in raw):
        raise CategoryError("seasons must be a list of objects")
    seasons: dict[str, Season] = {}
    for spec in raw:
        sid = _str(spec, "id", "seasons")
        if sid in seasons:
            raise CategoryError(f"season {sid!r} listed twice")
        seasons[sid] = Season(
            sid,
            _str(spec, "name_zh", sid),
            _str(spec, "name_en", sid),
            _month_day(spec.get("from"), f"seasons.{sid}.from"),
            _month_day(spec.get("to"), f"seasons.{sid}.to"),
        )
    return seasons


def _month_day(raw: object, where: str) -> tuple[int, int]:
    error = CategoryError(f"{where}: {raw!r} is not a month-day like 06-01")
    if not isinstance(raw, str) or not re.fullmatch(r"[0-9]{2}-[0-9]{2}", raw):
        raise error
    try:
        day = date(2000, int(raw[:2]), int(raw[3:]))  # a leap year: 02-29 is a day
    except ValueError:
        raise error from None
    return (day.month, day.day)


def _question(spec: object, cid: str) -> Question:
    if not isinstance(spec, Mapping):
        raise CategoryError(f"category {cid}: each question must be an object")
    qid = _str(spec, "id", cid)
    where = f"{cid}.{qid}"
    kind = QUESTION_KINDS.get(str(spec.get("kind")))
    if kind is None:
        raise CategoryError(f"{where}: kind must be text, choice or yesno")
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise CategoryError(f"{where}: required must be true or false")
    raw_choices = spec.get("choices", [])
    if not isinstance(raw_choices, list) or not all(isinstance(c, Mapping) for c in raw_choices):
        raise CategoryError(f"{where}: choices must be a list of objects")
    choices = tuple(
        Choice(_str(c, "id", where), _str(c, "label_zh", where), _str(c, "label_en", where))
        for c in raw_choices
    )
    if (kind == "choice") != bool(choices):
        raise CategoryError(f"{where}: a choice question needs choices, other kinds none")
    if len({c.id for c in choices}) != len(choices):
        raise CategoryError(f"{where}: a choice id is listed twice")
    return Question(
        qid, _str(spec, "label_zh", where), _str(spec, "label_en", where), kind, required, choices
    )


def _str(spec: Mapping[str, Any], key: str, where: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CategoryError(f"{where}: {key} must be a non-empty string")
    return value


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got {moment!r}")
    return moment
