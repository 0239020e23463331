"""What the service layer needs from storage and from the delivery channels, as Protocols: the
asyncpg adapters (`adapters/postgres.py`) and the in-memory fakes (`adapters/memory.py`) both
implement them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from runtime.unit_of_work import UnitOfWork
from services.notifications.domain import destinations
from services.notifications.domain.notices import (
    Claimed,
    Content,
    DeliveryResult,
    Draft,
    DraftStatus,
    Endpoint,
    LadderStep,
    NewEndpoint,
    Notice,
    Outcome,
    RegisteredEndpoint,
)
from services.notifications.domain.rules import ProjectFacts

Row = dict[str, Any]  # a read model row for the HTTP pages, rendered as it comes


class Projects(Protocol):
    """The registry copy (kept by `runtime.registry_copy`)."""

    async def facts(self, project_id: str) -> ProjectFacts | None: ...

    async def enterprises(self) -> list[str]:
        """Every enterprise running a project in the registry copy, in id order."""
        ...


class Notices(Protocol):
    async def existing(self, notice_ids: Sequence[str]) -> set[str]:
        """Which of these notices were issued already."""
        ...

    async def next_number(self, district_code: str, year: int) -> int:
        """The next criticism number of a district and year, without gaps."""
        ...

    async def add(self, notices: Sequence[Notice]) -> None:
        """Record notices with their copies and deliveries (and wake the delivery workers when
        there is something to send)."""
        ...


class Drafts(Protocol):
    """Criticism drafts waiting for (or past) the district office's decision."""

    async def existing(self, draft_ids: Sequence[str]) -> set[str]: ...

    async def add(self, draft: Draft) -> None: ...

    async def get(self, draft_id: str, *, lock: bool = False) -> Draft | None:
        """`lock`: hold the row until the transaction ends (a decision takes turns)."""
        ...

    async def decided(self, draft: Draft) -> None:
        """Record the decision (status, when, by whom, the number or the reason)."""
        ...

    async def listed(self, scope: Scope, *, status: DraftStatus, limit: int) -> list[Draft]:
        """Oldest first: the one waiting longest on top."""
        ...


class Endpoints(Protocol):
    async def reaching(
        self, recipient_kind: str, recipient_id: str, enterprise_id: str | None
    ) -> list[Endpoint]:
        """The active endpoints of a recipient; a project manager's only those the project's
        enterprise (`enterprise_id`, today's) registered."""
        ...

    async def add(self, endpoint: NewEndpoint) -> RegisteredEndpoint | None:
        """None when the same active channel and address is registered already."""
        ...

    async def active(self, scope: Scope) -> list[RegisteredEndpoint]: ...

    async def disable(self, endpoint_id: str, scope: Scope) -> bool: ...


@dataclass(frozen=True)
class Scope:
    """What part of the notices an office sees (`entrypoints/policy.py` decides): the city all,
    a district office its district's, an enterprise its own (and its projects' managers')."""

    level: Literal["city", "district", "enterprise"]
    id: str | None  # the district code or enterprise id; None for the city


class Escalations(Protocol):
    async def schedule(self, step: LadderStep) -> None:
        """Add a pending step (once: a second schedule of the same id changes nothing)."""
        ...

    async def cancel(
        self, subject_kind: str, subject_id: str, *, rule_id: str | None, at: datetime, by: str
    ) -> int:
        """Cancel the pending steps about a subject (of one criticism rule, or all of them);
        return how many."""
        ...

    async def claim_due(self, now: datetime) -> LadderStep | None:
        """Mark the earliest due pending step issued and return it; one replica gets each."""
        ...

    async def settled_by(self, escalation_id: str, notice_id: str | None) -> None: ...

    async def failed(self, escalation_id: str, reason: str) -> None: ...


class Deliveries(Protocol):
    async def claim(self, limit: int, lease_s: float) -> list[Claimed]:
        """Lease up to `limit` due deliveries for one attempt each."""
        ...

    async def content(self, copy_id: str) -> Content | None: ...

    async def wait(self, delivery: Claimed, retry_s: float) -> None:
        """The channel is not configured: back to pending, the attempt not counted."""
        ...

    async def delivered(self, delivery: Claimed) -> datetime | None:
        """None when the lease was lost (another worker holds the row)."""
        ...

    async def failed(self, delivery: Claimed, detail: str) -> datetime | None: ...

    async def retry(self, delivery: Claimed, detail: str, delay_s: float) -> datetime | None: ...

    async def attempted(self, delivery: Claimed, outcome: Outcome, detail: str) -> None: ...


class Inbox(Protocol):
    """The pages' reads (and the one write a reader makes: marking a copy read)."""

    async def copies(
        self,
        recipient: tuple[str, str],
        *,
        kind: str | None,
        unread: bool,
        project_id: str | None,
        limit: int,
    ) -> list[Row]: ...

    async def mark_read(self, notice_id: str, recipient: tuple[str, str]) -> datetime | None: ...

    async def notice(self, notice_id: str) -> Row | None: ...

    async def recipients(self, notice_id: str) -> list[Row]: ...

    async def deliveries(self, notice_id: str) -> list[Row]: ...

    async def criticisms(self, scope: Scope, *, year: int | None, limit: int) -> list[Row]: ...


class NotificationsUnitOfWork(UnitOfWork, Protocol):
    projects: Projects
    notices: Notices
    drafts: Drafts
    endpoints: Endpoints
    escalations: Escalations
    deliveries: Deliveries
    inbox: Inbox

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested transaction: leaving it with an exception undoes only what it wrote."""
        ...


class WebhookDestinations(Protocol):
    """Where a webhook host resolves, each address checked (`adapters.channels.Destinations`)."""

    async def resolve(self, host: str, port: int) -> destinations.Address:
        """The address to connect to; DestinationRefused or DestinationUnresolved otherwise."""
        ...


class Sender(Protocol):
    """The delivery channels of one worker pass (e-mail, webhooks)."""

    async def send(self, delivery: Claimed, content: Content) -> DeliveryResult | None:
        """The outcome, or None when the channel is not configured at all."""
        ...

    async def aclose(self) -> None: ...
