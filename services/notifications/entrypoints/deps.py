"""What the routes depend on, built once by the composition root (`bootstrap.compose`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from runtime.http import provided
from runtime.scheduler import Clock
from services.notifications.adapters.channels import Destinations
from services.notifications.domain.rules import RuleBook
from services.notifications.service.ports import NotificationsUnitOfWork
from services.notifications.settings import NotificationsSettings


@dataclass(frozen=True)
class NotificationsDeps:
    units: Callable[[], NotificationsUnitOfWork]  # a new unit of work per call
    clock: Clock
    settings: NotificationsSettings
    book: RuleBook
    webhook_signing_key: bytes  # empty: webhooks can be neither registered nor sent
    webhook_destinations: Destinations  # where webhooks may point (checked at registration)


Deps = Annotated[NotificationsDeps, Depends(provided(NotificationsDeps))]
