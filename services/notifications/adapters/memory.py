"""In-memory fakes of every port of the service layer (`service/ports.py`), for fast unit tests.

One `MemoryStore` plays the database: units of work made on it share its tables, as units on one
pool share PostgreSQL. A unit entered with `async with` and left without `commit` puts the tables
back as they were when it was entered, and a savepoint left with an exception undoes what it
wrote — the transactions the service relies on. The database's wall clock (`now()` in SQL) is the
store's clock.

Stays whole: one fake per port, each mirroring its asyncpg twin in `postgres.py` over the same
tables, and all of them changed when a port changes; one repository suite runs against both
(tests/integration/test_notification_repositories.py).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from runtime.fakes import MemoryUnitOfWork, Written
from runtime.scheduler import Clock, FixedClock
from services.notifications.domain import rules
from services.notifications.domain.notices import (
    Claimed,
    Content,
    Copy,
    Delivery,
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
from services.notifications.service import ports
from services.notifications.service.ports import Row, Scope

SOURCE = "/wuye/notifications"


@dataclass
class StoredCopy:
    copy: Copy
    created_at: datetime
    read_at: datetime | None = None


@dataclass
class StoredDelivery:
    delivery: Delivery
    created_at: datetime
    next_attempt_at: datetime
    status: str = "pending"
    attempts: int = 0
    lease_until: datetime | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    failed_at: datetime | None = None


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    attempt_no: int
    started_at: datetime
    finished_at: datetime
    outcome: Outcome
    detail: str


@dataclass
class StoredEndpoint:
    endpoint: NewEndpoint
    created_at: datetime
    disabled_at: datetime | None = None


@dataclass
class StoredStep:
    step: LadderStep
    status: str = "pending"
    settled_at: datetime | None = None
    settled_by: str | None = None


@dataclass
class Tables:
    projects: dict[str, ProjectFacts] = field(default_factory=dict)
    notices: dict[str, Notice] = field(default_factory=dict)
    copies: dict[str, StoredCopy] = field(default_factory=dict)
    deliveries: dict[str, StoredDelivery] = field(default_factory=dict)
    attempts: dict[tuple[str, int], Attempt] = field(default_factory=dict)
    endpoints: dict[str, StoredEndpoint] = field(default_factory=dict)
    escalations: dict[str, StoredStep] = field(default_factory=dict)
    numbers: dict[tuple[str, int], int] = field(default_factory=dict)
    drafts: dict[str, Draft] = field(default_factory=dict)
    wake_ups: int = 0  # NOTIFY wuye_deliveries


class MemoryStore:
    """The fake database: its tables, its wall clock, and every event committed through it."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock: Clock = clock or FixedClock(datetime.fromisoformat("2026-03-02T09:00:00+08:00"))
        self.tables = Tables()
        self.published: list[Written] = []

    def now(self) -> datetime:
        return self.clock.now()

    def unit(self, clock: Clock | None = None) -> MemoryNotificationsUnitOfWork:
        return MemoryNotificationsUnitOfWork(self, clock or self.clock)


class _Repository:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    @property
    def _t(self) -> Tables:
        return self._store.tables


class MemoryProjects(_Repository):
    async def facts(self, project_id: str) -> ProjectFacts | None:
        return self._t.projects.get(project_id)

    async def enterprises(self) -> list[str]:
        return sorted({p.enterprise_id for p in self._t.projects.values()})


class MemoryNotices(_Repository):
    async def existing(self, notice_ids: Sequence[str]) -> set[str]:
        return {n for n in notice_ids if n in self._t.notices}

    async def next_number(self, district_code: str, year: int) -> int:
        seq = self._t.numbers.get((district_code, year), 0) + 1
        self._t.numbers[(district_code, year)] = seq
        return seq

    async def add(self, notices: Sequence[Notice]) -> None:
        now = self._store.now()
        for n in notices:
            if n.notice_id in self._t.notices:
                raise ValueError(f"duplicate notice {n.notice_id}")
            self._t.notices[n.notice_id] = n
            for c in n.copies:
                self._t.copies[c.copy_id] = StoredCopy(c, created_at=now)
            for d in n.deliveries:
                self._t.deliveries[d.delivery_id] = StoredDelivery(
                    d, created_at=now, next_attempt_at=now
                )
        if any(n.deliveries for n in notices):
            self._t.wake_ups += 1


