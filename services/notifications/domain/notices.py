"""What the service records and decides on: a notice with its copies (the inboxes) and its deliveries (one per
external channel), the endpoints notices go to, the ladder steps (催办 -> 通报批评) and the
deliveries a worker has claimed. Plain values; the rules that build them are in `rules.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Channel = Literal["email", "webhook"]
Outcome = Literal["delivered", "transient", "permanent"]


@dataclass(frozen=True)
class Endpoint:
    """Where a recipient's notices also go (an e-mail address or a webhook URL)."""

    endpoint_id: str
    channel: str
    address: str


@dataclass(frozen=True)
class RegisteredEndpoint:
    endpoint_id: str
    recipient_kind: str
    recipient_id: str
    channel: str
    address: str
    created_at: datetime


@dataclass(frozen=True)
class NewEndpoint:
    endpoint_id: str
    recipient_kind: str
    recipient_id: str
    channel: str
    address: str
    created_by: str
    owner_enterprise_id: str | None  # the enterprise that registered it (manager endpoints)


@dataclass(frozen=True)
class Copy:
    """One recipient's copy of a notice: its inbox entry."""

    copy_id: str
    notice_id: str
    recipient_kind: str
    recipient_id: str
    cc: bool


@dataclass(frozen=True)
class Delivery:
    """A send to one endpoint, recorded with its notice before anything is sent."""

    delivery_id: str
    copy_id: str
    notice_id: str
    endpoint_id: str
    channel: str
    address: str


@dataclass(frozen=True)
class Notice:
    notice_id: str
    rule_id: str
    kind: str
    reason: str
    notice_no: str | None
    subject_kind: str
    subject_id: str
    project_id: str | None
    enterprise_id: str | None
    district_code: str | None
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str
    cause_event_id: str
    cause_type: str
    correlation_id: str
    issued_at: datetime
    copies: tuple[Copy, ...] = ()
    deliveries: tuple[Delivery, ...] = ()


@dataclass(frozen=True)
class LadderStep:
    """A criticism scheduled by a reminder: issued at `due_at` unless something calls it off.
    Its id is the reminder's notice id."""

    escalation_id: str
    rule_id: str
    subject_kind: str
    subject_id: str
    due_at: datetime
    cause_event_id: str
    cause_type: str
    cause_payload: str  # the cause event as JSON, to issue the criticism from
    correlation_id: str


@dataclass(frozen=True)
class Claimed:
    """A delivery a worker holds (status `sending`, leased) for one attempt."""

    delivery_id: str
    copy_id: str
    notice_id: str
    endpoint_id: str
    channel: str
    address: str
    attempts: int  # this attempt's number
    endpoint_disabled: bool
    started_at: datetime


@dataclass(frozen=True)
class Content:
    """What one recipient's copy says: what a channel sends."""

    notice_id: str
    kind: str
    rule_id: str
    reason: str
    notice_no: str | None
    subject_kind: str
    subject_id: str
    project_id: str | None
    enterprise_id: str | None
    district_code: str | None
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str
    issued_at: datetime
    correlation_id: str
    cause_event_id: str
    recipient_kind: str
    recipient_id: str
    cc: bool


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    permanent: bool  # meaningful only when not ok: True = do not retry
    detail: str

    @classmethod
    def delivered(cls, detail: str) -> DeliveryResult:
        return cls(ok=True, permanent=False, detail=detail)

    @classmethod
    def transient(cls, detail: str) -> DeliveryResult:
        return cls(ok=False, permanent=False, detail=detail)

    @classmethod
    def failed_permanently(cls, detail: str) -> DeliveryResult:
        return cls(ok=False, permanent=True, detail=detail)


DraftStatus = Literal["draft", "issued", "withdrawn"]


@dataclass(frozen=True)
class Draft:
    """A circulated criticism the ladder drafted, waiting for the district office: signed off it
    becomes the notice `draft_id` with its number (文号); withdrawn it never has one."""

    draft_id: str  # the id of the notice it becomes
    rule_id: str
    reason: str
    subject_kind: str
    subject_id: str
    project_id: str | None
    enterprise_id: str | None
    district_code: str | None
    title_zh: str  # the preview (no number yet)
    body_zh: str
    cause_event_id: str
    cause_type: str
    cause_payload: str  # the cause event as JSON, to issue the criticism from
    correlation_id: str
    drafted_at: datetime
    status: DraftStatus = "draft"
    decided_at: datetime | None = None
    decided_by: str | None = None
    withdraw_reason: str | None = None
    notice_no: str | None = None
