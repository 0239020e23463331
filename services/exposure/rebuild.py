"""Rebuild the exposure board's read model from the Kafka topics: `python -m services.exposure.rebuild`.

Every table of the exposure service is a projection: the facts (registry copy, inspections, orders,
complaints, surveys) fold the input topics, and the cases, their timeline and objections fold
`wuye.exposure.events`, where every decision the service ever took is recorded. Replaying the topics
from the beginning into empty tables therefore gives the same board; no decision is taken again.

How (docs/exposure.md, "Rebuilding"): stop the exposure service (all replicas), run this with the
service's DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS, start the service. The replay stops at the end
offsets seen when it starts; the consumers then go on from their committed offsets, and whatever
they see again is skipped (facts are upserts, exposure events are applied once by id).
Retention: the input topics keep 365 days (the registry is compacted, kept for ever); facts older
than that are not rebuilt — the cases are, as long as `wuye.exposure.events` is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from aiokafka import AIOKafkaConsumer

from runtime import db, kafka
from runtime import logging as runtime_logging
from runtime.consumer import AnyHandler
from runtime.scheduler import SystemClock
from runtime.unit_of_work import Delivered, EventFailed
from schemas import cloudevents
from services.exposure import subscriptions
from services.exposure.adapters import policy_file, projection
from services.exposure.adapters.postgres import PgExposureUnitOfWork
from services.exposure.settings import PUBLICATION_FILE, ExposureSettings

if TYPE_CHECKING:  # annotations only: the scheduler or the caller hands the pool over
    import asyncpg

log = structlog.get_logger(__name__)
FOREIGN_KEY_VIOLATION = "23503"  # SQLSTATE

BATCH = 500  # records per transaction
TOPICS = subscriptions.TOPICS
TABLES = projection.TABLES


class RebuildRefused(RuntimeError):
    pass


@dataclass
class Replayed:
    applied: dict[str, int] = field(default_factory=dict)
    # records no handler wants, that cannot be read, or about a case never opened (the live
    # service dead-lettered those)
    skipped: int = 0

    def total(self) -> int:
        return sum(self.applied.values())


async def replay_topic(
    pool: asyncpg.Pool,
    bootstrap: str,
    topic: str,
    out: Replayed,
    client_kwargs: dict[str, Any] | None = None,
) -> None:
    chosen = subscriptions.replay_handlers(topic)
    # The replay takes no decision: the publication rules are there because a unit carries them.
    policy = policy_file.load(PUBLICATION_FILE)
    unit = PgExposureUnitOfWork(pool, source="/wuye/exposure", clock=SystemClock(), policy=policy)
    # No group: nothing is committed, the service's consumer groups are left as they are.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="exposure-rebuild",
        **(client_kwargs or {}),
    )
    await consumer.start()
    try:
        partitions = sorted(consumer.assignment())
        if not partitions:
            return
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=BATCH)
            # One transaction per fetched batch (at most BATCH records), applied in offset order
            # per partition; every handler is idempotent, and a failure aborts the rebuild.
            async with pool.acquire() as conn, conn.transaction():
                uow = unit.joined(conn)
                for tp, records in batches.items():
                    for record in records:
                        if record.offset < ends[tp]:
                            await _apply(conn, uow, chosen, record, out)
            for tp in batches:
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await kafka.stop_consumer(consumer)


async def _apply(
    conn: db.Connection,
    uow: PgExposureUnitOfWork,
    chosen: dict[str, AnyHandler],
    record: object,
    out: Replayed,
) -> None:
    try:
        ce = cloudevents.from_kafka(record.key, record.value, record.headers)  # type: ignore[attr-defined]
        handler = chosen.get(ce.type)
        if handler is None:
            out.skipped += 1
            return
        event = cloudevents.decode(ce)
    except (cloudevents.MalformedEvent, cloudevents.UnknownEventType):
        out.skipped += 1
        return
    try:
        async with conn.transaction():  # a savepoint: a skipped record leaves no trace
            await handler(uow, [Delivered(event, ce)])
    except EventFailed as exc:
        # An event about a case the topic never opened (the service dead-lettered it when it
        # came): skipped as the live board did, logged; any other failure aborts the rebuild.
        if getattr(exc.__cause__, "sqlstate", None) != FOREIGN_KEY_VIOLATION:
            raise
        log.warning("replay_record_skipped", type=ce.type, id=ce.id, reason=str(exc.__cause__))
        out.skipped += 1
        return
    out.applied[ce.type] = out.applied.get(ce.type, 0) + 1


async def rebuild(
    pool: asyncpg.Pool, bootstrap: str, client_kwargs: dict[str, Any] | None = None
) -> Replayed:
    """Empty the projection and replay every topic it folds, each up to its current end."""
    unsent = await projection.unpublished(pool)
    if unsent:
        # Those decisions are not on the topic yet: a replay would lose them, and the service
        # could take them again. Let the relay publish them first (start the service, wait).
        raise RebuildRefused(f"{unsent} exposure events are not published yet")
    out = Replayed()
    await projection.truncate(pool)
    for topic in TOPICS:
        await replay_topic(pool, bootstrap, topic, out, client_kwargs)
        log.info("topic_replayed", topic=topic, applied=out.total(), skipped=out.skipped)
    return out


async def _main(database_url: str, bootstrap: str, client_kwargs: dict[str, Any]) -> Replayed:
    pool = await db.create_pool(database_url, max_size=4)
    try:
        return await rebuild(pool, bootstrap, client_kwargs)
    finally:
        await pool.close()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--yes", action="store_true", help="really empty and rebuild the tables")
    args = parser.parse_args(argv)
    settings = ExposureSettings()
    runtime_logging.configure("exposure-rebuild", level=settings.log_level, fmt=settings.log_format)
    if not args.yes:
        print("This empties the exposure board's tables and replays the topics. Add --yes.")
        return 2
    try:
        out = asyncio.run(
            _main(
                settings.database_url,
                settings.kafka_bootstrap_servers,
                settings.kafka_security().client_kwargs(),
            )
        )
    except RebuildRefused as exc:
        print(f"refused: {exc}")
        return 1
    print(f"replayed {out.total()} events ({out.skipped} skipped): {out.applied}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