class MemoryDrafts(_Repository):
    async def existing(self, draft_ids: Sequence[str]) -> set[str]:
        return {d for d in draft_ids if d in self._t.drafts}

    async def add(self, draft: Draft) -> None:
        if draft.draft_id in self._t.drafts:
            raise ValueError(f"duplicate draft {draft.draft_id}")  # the primary key
        self._t.drafts[draft.draft_id] = draft

    async def get(self, draft_id: str, *, lock: bool = False) -> Draft | None:
        return self._t.drafts.get(draft_id)

    async def decided(self, draft: Draft) -> None:
        self._t.drafts[draft.draft_id] = draft

    async def listed(self, scope: Scope, *, status: DraftStatus, limit: int) -> list[Draft]:
        found = [
            d
            for d in self._t.drafts.values()
            if d.status == status and (scope.level != "district" or d.district_code == scope.id)
        ]
        found.sort(key=lambda d: (d.drafted_at, d.draft_id))
        return found[:limit]


def _owned(stored: StoredEndpoint, scope: Scope) -> bool:
    e = stored.endpoint
    if scope.level == "city":
        return e.recipient_kind == "city"
    if scope.level == "district":
        return e.recipient_kind == "district" and e.recipient_id == scope.id
    return (e.recipient_kind == "enterprise" and e.recipient_id == scope.id) or (
        e.recipient_kind == "manager" and e.owner_enterprise_id == scope.id
    )


def _registered(stored: StoredEndpoint) -> RegisteredEndpoint:
    e = stored.endpoint
    return RegisteredEndpoint(
        e.endpoint_id, e.recipient_kind, e.recipient_id, e.channel, e.address, stored.created_at
    )


class MemoryEndpoints(_Repository):
    async def reaching(
        self, recipient_kind: str, recipient_id: str, enterprise_id: str | None
    ) -> list[Endpoint]:
        found = [
            s.endpoint
            for s in self._t.endpoints.values()
            if s.disabled_at is None
            and s.endpoint.recipient_kind == recipient_kind
            and s.endpoint.recipient_id == recipient_id
            and (recipient_kind != "manager" or s.endpoint.owner_enterprise_id == enterprise_id)
        ]
        return [
            Endpoint(e.endpoint_id, e.channel, e.address)
            for e in sorted(found, key=lambda e: e.endpoint_id)
        ]

    async def add(self, endpoint: NewEndpoint) -> RegisteredEndpoint | None:
        key = (endpoint.recipient_kind, endpoint.recipient_id, endpoint.channel, endpoint.address)
        for s in self._t.endpoints.values():
            e = s.endpoint
            if (
                s.disabled_at is None
                and (
                    e.recipient_kind,
                    e.recipient_id,
                    e.channel,
                    e.address,
                )
                == key
            ):
                return None
        stored = StoredEndpoint(endpoint, created_at=self._store.now())
        self._t.endpoints[endpoint.endpoint_id] = stored
        return _registered(stored)

    async def active(self, scope: Scope) -> list[RegisteredEndpoint]:
        found = [
            s for s in self._t.endpoints.values() if s.disabled_at is None and _owned(s, scope)
        ]
        return [_registered(s) for s in sorted(found, key=lambda s: s.created_at)]

    async def disable(self, endpoint_id: str, scope: Scope) -> bool:
        stored = self._t.endpoints.get(endpoint_id)
        if stored is None or stored.disabled_at is not None or not _owned(stored, scope):
            return False
        stored.disabled_at = self._store.now()
        return True


class MemoryEscalations(_Repository):
    async def schedule(self, step: LadderStep) -> None:
        self._t.escalations.setdefault(step.escalation_id, StoredStep(step))

    async def cancel(
        self, subject_kind: str, subject_id: str, *, rule_id: str | None, at: datetime, by: str
    ) -> int:
        cancelled = 0
        for s in self._t.escalations.values():
            if (
                s.status == "pending"
                and s.step.subject_kind == subject_kind
                and s.step.subject_id == subject_id
                and (rule_id is None or s.step.rule_id == rule_id)
            ):
                s.status, s.settled_at, s.settled_by = "cancelled", at, by
                cancelled += 1
        return cancelled

    async def claim_due(self, now: datetime) -> LadderStep | None:
        due = [
            s
            for s in self._t.escalations.values()
            if s.status == "pending" and s.step.due_at <= now
        ]
        if not due:
            return None
        first = min(due, key=lambda s: s.step.due_at)
        first.status, first.settled_at = "issued", now
        return first.step

    async def settled_by(self, escalation_id: str, notice_id: str | None) -> None:
        self._t.escalations[escalation_id].settled_by = notice_id

    async def failed(self, escalation_id: str, reason: str) -> None:
        stored = self._t.escalations[escalation_id]
        stored.status, stored.settled_by = "failed", reason


