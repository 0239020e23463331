"""What the complaints routes depend on, built once at startup by `bootstrap.compose`: a unit of
work per call, the clock, the typed settings and the rules loaded from the data files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from runtime.http import provided
from runtime.scheduler import Clock
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.service.ports import ComplaintsUnitOfWork
from services.complaints.settings import ComplaintsSettings


@dataclass(frozen=True)
class ComplaintsDeps:
    units: Callable[[], ComplaintsUnitOfWork]  # a new unit of work (one transaction) per call
    clock: Clock
    settings: ComplaintsSettings
    rules: ComplaintRules  # categories, SLA policy, working-day calendar
    session_key: bytes  # signs the owners' pages' CSRF tokens (entrypoints/csrf.py)


Deps = Annotated[ComplaintsDeps, Depends(provided(ComplaintsDeps))]
