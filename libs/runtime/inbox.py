"""Inbox: the record of handled event ids that makes every consumer idempotent.

`claim` runs in the same transaction as the handler's effect: if the transaction commits, the event is
marked handled together with its effect; if it rolls back, neither happened and a redelivery retries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from runtime import db


async def claim(
    conn: db.Connection,
    *,
    consumer: str,
    event_id: str,
    event_type: str,
    topic: str,
    partition: int,
    offset: int,
) -> bool:
    """Return True the first time this consumer sees this event id, False on a duplicate."""
    if not conn.is_in_transaction():
        raise RuntimeError("inbox.claim must run inside the handler's transaction")
    inserted = await conn.fetchval(
        """INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset")
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (consumer, event_id) DO NOTHING
           RETURNING 1""",
        consumer,
        event_id,
        event_type,
        topic,
        partition,
        offset,
    )
    return inserted is not None


@dataclass(frozen=True)
class Delivery:
    """One delivered event, as the inbox records it."""

    event_id: str
    event_type: str
    topic: str
    partition: int
    offset: int


async def claim_many(
    conn: db.Connection, *, consumer: str, deliveries: Sequence[Delivery]
) -> set[str]:
    """Claim a batch in one statement; return the event ids seen for the first time.

    An id delivered twice within the batch is claimed once (the caller handles its first
    occurrence only).
    """
    if not conn.is_in_transaction():
        raise RuntimeError("inbox.claim_many must run inside the handlers' transaction")
    rows = await conn.fetch(
        """INSERT INTO inbox (consumer, event_id, event_type, topic, partition, "offset")
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::int[], $6::bigint[])
           ON CONFLICT (consumer, event_id) DO NOTHING
           RETURNING event_id""",
        consumer,
        [d.event_id for d in deliveries],
        [d.event_type for d in deliveries],
        [d.topic for d in deliveries],
        [d.partition for d in deliveries],
        [d.offset for d in deliveries],
    )
    return {row["event_id"] for row in rows}
