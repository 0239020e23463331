"""PostgreSQL storage of satisfaction surveys and of the campaigns' implementation phases
(asyncpg, plain SQL).

A survey is one row with its running tally (responses, satisfied, sums and counts per question).
Tokens are stored only as SHA-256 hashes, in their own table, with a used flag and nothing else;
comments are stored apart, without a time, so an answer cannot be traced to a token.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import asyncpg

from runtime import db
from services.complaints.domain import survey as survey_model
from services.complaints.service.ports import CampaignPhase, SurveyExists
from services.complaints.service.ports import SurveyRow as Row

# --- campaigns (from the campaigns topic) --------------------------------------------------------


async def upsert_campaigns(
    conn: db.Connection, phases: Sequence[tuple[CampaignPhase, datetime]]
) -> int:
    """Keep the latest dates per campaign, in one statement; an older record never overwrites a
    newer one (in the batch or in the table). Returns how many rows changed."""
    latest: dict[str, tuple[CampaignPhase, datetime]] = {}
    for phase, occurred_at in phases:  # one INSERT ... ON CONFLICT may not touch a row twice
        seen = latest.get(phase.campaign_id)
        if seen is None or seen[1] <= occurred_at:
            latest[phase.campaign_id] = (phase, occurred_at)
    if not latest:
        return 0
    rows = list(latest.values())
    status = await conn.execute(
        """INSERT INTO survey_campaigns (campaign_id, title_zh, starts_on, ends_on, occurred_at)
           SELECT * FROM unnest($1::text[], $2::text[], $3::date[], $4::date[],
                                $5::timestamptz[])
           ON CONFLICT (campaign_id) DO UPDATE SET
               title_zh = EXCLUDED.title_zh, starts_on = EXCLUDED.starts_on,
               ends_on = EXCLUDED.ends_on, occurred_at = EXCLUDED.occurred_at, updated_at = now()
           WHERE survey_campaigns.occurred_at <= EXCLUDED.occurred_at""",
        [p.campaign_id for p, _ in rows],
        [p.title_zh for p, _ in rows],
        [p.starts_on for p, _ in rows],
        [p.ends_on for p, _ in rows],
        [at for _, at in rows],
    )
    return int(status.split()[-1])


async def campaigns_around(conn: db.Connection, day: date) -> list[CampaignPhase]:
    """Campaigns whose implementation phase includes the China date `day` (or its neighbours,
    the caller decides on exact instants)."""
    rows = await conn.fetch(
        """SELECT campaign_id, title_zh, starts_on, ends_on FROM survey_campaigns
           WHERE starts_on <= $1::date + 1 AND ends_on >= $1::date - 1
           ORDER BY starts_on, campaign_id""",
        day,
    )
    return [CampaignPhase(**dict(r)) for r in rows]


async def unchecked_campaigns_ended_before(conn: db.Connection, day: date) -> list[CampaignPhase]:
    """Campaigns whose implementation phase ended before the China date `day`, not yet scanned
    for missing surveys."""
    rows = await conn.fetch(
        """SELECT campaign_id, title_zh, starts_on, ends_on FROM survey_campaigns
           WHERE ends_on < $1 AND missing_checked_at IS NULL ORDER BY campaign_id""",
        day,
    )
    return [CampaignPhase(**dict(r)) for r in rows]


async def claim_missing_check(conn: db.Connection, campaign_id: str, now: datetime) -> bool:
    """Exactly once per campaign: a concurrent claim waits for this row and then finds it set."""
    got = await conn.fetchval(
        """UPDATE survey_campaigns SET missing_checked_at = $2
           WHERE campaign_id = $1 AND missing_checked_at IS NULL RETURNING campaign_id""",
        campaign_id,
        now,
    )
    return got is not None


async def enterprises_without_survey(conn: db.Connection, campaign_id: str) -> list[str]:
    """Enterprises running projects (local registry copy) that opened no survey in the campaign."""
    rows = await conn.fetch(
        """SELECT DISTINCT p.enterprise_id FROM complaint_projects p
           WHERE NOT EXISTS (SELECT 1 FROM surveys s
                             WHERE s.campaign_id = $1 AND s.enterprise_id = p.enterprise_id)
           ORDER BY p.enterprise_id""",
        campaign_id,
    )
    return [r["enterprise_id"] for r in rows]


async def mark_missing(
    conn: db.Connection, campaign_id: str, enterprise_id: str, now: datetime
) -> bool:
    """The unique key makes SurveyMissing once per campaign and enterprise."""
    got = await conn.fetchval(
        """INSERT INTO survey_missing (campaign_id, enterprise_id, detected_at) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING enterprise_id""",
        campaign_id,
        enterprise_id,
        now,
    )
    return got is not None


# --- surveys -------------------------------------------------------------------------------------


async def insert(conn: db.Connection, s: survey_model.Survey, *, district_code: str) -> None:
    try:
        async with conn.transaction():  # a savepoint: the caller's transaction stays usable
            await conn.execute(
                """INSERT INTO surveys (survey_id, campaign_id, project_id, enterprise_id,
                                        district_code, households, questions, opened_at,
                                        closes_at, status)
                   VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)""",
                s.survey_id,
                s.campaign_id,
                s.project_id,
                s.enterprise_id,
                district_code,
                s.households,
                json.dumps(
                    [{"id": q.id, "zh": q.label_zh, "en": q.label_en} for q in s.questions],
                    ensure_ascii=False,
                ),
                s.opened_at,
                s.closes_at,
                s.status,
            )
    except asyncpg.UniqueViolationError as exc:
        raise SurveyExists(s.project_id) from exc


async def add_tokens(conn: db.Connection, survey_id: str, hashes: Iterable[str]) -> None:
    await conn.executemany(
        "INSERT INTO survey_tokens (token_sha256, survey_id) VALUES ($1, $2)",
        [(h, survey_id) for h in hashes],
    )


async def token_hashes(conn: db.Connection, survey_id: str) -> frozenset[str]:
    rows = await conn.fetch(
        "SELECT token_sha256 FROM survey_tokens WHERE survey_id = $1", survey_id
    )
    return frozenset(r["token_sha256"] for r in rows)


_SELECT = """SELECT survey_id, campaign_id, project_id, enterprise_id, district_code, households,
                    questions, opened_at, closes_at, status, closed_at, responses, satisfied,
                    sums, counts FROM surveys"""


async def get(conn: db.Connection, survey_id: str, *, for_update: bool = False) -> Row | None:
    r = await conn.fetchrow(
        _SELECT + " WHERE survey_id = $1" + (" FOR UPDATE" if for_update else ""), survey_id
    )
    return None if r is None else _row(r)


async def get_by_token(conn: db.Connection, digest: str) -> Row | None:
    """The survey of a token, locked, knowing just this token (and whether it is used)."""
    t = await conn.fetchrow(
        "SELECT survey_id, used FROM survey_tokens WHERE token_sha256 = $1 FOR UPDATE", digest
    )
    if t is None:
        return None
    row = await get(conn, t["survey_id"], for_update=True)
    if row is None:
        return None
    used = frozenset({digest}) if t["used"] else frozenset()
    return Row(replace(row.survey, token_hashes=frozenset({digest}), used=used), row.district_code)


async def save_answer(
    conn: db.Connection, s: survey_model.Survey, digest: str, comment: str | None
) -> None:
    done = await conn.fetchval(
        """UPDATE survey_tokens SET used = true WHERE token_sha256 = $1 AND NOT used
           RETURNING token_sha256""",
        digest,
    )
    if done is None:
        raise RuntimeError("a used token reached save_answer")
    await _save_tally(conn, s)
    if comment:
        await conn.execute(
            "INSERT INTO survey_comments (survey_id, comment) VALUES ($1, $2)", s.survey_id, comment
        )


async def comments(conn: db.Connection, survey_ids: Sequence[str]) -> dict[str, list[str]]:
    """Sorted by text, never by id: the id is the order of answering."""
    rows = await conn.fetch(
        """SELECT survey_id, comment FROM survey_comments WHERE survey_id = ANY($1::text[])
           ORDER BY survey_id, comment""",
        list(survey_ids),
    )
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["survey_id"], []).append(r["comment"])
    return out


async def save_closed(conn: db.Connection, s: survey_model.Survey) -> None:
    await conn.execute(
        """UPDATE surveys SET status = $2, closed_at = $3, updated_at = now()
           WHERE survey_id = $1""",
        s.survey_id,
        s.status,
        s.closed_at,
    )


async def _save_tally(conn: db.Connection, s: survey_model.Survey) -> None:
    await conn.execute(
        """UPDATE surveys SET responses = $2, satisfied = $3, sums = $4::jsonb,
                  counts = $5::jsonb, updated_at = now()
           WHERE survey_id = $1""",
        s.survey_id,
        s.tally.responses,
        s.tally.satisfied,
        json.dumps(dict(s.tally.sums)),
        json.dumps(dict(s.tally.counts)),
    )


async def due_to_close(conn: db.Connection, now: datetime, limit: int) -> list[Row]:
    """Open surveys past their closing time, locked; rows another replica holds are skipped."""
    rows = await conn.fetch(
        _SELECT
        + """ WHERE status = 'open' AND closes_at <= $1
              ORDER BY survey_id LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [_row(r) for r in rows]


