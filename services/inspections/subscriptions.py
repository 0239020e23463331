"""Everything the inspections service reacts to: per consumer group, its topics and, per event
type, its handler (batch handlers on the inspections unit of work)."""

from __future__ import annotations

from runtime.service import ConsumerSpec
from runtime.subscriptions import Subscription
from schemas import topics
from schemas.complaints import v1 as complaints
from schemas.exposure import v1 as exposure
from services.inspections.service import exposure_reactions
from services.inspections.service.complaint_reactions import ComplaintReactions, PatrolTrigger


def consumers(trigger: PatrolTrigger) -> tuple[ConsumerSpec, ...]:
    reactions = ComplaintReactions(trigger)
    return (
        ConsumerSpec(
            Subscription(
                group="inspections.complaints",
                topics=(topics.COMPLAINTS_EVENTS,),
                description="Schedule patrols for projects with repeated or overdue complaints",
            ),
            handlers={
                complaints.ComplaintFiled.ce_type: reactions.filed(),
                complaints.ComplaintOverdue.ce_type: reactions.overdue(),
            },
        ),
        ConsumerSpec(
            Subscription(
                group="inspections.exposure",
                topics=(topics.EXPOSURE_EVENTS,),
                description="Serve a published exposure case's inspection photos publicly "
                "(re-encoded, no EXIF) until the case is withdrawn",
            ),
            handlers={
                exposure.ExposurePublished.ce_type: exposure_reactions.on_published,
                exposure.ExposureWithdrawn.ce_type: exposure_reactions.on_withdrawn,
            },
        ),
    )
