"""Everything the exposure service reacts to: per consumer group, its topic and, per event type,
the handlers that run — first the projections (facts, evidence, the registry copy, exposure events
applied), then the decisions (cases opened, evidence added, rectified), in the consumer's one
transaction. A replay (rebuild.py) runs the projections only: no decision is taken again."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runtime.consumer import AnyHandler
from runtime.registry_copy import RegistryCopy
from runtime.service import ConsumerSpec
from runtime.subscriptions import Subscription
from runtime.unit_of_work import BatchHandler, Delivered
from schemas import topics
from schemas.base import Event
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.exposure import v1 as exposure
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.registry import v1 as registry
from schemas.surveys import v1 as surveys
from services.exposure.service import cases as case_handlers
from services.exposure.service import facts

REGISTRY_COPY = RegistryCopy("projects").handlers()


@dataclass(frozen=True)
class Group:
    """One consumer group: its topic and, by event type, its projections and decisions."""

    name: str
    topic: str
    description: str
    projections: Mapping[str, Sequence[BatchHandler[Any]]]
    decisions: Mapping[str, BatchHandler[Any]] = field(default_factory=dict)

    def subscription(self) -> Subscription:
        return Subscription(group=self.name, topics=(self.topic,), description=self.description)

    def live(self) -> dict[str, AnyHandler]:
        """What the live consumer runs: the projections, then the decisions."""
        types = [*self.projections, *(t for t in self.decisions if t not in self.projections)]
        return {
            t: _in_turn([*self.projections.get(t, ()), *_one(self.decisions.get(t))]) for t in types
        }

    def replay(self) -> dict[str, AnyHandler]:
        """What a rebuild runs: the projections alone."""
        return {t: _in_turn(list(steps)) for t, steps in self.projections.items()}

    def consumer(self) -> ConsumerSpec:
        return ConsumerSpec(self.subscription(), handlers=self.live())


def _one(handler: BatchHandler[Any] | None) -> list[BatchHandler[Any]]:
    return [] if handler is None else [handler]


def _in_turn(steps: list[BatchHandler[Any]]) -> AnyHandler:
    if len(steps) == 1:
        return steps[0]

    async def handle(uow: Any, batch: Sequence[Delivered[Event]]) -> None:
        for step in steps:
            await step(uow, batch)

    handle.__name__ = "_then_".join(getattr(s, "__name__", "handler") for s in steps)
    return handle


GROUPS: tuple[Group, ...] = (
    Group(
        "exposure.registry",
        topics.REGISTRY_PROJECTS,
        "Registry copy: project, enterprise and district names for the board",
        projections={
            registry.ProjectRegistered.ce_type: (
                REGISTRY_COPY[registry.ProjectRegistered.ce_type],
            ),
            registry.ProjectUpdated.ce_type: (REGISTRY_COPY[registry.ProjectUpdated.ce_type],),
        },
    ),
    Group(
        "exposure.inspections",
        topics.INSPECTIONS_EVENTS,
        "Evidence and grades from inspections; cases from overdue or inadequate "
        "rectification; rectified cases",
        projections={
            inspections.InspectionFailed.ce_type: (facts.record_evidence,),
            inspections.InspectionCompleted.ce_type: (facts.record_inspections,),
            inspections.RectificationOrdered.ce_type: (facts.record_orders,),
            inspections.RectificationVerified.ce_type: (facts.record_verifications,),
            inspections.RectificationOverdue.ce_type: (facts.record_overdue_orders,),
            inspections.RectificationRejected.ce_type: (facts.record_inadequate_orders,),
            campaigns.ActivityHeld.ce_type: (facts.record_activities,),
        },
        decisions={
            inspections.RectificationOverdue.ce_type: case_handlers.open_or_raise,
            inspections.RectificationRejected.ce_type: case_handlers.open_or_raise,
            inspections.RectificationVerified.ce_type: case_handlers.verified,
        },
    ),
    Group(
        "exposure.complaints",
        topics.COMPLAINTS_EVENTS,
        "Complaint handling for grades and statistics (ids and times only)",
        projections={
            complaints.ComplaintFiled.ce_type: (facts.record_complaints,),
            complaints.ComplaintOverdue.ce_type: (facts.record_overdue_complaints,),
            complaints.ComplaintAccepted.ce_type: (facts.record_accepted_complaints,),
            complaints.ComplaintClosed.ce_type: (facts.record_closed_complaints,),
        },
    ),
    Group(
        "exposure.surveys",
        topics.SURVEYS_EVENTS,
        "Satisfaction survey results for grades and statistics",
        projections={surveys.SurveyClosed.ce_type: (facts.record_surveys,)},
    ),
    Group(
        "exposure.notifications",
        topics.NOTIFICATIONS_EVENTS,
        "Criticism notices (通报批评) complete a case's evidence",
        projections={notifications.NoticeIssued.ce_type: (facts.record_criticisms,)},
        decisions={notifications.NoticeIssued.ce_type: case_handlers.criticism},
    ),
    Group(
        "exposure.campaigns",
        topics.CAMPAIGNS_EVENTS,
        "Campaigns and activity plans submitted, for the city office's table (plans vs due)",
        projections={
            campaigns.CampaignPhaseStarted.ce_type: (facts.record_campaign_phases,),
            campaigns.PlanSubmitted.ce_type: (facts.record_plans,),
        },
    ),
    Group(
        "exposure.draws",
        topics.DRAWS_EVENTS,
        "Random patrol draws (双随机), published on the board's /draws page",
        projections={inspections.PatrolsDrawn.ce_type: (facts.record_draws,)},
    ),
    Group(
        "exposure.board",
        topics.EXPOSURE_EVENTS,
        "The board applies exposure events it did not emit itself (replays, other regions)",
        projections={
            exposure.ExposureCaseOpened.ce_type: (case_handlers.apply_from_topic,),
            exposure.ExposureEvidenceAdded.ce_type: (case_handlers.apply_from_topic,),
            exposure.ExposureReviewed.ce_type: (case_handlers.apply_from_topic,),
            exposure.ExposurePublished.ce_type: (case_handlers.apply_from_topic,),
            exposure.ExposureRectified.ce_type: (case_handlers.apply_from_topic,),
            exposure.ExposureWithdrawn.ce_type: (case_handlers.apply_from_topic,),
            exposure.ObjectionFiled.ce_type: (case_handlers.apply_from_topic,),
            exposure.ObjectionDecided.ce_type: (case_handlers.apply_from_topic,),
        },
    ),
)

TOPICS: tuple[str, ...] = tuple(g.topic for g in GROUPS)
"""Every topic the service folds, in the order a rebuild replays them."""


def replay_handlers(topic: str) -> dict[str, AnyHandler]:
    """What a rebuild applies from `topic`: the projections of its group, no decisions."""
    return next(g.replay() for g in GROUPS if g.topic == topic)
