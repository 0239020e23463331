"""Everything the complaints service reacts to: its consumer groups, their topics and, per event
type, the handler. Written out here (not computed), so a reader sees it all in one place; the
AsyncAPI document and the Kubernetes ACLs are generated from these lists.

Topics are named by their `schemas.topics` constants, never string literals.
"""

from __future__ import annotations

from runtime.registry_copy import RegistryCopy
from runtime.service import ConsumerSpec
from runtime.subscriptions import Subscription
from schemas import topics
from schemas.campaigns import v1 as campaigns
from schemas.registry import v1 as registry
from services.complaints.service import survey_handling

# The local project table (district, enterprise) intake reads its scope from.
PROJECT_COPY = RegistryCopy("complaint_projects", touch=("updated_at",), located=True)
_keep_project = PROJECT_COPY.handlers()

REGISTRY = ConsumerSpec(
    Subscription(
        group="complaints.registry",
        topics=(topics.REGISTRY_PROJECTS,),
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
        topics=(topics.CAMPAIGNS_EVENTS,),
        description="Keep the campaigns' implementation phases for satisfaction surveys",
    ),
    handlers={
        campaigns.CampaignPhaseStarted.ce_type: survey_handling.on_phase_started,
    },
)

CONSUMERS = (REGISTRY, CAMPAIGNS)
