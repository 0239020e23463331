"""Everything the complaints service reacts to: its consumer groups, their topics and, per event
type, the handler. Written out here (not computed), so a reader sees it all in one place; the
AsyncAPI document and the Kubernetes ACLs are generated from these lists.

Topic names come from the event contracts (`<Event>.topic`; `schemas.topics` has no per-topic
constants), never string literals.
"""

from __future__ import annotations

from runtime.registry_copy import RegistryCopy
from runtime.service import ConsumerSpec
from runtime.subscriptions import Subscription
from schemas.campaigns import v1 as campaigns
from schemas.registry import v1 as registry
from services.complaints.service import survey_handling

# The local project table (district, enterprise) intake reads its scope from.
PROJECT_COPY = RegistryCopy("complaint_projects", touch=("updated_at",))
_keep_project = PROJECT_COPY.handlers()

REGISTRY = ConsumerSpec(
    Subscription(
        group="complaints.registry",
        topics=(registry.ProjectRegistered.topic,),
        description="Keep the local project table (district, enterprise) for intake",
    ),
    handlers={
        registry.ProjectRegistered.ce_type: _keep_project[registry.ProjectRegistered.ce_type],
        registry.ProjectUpdated.ce_type: _keep_project[registry.ProjectUpdated.ce_type],
    },
)

CAMPAIGNS = ConsumerSpec(
    Subscription(
        group="complaints.campaigns",
        topics=(campaigns.CampaignPhaseStarted.topic,),
        description="Keep the campaigns' implementation phases for satisfaction surveys",
    ),
    handlers={
        campaigns.CampaignPhaseStarted.ce_type: survey_handling.on_phase_started,
    },
)

CONSUMERS = (REGISTRY, CAMPAIGNS)
