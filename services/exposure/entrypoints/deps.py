"""What the exposure routes depend on: one object built by the composition root (bootstrap's
`compose`) and reached through FastAPI's `Depends`, typed."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from runtime.http import provided
from runtime.scheduler import Clock
from services.exposure.domain.cases import Policy
from services.exposure.service.ports import (
    BoardQueries,
    CaseQueries,
    ExposureUnitOfWork,
    FigureQueries,
)
from services.exposure.settings import ExposureSettings


@dataclass(frozen=True)
class ExposureDeps:
    units: Callable[[], ExposureUnitOfWork]
    """A new unit of work (one transaction) per command."""
    case_queries: Callable[[], AbstractAsyncContextManager[CaseQueries]]
    board_queries: Callable[[], AbstractAsyncContextManager[BoardQueries]]
    figure_queries: Callable[[], AbstractAsyncContextManager[FigureQueries]]
    clock: Clock
    settings: ExposureSettings
    policy: Policy  # the publication rules, loaded (and checked) at startup

    @property
    def public_base_url(self) -> str:
        """PUBLIC_BASE_URL without a trailing slash: the feed's links, never the Host header."""
        return self.settings.public_base()


Deps = Annotated[ExposureDeps, Depends(provided(ExposureDeps))]
