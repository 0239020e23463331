"""The facts on PostgreSQL (asyncpg): the evidence, and the facts behind the board's grades and
statistics. Each write is one INSERT ... SELECT FROM unnest(...) per run of events, with the ON
CONFLICT of the one-event upsert it replaced."""

from __future__ import annotations

import json
import uuid
from collections.abc import Hashable, Sequence
from datetime import datetime, time
from typing import Any

from runtime import db
from runtime.calendar import CHINA
from runtime.unit_of_work import Delivered
from schemas import fields
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.surveys import v1 as surveys
from services.exposure.domain.decisions import Criticism


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


def campaign_rows(
    events: Sequence[campaigns.CampaignPhaseStarted],
) -> list[tuple[str, str, Any, Any, datetime]]:
    """One row per campaign, as applying the events one by one would leave it: the last title,
    the planning phase's dates, and the latest phase start (midnight, China time) as `seen_at`."""
    by_id: dict[str, list[Any]] = {}
    for e in events:
        starts = datetime.combine(e.starts_on, time(), tzinfo=CHINA)
        planning = e.phase == "planning"
        row = by_id.setdefault(e.campaign_id, [e.campaign_id, e.title_zh, None, None, starts])
        row[1] = e.title_zh
        if planning:
            row[2], row[3] = e.starts_on, e.ends_on
        row[4] = max(row[4], starts)
    return [(r[0], r[1], r[2], r[3], r[4]) for r in by_id.values()]


def plan_rows(
    events: Sequence[campaigns.PlanSubmitted],
) -> list[tuple[str, str, str, str, int, datetime]]:
    """One row per campaign and submitter: its highest version."""
    best: dict[tuple[str, str, str], campaigns.PlanSubmitted] = {}
    for e in events:
        key = (e.campaign_id, e.submitter_kind, e.submitter_id())
        if key not in best or best[key].version < e.version:
            best[key] = e
    return [
        (c, kind, sid, e.plan_id, e.version, e.submitted_at) for (c, kind, sid), e in best.items()
    ]


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
        photos = [
            (
                f"{d.event.inspection_id}/{a.attachment_id}",
                d.event.inspection_id,
                item.item_id,
                a.attachment_id,
                position,
                a.sha256,
                a.content_type,
            )
            for d in failed
            for item in d.event.failed_items
            for position, a in enumerate(item.attachments)
        ]
        await self._write(
            """INSERT INTO evidence_photos (inspection_id, item_id, attachment_id, position,
                      sha256, content_type)
               SELECT i, it, a, p, s, t
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[],
                             $6::text[], $7::text[]) AS u(k, i, it, a, p, s, t)
               ON CONFLICT (inspection_id, attachment_id) DO NOTHING""",
            merged(photos),
        )

    async def photos_of(
        self, inspection_id: str, item_ids: Sequence[str]
    ) -> list[fields.AttachmentRef]:
        rows = await self._conn.fetch(
            """SELECT attachment_id, sha256, content_type FROM evidence_photos
                WHERE inspection_id = $1 AND item_id = ANY($2::text[])
                ORDER BY array_position($2::text[], item_id), position""",
            inspection_id,
            list(item_ids),
        )
        return [
            fields.AttachmentRef(
                attachment_id=r["attachment_id"],
                sha256=r["sha256"],
                content_type=r["content_type"],
            )
            for r in rows
        ]

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

    async def campaign_phases(self, events: Sequence[campaigns.CampaignPhaseStarted]) -> None:
        rows = campaign_rows(events)
        await self._write(
            """INSERT INTO campaign_facts (campaign_id, title_zh, planning_starts_on,
                      planning_ends_on, seen_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::date[],
                                    $5::timestamptz[])
               ON CONFLICT (campaign_id) DO UPDATE SET
                      title_zh = excluded.title_zh,
                      planning_starts_on = coalesce(excluded.planning_starts_on,
                                                    campaign_facts.planning_starts_on),
                      planning_ends_on = coalesce(excluded.planning_ends_on,
                                                  campaign_facts.planning_ends_on),
                      seen_at = greatest(campaign_facts.seen_at, excluded.seen_at)""",
            [list(column) for column in zip(*rows, strict=True)],
        )

    async def plans_submitted(self, events: Sequence[campaigns.PlanSubmitted]) -> None:
        rows = plan_rows(events)
        await self._write(
            """INSERT INTO plan_facts (campaign_id, submitter_kind, submitter_id, plan_id,
                      version, submitted_at)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                                    $5::integer[], $6::timestamptz[])
               ON CONFLICT (campaign_id, submitter_kind, submitter_id) DO UPDATE SET
                      plan_id = excluded.plan_id, version = excluded.version,
                      submitted_at = excluded.submitted_at
                WHERE plan_facts.version < excluded.version""",
            [list(column) for column in zip(*rows, strict=True)],
        )
        seen: dict[str, datetime] = {}
        for campaign_id, *_, submitted_at in rows:
            seen[campaign_id] = max(seen.get(campaign_id, submitted_at), submitted_at)
        await self._write(
            """INSERT INTO campaign_facts (campaign_id, seen_at)
               SELECT * FROM unnest($1::text[], $2::timestamptz[])
               ON CONFLICT (campaign_id) DO UPDATE SET
                      seen_at = greatest(campaign_facts.seen_at, excluded.seen_at)""",
            [list(seen), list(seen.values())] if seen else [],
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
