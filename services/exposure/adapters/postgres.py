"""The exposure service's repositories on PostgreSQL (asyncpg) and its unit of work.

`PgCaseRepository.apply` is the only code that changes `cases`, `case_timeline` and `objections`:
the live service applies what it emits, and a replay of `wuye.exposure.events` (rebuild.py)
applies the same events, so the live tables and a rebuilt copy are the same function of the same
events. `PgFactRepository` writes each run of events with one statement.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import Any, Self

import asyncpg

from runtime import db
from runtime.scheduler import Clock
from runtime.unit_of_work import Delivered, PgUnitOfWork
from schemas.base import Event
from schemas.complaints import v1 as complaints
from schemas.exposure import v1 as exposure
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.surveys import v1 as surveys
from services.exposure import presentation
from services.exposure.domain.cases import Case, Policy
from services.exposure.domain.decisions import Criticism
from services.exposure.service.ports import CaseRepository, FactRepository

_CASE = """SELECT c.case_id, c.project_id, c.district_code, c.enterprise_id, c.tier, c.status,
                  c.review_ends_at, c.published_at, c.min_until, c.max_until, c.rectified_at,
                  (SELECT objection_id FROM objections o
                    WHERE o.case_id = c.case_id AND o.status = 'pending') AS pending_objection
             FROM cases c WHERE c.case_id = $1"""


def _case(row: asyncpg.Record) -> Case:
    return Case(
        case_id=row["case_id"],
        project_id=row["project_id"],
        district_code=row["district_code"],
        enterprise_id=row["enterprise_id"],
        tier=row["tier"],
        status=row["status"],
        review_ends_at=row["review_ends_at"],
        published_at=row["published_at"],
        min_until=row["min_until"],
        max_until=row["max_until"],
        rectified_at=row["rectified_at"],
        pending_objection=row["pending_objection"],
    )


class PgCaseRepository:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def lock_order(self, order_id: str) -> None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtext('exposure-order:' || $1))", order_id
        )

    async def by_order(self, order_id: str) -> Case | None:
        case_id = await self._conn.fetchval(
            "SELECT case_id FROM cases WHERE order_id = $1 FOR UPDATE", order_id
        )
        return await self.get(case_id) if case_id else None

    async def get(self, case_id: str, *, lock: bool = False) -> Case | None:
        row = await self._conn.fetchrow(_CASE + (" FOR UPDATE" if lock else ""), case_id)
        return _case(row) if row is not None else None

    async def next_due(self, now: datetime) -> Case | None:
        case_id = await self._conn.fetchval(
            """SELECT case_id FROM cases c
                WHERE (status = 'in_review' AND review_ends_at <= $1
                       AND NOT EXISTS (SELECT 1 FROM objections o
                                        WHERE o.case_id = c.case_id
                                          AND o.status = 'pending'))
                   OR (status = 'published' AND (max_until <= $1
                       OR (rectified_at IS NOT NULL AND min_until <= $1)))
                ORDER BY case_id LIMIT 1 FOR UPDATE SKIP LOCKED""",
            now,
        )
        return await self.get(case_id) if case_id is not None else None

    async def has_notice(self, case_id: str, notice_id: str) -> bool:
        found = await self._conn.fetchval(
            "SELECT 1 FROM case_timeline WHERE case_id = $1 AND ref = $2", case_id, notice_id
        )
        return bool(found)

    async def _timeline(self, event_id: str, event: exposure._CaseEvent) -> None:
        line = presentation.timeline_line(event)
        await self._conn.execute(
            """INSERT INTO case_timeline (event_id, case_id, event_type, at, title_zh, title_en,
                      detail_zh, detail_en, ref) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
               ON CONFLICT (event_id) DO NOTHING""",
            event_id,
            event.case_id,
            event.ce_type,
            line.at,
            line.title_zh,
            line.title_en,
            line.detail_zh,
            line.detail_en,
            line.ref,
        )

    async def apply(self, event: Event, event_id: str) -> bool:
        conn = self._conn
        first = await conn.fetchval(
            "INSERT INTO applied_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1",
            event_id,
        )
        if first is None:
            return False
        if isinstance(event, exposure.ExposureCaseOpened):
            # The case id derives from the order: a second opening of one order (a duplicate
            # deployment reading the same topics) changes nothing.
            opened = await conn.fetchval(
                """INSERT INTO cases (case_id, project_id, project_name, enterprise_id,
                          enterprise_name, district_code, reason, tier, order_id, inspection_id,
                          items, deadline, status, opened_at, updated_at)
                   VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb,$12,'opened',$13,$13)
                   ON CONFLICT DO NOTHING RETURNING 1""",
                event.case_id,
                event.project_id,
                event.project_name,
                event.enterprise_id,
                event.enterprise_name,
                event.district_code,
                event.reason,
                event.tier,
                event.order_id,
                event.inspection_id,
                json.dumps([i.model_dump(mode="json") for i in event.items], ensure_ascii=False),
                event.deadline,
                event.opened_at,
            )
            if opened is None:
                return True
        elif isinstance(event, exposure.ExposureEvidenceAdded):
            await conn.execute(
                """UPDATE cases SET tier = $2, updated_at = $3,
                          notice_no = coalesce($4, notice_no), notice_id = coalesce($5, notice_id),
                          review_ends_at = coalesce($6, review_ends_at),
                          status = CASE WHEN $6::timestamptz IS NOT NULL AND status = 'opened'
                                        THEN 'in_review' ELSE status END
                    WHERE case_id = $1""",
                event.case_id,
                event.tier,
                event.added_at,
                event.notice_no,
                event.notice_id,
                event.review_ends_at,
            )
        elif isinstance(event, exposure.ExposureReviewed):
            if event.decision == "hold":
                await conn.execute(
                    "UPDATE cases SET status = 'held', updated_at = $2 WHERE case_id = $1",
                    event.case_id,
                    event.reviewed_at,
                )
        elif isinstance(event, exposure.ExposurePublished):
            await conn.execute(
                """UPDATE cases SET status = 'published', tier = $2, published_at = $3,
                          min_until = $4, max_until = $5, updated_at = $3 WHERE case_id = $1""",
                event.case_id,
                event.tier,
                event.published_at,
                event.min_until,
                event.max_until,
            )
        elif isinstance(event, exposure.ExposureRectified):
            await conn.execute(
                "UPDATE cases SET rectified_at = $2, updated_at = $2 WHERE case_id = $1",
                event.case_id,
                event.rectified_at,
            )
        elif isinstance(event, exposure.ExposureWithdrawn):
            await conn.execute(
                """UPDATE cases SET status = 'withdrawn', withdrawn_at = $2, withdraw_reason = $3,
                          updated_at = $2 WHERE case_id = $1""",
                event.case_id,
                event.withdrawn_at,
                event.reason,
            )
        elif isinstance(event, exposure.ObjectionFiled):
            await conn.execute(
                """INSERT INTO objections (objection_id, case_id, enterprise_id, grounds,
                          filed_at, status) VALUES ($1, $2, $3, $4, $5, 'pending')""",
                event.objection_id,
                event.case_id,
                event.enterprise_id,
                event.grounds,
                event.filed_at,
            )
            await conn.execute(
                "UPDATE cases SET updated_at = $2 WHERE case_id = $1",
                event.case_id,
                event.filed_at,
            )
        elif isinstance(event, exposure.ObjectionDecided):
            await conn.execute(
                """UPDATE objections SET status = $2, decision_reason = $3, decided_at = $4
                    WHERE objection_id = $1""",
                event.objection_id,
                "upheld" if event.upheld else "rejected",
                event.reason,
                event.decided_at,
            )
            await conn.execute(
                "UPDATE cases SET updated_at = $2 WHERE case_id = $1",
                event.case_id,
                event.decided_at,
            )
        else:  # pragma: no cover - the catalog lists every exposure event above
            raise TypeError(f"not an exposure event: {type(event).__name__}")
        await self._timeline(event_id, event)
        return True


def merged(rows: Sequence[tuple[Any, ...]], *, updated: tuple[int, ...] = ()) -> list[Any]:
    """One row per key (column 0), as applying the rows one after the other would leave it: the
    first row's values, with the `updated` columns (those ON CONFLICT DO UPDATE sets) from the
    last. One INSERT ... ON CONFLICT may not touch a row twice. Returns the columns (for
    `unnest`)."""
    by_key: dict[Hashable, list[Any]] = {}
    for row in rows:
        seen = by_key.get(row[0])
        if seen is None:
            by_key[row[0]] = list(row)
        else:
            for i in updated:
                seen[i] = row[i]
    return [list(column) for column in zip(*by_key.values(), strict=True)]


_ORDER_COLUMNS = "order_id, project_id, enterprise_id, district_code, deadline"
_ORDER_TYPES = "$1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]"
_COMPLAINT_COLUMNS = "complaint_id, project_id, enterprise_id, district_code, category"
_COMPLAINT_TYPES = "$1::text[], $2::text[], $3::text[], $4::text[], $5::text[]"

_OrderEvent = (
    inspections.RectificationOrdered
    | inspections.RectificationVerified
    | inspections.RectificationOverdue
    | inspections.RectificationRejected
)
_ComplaintEvent = (
    complaints.ComplaintFiled | complaints.ComplaintOverdue | complaints.ComplaintClosed
)


def _order(event: _OrderEvent) -> tuple[str, str, str, str, datetime]:
    return (
        event.order_id,
        event.project_id,
        event.enterprise_id,
        event.district_code,
        event.deadline,
    )


def _complaint(event: _ComplaintEvent) -> tuple[str, str, str, str, str]:
    return (
        event.complaint_id,
        event.project_id,
        event.enterprise_id,
        event.district_code,
        event.category,
    )


class PgFactRepository:
    """Each write: one INSERT ... SELECT FROM unnest(...) per run of events, with the ON CONFLICT
    of the one-event upsert it replaces."""

    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def _write(self, statement: str, columns: list[Any]) -> None:
        if columns:
            await self._conn.execute(statement, *columns)

    async def add_evidence(self, failed: Sequence[Delivered[inspections.InspectionFailed]]) -> None:
        rows = [
            (
                d.ce.id,
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"wuye-evidence:{d.ce.id}")),  # same on a replay
                d.ce.type,
                d.event.project_id,
                d.event.project_name,
                d.event.enterprise_id,
                d.event.enterprise_name,
                d.event.district_code,
                d.event.inspection_id,
                d.event.score,
                json.dumps(
                    [f.model_dump(mode="json") for f in d.event.failed_items], ensure_ascii=False
                ),
                d.event.inspected_at,
                d.ce.correlationid,
            )
            for d in failed
        ]
        await self._write(
            """INSERT INTO evidence (source_event_id, evidence_id, source_type, project_id,
                      project_name, enterprise_id, enterprise_name, district_code, inspection_id,
                      score, failed_items, occurred_at, correlation_id)
               SELECT s, e, t, p, pn, en, enn, d, i, sc, f::jsonb, o, c
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                             $6::text[], $7::text[], $8::text[], $9::text[], $10::numeric[],
                             $11::text[], $12::timestamptz[], $13::text[])
                      AS u(s, e, t, p, pn, en, enn, d, i, sc, f, o, c)
               ON CONFLICT (source_event_id) DO NOTHING""",
            merged(rows),
        )

    async def add_inspections(self, events: Sequence[inspections.InspectionCompleted]) -> None:
        rows = [
            (
                e.inspection_id,
                e.project_id,
                e.enterprise_id,
                e.district_code,
                e.kind,
                e.score,
                e.pass_mark,
                e.passed,
                e.inspected_at,
            )
            for e in events
        ]
        await self._write(
            """INSERT INTO inspection_facts (inspection_id, project_id, enterprise_id,
                      district_code, kind, score, pass_mark, passed, inspected_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::numeric[], $7::numeric[], $8::boolean[],
                                    $9::timestamptz[])
               ON CONFLICT (inspection_id) DO NOTHING""",
            merged(rows),
        )

    async def orders_ordered(self, events: Sequence[inspections.RectificationOrdered]) -> None:
        rows = [(*_order(e), e.ordered_at) for e in events]
        await self._write(
            f"""INSERT INTO order_facts ({_ORDER_COLUMNS}, ordered_at)
                SELECT * FROM unnest({_ORDER_TYPES}, $6::timestamptz[])
                ON CONFLICT (order_id) DO UPDATE SET ordered_at = excluded.ordered_at""",
            merged(rows, updated=(5,)),
        )

    async def orders_verified(self, events: Sequence[inspections.RectificationVerified]) -> None:
        rows = [(*_order(e), e.verified_at, e.on_time) for e in events]
        await self._write(
            f"""INSERT INTO order_facts ({_ORDER_COLUMNS}, verified_at, on_time)
                SELECT * FROM unnest({_ORDER_TYPES}, $6::timestamptz[], $7::boolean[])
                ON CONFLICT (order_id) DO UPDATE SET
                       verified_at = excluded.verified_at, on_time = excluded.on_time""",
            merged(rows, updated=(5, 6)),
        )

    async def orders_overdue(self, events: Sequence[inspections.RectificationOverdue]) -> None:
        rows = [(*_order(e), e.detected_at) for e in events]
        await self._write(
            f"""INSERT INTO order_facts ({_ORDER_COLUMNS}, overdue, overdue_at)
                SELECT o, p, e, d, dl, true, at
                  FROM unnest({_ORDER_TYPES}, $6::timestamptz[]) AS u(o, p, e, d, dl, at)
                ON CONFLICT (order_id) DO UPDATE SET
                       overdue = true, overdue_at = excluded.overdue_at""",
            merged(rows, updated=(5,)),
        )

    async def orders_inadequate(self, events: Sequence[inspections.RectificationRejected]) -> None:
        rows = [(*_order(e), e.rejected_at) for e in events]
        await self._write(
            f"""INSERT INTO order_facts ({_ORDER_COLUMNS}, inadequate_at)
                SELECT * FROM unnest({_ORDER_TYPES}, $6::timestamptz[])
                ON CONFLICT (order_id) DO UPDATE SET inadequate_at = excluded.inadequate_at""",
            merged(rows, updated=(5,)),
        )

    async def complaints_filed(self, events: Sequence[complaints.ComplaintFiled]) -> None:
        rows = [(*_complaint(e), e.filed_at) for e in events]
        await self._write(
            f"""INSERT INTO complaint_facts ({_COMPLAINT_COLUMNS}, filed_at)
                SELECT * FROM unnest({_COMPLAINT_TYPES}, $6::timestamptz[])
                ON CONFLICT (complaint_id) DO UPDATE SET filed_at = excluded.filed_at""",
            merged(rows, updated=(5,)),
        )

    async def complaints_completion_overdue(
        self, events: Sequence[complaints.ComplaintOverdue]
    ) -> None:
        rows = [_complaint(e) for e in events]
        await self._write(
            f"""INSERT INTO complaint_facts ({_COMPLAINT_COLUMNS}, completion_overdue)
                SELECT c, p, e, d, k, true
                  FROM unnest({_COMPLAINT_TYPES}) AS u(c, p, e, d, k)
                ON CONFLICT (complaint_id) DO UPDATE SET completion_overdue = true""",
            merged(rows),
        )

    async def complaints_closed(self, events: Sequence[complaints.ComplaintClosed]) -> None:
        rows = [(*_complaint(e), e.closed_at) for e in events]
        await self._write(
            f"""INSERT INTO complaint_facts ({_COMPLAINT_COLUMNS}, closed_at)
                SELECT * FROM unnest({_COMPLAINT_TYPES}, $6::timestamptz[])
                ON CONFLICT (complaint_id) DO UPDATE SET closed_at = excluded.closed_at""",
            merged(rows, updated=(5,)),
        )

    async def add_surveys(self, events: Sequence[surveys.SurveyClosed]) -> None:
        rows = [
            (
                e.survey_id,
                e.project_id,
                e.enterprise_id,
                e.district_code,
                e.households,
                e.responses,
                e.coverage,
                e.satisfaction_rate,
                e.closed_at,
            )
            for e in events
        ]
        await self._write(
            """INSERT INTO survey_facts (survey_id, project_id, enterprise_id, district_code,
                      households, responses, coverage, satisfaction_rate, closed_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                    $5::integer[], $6::integer[], $7::float8[], $8::float8[],
                                    $9::timestamptz[])
               ON CONFLICT (survey_id) DO NOTHING""",
            merged(rows),
        )

    async def add_criticisms(self, events: Sequence[notifications.NoticeIssued]) -> None:
        rows = [(e.notice_id, e.subject_id, e.notice_no, e.project_id, e.issued_at) for e in events]
        await self._write(
            """INSERT INTO criticism_facts (notice_id, order_id, notice_no, project_id, issued_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                    $5::timestamptz[])
               ON CONFLICT (notice_id) DO NOTHING""",
            merged(rows),
        )

    async def criticisms_of(self, order_id: str) -> list[Criticism]:
        rows = await self._conn.fetch(
            """SELECT notice_id, notice_no, issued_at FROM criticism_facts
                WHERE order_id = $1 ORDER BY issued_at, notice_id""",
            order_id,
        )
        return [Criticism(r["notice_id"], r["notice_no"], r["issued_at"]) for r in rows]

    async def latest_criticism(self, order_id: str) -> datetime | None:
        latest: datetime | None = await self._conn.fetchval(
            "SELECT max(issued_at) FROM criticism_facts WHERE order_id = $1", order_id
        )
        return latest


class PgExposureUnitOfWork(PgUnitOfWork):
    cases: CaseRepository
    facts: FactRepository

    def __init__(
        self, pool: asyncpg.Pool | None, *, source: str, clock: Clock, policy: Policy
    ) -> None:
        super().__init__(pool, source=source, clock=clock)
        self.policy = policy

    def _fresh(self) -> Self:
        return type(self)(self._pool, source=self.source, clock=self.clock, policy=self.policy)

    def _bind(self, conn: db.Connection) -> None:
        self.cases = PgCaseRepository(conn)
        self.facts = PgFactRepository(conn)
