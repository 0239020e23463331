"""Transactional outbox: write events in the same PostgreSQL transaction as the business change.

`enqueue` refuses to run outside a transaction: an event written on its own could be published for a
change that then rolls back. A statement trigger on the table (migration 0003) sends the NOTIFY,
delivered at commit, waking the relay at once.
"""

from __future__ import annotations

import json
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
    if not conn.is_in_transaction():
        raise OutboxOutsideTransaction("outbox.enqueue must run inside the business transaction")
    context = structlog.contextvars.get_contextvars()
    ce = cloudevents.from_event(
        event,
        source=source,
        correlation_id=correlation_id or context.get("correlation_id"),
        # An event caused by handling another event names that event as its cause.
        causation_id=causation_id or context.get("event_id"),
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
