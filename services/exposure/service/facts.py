"""Facts for the public board's grades and statistics, and the evidence cases build on: batch
handlers, one repository write per run of events.

Each handler runs inside the consumer's transaction and is safe to apply twice (the inbox already
skips redelivered events; the upserts hold even without it). Rows of one order or complaint may be
written by any of its events first, so each write sets only the columns its events know. Nothing
personal is stored: the events carry none, and only ids, categories, counts and times are kept.
The registry copy (`projects`) is kept by `runtime.registry_copy`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from runtime.unit_of_work import Delivered
from schemas.base import Event
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.surveys import v1 as surveys
from services.exposure.service.ports import ExposureUnitOfWork

E = TypeVar("E", bound=Event)


def _events(batch: Sequence[Delivered[Event]], kind: type[E]) -> list[E]:
    out = []
    for delivered in batch:
        if not isinstance(delivered.event, kind):
            raise TypeError(f"not a {kind.__name__}: {delivered.ce.type}")
        out.append(delivered.event)
    return out


async def record_evidence(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    """Failed inspections: the evidence the offices see."""
    failed = [
        Delivered(event, d.ce)
        for event, d in zip(_events(batch, inspections.InspectionFailed), batch, strict=True)
    ]
    await uow.facts.add_evidence(failed)


async def record_inspections(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    await uow.facts.add_inspections(_events(batch, inspections.InspectionCompleted))


async def record_orders(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    await uow.facts.orders_ordered(_events(batch, inspections.RectificationOrdered))


async def record_verifications(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    await uow.facts.orders_verified(_events(batch, inspections.RectificationVerified))


async def record_overdue_orders(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    await uow.facts.orders_overdue(_events(batch, inspections.RectificationOverdue))


async def record_inadequate_orders(
    uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]
) -> None:
    """Only the final rejection (整改不到位) is a fact here: it closes the order as not rectified,
    possibly without it ever being overdue (submitted in time, rejected twice)."""
    events = _events(batch, inspections.RectificationRejected)
    await uow.facts.orders_inadequate([e for e in events if e.inadequate])


async def record_complaints(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    await uow.facts.complaints_filed(_events(batch, complaints.ComplaintFiled))


async def record_overdue_complaints(
    uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]
) -> None:
    """The completion clock (办结时限) counts for 按期办结率; the acceptance clock (签收时限) for
    the campaign figures' complaints accepted within SLA."""
    events = _events(batch, complaints.ComplaintOverdue)
    await uow.facts.complaints_completion_overdue([e for e in events if e.clock == "completion"])
    await uow.facts.complaints_acceptance_overdue([e for e in events if e.clock == "acceptance"])


async def record_accepted_complaints(
    uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]
) -> None:
    await uow.facts.complaints_accepted(_events(batch, complaints.ComplaintAccepted))


async def record_activities(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    """Cultural and publicity activities held: counted in the campaign figures."""
    await uow.facts.add_activities(_events(batch, campaigns.ActivityHeld))


async def record_closed_complaints(
    uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]
) -> None:
    await uow.facts.complaints_closed(_events(batch, complaints.ComplaintClosed))


async def record_surveys(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    await uow.facts.add_surveys(_events(batch, surveys.SurveyClosed))


async def record_criticisms(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    """Criticism notices about rectification orders: the evidence a case needs to be
    published."""
    events = _events(batch, notifications.NoticeIssued)
    await uow.facts.add_criticisms(
        [
            e
            for e in events
            if e.kind == "criticism"
            and e.subject_kind == "rectification_order"
            and e.project_id is not None
        ]
    )


async def record_campaign_phases(
    uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]
) -> None:
    """A campaign's phases: its title and, from the planning phase, when plans are due."""
    await uow.facts.campaign_phases(_events(batch, campaigns.CampaignPhaseStarted))


async def record_plans(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    """Activity plans submitted (or replaced): who has one, for the city office's table."""
    await uow.facts.plans_submitted(_events(batch, campaigns.PlanSubmitted))


async def record_draws(uow: ExposureUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
    """Random patrol draws (双随机), for the board's /draws page."""
    await uow.facts.add_draws(_events(batch, inspections.PatrolsDrawn))
