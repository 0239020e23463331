"""When a case opens, gains evidence, is published, rectified, withdrawn or ends: pure decisions.

Each function takes the case as it is (and the inputs of the decision) and returns the exposure
event to emit, None when nothing happens, or raises `Refused` for an illegal command. The service
layer loads, calls these, and emits what they return; the tables follow from the events.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from schemas import fields
from schemas.exposure import v1 as exposure
from schemas.inspections import v1 as inspections
from services.exposure.domain import cases
from services.exposure.domain.cases import Case, Policy

FailedRectification = inspections.RectificationOverdue | inspections.RectificationRejected
Reason = Literal["rectification_overdue", "rectification_inadequate"]


@dataclass(frozen=True)
class Criticism:
    """A criticism notice (通报批评) about a rectification order: the evidence a case waits for."""

    notice_id: str
    notice_no: str | None
    issued_at: datetime


@dataclass(frozen=True)
class Failure:
    """A rectification that failed in a way that opens a case: overdue, or found inadequate."""

    event: FailedRectification
    reason: Reason
    at: datetime


def failure(event: FailedRectification) -> Failure | None:
    """Overdue orders and final rejections (整改不到位) open cases; a first rejection does not."""
    if isinstance(event, inspections.RectificationOverdue):
        return Failure(event, "rectification_overdue", event.detected_at)
    if event.inadequate:
        return Failure(event, "rectification_inadequate", event.rejected_at)
    return None


def case_id_of(order_id: str) -> str:
    """The case id derives from the order: one case per order, the same on every replica."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"wuye-case:{order_id}"))


def _case_items(items: tuple[inspections.FailedItem, ...]) -> tuple[exposure.CaseItem, ...]:
    return tuple(
        exposure.CaseItem(
            item_id=i.item_id,
            title_zh=i.title_zh,
            title_en=i.title_en,
            severity=i.severity,
            note="",  # the inspector's note may name a person: it stays with inspections
        )
        for i in items
    )


def opening(failed: Failure, policy: Policy) -> exposure.ExposureCaseOpened:
    """The order has no case yet: open one, its tier by reason and the most severe item."""
    event = failed.event
    return exposure.ExposureCaseOpened(
        case_id=case_id_of(event.order_id),
        project_id=event.project_id,
        project_name=event.project_name,
        enterprise_id=event.enterprise_id,
        enterprise_name=event.enterprise_name,
        district_code=event.district_code,
        reason=failed.reason,
        tier=policy.tier_for(failed.reason, event.severity),
        order_id=event.order_id,
        inspection_id=event.inspection_id,
        items=_case_items(event.items),
        deadline=event.deadline,
        opened_at=failed.at,
    )


def raises_tier(case: Case, failed: Failure) -> bool:
    """An order of an open case found inadequate adds evidence (and may raise its tier)."""
    return failed.reason == "rectification_inadequate" and case.status != "withdrawn"


def inadequate_evidence(
    case: Case, failed: Failure, policy: Policy, latest_criticism: datetime | None
) -> exposure.ExposureEvidenceAdded:
    """The final rejection as evidence: the tier rises (not once published), and a light case
    that already has its criticism becomes publishable now: its review starts from the latest
    criticism notice seen."""
    tier = policy.tier_for(failed.reason, failed.event.severity)
    raised = case.tier if case.status == "published" else cases.stronger(case.tier, tier)
    review_ends_at = (
        cases.criticism_review_ends(replace(case, tier=raised), policy, latest_criticism)
        if latest_criticism is not None
        else None
    )
    return exposure.ExposureEvidenceAdded(
        case_id=case.case_id,
        project_id=failed.event.project_id,
        kind="rectification_inadequate",
        notice_no=None,
        notice_id=None,
        tier=raised,
        review_ends_at=review_ends_at,
        added_at=failed.at,
    )


