"""Rows for the fact tables, built from runs of events the way applying them one by one would
leave the tables: shared by the PostgreSQL adapter (one INSERT ... SELECT FROM unnest per run)
and the in-memory fake."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import date, datetime, time
from typing import Any

from runtime.calendar import CHINA
from schemas.campaigns import v1 as campaigns


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


def campaign_ranges(
    events: Sequence[campaigns.CampaignPhaseStarted],
) -> list[tuple[str, date, date]]:
    """Per campaign: the first day of its earliest phase and the last day of its latest phase
    among the events (the stored range only ever widens)."""
    by_id: dict[str, tuple[date, date]] = {}
    for e in events:
        s, t = by_id.get(e.campaign_id, (e.starts_on, e.ends_on))
        by_id[e.campaign_id] = (min(s, e.starts_on), max(t, e.ends_on))
    return [(c, s, t) for c, (s, t) in by_id.items()]


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
