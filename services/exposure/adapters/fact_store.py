"""The facts on PostgreSQL (asyncpg): the evidence, and the facts behind the board's grades and
statistics. Each write is one INSERT ... SELECT FROM unnest(...) per run of events, with the ON
CONFLICT of the one-event upsert it replaced."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from runtime import db
from runtime.unit_of_work import Delivered
from schemas import fields
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.surveys import v1 as surveys
from services.exposure.adapters.fact_rows import campaign_ranges, campaign_rows, merged, plan_rows
from services.exposure.domain.decisions import Criticism

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
    complaints.ComplaintFiled
    | complaints.ComplaintOverdue
    | complaints.ComplaintClosed
    | complaints.ComplaintAccepted
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

    async def add_draws(self, events: Sequence[inspections.PatrolsDrawn]) -> None:
        for e in events:
            await self._conn.execute(
                """INSERT INTO draw_facts (draw_id, district_code, drawn_at, seed, algorithm, event)
                   VALUES ($1, $2, $3, $4, $5, $6::jsonb) ON CONFLICT (draw_id) DO NOTHING""",
                e.draw_id,
                e.district_code,
                e.drawn_at,
                e.seed,
                e.algorithm,
                e.model_dump_json(),
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

        ranges = campaign_ranges(events)
        await self._write(
            """UPDATE campaign_facts c
                  SET starts_on = least(c.starts_on, u.s), ends_on = greatest(c.ends_on, u.e)
                 FROM unnest($1::text[], $2::date[], $3::date[]) AS u(id, s, e)
                WHERE c.campaign_id = u.id""",
            [list(column) for column in zip(*ranges, strict=True)],
        )

    async def complaints_accepted(self, events: Sequence[complaints.ComplaintAccepted]) -> None:
        rows = [(*_complaint(e), e.accepted_at) for e in events]
        await self._write(
            f"""INSERT INTO complaint_facts ({_COMPLAINT_COLUMNS}, accepted_at)
                SELECT * FROM unnest({_COMPLAINT_TYPES}, $6::timestamptz[])
                ON CONFLICT (complaint_id) DO UPDATE SET
                       accepted_at = coalesce(complaint_facts.accepted_at, excluded.accepted_at)""",
            merged(rows),
        )

    async def complaints_acceptance_overdue(
        self, events: Sequence[complaints.ComplaintOverdue]
    ) -> None:
        rows = [_complaint(e) for e in events]
        await self._write(
            f"""INSERT INTO complaint_facts ({_COMPLAINT_COLUMNS}, acceptance_overdue)
                SELECT c, p, e, d, k, true
                  FROM unnest({_COMPLAINT_TYPES}) AS u(c, p, e, d, k)
                ON CONFLICT (complaint_id) DO UPDATE SET acceptance_overdue = true""",
            merged(rows),
        )

    async def add_activities(self, events: Sequence[campaigns.ActivityHeld]) -> None:
        rows = [
            (e.record_id, e.project_id, e.enterprise_id, e.district_code, e.kind, e.held_on,
             e.participants)
            for e in events
        ]  # fmt: skip
        await self._write(
            """INSERT INTO activity_facts (record_id, project_id, enterprise_id, district_code,
                      kind, held_on, participants)
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                    $6::date[], $7::integer[])
               ON CONFLICT (record_id) DO NOTHING""",
            merged(rows),
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
