"""Look into and replay a service's dead-letter topic: `python -m runtime.dlq list|replay`; look
into and release or discard the outbox rows the relay parked: `parked|release|discard`.

A dead-lettered record keeps its key, value and headers, plus `x-dlq-*` headers saying why and where
it came from. After the cause is fixed (a bug deployed away, a missing reference record loaded),
`replay` sends the chosen records back to their original topic, unchanged but for the `x-dlq-*`
headers. The consumers' inbox makes this safe: an event that was handled after all is skipped, one
that still fails lands on the dead-letter topic again. docs/operations.md has the procedure.

Parked outbox rows are the producing side's dead letters: rows the relay could not publish after
OUTBOX_MAX_ATTEMPTS attempts (too large for the broker, not serialisable). They live in the
service's own database (`--database-url`, default DATABASE_URL); `release` gives them a fresh set of
attempts (after the broker's limit was raised, say), `discard` deletes them. Both need `--by` and
`--why`, which go to the log line that records the action.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from runtime import kafka, outbox
from schemas import topics


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode("utf-8", "replace")
        return None

    @property
    def original_topic(self) -> str | None:
        return self.header("x-dlq-original-topic")

    def summary(self) -> dict[str, Any]:
        return {
            "offset": f"{self.partition}:{self.offset}",
            "event_id": self.header("ce_id"),
            "event_type": self.header("ce_type"),
            "original": f"{self.original_topic}/{self.header('x-dlq-original-partition')}:"
            f"{self.header('x-dlq-original-offset')}",
            "consumer": self.header("x-dlq-consumer"),
            "reason": self.header("x-dlq-reason"),
        }


async def read_all(
    bootstrap: str, service: str, client_kwargs: dict[str, Any] | None = None
) -> list[DeadLetter]:
    """Every record on the service's dead-letter topic up to its current end (no group)."""
    topic = topics.dead_letter_topic(service).name
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **(client_kwargs or {}),
    )
    await consumer.start()
    out: list[DeadLetter] = []
    try:
        partitions = sorted(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        remaining = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                out.extend(_letter(r) for r in records if r.offset < ends[tp])
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        await kafka.stop_consumer(consumer)
    return out


def _letter(record: ConsumerRecord[bytes, bytes]) -> DeadLetter:
    return DeadLetter(
        record.topic,
        record.partition,
        record.offset,
        record.key,
        record.value or b"",
        list(record.headers or ()),
    )


async def replay(
    bootstrap: str,
    letters: list[DeadLetter],
    *,
    client_kwargs: dict[str, Any] | None = None,
    security: kafka.KafkaSecurity = kafka.PLAINTEXT,
) -> int:
    """Send each record back to its original topic; return how many were sent."""
    producer = kafka.make_producer(bootstrap, client_id="dlq-replay", security=security)
    await producer.start()
    sent = 0
    try:
        for letter in letters:
            if letter.original_topic is None:
                continue
            headers = [(k, v) for k, v in letter.headers if not k.startswith("x-dlq-")]
            await producer.send_and_wait(
                letter.original_topic, letter.value, key=letter.key, headers=headers
            )
            sent += 1
    finally:
        await producer.stop()
    return sent


def chooser(args: argparse.Namespace) -> Callable[[DeadLetter], bool]:
    def chosen(letter: DeadLetter) -> bool:
        if args.event_id and letter.header("ce_id") not in args.event_id:
            return False
        if args.event_type and letter.header("ce_type") != args.event_type:
            return False
        reason = letter.header("x-dlq-reason") or ""
        return not (args.reason_contains and args.reason_contains not in reason)

    return chosen


async def _parked(args: argparse.Namespace, database_url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(database_url)
    try:
        if args.command == "parked":
            for row in await outbox.parked(conn):
                print(json.dumps(row.summary(), ensure_ascii=False))
            return 0
        if not args.event_id or not args.by or not args.why:
            print(f"{args.command} needs --event-id (repeatable), --by and --why", file=sys.stderr)
            return 2
        act = outbox.release if args.command == "release" else outbox.discard
        async with conn.transaction():
            done = await act(conn, list(args.event_id), by=args.by, why=args.why)
        for event_id in done:
            print(json.dumps({"event_id": event_id, args.command + "d": True}))
        missing = sorted(set(args.event_id) - set(done))
        for event_id in missing:
            print(json.dumps({"event_id": event_id, "error": "not a parked row"}))
        return 1 if missing else 0
    finally:
        await conn.close()


async def _main(args: argparse.Namespace) -> int:
    from runtime.settings import Settings

    class DlqSettings(Settings):
        service_name: str = "dlq"
        database_url: str = "unused"

    settings = DlqSettings()
    if args.command in ("parked", "release", "discard"):
        from runtime import logging as runtime_logging

        # The release/discard log line (who, why, what) is the record of the action.
        runtime_logging.configure("dlq", level=settings.log_level, fmt=settings.log_format)
        database_url = args.database_url or (
            settings.database_url if settings.database_url != "unused" else ""
        )
        if not database_url:
            print("--database-url (or DATABASE_URL) is required", file=sys.stderr)
            return 2
        return await _parked(args, database_url)
    if not args.service:
        print("--service is required for list and replay", file=sys.stderr)
        return 2
    bootstrap = args.bootstrap or settings.kafka_bootstrap_servers
    security = settings.kafka_security()
    letters = [
        x
        for x in await read_all(bootstrap, args.service, security.client_kwargs())
        if chooser(args)(x)
    ]
    for letter in letters:
        print(json.dumps(letter.summary(), ensure_ascii=False))
    if args.command == "replay":
        if not args.yes:
            print(f"{len(letters)} record(s) would be replayed; add --yes to send them")
            return 2
        sent = await replay(bootstrap, letters, security=security)
        print(f"replayed {sent} record(s) to their original topics")
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("command", choices=("list", "replay", "parked", "release", "discard"))
    parser.add_argument("--service", choices=topics.DEAD_LETTER_SERVICES, help="list, replay")
    parser.add_argument(
        "--database-url", help="parked, release, discard: the service's database (DATABASE_URL)"
    )
    parser.add_argument("--by", help="release, discard: who acts (recorded in the log)")
    parser.add_argument("--why", help="release, discard: why (recorded in the log)")
    parser.add_argument("--bootstrap", help="default: KAFKA_BOOTSTRAP_SERVERS")
    parser.add_argument("--event-id", action="append", help="only these events (repeatable)")
    parser.add_argument("--event-type", help="only this CloudEvents type")
    parser.add_argument("--reason-contains", help="only records whose reason contains this")
    parser.add_argument("--yes", action="store_true", help="replay: really send")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
