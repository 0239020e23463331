"""Builders for the notifications service's unit tests: a fake store with a project, endpoints,
events delivered as the consumer hands them over."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered
from schemas import catalog, cloudevents
from schemas.base import Event
from services.notifications.adapters import rule_file
from services.notifications.adapters.memory import MemoryNotificationsUnitOfWork, MemoryStore
from services.notifications.domain import rules
from services.notifications.domain.notices import NewEndpoint, Notice
from services.notifications.service import criticisms
from services.notifications.service.ports import Scope

RULES = Path(__file__).parents[3] / "services" / "notifications" / "data" / "rules.toml"
BOOK = rule_file.load(RULES)
NOW = datetime(2011, 8, 22, 2, 0, tzinfo=UTC)
PROJECT = rules.ProjectFacts("P-120101-0001", "海河花园", "E-0001", "津城物业", "120101", "和平区")


def event(ce_type: str, **fields: Any) -> Event:
    return catalog.EVENT_TYPES[ce_type].model_validate(fields)


def delivered(event: Event, correlation_id: str = "corr-1") -> Delivered[Event]:
    """An event as the consumer hands it over, with its envelope."""
    return Delivered(
        event,
        cloudevents.from_event(event, source="/wuye/test", correlation_id=correlation_id),
    )


def batch(*events: Event) -> Sequence[Delivered[Event]]:
    return [delivered(e, correlation_id=f"corr-{i}") for i, e in enumerate(events)]


def store(*, project: rules.ProjectFacts | None = PROJECT, at: datetime = NOW) -> MemoryStore:
    found = MemoryStore(FixedClock(at))
    if project is not None:
        found.tables.projects[project.project_id] = project
    return found


def unit(on: MemoryStore) -> MemoryNotificationsUnitOfWork:
    return on.unit()


async def endpoint(
    on: MemoryStore,
    recipient_kind: str,
    recipient_id: str,
    channel: str = "email",
    address: str | None = None,
    *,
    owner: str | None = "E-0001",
    endpoint_id: str | None = None,
) -> str:
    endpoint_id = endpoint_id or f"ep-{recipient_kind}-{recipient_id}-{channel}"
    await on.unit().endpoints.add(
        NewEndpoint(
            endpoint_id=endpoint_id,
            recipient_kind=recipient_kind,
            recipient_id=recipient_id,
            channel=channel,
            address=address or f"{recipient_id}@example.cn",
            created_by="tester",
            owner_enterprise_id=owner,
        )
    )
    return endpoint_id


async def sign_off_all(on: MemoryStore, at: datetime | None = None) -> list[Notice]:
    """Every pending criticism draft signed off by its district office (oldest first)."""
    signed = []
    pending = await on.unit().drafts.listed(Scope("city", None), status="draft", limit=1000)
    for d in pending:
        units = on.unit(FixedClock(at)) if at is not None else on.unit()
        signed.append(
            await criticisms.sign_off(
                units, BOOK, d.draft_id, district_code=d.district_code or "", by="officer-1"
            )
        )
    return signed
