"""Reacting to complaints: a project that gathers complaints, or whose complaint runs overdue,
gets a patrol inspection scheduled automatically (at most one open per project)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from runtime import db, outbox
from runtime.consumer import Handler
from schemas import cloudevents
from schemas.base import Event
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as events
from services.inspections.adapters import rectifications as repo
from services.inspections.adapters import repository

log = structlog.get_logger(__name__)
SOURCE = "/wuye/inspections"


@dataclass(frozen=True)
class PatrolTrigger:
    """Thresholds, from settings: `complaints` filed within `window_days` schedule a patrol."""

    complaints: int = 3
    window_days: int = 30
    patrol_within_days: int = 7


def handlers(trigger: PatrolTrigger) -> dict[str, Handler]:
    async def on_filed(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        assert isinstance(event, complaints.ComplaintFiled)
        # Complaints about one project are keyed by complaint and may be handled in parallel:
        # lock the project so each count sees the complaints committed before it.
        await repo.lock_project(conn, event.project_id)
        if not await _record(conn, event, "filed", event.filed_at):
            return
        since = event.filed_at - timedelta(days=trigger.window_days)
        count = await repo.complaints_between(conn, event.project_id, since, event.filed_at)
        if count >= trigger.complaints:
            await _schedule(
                conn, event.project_id, "repeated_complaints", count, event.filed_at, trigger
            )

    async def on_overdue(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        assert isinstance(event, complaints.ComplaintOverdue)
        await repo.lock_project(conn, event.project_id)
        if not await _record(conn, event, "overdue", event.detected_at):
            return
        since = event.detected_at - timedelta(days=trigger.window_days)
        count = await repo.complaints_between(conn, event.project_id, since, event.detected_at)
        await _schedule(
            conn, event.project_id, "overdue_complaint", count, event.detected_at, trigger
        )

    return {
        complaints.ComplaintFiled.ce_type: on_filed,
        complaints.ComplaintOverdue.ce_type: on_overdue,
    }


async def _record(
    conn: db.Connection,
    event: complaints.ComplaintFiled | complaints.ComplaintOverdue,
    kind: str,
    at: datetime,
) -> bool:
    return await repo.record_signal(
        conn,
        complaint_id=event.complaint_id,
        kind=kind,
        project_id=event.project_id,
        district_code=event.district_code,
        enterprise_id=event.enterprise_id,
        at=at,
    )


async def _schedule(
    conn: db.Connection,
    project_id: str,
    reason: str,
    count: int,
    at: datetime,
    trigger: PatrolTrigger,
) -> None:
    project = await repository.get_project(conn, project_id)
    if project is None:
        # A complaint about a project the registry does not know: nothing to patrol. Logged, not
        # dead-lettered: the complaint itself is handled by the complaints service.
        log.warning("complaint_for_unknown_project", project_id=project_id)
        return
    patrol_id = str(uuid.uuid4())
    due_by = at + timedelta(days=trigger.patrol_within_days)
    created = await repo.schedule_patrol(
        conn,
        patrol_id=patrol_id,
        project_id=project_id,
        reason=reason,
        complaint_count=count,
        window_days=trigger.window_days,
        scheduled_at=at,
        due_by=due_by,
    )
    if not created:
        return  # one open patrol per project is enough
    await outbox.enqueue(
        conn,
        events.PatrolScheduled(
            patrol_id=patrol_id,
            project_id=project.project_id,
            project_name=project.project_name,
            enterprise_id=project.enterprise_id,
            district_code=project.district_code,
            reason=reason,
            complaint_count=count,
            window_days=trigger.window_days,
            scheduled_at=at,
            due_by=due_by,
        ),
        source=SOURCE,
    )
