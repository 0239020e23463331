"""Inbox: the record of handled event ids that makes every consumer idempotent.

`claim` runs in the same transaction as the handler's effect: if the transaction commits, the event is
marked handled together with its effect; if it rolls back, neither happened and a redelivery retries.
"""

from __future__ import annotations

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
