"""The offices' read queries (asyncpg): cases in a scope with their timeline and objections, and
the evidence collected from failed inspections."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from runtime import db
from services.exposure.domain.board import CampaignPlans, PlanCount
from services.exposure.service.ports import Scope

CASE_COLUMNS = """c.case_id, c.project_id, c.project_name, c.enterprise_id, c.enterprise_name,
    c.district_code, c.reason, c.tier, c.order_id, c.inspection_id, c.items, c.deadline,
    c.notice_no, c.status, c.review_ends_at, c.published_at, c.min_until, c.max_until,
    c.rectified_at, c.withdrawn_at, c.withdraw_reason, c.opened_at, c.updated_at"""


def _scope(scope: Scope) -> tuple[str, str | None]:
    if scope.by == "enterprise":
        return "c.enterprise_id = $1", scope.value
    if scope.by == "district":
        return "c.district_code = $1", scope.value
    return "$1::text IS NULL", None


def _case_row(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out.get("items"), str):
        out["items"] = json.loads(out["items"])
    return out


class PgCaseQueries:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def cases(self, scope: Scope, *, status: str | None, limit: int) -> list[dict[str, Any]]:
        where, arg = _scope(scope)
        rows = await self._conn.fetch(
            f"""SELECT {CASE_COLUMNS} FROM cases c
                 WHERE {where} AND ($2::text IS NULL OR c.status = $2)
                 ORDER BY c.updated_at DESC, c.case_id LIMIT $3""",
            arg,
            status,
            limit,
        )
        return [_case_row(r) for r in rows]

    async def case(self, case_id: str, scope: Scope) -> dict[str, Any] | None:
        where, arg = _scope(scope)
        row = await self._conn.fetchrow(
            f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.case_id = $2 AND {where}", arg, case_id
        )
        if row is None:
            return None
        timeline = await self._conn.fetch(
            """SELECT event_type, at, title_zh, title_en, detail_zh, detail_en
                 FROM case_timeline WHERE case_id = $1 ORDER BY at, event_id""",
            case_id,
        )
        objections = await self._conn.fetch(
            """SELECT objection_id, enterprise_id, grounds, filed_at, status, decision_reason,
                      decided_at FROM objections WHERE case_id = $1 ORDER BY filed_at""",
            case_id,
        )
        photos = await self._conn.fetch(
            """SELECT item_id, attachment_id FROM evidence_photos
                WHERE inspection_id = $1 ORDER BY item_id, position""",
            row["inspection_id"],
        )
        out = _case_row(row)
        out["photos"] = {}
        for p in photos:
            out["photos"].setdefault(p["item_id"], []).append(p["attachment_id"])
        out["timeline"] = [dict(t) for t in timeline]
        out["objections"] = [dict(o) for o in objections]
        return out

    async def evidence(
        self, *, district_code: str | None, project_id: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT evidence_id, source_type, project_id, project_name, enterprise_id,
                      enterprise_name, district_code, inspection_id, score, failed_items,
                      occurred_at, correlation_id, recorded_at
                 FROM evidence
                WHERE ($1::text IS NULL OR district_code = $1)
                  AND ($2::text IS NULL OR project_id = $2)
                ORDER BY occurred_at DESC LIMIT $3""",
            district_code,
            project_id,
            limit,
        )
        out = []
        for r in rows:
            item = dict(r)
            item["failed_items"] = json.loads(item["failed_items"])
            item["score"] = float(item["score"]) if item["score"] is not None else None
            out.append(item)
        return out

    async def district_extras(self) -> dict[str, dict[str, int]]:
        rows = await self._conn.fetch(
            """SELECT district_code, count(*)::int AS inspections,
                      (count(*) FILTER (WHERE NOT passed))::int AS failed,
                      0 AS cases_review, 0 AS cases_published, 0 AS cases_total
                 FROM inspection_facts GROUP BY district_code
               UNION ALL
               SELECT district_code, 0, 0,
                      (count(*) FILTER (WHERE status IN ('in_review', 'held')))::int,
                      (count(*) FILTER (WHERE status = 'published'))::int, count(*)::int
                 FROM cases GROUP BY district_code"""
        )
        out: dict[str, dict[str, int]] = {}
        for r in rows:
            into = out.setdefault(
                r["district_code"],
                dict.fromkeys(
                    ("inspections", "failed", "cases_review", "cases_published", "cases_total"), 0
                ),
            )
            for key in into:
                into[key] += r[key]
        return out

    async def campaign_plans(self) -> CampaignPlans | None:
        campaign = await self._conn.fetchrow(
            """SELECT campaign_id, title_zh, planning_ends_on FROM campaign_facts
                ORDER BY seen_at DESC, campaign_id DESC LIMIT 1"""
        )
        if campaign is None:
            return None
        rows = await self._conn.fetch(
            """WITH runs AS (SELECT DISTINCT district_code, enterprise_id FROM projects),
                    plans AS (SELECT submitter_kind, submitter_id FROM plan_facts
                               WHERE campaign_id = $1)
               SELECT d.district_code,
                      1 + (SELECT count(*) FROM runs r
                            WHERE r.district_code = d.district_code)::int AS due,
                      (EXISTS (SELECT 1 FROM plans p WHERE p.submitter_kind = 'district'
                                  AND p.submitter_id = d.district_code))::int
                      + (SELECT count(*) FROM runs r JOIN plans p
                                ON p.submitter_kind = 'enterprise'
                               AND p.submitter_id = r.enterprise_id
                          WHERE r.district_code = d.district_code)::int AS submitted
                 FROM (SELECT DISTINCT district_code FROM projects) d""",
            campaign["campaign_id"],
        )
        return CampaignPlans(
            campaign_id=campaign["campaign_id"],
            title_zh=campaign["title_zh"],
            deadline_on=campaign["planning_ends_on"],
            by_district={r["district_code"]: PlanCount(r["submitted"], r["due"]) for r in rows},
        )

    async def overdue_orders(self, district_code: str, *, limit: int) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT o.order_id, o.project_id, o.enterprise_id, o.deadline, o.overdue_at,
                      coalesce(p.project_name, o.project_id) AS project_name,
                      coalesce(p.enterprise_name, o.enterprise_id) AS enterprise_name
                 FROM order_facts o LEFT JOIN projects p ON p.project_id = o.project_id
                WHERE o.district_code = $1 AND o.overdue AND o.verified_at IS NULL
                ORDER BY o.deadline, o.order_id LIMIT $2""",
            district_code,
            limit,
        )
        return [dict(r) for r in rows]


def case_queries(pool: asyncpg.Pool) -> contextlib.AbstractAsyncContextManager[PgCaseQueries]:
    """Queries on one pooled connection, for one request."""

    @contextlib.asynccontextmanager
    async def reading() -> AsyncIterator[PgCaseQueries]:
        async with pool.acquire() as conn:
            yield PgCaseQueries(conn)

    return reading()