def criticism_evidence(
    case: Case, policy: Policy, project_id: str, notice: Criticism
) -> exposure.ExposureEvidenceAdded | None:
    """The criticism notice completes the evidence (None once the case is withdrawn)."""
    if case.status == "withdrawn":
        return None
    return exposure.ExposureEvidenceAdded(
        case_id=case.case_id,
        project_id=project_id,
        kind="criticism_notice",
        notice_no=notice.notice_no,
        notice_id=notice.notice_id,
        tier=case.tier,
        review_ends_at=cases.criticism_review_ends(case, policy, notice.issued_at),
        added_at=notice.issued_at,
    )


def rectified(case: Case, project_id: str, at: datetime) -> exposure.ExposureRectified | None:
    if not cases.may_rectify(case):
        return None
    return exposure.ExposureRectified(case_id=case.case_id, project_id=project_id, rectified_at=at)


def publication(
    case: Case, policy: Policy, now: datetime, photos: Sequence[fields.AttachmentRef] = ()
) -> exposure.ExposurePublished:
    """Publish now; `photos` (the inspector's photos of the case's failed items, from the
    evidence) are named in the event: the inspections service serves exactly these publicly
    until the case is withdrawn."""
    min_until, max_until = cases.publication(case, policy, now)
    return exposure.ExposurePublished(
        case_id=case.case_id,
        project_id=case.project_id,
        tier=case.tier,
        published_at=now,
        min_until=min_until,
        max_until=max_until,
        attachments=tuple(photos),
    )


def due(
    case: Case, policy: Policy, now: datetime, photos: Sequence[fields.AttachmentRef] = ()
) -> exposure.ExposurePublished | exposure.ExposureWithdrawn | None:
    """What time does to a case: published once its review window ended, ended once its period
    is over."""
    if cases.due_for_publication(case, now):
        return publication(case, policy, now, photos)
    reason = cases.ending(case, now)
    if reason is None:
        return None
    return exposure.ExposureWithdrawn(
        case_id=case.case_id,
        project_id=case.project_id,
        reason=reason,
        withdrawn_at=now,
    )


def review(
    case: Case,
    policy: Policy,
    decision: Literal["hold", "confirm"],
    note: str,
    now: datetime,
    photos: Sequence[fields.AttachmentRef] = (),
) -> list[exposure.ExposureReviewed | exposure.ExposurePublished]:
    """The district office holds or confirms publication; confirming publishes at once."""
    cases.may_review(case, decision)
    reviewed = exposure.ExposureReviewed(
        case_id=case.case_id,
        project_id=case.project_id,
        decision=decision,
        district_code=case.district_code,
        note=note,
        reviewed_at=now,
    )
    if decision == "confirm":
        return [reviewed, publication(case, policy, now, photos)]
    return [reviewed]


def withdrawal(case: Case, now: datetime) -> exposure.ExposureWithdrawn:
    cases.may_withdraw(case)
    return exposure.ExposureWithdrawn(
        case_id=case.case_id,
        project_id=case.project_id,
        reason="withdrawn_by_district",
        withdrawn_at=now,
    )


def objection(
    case: Case, enterprise_id: str, grounds: str, objection_id: str, now: datetime
) -> exposure.ObjectionFiled:
    cases.may_object(case, enterprise_id)
    return exposure.ObjectionFiled(
        case_id=case.case_id,
        project_id=case.project_id,
        objection_id=objection_id,
        enterprise_id=enterprise_id,
        grounds=grounds,
        filed_at=now,
    )


def objection_decision(
    case: Case, objection_id: str, upheld: bool, reason: str, now: datetime
) -> list[exposure.ObjectionDecided | exposure.ExposureWithdrawn]:
    """An upheld objection withdraws the case, unless it left the board already."""
    cases.may_decide(case, objection_id)
    decided = exposure.ObjectionDecided(
        case_id=case.case_id,
        project_id=case.project_id,
        objection_id=objection_id,
        upheld=upheld,
        reason=reason,
        decided_at=now,
    )
    if upheld and case.status != "withdrawn":
        withdrawn = exposure.ExposureWithdrawn(
            case_id=case.case_id,
            project_id=case.project_id,
            reason="objection_upheld",
            withdrawn_at=now,
        )
        return [decided, withdrawn]
    return [decided]
