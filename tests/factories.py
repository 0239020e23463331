"""Test data builders shared by the suites (not fixtures: plain functions)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from schemas.inspections import v1 as inspections


def inspection_failed(
    project_id: str = "P-120101-0001", **overrides: object
) -> inspections.InspectionFailed:
    fields: dict[str, object] = {
        "inspection_id": str(uuid.uuid4()),
        "project_id": project_id,
        "project_name": "和平区·海河花园",
        "enterprise_id": "E-0001",
        "enterprise_name": "津城物业服务有限公司",
        "district_code": "120101",
        "kind": "patrol",
        "template_id": "contract-self-inspection",
        "template_version": 1,
        "score": 62.5,
        "pass_mark": 80.0,
        "inspected_at": datetime(2011, 8, 20, 9, 30, tzinfo=UTC),
        "recorded_by": "officer-1",
        "failed_items": (
            inspections.FailedItem(
                item_id="waste.daily",
                group="waste",
                title_zh="生活垃圾日产日清,无满溢现象",
                title_en="Household waste cleared daily, no overflow",
                severity="serious",
                note="3 号楼垃圾桶满溢",
            ),
        ),
    }
    fields.update(overrides)
    return inspections.InspectionFailed(**fields)  # type: ignore[arg-type]


async def register_complaint_project(
    pool: Any,
    project_id: str,
    enterprise: str,
    district: str,
    *,
    occurred_at: datetime,
    address: str = "和平区某路 1 号",
    latitude: float | None = None,
    longitude: float | None = None,
) -> None:
    """Give the complaints service's local registry copy a project, as the registry topic would."""
    from schemas.registry import v1 as registry
    from services.complaints.subscriptions import PROJECT_COPY

    event = registry.ProjectRegistered(
        project_id=project_id,
        project_name=f"{project_id} 小区",
        address=address,
        latitude=latitude,
        longitude=longitude,
        district_code=district,
        district_name="和平区",
        enterprise_id=enterprise,
        enterprise_name=f"{enterprise} 物业",
        service_grade="一级",
        occurred_at=occurred_at,
    )
    async with pool.acquire() as conn, conn.transaction():
        await PROJECT_COPY.apply(conn, [event])


ITEM = inspections.FailedItem(
    item_id="facilities.fire",
    group="facilities",
    title_zh="消防设施运行正常",
    title_en="Fire protection working",
    severity="urgent",
    note="2 号楼消防栓水压不足",
)


def _order_fields(project_id: str, order_id: str | None) -> dict[str, object]:
    return {
        "order_id": order_id or str(uuid.uuid4()),
        "inspection_id": str(uuid.uuid4()),
        "project_id": project_id,
        "project_name": "和平区·海河花园",
        "enterprise_id": "E-0001",
        "enterprise_name": "津城物业服务有限公司",
        "district_code": "120101",
        "items": (ITEM,),
        "severity": "urgent",
        "deadline": datetime(2011, 8, 21, 2, 0, tzinfo=UTC),
    }


def rectification_overdue(
    project_id: str = "P-120101-0001", order_id: str | None = None, **overrides: object
) -> inspections.RectificationOverdue:
    fields = _order_fields(project_id, order_id)
    fields.update(status="ordered", detected_at=datetime(2011, 8, 21, 3, 0, tzinfo=UTC))
    fields.update(overrides)
    return inspections.RectificationOverdue(**fields)  # type: ignore[arg-type]


def rectification_submitted(
    project_id: str = "P-120101-0001", order_id: str | None = None
) -> inspections.RectificationSubmitted:
    fields = _order_fields(project_id, order_id)
    fields.update(
        submission_no=1,
        photo_count=2,
        submitted_at=datetime(2011, 8, 22, 3, 0, tzinfo=UTC),
        before_deadline=False,
    )
    return inspections.RectificationSubmitted(**fields)  # type: ignore[arg-type]


def rectification_rejected(
    project_id: str = "P-120101-0001", order_id: str | None = None, *, inadequate: bool = True
) -> inspections.RectificationRejected:
    fields = _order_fields(project_id, order_id)
    fields.update(
        rejection_no=2 if inadequate else 1,
        reason="消防栓水压仍不足 <b>复查</b>",
        inadequate=inadequate,
        rejected_at=datetime(2011, 8, 25, 3, 0, tzinfo=UTC),
    )
    return inspections.RectificationRejected(**fields)  # type: ignore[arg-type]


def complaints_unit(pool: Any, now: datetime) -> Any:
    """A unit of work of the complaints service on `pool`, its clock stopped at `now`."""
    from runtime.scheduler import FixedClock
    from services.complaints.adapters.postgres import SOURCE, PgComplaintsUnitOfWork

    return PgComplaintsUnitOfWork(pool, source=SOURCE, clock=FixedClock(now))


async def keep_campaign_phase(pool: Any, event: Any, *, at: datetime | None = None) -> None:
    """Give the complaints service's campaign table a phase, as the campaigns topic would."""
    from runtime.unit_of_work import Delivered
    from schemas import cloudevents
    from services.complaints.service import survey_handling

    ce = cloudevents.from_event(event, source="/test", time=at)
    unit = complaints_unit(pool, datetime.now(UTC))
    async with pool.acquire() as conn, conn.transaction():
        await survey_handling.on_phase_started(unit.joined(conn), [Delivered(event, ce)])


def statutory_interval_missed(
    project_id: str = "P-120101-0001", facility_id: str = "F-lift-1", **overrides: object
) -> inspections.StatutoryIntervalMissed:
    fields: dict[str, object] = {
        "facility_id": facility_id,
        "project_id": project_id,
        "project_name": "海河花园",
        "enterprise_id": "E-0001",
        "enterprise_name": "津城物业",
        "district_code": project_id.split("-")[1],
        "facility_kind": "lift",
        "facility_name": "3号楼1单元电梯",
        "interval": "15 天",
        "contractual": False,
        "last_serviced_on": date(2011, 8, 1),
        "due_on": date(2011, 8, 16),
        "days_overdue": 5,
        "legal_basis": "《特种设备安全监察条例》第三十一条：电梯至少每 15 日进行一次维护保养",
        "legal_basis_en": "Special Equipment Safety Regulations art. 31: every 15 days",
        "detected_at": datetime(2011, 8, 21, 3, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return inspections.StatutoryIntervalMissed.model_validate(fields)
