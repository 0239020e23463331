"""The public board's read queries (asyncpg): published cases only (never an objection's grounds
or an inspector's note), the districts to filter by, and the grades and statistics of
`board_stats`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import asyncpg

from runtime import db
from services.exposure.adapters import board_stats
from services.exposure.domain import board

PUBLIC = """c.case_id, c.project_id, c.project_name, c.enterprise_id, c.enterprise_name,
    c.district_code, coalesce(d.district_name, c.district_code) AS district_name, c.reason, c.tier,
    c.items, c.deadline, c.notice_no, c.published_at, c.min_until, c.max_until, c.rectified_at"""
DISTRICT_NAMES = """LEFT JOIN (SELECT DISTINCT ON (district_code) district_code, district_name
                              FROM projects ORDER BY district_code, occurred_at DESC) d
                      ON d.district_code = c.district_code"""


def _public(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    items = json.loads(out.pop("items"))
    # The inspector's note stays with the offices: it may name a person.
    out["items"] = [
        {k: i[k] for k in ("item_id", "title_zh", "title_en", "severity")} for i in items
    ]
    out["status"] = "rectified" if out["rectified_at"] is not None else "published"
    return out


class PgBoardQueries:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def published(
        self,
        *,
        district: str | None,
        enterprise: str | None,
        status: str | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        offset: int,
    ) -> tuple[int, list[dict[str, Any]]]:
        where = """c.status = 'published'
               AND ($1::text IS NULL OR c.district_code = $1)
               AND ($2::text IS NULL OR c.enterprise_id = $2)
               AND ($3::text IS NULL OR ($3 = 'rectified') = (c.rectified_at IS NOT NULL))
               AND ($4::timestamptz IS NULL OR c.published_at >= $4)
               AND ($5::timestamptz IS NULL OR c.published_at < $5)"""
        args = (district, enterprise, status, start, end)
        total: int = await self._conn.fetchval(f"SELECT count(*) FROM cases c WHERE {where}", *args)
        rows = await self._conn.fetch(
            f"""SELECT {PUBLIC} FROM cases c {DISTRICT_NAMES} WHERE {where}
                 ORDER BY c.published_at DESC, c.case_id LIMIT $6 OFFSET $7""",
            *args,
            limit,
            offset,
        )
        return total, [_public(r) for r in rows]

    async def published_case(self, case_id: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            f"SELECT {PUBLIC}, c.published_photos FROM cases c {DISTRICT_NAMES} WHERE c.case_id = $1 "
            "AND c.status = 'published'",
            case_id,
        )
        if row is None:
            return None
        case = _public(row)
        photos = row["published_photos"]
        case["photos"] = json.loads(photos) if isinstance(photos, str) else list(photos)
        timeline = await self._conn.fetch(
            """SELECT at, title_zh, title_en FROM case_timeline WHERE case_id = $1
                ORDER BY at, event_id""",
            case_id,
        )
        case["timeline"] = [dict(t) for t in timeline]
        return case

    async def districts(self) -> list[dict[str, str]]:
        """Districts to filter by: the registry's, and any with a published case (named by code
        until the registry copy knows it). The published cases' districts are found by a loose
        index scan (one probe per district), not by reading every case: that read cost the list
        page 38 ms at 100k cases (docs/performance.md)."""
        rows = await self._conn.fetch(
            """WITH RECURSIVE published AS (
                    (SELECT district_code FROM cases WHERE status = 'published'
                      ORDER BY district_code LIMIT 1)
                    UNION ALL
                    SELECT (SELECT c.district_code FROM cases c
                             WHERE c.status = 'published' AND c.district_code > p.district_code
                             ORDER BY c.district_code LIMIT 1)
                      FROM published p WHERE p.district_code IS NOT NULL),
                 named AS (SELECT DISTINCT ON (district_code) district_code, district_name
                             FROM projects ORDER BY district_code, occurred_at DESC)
               SELECT k.district_code, coalesce(n.district_name, k.district_code) AS district_name
                 FROM (SELECT district_code FROM named
                       UNION SELECT district_code FROM published WHERE district_code IS NOT NULL) k
                 LEFT JOIN named n USING (district_code)
                ORDER BY k.district_code"""
        )
        return [dict(r) for r in rows]

    async def enterprise_name(self, enterprise_id: str) -> str | None:
        """From the registry copy, else from a published case."""
        name: str | None = await self._conn.fetchval(
            """SELECT enterprise_name FROM projects WHERE enterprise_id = $1
                ORDER BY occurred_at DESC LIMIT 1""",
            enterprise_id,
        ) or await self._conn.fetchval(
            "SELECT enterprise_name FROM cases WHERE enterprise_id = $1 AND status = 'published' "
            "LIMIT 1",
            enterprise_id,
        )
        return name

    async def enterprise_grades(
        self, enterprise_id: str | None = None
    ) -> list[board.EnterpriseGrade]:
        return await board_stats.enterprise_grades(self._conn, enterprise_id=enterprise_id)

    async def project_grades(self, enterprise_id: str) -> list[board.ProjectGrade]:
        return await board_stats.project_grades(self._conn, enterprise_id=enterprise_id)

    async def district_stats(self) -> list[board.CampaignStats]:
        return await board_stats.district_stats(self._conn)

    async def enterprise_stats(self) -> list[board.CampaignStats]:
        return await board_stats.enterprise_stats(self._conn)

    async def draws(self, limit: int) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            """SELECT f.event, coalesce(d.district_name, f.district_code) AS district_name
                 FROM draw_facts f
                 LEFT JOIN (SELECT DISTINCT ON (district_code) district_code, district_name
                              FROM projects ORDER BY district_code, occurred_at DESC) d
                        ON d.district_code = f.district_code
                ORDER BY f.drawn_at DESC LIMIT $1""",
            limit,
        )
        draws = []
        for row in rows:
            draw = json.loads(row["event"])
            draw["district_name"] = row["district_name"]
            draws.append(draw)
        projects = sorted({p["project_id"] for d in draws for p in d["patrols"]})
        since = min((datetime.fromisoformat(d["drawn_at"]) for d in draws), default=None)
        patrols = await self._conn.fetch(
            """SELECT project_id, passed, score, inspected_at FROM inspection_facts
                WHERE project_id = ANY($1::text[]) AND kind = 'patrol' AND inspected_at >= $2
                ORDER BY inspected_at""",
            projects,
            since,
        )
        for draw in draws:
            drawn_at = datetime.fromisoformat(draw["drawn_at"])
            for patrol in draw["patrols"]:
                patrol["outcome"] = next(
                    (
                        {k: r[k] for k in ("passed", "score", "inspected_at")}
                        for r in patrols
                        if r["project_id"] == patrol["project_id"] and r["inspected_at"] >= drawn_at
                    ),
                    None,
                )
        return draws


def board_queries(pool: asyncpg.Pool) -> contextlib.AbstractAsyncContextManager[PgBoardQueries]:
    """Queries on one pooled connection, for one page."""

    @contextlib.asynccontextmanager
    async def reading() -> AsyncIterator[PgBoardQueries]:
        async with pool.acquire() as conn:
            yield PgBoardQueries(conn)

    return reading()
