"""Rectification orders (整改) and their deadlines: pure rules, no I/O, no clock but the one passed in.

    ordered --submit--> submitted --verify--> verified                      [terminal]
                            |
                            +--reject--> rejected --submit--> submitted --reject--> inadequate [terminal]

The second rejection is 整改不到位 (inadequate rectification) and closes the order. Overdue is a flag,
not a state: `overdue_at` is set once, by a scan, when the deadline has passed while the enterprise
holds the order (`ordered` or `rejected`). An order submitted in time and waiting for the district
office is not the enterprise's delay, so it is not overdue; if it is then rejected after the
deadline, the next scan marks it.

Refusals carry a bilingual reason. A refusal with `field` set is bad input (HTTP 422 on that field);
one without is an illegal state change (HTTP 409).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, get_args

from runtime.calendar import CHINA, WorkingCalendar
from services.inspections.domain.checklist import Severity

MAX_REJECTIONS = 2  # the second rejection is 整改不到位
MAX_EVIDENCE_CHARS = 2000
MAX_PHOTOS = 9
MIN_REASON_CHARS = 5
MAX_REASON_CHARS = 2000
PHOTO_REF = re.compile(r"[A-Za-z0-9._/-]{1,200}")


class Status(StrEnum):
    ORDERED = "ordered"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    VERIFIED = "verified"
    INADEQUATE = "inadequate"


TERMINAL = frozenset({Status.VERIFIED, Status.INADEQUATE})
# The states in which the enterprise holds the order, so a passed deadline is its delay.
OVERDUE_STATUSES = frozenset({Status.ORDERED, Status.REJECTED})


class TransitionRefused(Exception):
    def __init__(self, code: str, zh: str, en: str, field: str | None = None) -> None:
        super().__init__(en)
        self.code, self.zh, self.en, self.field = code, zh, en, field


class PolicyError(ValueError):
    """Deadline policy data that does not make sense, or a severity it does not know."""


# --- deadlines -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeadlineRule:
    """Exactly one of `working_days` and `hours` is set."""

    working_days: int | None
    hours: int | None
    note_zh: str = ""
    note_en: str = ""

    def deadline(self, ordered_at: datetime, calendar: WorkingCalendar) -> datetime:
        if self.hours is not None:
            return calendar.add_hours(ordered_at, self.hours)
        assert self.working_days is not None
        return calendar.add_working_days(ordered_at, self.working_days)


@dataclass(frozen=True)
class DeadlinePolicy:
    by_severity: Mapping[str, DeadlineRule]
    by_item: Mapping[str, DeadlineRule]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> DeadlinePolicy:
        """Build from parsed `data/deadlines.json`: every severity needs a rule; items override."""
        severities = _rules(data.get("by_severity"), "by_severity")
        known = set(get_args(Severity))
        if set(severities) != known:
            raise PolicyError(
                f"by_severity must give exactly {sorted(known)}, got {sorted(severities)}"
            )
        return cls(severities, _rules(data.get("by_item", {}), "by_item"))

    def rule_for(self, severity: str, item_id: str) -> DeadlineRule:
        if item_id in self.by_item:
            return self.by_item[item_id]
        rule = self.by_severity.get(severity)
        if rule is None:
            raise PolicyError(f"no deadline rule for severity {severity!r}")
        return rule

    def deadline_for(
        self, severity: str, item_id: str, ordered_at: datetime, calendar: WorkingCalendar
    ) -> datetime:
        return self.rule_for(severity, item_id).deadline(ordered_at, calendar)


def _rules(raw: object, where: str) -> dict[str, DeadlineRule]:
    if not isinstance(raw, Mapping):
        raise PolicyError(f"{where} must be an object")
    rules: dict[str, DeadlineRule] = {}
    for key, spec in raw.items():
        if not isinstance(spec, Mapping):
            raise PolicyError(f"{where}.{key} must be an object")
        days, hours = spec.get("working_days"), spec.get("hours")
        if (days is None) == (hours is None):
            raise PolicyError(f"{where}.{key} needs exactly one of working_days and hours")
        for value in (days, hours):
            if value is not None and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise PolicyError(f"{where}.{key}: {value!r} is not a positive whole number")
        rules[str(key)] = DeadlineRule(
            days, hours, str(spec.get("note_zh", "")), str(spec.get("note_en", ""))
        )
    return rules


# --- the order ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Order:
    order_id: str
    status: Status
    ordered_at: datetime
    deadline: datetime
    rejections: int = 0
    submissions: int = 0
    overdue_at: datetime | None = None
    submitted_at: datetime | None = None  # of the latest submission
    evidence_text: str | None = None  # of the latest submission
    photo_refs: tuple[str, ...] = ()  # of the latest submission
    rejected_at: datetime | None = None  # of the latest rejection
    rejection_reason: str | None = None  # of the latest rejection
    verified_at: datetime | None = None
    inadequate_at: datetime | None = None

    @property
    def closed(self) -> bool:
        return self.status in TERMINAL

    @property
    def on_time(self) -> bool | None:
        """For a verified order: was the accepted submission made by the deadline? Else None."""
        if self.status is not Status.VERIFIED or self.submitted_at is None:
            return None
        return self.submitted_at <= self.deadline


def new_order(order_id: str, ordered_at: datetime, deadline: datetime) -> Order:
    _aware(ordered_at)
    if _aware(deadline) <= ordered_at:
        raise ValueError(f"deadline {deadline} is not after the order time {ordered_at}")
    return Order(order_id, Status.ORDERED, ordered_at, deadline)


def submit(order: Order, evidence_text: str, photo_refs: Sequence[str], now: datetime) -> Order:
    """The enterprise submits its rectification with evidence (first time or after a rejection)."""
    _aware(now)
    if order.status is Status.SUBMITTED:
        raise TransitionRefused(
            "already_submitted",
            "整改已提交，正在等待区县物业办验收，不能重复提交",
            "the rectification was already submitted and awaits the district office's verification",
        )
    if order.status is Status.VERIFIED:
        raise TransitionRefused(
            "already_verified",
            "整改已验收通过，不能再提交",
            "the rectification was already verified; nothing more can be submitted",
        )
    if order.status is Status.INADEQUATE:
        raise TransitionRefused(
            "closed_inadequate",
            "已认定整改不到位，整改单已结案，不能再提交",
            "the order was closed as inadequately rectified (整改不到位); nothing more can be submitted",
        )
    text = _evidence_text(evidence_text)
    refs = _photo_refs(photo_refs)
    return replace(
        order,
        status=Status.SUBMITTED,
        submissions=order.submissions + 1,
        submitted_at=now,
        evidence_text=text,
        photo_refs=refs,
    )


def verify(order: Order, now: datetime) -> Order:
    """The district office accepts the rectification (验收通过)."""
    _aware(now)
    _require_submitted(order, "验收", "verify")
    return replace(order, status=Status.VERIFIED, verified_at=now)


def reject(order: Order, reason: str, now: datetime) -> Order:
    """The district office sends the rectification back; the second time it is 整改不到位."""
    _aware(now)
    _require_submitted(order, "退回", "reject")
    text = reason.strip()
    if len(text) < MIN_REASON_CHARS:
        raise TransitionRefused(
            "reason_too_short",
            f"退回理由至少需要 {MIN_REASON_CHARS} 个字",
            f"a rejection needs a reason of at least {MIN_REASON_CHARS} characters",
            "reason",
        )
    if len(text) > MAX_REASON_CHARS:
        raise TransitionRefused(
            "reason_too_long",
            f"退回理由不能超过 {MAX_REASON_CHARS} 个字（当前 {len(text)} 个）",
            f"a rejection reason may have at most {MAX_REASON_CHARS} characters (got {len(text)})",
            "reason",
        )
    rejections = order.rejections + 1
    if rejections >= MAX_REJECTIONS:
        return replace(
            order,
            status=Status.INADEQUATE,
            rejections=rejections,
            rejected_at=now,
            rejection_reason=text,
            inadequate_at=now,
        )
    return replace(
        order, status=Status.REJECTED, rejections=rejections, rejected_at=now, rejection_reason=text
    )


def is_due(order: Order, now: datetime) -> bool:
    """Should a scan at `now` mark this order overdue? (The SQL scan must select the same rows.)"""
    return (
        order.overdue_at is None
        and order.status in OVERDUE_STATUSES
        and _aware(now) > order.deadline
    )


def mark_overdue(order: Order, now: datetime) -> Order | None:
    """The order with `overdue_at=now`, or None if it is not due or was already marked."""
    return replace(order, overdue_at=now) if is_due(order, now) else None


# --- checks --------------------------------------------------------------------------------------


def _require_submitted(order: Order, action_zh: str, action_en: str) -> None:
    if order.status is Status.SUBMITTED:
        return
    if order.status is Status.ORDERED:
        raise TransitionRefused(
            "not_submitted",
            f"整改尚未提交，无法{action_zh}",
            f"the rectification has not been submitted; there is nothing to {action_en}",
        )
    if order.status is Status.REJECTED:
        raise TransitionRefused(
            "not_submitted",
            f"整改已被退回，企业尚未重新提交，无法{action_zh}",
            f"the rectification was sent back and not yet resubmitted; there is nothing to {action_en}",
        )
    if order.status is Status.VERIFIED:
        raise TransitionRefused(
            "already_verified",
            f"整改已验收通过，不能再{action_zh}",
            f"the rectification was already verified; it cannot {action_en} it again",
        )
    raise TransitionRefused(
        "closed_inadequate",
        f"已认定整改不到位，整改单已结案，不能再{action_zh}",
        f"the order was closed as inadequately rectified (整改不到位); cannot {action_en} it",
    )


def _evidence_text(raw: str) -> str:
    text = raw.strip()
    if not text:
        raise TransitionRefused(
            "evidence_empty",
            "整改情况说明不能为空",
            "the rectification needs a description of what was done",
            "evidence_text",
        )
    if len(text) > MAX_EVIDENCE_CHARS:
        raise TransitionRefused(
            "evidence_too_long",
            f"整改情况说明不能超过 {MAX_EVIDENCE_CHARS} 个字（当前 {len(text)} 个）",
            f"the description may have at most {MAX_EVIDENCE_CHARS} characters (got {len(text)})",
            "evidence_text",
        )
    return text


def _photo_refs(raw: Sequence[str]) -> tuple[str, ...]:
    if isinstance(raw, str):  # a lone string is a Sequence[str] too; never split it into letters
        raise TypeError("photo_refs must be a sequence of references, not one string")
    refs = tuple(raw)
    if len(refs) > MAX_PHOTOS:
        raise TransitionRefused(
            "too_many_photos",
            f"照片最多 {MAX_PHOTOS} 张（当前 {len(refs)} 张）",
            f"at most {MAX_PHOTOS} photos (got {len(refs)})",
            "photo_refs",
        )
    for index, ref in enumerate(refs):
        if not PHOTO_REF.fullmatch(ref) or ".." in ref or ref.startswith("/"):
            raise TransitionRefused(
                "bad_photo_ref",
                f"第 {index + 1} 张照片的引用无效：只能由字母、数字和 . _ / - 组成，不超过 200 个字符，"
                "不能以 / 开头，不能包含 ..",
                f"photo reference {index + 1} is invalid: use letters, digits and . _ / - only, "
                "at most 200 characters, not starting with / and without ..",
                f"photo_refs.{index}",
            )
        if ref in refs[:index]:
            raise TransitionRefused(
                "duplicate_photo",
                f"第 {index + 1} 张照片与前面的照片重复",
                f"photo reference {index + 1} repeats an earlier one",
                f"photo_refs.{index}",
            )
    return refs


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"a timezone-aware datetime is required, got {moment!r}")
    return moment


# -- the order as an official document (整改通知书) -------------------------------------------------


def document_year(ordered_at: datetime) -> int:
    """The year of the order's number: the year it was made, in China."""
    return ordered_at.astimezone(CHINA).year


def document_number(district_name: str, year: int, seq: int) -> str:
    """文号 of a rectification order: 和平区物业整改〔2026〕12号."""
    return f"{district_name}物业整改〔{year}〕{seq}号"