class MemoryDeliveries(_Repository):
    async def claim(self, limit: int, lease_s: float) -> list[Claimed]:
        now = self._store.now()
        due = sorted(
            (
                s
                for s in self._t.deliveries.values()
                if s.status in ("pending", "sending") and s.next_attempt_at <= now
            ),
            key=lambda s: s.next_attempt_at,
        )[:limit]
        claimed = []
        for s in due:
            endpoint = self._t.endpoints.get(s.delivery.endpoint_id)
            if endpoint is None:
                continue
            s.status, s.attempts = "sending", s.attempts + 1
            s.lease_until = s.next_attempt_at = now + timedelta(seconds=lease_s)
            d = s.delivery
            claimed.append(
                Claimed(
                    d.delivery_id,
                    d.copy_id,
                    d.notice_id,
                    d.endpoint_id,
                    d.channel,
                    d.address,
                    s.attempts,
                    endpoint.disabled_at is not None,
                    now,
                )
            )
        return claimed

    async def content(self, copy_id: str) -> Content | None:
        stored = self._t.copies.get(copy_id)
        if stored is None:
            return None
        n = self._t.notices[stored.copy.notice_id]
        c = stored.copy
        return Content(
            n.notice_id,
            n.kind,
            n.rule_id,
            n.reason,
            n.notice_no,
            n.subject_kind,
            n.subject_id,
            n.project_id,
            n.enterprise_id,
            n.district_code,
            n.title_zh,
            n.body_zh,
            n.title_en,
            n.body_en,
            n.issued_at,
            n.correlation_id,
            n.cause_event_id,
            c.recipient_kind,
            c.recipient_id,
            c.cc,
        )

    def _held(self, delivery: Claimed) -> StoredDelivery | None:
        s = self._t.deliveries.get(delivery.delivery_id)
        if s is None or s.status != "sending" or s.attempts != delivery.attempts:
            return None
        return s

    async def wait(self, delivery: Claimed, retry_s: float) -> None:
        s = self._held(delivery)
        if s is not None:
            s.status, s.attempts, s.lease_until = "pending", s.attempts - 1, None
            s.last_error = "channel not configured"
            s.next_attempt_at = self._store.now() + timedelta(seconds=retry_s)

    async def delivered(self, delivery: Claimed) -> datetime | None:
        s = self._held(delivery)
        if s is None:
            return None
        s.status, s.delivered_at, s.lease_until, s.last_error = (
            "delivered",
            self._store.now(),
            None,
            None,
        )
        return s.delivered_at

    async def failed(self, delivery: Claimed, detail: str) -> datetime | None:
        s = self._held(delivery)
        if s is None:
            return None
        s.status, s.failed_at, s.lease_until, s.last_error = (
            "failed",
            self._store.now(),
            None,
            detail,
        )
        return s.failed_at

    async def retry(self, delivery: Claimed, detail: str, delay_s: float) -> datetime | None:
        s = self._held(delivery)
        if s is None:
            return None
        s.status, s.lease_until, s.last_error = "pending", None, detail
        s.next_attempt_at = self._store.now() + timedelta(seconds=delay_s)
        return s.next_attempt_at

    async def attempted(self, delivery: Claimed, outcome: Outcome, detail: str) -> None:
        key = (delivery.delivery_id, delivery.attempts)
        self._t.attempts.setdefault(
            key,
            Attempt(
                delivery.delivery_id,
                delivery.attempts,
                delivery.started_at,
                self._store.now(),
                outcome,
                detail,
            ),
        )


_NOTICE = [
    "notice_id",
    "rule_id",
    "kind",
    "reason",
    "notice_no",
    "subject_kind",
    "subject_id",
    "project_id",
    "enterprise_id",
    "district_code",
    "title_zh",
    "body_zh",
    "title_en",
    "body_en",
    "cause_event_id",
    "cause_type",
    "correlation_id",
    "issued_at",
]
_INBOX = [
    "notice_id",
    "kind",
    "reason",
    "notice_no",
    "subject_kind",
    "subject_id",
    "project_id",
    "enterprise_id",
    "district_code",
    "title_zh",
    "body_zh",
    "title_en",
    "body_en",
    "issued_at",
    "correlation_id",
]
_CRITICISM = [
    "notice_id",
    "notice_no",
    "reason",
    "subject_kind",
    "subject_id",
    "project_id",
    "enterprise_id",
    "district_code",
    "title_zh",
    "title_en",
    "issued_at",
]


def _pick(notice: Notice, names: list[str]) -> Row:
    return {name: getattr(notice, name) for name in names}


