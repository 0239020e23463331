"""Reacting to complaints: a project that gathers complaints, or whose complaint runs overdue,
gets a patrol inspection scheduled automatically (at most one open per project).

Batch handlers (`subscriptions.py` lists them), run event by event (`each`): every complaint is
counted and may schedule a patrol, a decision per event. They join the consumer's transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from runtime.unit_of_work import BatchHandler, Delivered, Trace, each
from schemas.base import Event
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from services.inspections.service.ports import InspectionsUnitOfWork

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class PatrolTrigger:
    """Thresholds, from settings: `complaints` filed within `window_days` schedule a patrol."""

    complaints: int = 3
    window_days: int = 30
    patrol_within_days: int = 7


@dataclass(frozen=True)
class ComplaintReactions:
    trigger: PatrolTrigger

    async def on_filed(self, uow: InspectionsUnitOfWork, delivered: Delivered[Event]) -> None:
        event = delivered.event
        assert isinstance(event, complaints.ComplaintFiled)
        # Complaints about one project are keyed by complaint and may be handled in parallel:
        # lock the project so each count sees the complaints committed before it.
        await uow.projects.lock(event.project_id)
        if not await _record(uow, event, "filed", event.filed_at):
            return
        since = event.filed_at - timedelta(days=self.trigger.window_days)
        count = await uow.patrols.complaints_between(event.project_id, since, event.filed_at)
        if count >= self.trigger.complaints:
            await self._schedule(
                uow, event.project_id, "repeated_complaints", count, event.filed_at, delivered.trace
            )

    async def on_overdue(self, uow: InspectionsUnitOfWork, delivered: Delivered[Event]) -> None:
        event = delivered.event
        assert isinstance(event, complaints.ComplaintOverdue)
        await uow.projects.lock(event.project_id)
        if not await _record(uow, event, "overdue", event.detected_at):
            return
        since = event.detected_at - timedelta(days=self.trigger.window_days)
        count = await uow.patrols.complaints_between(event.project_id, since, event.detected_at)
        await self._schedule(
            uow, event.project_id, "overdue_complaint", count, event.detected_at, delivered.trace
        )

    def filed(self) -> BatchHandler[InspectionsUnitOfWork]:
        return each(self.on_filed)

    def overdue(self) -> BatchHandler[InspectionsUnitOfWork]:
        return each(self.on_overdue)

    async def _schedule(
        self,
        uow: InspectionsUnitOfWork,
        project_id: str,
        reason: str,
        count: int,
        at: datetime,
        trace: Trace,
    ) -> None:
        project = await uow.projects.get(project_id)
        if project is None:
            # A complaint about a project the registry does not know: nothing to patrol. Logged,
            # not dead-lettered: the complaint itself is handled by the complaints service.
            log.warning("complaint_for_unknown_project", project_id=project_id)
            return
        patrol_id = str(uuid.uuid4())
        due_by = at + timedelta(days=self.trigger.patrol_within_days)
        created = await uow.patrols.schedule(
            patrol_id=patrol_id,
            project_id=project_id,
            reason=reason,
            complaint_count=count,
            window_days=self.trigger.window_days,
            scheduled_at=at,
            due_by=due_by,
        )
        if not created:
            return  # one open patrol per project is enough
        await uow.outbox.add(
            inspections.PatrolScheduled(
                patrol_id=patrol_id,
                project_id=project.project_id,
                project_name=project.project_name,
                enterprise_id=project.enterprise_id,
                district_code=project.district_code,
                reason=reason,
                complaint_count=count,
                window_days=self.trigger.window_days,
                scheduled_at=at,
                due_by=due_by,
            ),
            trace,
        )


async def _record(
    uow: InspectionsUnitOfWork,
    event: complaints.ComplaintFiled | complaints.ComplaintOverdue,
    kind: str,
    at: datetime,
) -> bool:
    return await uow.patrols.record_signal(
        complaint_id=event.complaint_id,
        kind=kind,
        project_id=event.project_id,
        district_code=event.district_code,
        enterprise_id=event.enterprise_id,
        at=at,
    )
