"""The service's storage on PostgreSQL: the asyncpg repositories and the unit of work that builds
them on one transaction. All of the service's SQL is here (and in migrations/).

Stays whole (most of it is SQL text): one small repository per port, all of them on the same six
tables, so a schema change (a migration) is followed in one module, not several.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Self

import asyncpg

from runtime import db
from runtime.scheduler import Clock, FixedClock, Job
from runtime.unit_of_work import PgUnitOfWork
from services.notifications.domain.notices import (
    Claimed,
    Content,
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

Units = Callable[[], ports.NotificationsUnitOfWork]

SOURCE = "/wuye/notifications"


class PgProjects:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def facts(self, project_id: str) -> ProjectFacts | None:
        row = await self._conn.fetchrow(
            """SELECT project_id, project_name, enterprise_id, enterprise_name, district_code,
                      district_name FROM projects WHERE project_id = $1""",
            project_id,
        )
        return ProjectFacts(**dict(row)) if row is not None else None

    async def enterprises(self) -> list[str]:
        rows = await self._conn.fetch(
            "SELECT DISTINCT enterprise_id FROM projects ORDER BY enterprise_id"
        )
        return [r["enterprise_id"] for r in rows]


class PgNotices:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def existing(self, notice_ids: Sequence[str]) -> set[str]:
        if not notice_ids:
            return set()
        rows = await self._conn.fetch(
            "SELECT notice_id FROM notices WHERE notice_id = ANY($1::text[])", list(notice_ids)
        )
        return {r["notice_id"] for r in rows}

    async def next_number(self, district_code: str, year: int) -> int:
        seq: int = await self._conn.fetchval(
            """INSERT INTO notice_numbers (district_code, year, last_seq) VALUES ($1, $2, 1)
               ON CONFLICT (district_code, year)
               DO UPDATE SET last_seq = notice_numbers.last_seq + 1
               RETURNING last_seq""",
            district_code,
            year,
        )
        return seq

    async def add(self, notices: Sequence[Notice]) -> None:
        """One statement per table for the whole run of notices."""
        if not notices:
            return
        columns: list[list[Any]] = [[] for _ in range(18)]
        for n in notices:
            for column, value in zip(
                columns,
                (
                    n.notice_id,
                    n.rule_id,
                    n.kind,
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
                    n.cause_event_id,
                    n.cause_type,
                    n.correlation_id,
                    n.issued_at,
                ),
                strict=True,
            ):
                column.append(value)
        await self._conn.execute(
            """INSERT INTO notices (notice_id, rule_id, kind, reason, notice_no, subject_kind,
                      subject_id, project_id, enterprise_id, district_code, title_zh, body_zh,
                      title_en, body_en, cause_event_id, cause_type, correlation_id, issued_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                      $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[],
                      $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
                      $17::text[], $18::timestamptz[])""",
            *columns,
        )
        copies = [c for n in notices for c in n.copies]
        if copies:
            await self._conn.execute(
                """INSERT INTO notice_copies (copy_id, notice_id, recipient_kind, recipient_id, cc)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                        $5::boolean[])""",
                [c.copy_id for c in copies],
                [c.notice_id for c in copies],
                [c.recipient_kind for c in copies],
                [c.recipient_id for c in copies],
                [c.cc for c in copies],
            )
        deliveries = [d for n in notices for d in n.deliveries]
        if deliveries:
            await self._conn.execute(
                """INSERT INTO deliveries (delivery_id, copy_id, notice_id, endpoint_id, channel,
                          address)
                   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                        $5::text[], $6::text[])""",
                [d.delivery_id for d in deliveries],
                [d.copy_id for d in deliveries],
                [d.notice_id for d in deliveries],
                [d.endpoint_id for d in deliveries],
                [d.channel for d in deliveries],
                [d.address for d in deliveries],
            )
            # Workers listening wake at commit instead of at their next poll.
            await self._conn.execute("SELECT pg_notify('wuye_deliveries', '')")


_DRAFT = """draft_id, rule_id, reason, subject_kind, subject_id, project_id, enterprise_id,
    district_code, title_zh, body_zh, cause_event_id, cause_type, cause_payload, correlation_id,
    drafted_at, status, decided_at, decided_by, withdraw_reason, notice_no"""


class PgDrafts:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def existing(self, draft_ids: Sequence[str]) -> set[str]:
        if not draft_ids:
            return set()
        rows = await self._conn.fetch(
            "SELECT draft_id FROM criticism_drafts WHERE draft_id = ANY($1::text[])",
            list(draft_ids),
        )
        return {r["draft_id"] for r in rows}

    async def add(self, draft: Draft) -> None:
        await self._conn.execute(
            f"""INSERT INTO criticism_drafts ({_DRAFT})
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                        $17, $18, $19, $20)""",
            draft.draft_id,
            draft.rule_id,
            draft.reason,
            draft.subject_kind,
            draft.subject_id,
            draft.project_id,
            draft.enterprise_id,
            draft.district_code,
            draft.title_zh,
            draft.body_zh,
            draft.cause_event_id,
            draft.cause_type,
            draft.cause_payload,
            draft.correlation_id,
            draft.drafted_at,
            draft.status,
            draft.decided_at,
            draft.decided_by,
            draft.withdraw_reason,
            draft.notice_no,
        )

    async def get(self, draft_id: str, *, lock: bool = False) -> Draft | None:
        row = await self._conn.fetchrow(
            f"SELECT {_DRAFT} FROM criticism_drafts WHERE draft_id = $1"
            + (" FOR UPDATE" if lock else ""),
            draft_id,
        )
        return Draft(**dict(row)) if row is not None else None

    async def decided(self, draft: Draft) -> None:
        await self._conn.execute(
            """UPDATE criticism_drafts SET status = $2, decided_at = $3, decided_by = $4,
                      withdraw_reason = $5, notice_no = $6
                WHERE draft_id = $1""",
            draft.draft_id,
            draft.status,
            draft.decided_at,
            draft.decided_by,
            draft.withdraw_reason,
            draft.notice_no,
        )

    async def listed(self, scope: Scope, *, status: DraftStatus, limit: int) -> list[Draft]:
        rows = await self._conn.fetch(
            f"""SELECT {_DRAFT} FROM criticism_drafts
                 WHERE status = $1 AND ($2::text IS NULL OR district_code = $2)
                 ORDER BY drafted_at, draft_id LIMIT $3""",
            status,
            scope.id if scope.level == "district" else None,
            limit,
        )
        return [Draft(**dict(r)) for r in rows]


_ENDPOINT = "endpoint_id, recipient_kind, recipient_id, channel, address, created_at"


def _owned(scope: Scope) -> tuple[str, str | None]:
    """The endpoints an office manages: a WHERE clause on $1."""
    if scope.level == "city":
        return "recipient_kind = 'city'", None
    if scope.level == "district":
        return "recipient_kind = 'district' AND recipient_id = $1", scope.id
    return (
        """(recipient_kind = 'enterprise' AND recipient_id = $1)
           OR (recipient_kind = 'manager' AND owner_enterprise_id = $1)""",
        scope.id,
    )


class PgEndpoints:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def reaching(
        self, recipient_kind: str, recipient_id: str, enterprise_id: str | None
    ) -> list[Endpoint]:
        rows = await self._conn.fetch(
            """SELECT endpoint_id, channel, address FROM endpoints
                WHERE recipient_kind = $1 AND recipient_id = $2 AND disabled_at IS NULL
                  AND ($1 <> 'manager' OR owner_enterprise_id = $3)
                ORDER BY endpoint_id""",
            recipient_kind,
            recipient_id,
            enterprise_id,
        )
        return [Endpoint(**dict(r)) for r in rows]

    async def add(self, endpoint: NewEndpoint) -> RegisteredEndpoint | None:
        row = await self._conn.fetchrow(
            f"""INSERT INTO endpoints (endpoint_id, recipient_kind, recipient_id, channel,
                       address, created_by, owner_enterprise_id)
                VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (recipient_kind, recipient_id, channel, address)
                   WHERE disabled_at IS NULL DO NOTHING
                RETURNING {_ENDPOINT}""",
            endpoint.endpoint_id,
            endpoint.recipient_kind,
            endpoint.recipient_id,
            endpoint.channel,
            endpoint.address,
            endpoint.created_by,
            endpoint.owner_enterprise_id,
        )
        return RegisteredEndpoint(**dict(row)) if row is not None else None

    async def active(self, scope: Scope) -> list[RegisteredEndpoint]:
        where, arg = _owned(scope)
        rows = await self._conn.fetch(
            f"""SELECT {_ENDPOINT}
                  FROM endpoints WHERE disabled_at IS NULL AND ($1::text IS NULL OR TRUE)
                   AND ({where}) ORDER BY created_at""",
            arg,
        )
        return [RegisteredEndpoint(**dict(r)) for r in rows]

    async def disable(self, endpoint_id: str, scope: Scope) -> bool:
        where, arg = _owned(scope)
        done = await self._conn.fetchval(
            f"""UPDATE endpoints SET disabled_at = now()
                 WHERE endpoint_id = $2 AND disabled_at IS NULL
                   AND ($1::text IS NULL OR TRUE) AND ({where})
                RETURNING endpoint_id""",
            arg,
            endpoint_id,
        )
        return done is not None


class PgEscalations:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def schedule(self, step: LadderStep) -> None:
        await self._conn.execute(
            """INSERT INTO escalations (escalation_id, rule_id, subject_kind, subject_id, due_at,
                      cause_event_id, cause_type, cause_payload, correlation_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
               ON CONFLICT DO NOTHING""",
            step.escalation_id,
            step.rule_id,
            step.subject_kind,
            step.subject_id,
            step.due_at,
            step.cause_event_id,
            step.cause_type,
            step.cause_payload,
            step.correlation_id,
        )

    async def cancel(
        self, subject_kind: str, subject_id: str, *, rule_id: str | None, at: datetime, by: str
    ) -> int:
        if rule_id is None:
            status = await self._conn.execute(
                """UPDATE escalations SET status = 'cancelled', settled_at = $3, settled_by = $4
                    WHERE status = 'pending' AND subject_kind = $1 AND subject_id = $2""",
                subject_kind,
                subject_id,
                at,
                by,
            )
        else:
            status = await self._conn.execute(
                """UPDATE escalations SET status = 'cancelled', settled_at = $4, settled_by = $5
                    WHERE status = 'pending' AND rule_id = $1 AND subject_kind = $2
                      AND subject_id = $3""",
                rule_id,
                subject_kind,
                subject_id,
                at,
                by,
            )
        return int(status.split()[-1])

    async def claim_due(self, now: datetime) -> LadderStep | None:
        row = await self._conn.fetchrow(
            """UPDATE escalations SET status = 'issued', settled_at = $1
                WHERE escalation_id = (
                      SELECT escalation_id FROM escalations
                       WHERE status = 'pending' AND due_at <= $1
                       ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED)
               RETURNING escalation_id, rule_id, subject_kind, subject_id, due_at,
                         cause_event_id, cause_type, cause_payload, correlation_id""",
            now,
        )
        return LadderStep(**dict(row)) if row is not None else None

    async def settled_by(self, escalation_id: str, notice_id: str | None) -> None:
        await self._conn.execute(
            "UPDATE escalations SET settled_by = $2 WHERE escalation_id = $1",
            escalation_id,
            notice_id,
        )

    async def failed(self, escalation_id: str, reason: str) -> None:
        await self._conn.execute(
            """UPDATE escalations SET status = 'failed', settled_by = $2
                WHERE escalation_id = $1""",
            escalation_id,
            reason,
        )


CLAIM = """
UPDATE deliveries d
   SET status = 'sending', attempts = d.attempts + 1,
       lease_until = now() + make_interval(secs => $2),
       next_attempt_at = now() + make_interval(secs => $2)
  FROM endpoints e
 WHERE e.endpoint_id = d.endpoint_id
   AND d.delivery_id IN (
       SELECT delivery_id FROM deliveries
        WHERE status IN ('pending', 'sending') AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING d.delivery_id, d.copy_id, d.notice_id, d.endpoint_id, d.channel, d.address,
          d.attempts, (e.disabled_at IS NOT NULL) AS endpoint_disabled, now() AS started_at
"""

CONTENT = """
SELECT n.notice_id, n.kind, n.rule_id, n.reason, n.notice_no, n.subject_kind, n.subject_id,
       n.project_id, n.enterprise_id, n.district_code, n.title_zh, n.body_zh, n.title_en,
       n.body_en, n.issued_at, n.correlation_id, n.cause_event_id, c.recipient_kind, c.recipient_id, c.cc
  FROM notices n JOIN notice_copies c USING (notice_id)
 WHERE c.copy_id = $1
"""


class PgDeliveries:
    """Every outcome is recorded only while the worker still holds the lease (same attempt)."""

    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def claim(self, limit: int, lease_s: float) -> list[Claimed]:
        return [Claimed(**dict(r)) for r in await self._conn.fetch(CLAIM, limit, lease_s)]

    async def content(self, copy_id: str) -> Content | None:
        row = await self._conn.fetchrow(CONTENT, copy_id)
        return Content(**dict(row)) if row is not None else None

    async def wait(self, delivery: Claimed, retry_s: float) -> None:
        await self._conn.execute(
            """UPDATE deliveries SET status = 'pending', attempts = attempts - 1,
                      lease_until = NULL, last_error = 'channel not configured',
                      next_attempt_at = now() + make_interval(secs => $3)
                WHERE delivery_id = $1 AND status = 'sending' AND attempts = $2""",
            delivery.delivery_id,
            delivery.attempts,
            retry_s,
        )

    async def delivered(self, delivery: Claimed) -> datetime | None:
        at: datetime | None = await self._conn.fetchval(
            """UPDATE deliveries SET status = 'delivered', delivered_at = now(),
                      lease_until = NULL, last_error = NULL
                WHERE delivery_id = $1 AND status = 'sending' AND attempts = $2
               RETURNING delivered_at""",
            delivery.delivery_id,
            delivery.attempts,
        )
        return at

    async def failed(self, delivery: Claimed, detail: str) -> datetime | None:
        at: datetime | None = await self._conn.fetchval(
            """UPDATE deliveries SET status = 'failed', failed_at = now(),
                      lease_until = NULL, last_error = $3
                WHERE delivery_id = $1 AND status = 'sending' AND attempts = $2
               RETURNING failed_at""",
            delivery.delivery_id,
            delivery.attempts,
            detail,
        )
        return at

    async def retry(self, delivery: Claimed, detail: str, delay_s: float) -> datetime | None:
        at: datetime | None = await self._conn.fetchval(
            """UPDATE deliveries SET status = 'pending', lease_until = NULL,
                      last_error = $3, next_attempt_at = now() + make_interval(secs => $4)
                WHERE delivery_id = $1 AND status = 'sending' AND attempts = $2
               RETURNING next_attempt_at""",
            delivery.delivery_id,
            delivery.attempts,
            detail,
            delay_s,
        )
        return at

    async def attempted(self, delivery: Claimed, outcome: Outcome, detail: str) -> None:
        await self._conn.execute(
            """INSERT INTO delivery_attempts (delivery_id, attempt_no, started_at,
                      finished_at, outcome, detail)
               VALUES ($1, $2, $3, now(), $4, $5) ON CONFLICT DO NOTHING""",
            delivery.delivery_id,
            delivery.attempts,
            delivery.started_at,
            outcome,
            detail,
        )


class PgInbox:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def copies(
        self,
        recipient: tuple[str, str],
        *,
        kind: str | None,
        unread: bool,
        project_id: str | None,
        limit: int,
    ) -> list[Row]:
        rows = await self._conn.fetch(
            """SELECT n.notice_id, n.kind, n.reason, n.notice_no, n.subject_kind, n.subject_id,
                      n.project_id, n.enterprise_id, n.district_code, n.title_zh, n.body_zh,
                      n.title_en, n.body_en, n.issued_at, n.correlation_id, c.cc, c.read_at
                 FROM notice_copies c JOIN notices n USING (notice_id)
                WHERE c.recipient_kind = $1 AND c.recipient_id = $2
                  AND ($3::text IS NULL OR n.kind = $3)
                  AND (NOT $4 OR c.read_at IS NULL)
                  AND ($5::text IS NULL OR n.project_id = $5)
                ORDER BY c.created_at DESC, n.notice_id LIMIT $6""",
            recipient[0],
            recipient[1],
            kind,
            unread,
            project_id,
            limit,
        )
        return [dict(r) for r in rows]

    async def mark_read(self, notice_id: str, recipient: tuple[str, str]) -> datetime | None:
        read_at: datetime | None = await self._conn.fetchval(
            """UPDATE notice_copies SET read_at = coalesce(read_at, now())
                WHERE notice_id = $1 AND recipient_kind = $2 AND recipient_id = $3
               RETURNING read_at""",
            notice_id,
            recipient[0],
            recipient[1],
        )
        return read_at

    async def notice(self, notice_id: str) -> Row | None:
        row = await self._conn.fetchrow(
            """SELECT notice_id, rule_id, kind, reason, notice_no, subject_kind, subject_id,
                      project_id, enterprise_id, district_code, title_zh, body_zh, title_en,
                      body_en, cause_event_id, cause_type, correlation_id, issued_at
                 FROM notices WHERE notice_id = $1""",
            notice_id,
        )
        return dict(row) if row is not None else None

    async def recipients(self, notice_id: str) -> list[Row]:
        rows = await self._conn.fetch(
            """SELECT copy_id, recipient_kind, recipient_id, cc, read_at, created_at
                 FROM notice_copies WHERE notice_id = $1 ORDER BY cc, recipient_kind""",
            notice_id,
        )
        return [dict(r) for r in rows]

    async def deliveries(self, notice_id: str) -> list[Row]:
        """Each delivery with its attempts (`attempts_log`, oldest first)."""
        rows = await self._conn.fetch(
            """SELECT d.delivery_id, d.copy_id, d.channel, d.address, d.status, d.attempts,
                      d.last_error, d.delivered_at, d.failed_at, d.created_at,
                      coalesce(json_agg(json_build_object(
                          'attempt', a.attempt_no, 'started_at', a.started_at,
                          'finished_at', a.finished_at, 'outcome', a.outcome,
                          'detail', a.detail) ORDER BY a.attempt_no)
                        FILTER (WHERE a.attempt_no IS NOT NULL), '[]') AS attempts_log
                 FROM deliveries d LEFT JOIN delivery_attempts a USING (delivery_id)
                WHERE d.notice_id = $1 GROUP BY d.delivery_id ORDER BY d.created_at""",
            notice_id,
        )
        found = [dict(r) for r in rows]
        for d in found:
            log = d["attempts_log"]
            d["attempts_log"] = json.loads(log) if isinstance(log, str) else log
        return found

    async def criticisms(self, scope: Scope, *, year: int | None, limit: int) -> list[Row]:
        if scope.level == "district":
            where = "n.district_code = $1"
        elif scope.level == "enterprise":
            where = "n.enterprise_id = $1"
        else:
            where = "$1::text IS NULL"
        rows = await self._conn.fetch(
            f"""SELECT n.notice_id, n.notice_no, n.reason, n.subject_kind, n.subject_id,
                       n.project_id, n.enterprise_id, n.district_code, n.title_zh, n.title_en,
                       n.issued_at
                  FROM notices n
                 WHERE n.kind = 'criticism' AND {where}
                   AND ($2::int IS NULL
                        OR extract(year FROM n.issued_at AT TIME ZONE 'Asia/Shanghai') = $2)
                 ORDER BY n.issued_at DESC, n.notice_no LIMIT $3""",
            scope.id,
            year,
            limit,
        )
        return [dict(r) for r in rows]


def on_pool(work: Callable[[Units], Awaitable[int]]) -> Job:
    """A timer's pass (`runtime.scheduler.Job`): `work` gets units of work on the pool, their
    clock stopped at the pass's `now` (the business time the runtime's clock gave the pass)."""

    async def run(pool: asyncpg.Pool, now: datetime) -> int:
        clock = FixedClock(now)
        return await work(lambda: PgNotificationsUnitOfWork(pool, clock=clock))

    return run


class PgNotificationsUnitOfWork(PgUnitOfWork):
    projects: ports.Projects
    notices: ports.Notices
    drafts: ports.Drafts
    endpoints: ports.Endpoints
    escalations: ports.Escalations
    deliveries: ports.Deliveries
    inbox: ports.Inbox

    def __init__(self, pool: asyncpg.Pool | None, *, source: str = SOURCE, clock: Clock) -> None:
        super().__init__(pool, source=source, clock=clock)

    def _fresh(self) -> Self:
        return type(self)(self._pool, source=self.source, clock=self.clock)

    def _bind(self, conn: db.Connection) -> None:
        self.projects = PgProjects(conn)
        self.notices = PgNotices(conn)
        self.drafts = PgDrafts(conn)
        self.endpoints = PgEndpoints(conn)
        self.escalations = PgEscalations(conn)
        self.deliveries = PgDeliveries(conn)
        self.inbox = PgInbox(conn)

    @contextlib.asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self.connection.transaction():
            yield
