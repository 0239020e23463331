"""What the inspections routes depend on, built once by the composition root (`bootstrap.compose`)
and handed to routes through FastAPI's `Depends` (`runtime.http.provided`): typed, no string keys,
no lookups in the application state."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from runtime.http import provided
from runtime.scheduler import Clock
from services.inspections.service.campaign_handlers import CampaignTemplates
from services.inspections.service.ports import InspectionsUnitOfWork
from services.inspections.service.rectifications import Rules
from services.inspections.settings import InspectionsSettings


@dataclass(frozen=True)
class InspectionsDeps:
    units: Callable[[], InspectionsUnitOfWork]
    """A new unit of work (one transaction) per call."""
    clock: Clock
    settings: InspectionsSettings
    rules: Rules
    """The working-day calendar and the deadline policy, loaded at startup."""
    campaign_templates: CampaignTemplates


Deps = Annotated[InspectionsDeps, Depends(provided(InspectionsDeps))]