async def list_surveys(
    conn: db.Connection,
    *,
    enterprise_id: str | None,
    district_code: str | None,
    campaign_id: str | None,
) -> list[Row]:
    rows = await conn.fetch(
        _SELECT
        + """ WHERE ($1::text IS NULL OR enterprise_id = $1)
                AND ($2::text IS NULL OR district_code = $2)
                AND ($3::text IS NULL OR campaign_id = $3)
              ORDER BY opened_at, survey_id""",
        enterprise_id,
        district_code,
        campaign_id,
    )
    return [_row(r) for r in rows]


def _row(r: Any) -> Row:
    questions = tuple(
        survey_model.Question(q["id"], q["zh"], q["en"]) for q in json.loads(r["questions"])
    )
    tally = survey_model.Tally(
        r["responses"], r["satisfied"], json.loads(r["sums"]), json.loads(r["counts"])
    )
    survey = survey_model.Survey(
        survey_id=r["survey_id"],
        enterprise_id=r["enterprise_id"],
        project_id=r["project_id"],
        campaign_id=r["campaign_id"],
        households=r["households"],
        questions=questions,
        opened_at=r["opened_at"],
        closes_at=r["closes_at"],
        status=r["status"],
        tally=tally,
        closed_at=r["closed_at"],
    )
    return Row(survey, r["district_code"])
