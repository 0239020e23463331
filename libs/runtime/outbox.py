"""Transactional outbox: write events in the same PostgreSQL transaction as the business change.

`enqueue` refuses to run outside a transaction: an event written on its own could be published for a
change that then rolls back. A statement trigger on the table (migration 0003) sends the NOTIFY,
delivered at commit, waking the relay at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import structlog

from runtime import db
from schemas import cloudevents
from schemas.base import Event

NOTIFY_CHANNEL = "wuye_outbox"  # named in migrations/0003_outbox_notify_trigger.sql
log = structlog.get_logger(__name__)


class OutboxOutsideTransaction(RuntimeError):
    pass


async def enqueue(
    conn: db.Connection,
    event: Event,
    *,
    source: str,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> cloudevents.CloudEvent:
    """Write `event` into the outbox in `conn`'s transaction. Correlation and causation are
    given by the caller (`runtime.unit_of_work.PgOutbox` passes its unit's `Trace`): never read
    from the logging context. No correlation id: the event starts its own (its id)."""
    if not conn.is_in_transaction():
        raise OutboxOutsideTransaction("outbox.enqueue must run inside the business transaction")
    ce = cloudevents.from_event(
        event, source=source, correlation_id=correlation_id, causation_id=causation_id
    )
    headers = [[name, value.decode()] for name, value in cloudevents.to_kafka_headers(ce)]
    await conn.execute(
        """INSERT INTO outbox (event_id, event_type, topic, key, headers, payload, correlation_id)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7)""",
        ce.id,
        ce.type,
        event.topic,
        ce.key,
        json.dumps(headers, ensure_ascii=False),
        ce.data,
        ce.correlationid,
    )
    log.info(
        "event_enqueued",
        event_id=ce.id,
        event_type=ce.type,
        correlation_id=ce.correlationid,
        causation_id=ce.causationid,
        topic=event.topic,
        key=event.partition_key(),
    )
    return ce


async def purge_published(pool: asyncpg.Pool, now: datetime, *, keep_days: int) -> int:
    """Delete rows published more than `keep_days` ago, in batches; return how many.

    Published rows are kept a while for audit and for answering "was it sent?"; the events
    themselves live on in Kafka for the topic's retention.
    """
    deleted = 0
    cutoff = now - timedelta(days=keep_days)
    while True:
        async with pool.acquire() as conn:
            result = await conn.execute(
                """DELETE FROM outbox WHERE seq IN (
                       SELECT seq FROM outbox WHERE published_at < $1 ORDER BY seq LIMIT 5000)""",
                cutoff,
            )
        count = int(result.split()[-1])
        deleted += count
        if count < 5000:
            return deleted


# -- parked rows (runtime.relay parks; operators release or discard) ------------------------------


@dataclass(frozen=True)
class ParkedRow:
    seq: int
    event_id: str
    event_type: str
    topic: str
    key: str | None
    size: int  # payload bytes
    attempts: int
    reason: str
    parked_at: datetime
    created_at: datetime
    held_back: int  # later unpublished rows of the same key, waiting behind this one

    def summary(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "topic": self.topic,
            "key": self.key,
            "payload_bytes": self.size,
            "attempts": self.attempts,
            "reason": self.reason,
            "parked_at": self.parked_at.isoformat(),
            "created_at": self.created_at.isoformat(),
            "held_back_behind_it": self.held_back,
        }


async def park(conn: db.Connection, seq: int, attempts: int, reason: str) -> None:
    """Stop trying to publish row `seq`: the relay skips it and holds its key's later rows."""
    await conn.execute(
        """UPDATE outbox SET attempts = $2, last_error = $3, parked_at = now(),
                  next_attempt_at = 'infinity'
            WHERE seq = $1""",
        seq,
        attempts,
        reason[:1000],
    )


async def parked(conn: db.Connection) -> list[ParkedRow]:
    rows = await conn.fetch(
        """SELECT o.seq, o.event_id, o.event_type, o.topic, o.key, length(o.payload) AS size,
                  o.attempts, coalesce(o.last_error, '') AS reason, o.parked_at, o.created_at,
                  (SELECT count(*) FROM outbox later
                    WHERE later.published_at IS NULL AND later.key IS NOT DISTINCT FROM o.key
                      AND later.seq > o.seq) AS held_back
             FROM outbox o
            WHERE o.parked_at IS NOT NULL AND o.published_at IS NULL
            ORDER BY o.seq"""
    )
    return [
        ParkedRow(
            seq=r["seq"],
            event_id=r["event_id"],
            event_type=r["event_type"],
            topic=r["topic"],
            key=r["key"].decode("utf-8", "replace") if r["key"] is not None else None,
            size=r["size"],
            attempts=r["attempts"],
            reason=r["reason"],
            parked_at=r["parked_at"],
            created_at=r["created_at"],
            held_back=r["held_back"],
        )
        for r in rows
    ]


async def release(conn: db.Connection, event_ids: list[str], *, by: str, why: str) -> list[str]:
    """Give parked rows a fresh set of attempts, due now; return the event ids released."""
    rows = await conn.fetch(
        """UPDATE outbox SET parked_at = NULL, attempts = 0, next_attempt_at = now()
            WHERE event_id = ANY($1::text[]) AND parked_at IS NOT NULL AND published_at IS NULL
        RETURNING event_id, event_type, topic, last_error""",
        event_ids,
    )
    for r in rows:
        log.warning(
            "outbox_row_released",
            event_id=r["event_id"],
            event_type=r["event_type"],
            topic=r["topic"],
            parked_reason=r["last_error"],
            by=by,
            why=why,
        )
    return [r["event_id"] for r in rows]


async def discard(conn: db.Connection, event_ids: list[str], *, by: str, why: str) -> list[str]:
    """Delete parked rows for good (the key's later rows then go out); return the event ids.
    The log line is the record of what was dropped, by whom and why."""
    rows = await conn.fetch(
        """DELETE FROM outbox
            WHERE event_id = ANY($1::text[]) AND parked_at IS NOT NULL AND published_at IS NULL
        RETURNING event_id, event_type, topic, key, correlation_id, length(payload) AS size,
                  created_at, last_error""",
        event_ids,
    )
    for r in rows:
        log.warning(
            "outbox_row_discarded",
            event_id=r["event_id"],
            event_type=r["event_type"],
            topic=r["topic"],
            key=r["key"].decode("utf-8", "replace") if r["key"] is not None else None,
            correlation_id=r["correlation_id"],
            payload_bytes=r["size"],
            created_at=r["created_at"].isoformat(),
            parked_reason=r["last_error"],
            by=by,
            why=why,
        )
    return [r["event_id"] for r in rows]
