"""The rebuild's database work (rebuild.py): which tables are the projection, emptying them, and
whether the outbox still holds unpublished decisions."""

from __future__ import annotations

import asyncpg

# Everything the projection owns (the runtime's outbox and inbox are not part of it).
TABLES = (
    "case_timeline",
    "objections",
    "cases",
    "applied_events",
    "evidence",
    "evidence_photos",
    "projects",
    "inspection_facts",
    "order_facts",
    "complaint_facts",
    "survey_facts",
    "criticism_facts",
    "campaign_facts",
    "plan_facts",
    "activity_facts",
    "draw_facts",
)


async def truncate(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await conn.execute(f"TRUNCATE {', '.join(TABLES)}")


async def unpublished(pool: asyncpg.Pool) -> int:
    """Events in the outbox not yet on Kafka."""
    async with pool.acquire() as conn:
        count: int = await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return count
