"""Queries behind the campaign's own figures (domain/figures.py): the campaigns seen, and per
district or per enterprise the counts of each fact table within a window (asyncpg, plain SQL, one
query per table, each aggregating its facts once). Facts are grouped by the district and enterprise
they carry themselves (those at the time of the inspection, order, complaint, survey or activity).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg

from runtime import db
from services.exposure.domain.figures import By, Figures, Window

# `{key}` is a fixed column name (district_code or enterprise_id): constant SQL.
# $1, $2: the window's first instant and the first instant after it (NULL: open) — for activities,
# its first and last day; $3: an optional district.
_IN = "($1::timestamptz IS NULL OR {t} >= $1) AND ($2::timestamptz IS NULL OR {t} < $2)"
_DISTRICT = "($3::text IS NULL OR {d} = $3)"

_QUERIES: dict[str, str] = {
    "inspections": f"""
        SELECT {{key}} AS key,
               count(*) FILTER (WHERE kind = 'self') AS self_inspections,
               count(*) FILTER (WHERE kind = 'self' AND NOT passed) AS self_failed,
               count(*) FILTER (WHERE kind = 'patrol') AS patrols,
               count(*) FILTER (WHERE kind = 'patrol' AND NOT passed) AS patrols_failed
          FROM inspection_facts
         WHERE {_IN.format(t="inspected_at")} AND {_DISTRICT.format(d="district_code")}
         GROUP BY 1""",
    "groups": f"""
        SELECT e.{{key}} AS key, i.kind, g.item_group, count(DISTINCT e.inspection_id) AS failed
          FROM evidence e
          JOIN inspection_facts i ON i.inspection_id = e.inspection_id
         CROSS JOIN LATERAL (SELECT DISTINCT x ->> 'group' AS item_group
                               FROM jsonb_array_elements(e.failed_items) x) g
         WHERE {_IN.format(t="i.inspected_at")} AND {_DISTRICT.format(d="e.district_code")}
         GROUP BY 1, 2, 3""",
    "orders": f"""
        SELECT {{key}} AS key,
               count(*) FILTER (WHERE verified_at IS NOT NULL OR overdue
                                      OR inadequate_at IS NOT NULL) AS orders_due,
               count(*) FILTER (WHERE verified_at IS NOT NULL AND on_time AND NOT overdue)
                   AS orders_on_time
          FROM order_facts
         WHERE {_IN.format(t="coalesce(ordered_at, deadline)")}
           AND {_DISTRICT.format(d="district_code")}
         GROUP BY 1""",
    "complaints": f"""
        SELECT {{key}} AS key, count(*) AS complaints_filed,
               count(*) FILTER (WHERE accepted_at IS NOT NULL OR acceptance_overdue)
                   AS complaints_acceptance_due,
               count(*) FILTER (WHERE accepted_at IS NOT NULL AND NOT acceptance_overdue)
                   AS complaints_accepted_on_time,
               count(*) FILTER (WHERE closed_at IS NOT NULL OR completion_overdue)
                   AS complaints_due,
               count(*) FILTER (WHERE closed_at IS NOT NULL AND NOT completion_overdue)
                   AS complaints_on_time
          FROM complaint_facts
         WHERE filed_at IS NOT NULL AND {_IN.format(t="filed_at")}
           AND {_DISTRICT.format(d="district_code")}
         GROUP BY 1""",
    "surveys": f"""
        SELECT {{key}} AS key, count(*) AS surveys_closed,
               sum(households)::int AS survey_households, sum(responses)::int AS survey_responses,
               coalesce(sum(satisfaction_rate * responses)
                        FILTER (WHERE satisfaction_rate IS NOT NULL), 0)::float8 AS satisfied,
               coalesce(sum(responses) FILTER (WHERE satisfaction_rate IS NOT NULL), 0)::int
                   AS rated_responses
          FROM survey_facts
         WHERE {_IN.format(t="closed_at")} AND {_DISTRICT.format(d="district_code")}
         GROUP BY 1""",
    "activities": f"""
        SELECT {{key}} AS key,
               count(*) FILTER (WHERE kind = 'cultural') AS cultural_activities,
               count(*) FILTER (WHERE kind = 'publicity') AS publicity_activities,
               sum(participants)::int AS activity_participants
          FROM activity_facts
         WHERE ($1::date IS NULL OR held_on >= $1) AND ($2::date IS NULL OR held_on <= $2)
           AND {_DISTRICT.format(d="district_code")}
         GROUP BY 1""",
    "cases": f"""
        SELECT {{key}} AS key, count(*) AS cases_opened,
               count(*) FILTER (WHERE status = 'published') AS cases_published
          FROM cases
         WHERE {_IN.format(t="opened_at")} AND {_DISTRICT.format(d="district_code")}
         GROUP BY 1""",
}
_KEY: dict[By, str] = {"district": "district_code", "enterprise": "enterprise_id"}
_NAME: dict[By, str] = {"district": "district_name", "enterprise": "enterprise_name"}


class PgFigureQueries:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def campaigns(self) -> list[Window]:
        """The campaigns seen, latest first, with their dates (None until a phase is seen)."""
        rows = await self._conn.fetch(
            """SELECT campaign_id, title_zh, starts_on, ends_on FROM campaign_facts
                ORDER BY coalesce(starts_on, seen_at::date) DESC, campaign_id DESC"""
        )
        return [Window(r["campaign_id"], r["title_zh"], r["starts_on"], r["ends_on"]) for r in rows]

    async def figures(self, window: Window, by: By, district_code: str | None) -> list[Figures]:
        """One row per district (or enterprise, optionally of one district) with a registered
        project or a fact in the window, ordered by key."""
        key = _KEY[by]
        counts: dict[str, dict[str, Any]] = {}
        names = await self._conn.fetch(
            f"""SELECT {key} AS key, (array_agg({_NAME[by]} ORDER BY occurred_at DESC))[1] AS name
                  FROM projects WHERE $1::text IS NULL OR district_code = $1 GROUP BY 1""",
            district_code,
        )
        for r in names:
            counts.setdefault(r["key"], {"name": r["name"]})
        for table, sql in _QUERIES.items():
            bounds = (
                (window.starts_on, window.ends_on)
                if table == "activities"
                else (window.start, window.end)
            )
            for r in await self._conn.fetch(sql.format(key=key), *bounds, district_code):
                row = counts.setdefault(r["key"], {})
                if table == "groups":
                    groups = row.setdefault("group_failures", {})
                    groups[(r["kind"], r["item_group"])] = r["failed"]
                else:
                    row.update({k: v for k, v in dict(r).items() if k != "key"})
        if window.campaign_id is not None:
            for k, (submitted, due) in (await self._plans(window.campaign_id, by)).items():
                if k in counts:
                    counts[k].update(plans_submitted=submitted, plans_due=due)
        return [
            Figures(by=by, key=k, **{"name": k, **{c: v for c, v in row.items() if v is not None}})
            for k, row in sorted(counts.items())
        ]

    async def _plans(self, campaign_id: str, by: By) -> dict[str, tuple[int, int]]:
        """Plans submitted / due: per district, the district office's own and those of the
        enterprises running a project there; per enterprise, its own (1 due)."""
        if by == "enterprise":
            rows = await self._conn.fetch(
                """SELECT DISTINCT p.enterprise_id AS key,
                          EXISTS (SELECT 1 FROM plan_facts f WHERE f.campaign_id = $1
                                     AND f.submitter_kind = 'enterprise'
                                     AND f.submitter_id = p.enterprise_id)::int AS submitted,
                          1 AS due
                     FROM projects p""",
                campaign_id,
            )
        else:
            rows = await self._conn.fetch(
                """WITH runs AS (SELECT DISTINCT district_code, enterprise_id FROM projects),
                        plans AS (SELECT submitter_kind, submitter_id FROM plan_facts
                                   WHERE campaign_id = $1)
                   SELECT d.district_code AS key,
                          1 + (SELECT count(*) FROM runs r
                                WHERE r.district_code = d.district_code)::int AS due,
                          (EXISTS (SELECT 1 FROM plans p WHERE p.submitter_kind = 'district'
                                      AND p.submitter_id = d.district_code))::int
                          + (SELECT count(*) FROM runs r JOIN plans p
                                    ON p.submitter_kind = 'enterprise'
                                   AND p.submitter_id = r.enterprise_id
                              WHERE r.district_code = d.district_code)::int AS submitted
                     FROM (SELECT DISTINCT district_code FROM projects) d""",
                campaign_id,
            )
        return {r["key"]: (r["submitted"], r["due"]) for r in rows}


def figure_queries(pool: asyncpg.Pool) -> contextlib.AbstractAsyncContextManager[PgFigureQueries]:
    """Queries on one pooled connection, for one request."""

    @contextlib.asynccontextmanager
    async def reading() -> AsyncIterator[PgFigureQueries]:
        async with pool.acquire() as conn:
            yield PgFigureQueries(conn)

    return reading()
