"""Events and deliveries for the exposure service-layer tests (plain functions)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered
from schemas import cloudevents
from schemas.base import Event
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.surveys import v1 as surveys
from services.exposure.adapters import policy_file
from services.exposure.adapters.memory import MemoryExposureUnitOfWork
from tests import factories

SERVICE = Path(__file__).resolve().parents[3] / "services" / "exposure"
POLICY = policy_file.load(SERVICE / "data" / "publication.toml")
T0 = datetime.fromisoformat("2011-08-22T10:00:00+08:00")
CORRELATION = "corr-from-inspections"


def unit(now: datetime = T0) -> MemoryExposureUnitOfWork:
    return MemoryExposureUnitOfWork(POLICY, FixedClock(now))


def delivered(event: Event, correlation_id: str = CORRELATION) -> Delivered[Event]:
    ce = cloudevents.from_event(event, source="/wuye/test", correlation_id=correlation_id)
    return Delivered(event, ce)


def overdue(order_id: str, *, at: datetime = T0, severity: str = "urgent") -> Event:
    return factories.rectification_overdue(order_id=order_id, detected_at=at, severity=severity)


def rejected(order_id: str, *, inadequate: bool = True, severity: str = "urgent") -> Event:
    event = factories.rectification_rejected(order_id=order_id, inadequate=inadequate)
    return inspections.RectificationRejected.model_validate(
        {**event.model_dump(), "severity": severity}
    )


def verified(order_id: str, at: datetime) -> inspections.RectificationVerified:
    fields = factories._order_fields("P-120101-0001", order_id)
    return inspections.RectificationVerified.model_validate(
        {**fields, "verified_at": at, "on_time": False}
    )


def ordered(order_id: str, at: datetime = T0) -> inspections.RectificationOrdered:
    fields = factories._order_fields("P-120101-0001", order_id)
    return inspections.RectificationOrdered.model_validate({**fields, "ordered_at": at})


def notice(
    order_id: str,
    at: datetime,
    *,
    kind: str = "criticism",
    subject_kind: str = "rectification_order",
    project_id: str | None = "P-120101-0001",
    notice_no: str | None = "和平区物业通〔2011〕7号",
) -> notifications.NoticeIssued:
    return notifications.NoticeIssued.model_validate(
        {
            "notice_id": str(uuid.uuid4()),
            "kind": kind,
            "rule_id": "rectification-overdue-criticism",
            "notice_no": notice_no,
            "reason": "rectification_overdue",
            "subject_kind": subject_kind,
            "subject_id": order_id,
            "project_id": project_id,
            "project_name": "和平区·海河花园",
            "enterprise_id": "E-0001",
            "enterprise_name": "津城物业服务有限公司",
            "district_code": "120101",
            "recipients": [{"kind": "enterprise", "id": "E-0001", "cc": False}],
            "title_zh": "通报批评",
            "body_zh": "正文",
            "title_en": "criticism",
            "body_en": "body",
            "cause_event_id": str(uuid.uuid4()),
            "cause_type": "cn.tj.wuye.inspections.RectificationOverdue.v1",
            "issued_at": at,
        }
    )


def inspection_completed(inspection_id: str, score: float = 75.0) -> Event:
    return inspections.InspectionCompleted.model_validate(
        {
            "inspection_id": inspection_id,
            "project_id": "P1",
            "project_name": "P1 小区",
            "enterprise_id": "E-0001",
            "enterprise_name": "津城物业服务有限公司",
            "district_code": "120101",
            "kind": "patrol",
            "template_id": "contract-self-inspection",
            "template_version": 1,
            "score": score,
            "pass_mark": 80.0,
            "passed": score >= 80.0,
            "failed_item_count": 0 if score >= 80.0 else 1,
            "inspected_at": T0,
            "recorded_by": "officer-1",
        }
    )


def _complaint(**extra: Any) -> dict[str, Any]:
    return {
        "complaint_id": "C1",
        "project_id": "P1",
        "enterprise_id": "E-0001",
        "district_code": "120101",
        "category": "water",
        **extra,
    }


def complaint_filed(filed_at: datetime = T0) -> Event:
    return complaints.ComplaintFiled.model_validate(
        _complaint(
            urgency="normal",
            channel="web",
            filed_at=filed_at,
            ticket_no="TS-0001",
            owner_account="owner-42",
        )
    )


def complaint_overdue(clock: str) -> Event:
    return complaints.ComplaintOverdue.model_validate(
        _complaint(clock=clock, deadline=T0, detected_at=T0 + timedelta(minutes=1))
    )


def complaint_closed(closed_at: datetime) -> Event:
    return complaints.ComplaintClosed.model_validate(
        _complaint(how="feedback", closed_at=closed_at)
    )


def survey_closed(survey_id: str, responses: int) -> Event:
    return surveys.SurveyClosed.model_validate(
        {
            "survey_id": survey_id,
            "campaign_id": "C-2011",
            "enterprise_id": "E-0001",
            "project_id": "P1",
            "district_code": "120101",
            "households": 100,
            "how": "auto",
            "responses": responses,
            "coverage": responses / 100,
            "satisfaction_rate": 0.8 if responses else None,
            "means": {"overall": 4.2 if responses else None},
            "closed_at": T0,
        }
    )