class MemoryInbox(_Repository):
    async def copies(
        self,
        recipient: tuple[str, str],
        *,
        kind: str | None,
        unread: bool,
        project_id: str | None,
        limit: int,
    ) -> list[Row]:
        found = []
        for s in self._t.copies.values():
            n = self._t.notices[s.copy.notice_id]
            if (
                (s.copy.recipient_kind, s.copy.recipient_id) == recipient
                and (kind is None or n.kind == kind)
                and (not unread or s.read_at is None)
                and (project_id is None or n.project_id == project_id)
            ):
                found.append((s, n))
        found.sort(key=lambda sn: sn[1].notice_id)
        found.sort(key=lambda sn: sn[0].created_at, reverse=True)
        return [
            {**_pick(n, _INBOX), "cc": s.copy.cc, "read_at": s.read_at} for s, n in found[:limit]
        ]

    async def mark_read(self, notice_id: str, recipient: tuple[str, str]) -> datetime | None:
        for s in self._t.copies.values():
            if (
                s.copy.notice_id == notice_id
                and (s.copy.recipient_kind, s.copy.recipient_id) == recipient
            ):
                s.read_at = s.read_at or self._store.now()
                return s.read_at
        return None

    async def notice(self, notice_id: str) -> Row | None:
        n = self._t.notices.get(notice_id)
        return _pick(n, _NOTICE) if n is not None else None

    async def recipients(self, notice_id: str) -> list[Row]:
        found = [s for s in self._t.copies.values() if s.copy.notice_id == notice_id]
        found.sort(key=lambda s: (s.copy.cc, s.copy.recipient_kind))
        return [
            {
                "copy_id": s.copy.copy_id,
                "recipient_kind": s.copy.recipient_kind,
                "recipient_id": s.copy.recipient_id,
                "cc": s.copy.cc,
                "read_at": s.read_at,
                "created_at": s.created_at,
            }
            for s in found
        ]

    async def deliveries(self, notice_id: str) -> list[Row]:
        found = [s for s in self._t.deliveries.values() if s.delivery.notice_id == notice_id]
        found.sort(key=lambda s: s.created_at)
        rows = []
        for s in found:
            d = s.delivery
            log = sorted(
                (a for a in self._t.attempts.values() if a.delivery_id == d.delivery_id),
                key=lambda a: a.attempt_no,
            )
            rows.append(
                {
                    "delivery_id": d.delivery_id,
                    "copy_id": d.copy_id,
                    "channel": d.channel,
                    "address": d.address,
                    "status": s.status,
                    "attempts": s.attempts,
                    "last_error": s.last_error,
                    "delivered_at": s.delivered_at,
                    "failed_at": s.failed_at,
                    "created_at": s.created_at,
                    "attempts_log": [
                        {
                            "attempt": a.attempt_no,
                            "started_at": a.started_at.isoformat(),
                            "finished_at": a.finished_at.isoformat(),
                            "outcome": a.outcome,
                            "detail": a.detail,
                        }
                        for a in log
                    ],
                }
            )
        return rows

    async def criticisms(self, scope: Scope, *, year: int | None, limit: int) -> list[Row]:
        found = []
        for n in self._t.notices.values():
            if n.kind != "criticism":
                continue
            if scope.level == "district" and n.district_code != scope.id:
                continue
            if scope.level == "enterprise" and n.enterprise_id != scope.id:
                continue
            if year is not None and rules.in_china(n.issued_at).year != year:
                continue
            found.append(n)
        found.sort(key=lambda n: n.notice_no or "")
        found.sort(key=lambda n: n.issued_at, reverse=True)
        return [_pick(n, _CRITICISM) for n in found[:limit]]


class MemoryNotificationsUnitOfWork(MemoryUnitOfWork):
    projects: ports.Projects
    notices: ports.Notices
    drafts: ports.Drafts
    endpoints: ports.Endpoints
    escalations: ports.Escalations
    deliveries: ports.Deliveries
    inbox: ports.Inbox

    def __init__(self, store: MemoryStore, clock: Clock | None = None) -> None:
        super().__init__(clock or store.clock, source=SOURCE)
        self.store = store
        self.projects = MemoryProjects(store)
        self.notices = MemoryNotices(store)
        self.drafts = MemoryDrafts(store)
        self.endpoints = MemoryEndpoints(store)
        self.escalations = MemoryEscalations(store)
        self.deliveries = MemoryDeliveries(store)
        self.inbox = MemoryInbox(store)
        self._entered: Tables | None = None
        self._committed = False

    async def __aenter__(self) -> Self:
        self._entered = copy.deepcopy(self.store.tables)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._entered is not None and not self._committed:
            self.store.tables = self._entered  # rolled back
        await super().__aexit__(exc_type, exc, tb)

    async def commit(self) -> None:
        self.store.published.extend(self.outbox.pending)
        await super().commit()
        self._committed = True

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        tables = copy.deepcopy(self.store.tables)
        pending = len(self.outbox.pending)
        try:
            yield
        except BaseException:
            self.store.tables = tables
            del self.outbox.pending[pending:]
            raise
