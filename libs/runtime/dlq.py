"""Look into and replay a service's dead-letter topic: `python -m runtime.dlq list|replay`.

A dead-lettered record keeps its key, value and headers, plus `x-dlq-*` headers saying why and where
it came from. After the cause is fixed (a bug deployed away, a missing reference record loaded),
`replay` sends the chosen records back to their original topic, unchanged but for the `x-dlq-*`
headers. The consumers' inbox makes this safe: an event that was handled after all is skipped, one
that still fails lands on the dead-letter topic again. docs/operations.md has the procedure.
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

from runtime import kafka
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


async def _main(args: argparse.Namespace) -> int:
    from runtime.settings import Settings

    class DlqSettings(Settings):
        service_name: str = "dlq"
        database_url: str = "unused"

    settings = DlqSettings()
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
    parser.add_argument("command", choices=("list", "replay"))
    parser.add_argument("--service", required=True, choices=topics.DEAD_LETTER_SERVICES)
    parser.add_argument("--bootstrap", help="default: KAFKA_BOOTSTRAP_SERVERS")
    parser.add_argument("--event-id", action="append", help="only these events (repeatable)")
    parser.add_argument("--event-type", help="only this CloudEvents type")
    parser.add_argument("--reason-contains", help="only records whose reason contains this")
    parser.add_argument("--yes", action="store_true", help="replay: really send")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
