"""Everything the notifications service reacts to: its consumer groups, their topics and, per event
type, the handler. Written out (not computed from the catalog or the rule book); at startup the
rule book's event types are checked against this list (`check_rule_book`): a rule about an event
nobody subscribes to, or a subscription no rule uses, stops the service with the difference.
"""

from __future__ import annotations

from collections.abc import Sequence

from runtime.registry_copy import RegistryCopy
from runtime.service import ConsumerSpec
from runtime.subscriptions import Subscription
from schemas import catalog, topics
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.exposure import v1 as exposure
from schemas.inspections import v1 as inspections
from schemas.surveys import v1 as surveys
from services.notifications.domain.rules import RuleBook, RuleError
from services.notifications.service import issuing

# Topic names: the event contracts' own (each event class names the topic it travels on).
REGISTRY = Subscription(
    group="notifications.registry",
    topics=(topics.REGISTRY_PROJECTS,),
    description="Keep the registry copy: who runs and supervises each project",
)
INSPECTIONS = Subscription(
    group="notifications.inspections",
    topics=(topics.INSPECTIONS_EVENTS,),
    description=(
        "Notices on failed inspections; rectification reminders and criticisms; missed "
        "statutory service intervals"
    ),
)
COMPLAINTS = Subscription(
    group="notifications.complaints",
    topics=(topics.COMPLAINTS_EVENTS,),
    description=(
        "Receipts to owners; new complaints, warnings, escalations, extensions; overdue "
        "complaint reminders and criticisms"
    ),
)
CAMPAIGNS = Subscription(
    group="notifications.campaigns",
    topics=(topics.CAMPAIGNS_EVENTS,),
    description="Campaign phases to the enterprises; reminders for activity plans not submitted",
)
SURVEYS = Subscription(
    group="notifications.surveys",
    topics=(topics.SURVEYS_EVENTS,),
    description="Surveys opened; reminders for satisfaction surveys not run",
)
EXPOSURE = Subscription(
    group="notifications.exposure",
    topics=(topics.EXPOSURE_EVENTS,),
    description="Exposure cases opened and entering review, to the enterprise and the district",
)


def consumers(book: RuleBook) -> tuple[ConsumerSpec, ...]:
    """The consumer groups; `notices` (issuing.notices_for) issues what the rules say and cancels
    the ladders an event resolves."""
    notices = issuing.notices_for(book)
    return (
        ConsumerSpec(REGISTRY, handlers=RegistryCopy("projects").handlers()),
        ConsumerSpec(
            INSPECTIONS,
            handlers={
                inspections.InspectionFailed.ce_type: notices,
                inspections.PatrolScheduled.ce_type: notices,
                inspections.RectificationOverdue.ce_type: notices,
                inspections.RectificationRejected.ce_type: notices,
                inspections.RectificationSubmitted.ce_type: notices,  # to verify; cancels a ladder
                inspections.RectificationVerified.ce_type: notices,  # cancels a ladder
                inspections.StatutoryIntervalMissed.ce_type: notices,
            },
        ),
        ConsumerSpec(
            COMPLAINTS,
            handlers={
                complaints.ComplaintFiled.ce_type: notices,
                complaints.ComplaintOverdue.ce_type: notices,
                complaints.ComplaintWarning.ce_type: notices,
                complaints.ComplaintTransferred.ce_type: notices,
                complaints.ComplaintAssigned.ce_type: notices,
                complaints.ComplaintExtensionRequested.ce_type: notices,
                complaints.ComplaintExtensionDecided.ce_type: notices,
                complaints.ComplaintAccepted.ce_type: notices,  # cancels a ladder
                complaints.ComplaintReplied.ce_type: notices,  # cancels a ladder
                complaints.ComplaintClosed.ce_type: notices,  # cancels a ladder
            },
        ),
        ConsumerSpec(
            CAMPAIGNS,
            handlers={
                campaigns.CampaignPhaseStarted.ce_type: notices,
                campaigns.PlanOverdue.ce_type: notices,
            },
        ),
        ConsumerSpec(
            SURVEYS,
            handlers={
                surveys.SurveyOpened.ce_type: notices,
                surveys.SurveyMissing.ce_type: notices,
            },
        ),
        ConsumerSpec(
            EXPOSURE,
            handlers={
                exposure.ExposureCaseOpened.ce_type: notices,
                exposure.ExposureEvidenceAdded.ce_type: notices,
            },
        ),
    )


def check_rule_book(book: RuleBook, listed: Sequence[ConsumerSpec]) -> None:
    """The rule book and the subscriptions name the same event types, each on its own topic;
    RuleError (stopping the service at start) with the difference otherwise."""
    subscribed: dict[str, Subscription] = {
        ce_type: spec.subscription
        for spec in listed
        if spec.subscription is not REGISTRY
        for ce_type in spec.handlers
    }
    wanted = book.event_types()
    problems = []
    unheard = sorted(wanted - subscribed.keys())
    if unheard:
        problems.append(f"rules react to events no subscription lists: {', '.join(unheard)}")
    unused = sorted(subscribed.keys() - wanted)
    if unused:
        problems.append(f"subscriptions to events no rule uses: {', '.join(unused)}")
    for ce_type, subscription in sorted(subscribed.items()):
        event_type = catalog.EVENT_TYPES.get(ce_type)
        if event_type is None or event_type.topic not in subscription.topics:
            problems.append(f"{ce_type} does not travel on {', '.join(subscription.topics)}")
    if problems:
        raise RuleError(
            "the rule book and services/notifications/subscriptions.py disagree: "
            + "; ".join(problems)
        )
