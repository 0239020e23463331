"""An outside agency's consumer of the platform's public topics — a complete, short example.

Uses only aiokafka, the published JSON Schemas (schemas/jsonschema/, also in the AsyncAPI
document) and jsonschema to check them; nothing of the platform's own code. It reads the public
topics, checks each event against its schema, drops the repeats that at-least-once delivery
brings (by the CloudEvents id), and prints one JSON line per event. Commit after handling: a crash
re-reads, the id check drops what was handled already.

    python examples/agency_consumer.py --bootstrap kafka.wuye.example.gov.cn:9093 \\
        --agency housing --username agency-housing --password-file /run/secrets/kafka \\
        --cafile /run/secrets/wuye-ca.crt

docs/subscribing.md explains the topics, keys, headers, versioning and how to get credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
from aiokafka import AIOKafkaConsumer
from aiokafka.helpers import create_ssl_context

PUBLIC_TOPICS = (
    "wuye.registry.projects",
    "wuye.inspections.events",
    "wuye.surveys.events",
    "wuye.notifications.events",
    "wuye.exposure.events",
)
SCHEMAS = Path(__file__).resolve().parents[1] / "schemas" / "jsonschema"


def headers_of(record: Any) -> dict[str, str]:
    return {k: v.decode("utf-8") for k, v in (record.headers or ())}


class Validator:
    """The published JSON Schema of each event type, loaded on first use."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cache: dict[str, jsonschema.protocols.Validator] = {}

    def check(self, ce_type: str, data: Any) -> str | None:
        """None if valid, else why (an unknown type is reported, not fatal: a newer version)."""
        if ce_type not in self.cache:
            path = self.directory / f"{ce_type}.json"
            if not path.exists():
                return f"no published schema for {ce_type}"
            schema = json.loads(path.read_text(encoding="utf-8"))
            self.cache[ce_type] = jsonschema.Draft202012Validator(schema)
        error = jsonschema.exceptions.best_match(self.cache[ce_type].iter_errors(data))
        return None if error is None else f"{'/'.join(map(str, error.path))}: {error.message}"


def security_of(args: argparse.Namespace) -> dict[str, Any]:
    if not args.username:
        return {}  # a local broker without authentication
    return {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": args.username,
        "sasl_plain_password": Path(args.password_file).read_text().strip(),
        "ssl_context": create_ssl_context(cafile=args.cafile),
    }


async def consume(args: argparse.Namespace, security: dict[str, Any]) -> int:
    consumer = AIOKafkaConsumer(
        *args.topics,
        bootstrap_servers=args.bootstrap,
        group_id=f"agency-{args.agency}.{args.name}",  # the prefix the agency's ACL allows
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **security,
    )
    validator = Validator(Path(args.schemas))
    seen: set[str] = set()  # use a durable store (a table keyed by id) in production
    handled = 0
    await consumer.start()
    try:
        idle = 0.0
        while args.max_events is None or handled < args.max_events:
            batch = await consumer.getmany(timeout_ms=500, max_records=200)
            if not batch:
                idle += 0.5
                if args.idle_exit is not None and idle >= args.idle_exit:
                    break
                continue
            idle = 0.0
            for records in batch.values():
                for record in records:
                    h = headers_of(record)
                    event_id, ce_type = h.get("ce_id"), h.get("ce_type", "")
                    if event_id is None or event_id in seen:
                        continue  # a repeat (at-least-once), or not a CloudEvent
                    seen.add(event_id)
                    try:
                        problem = validator.check(ce_type, json.loads(record.value or b""))
                    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                        problem = f"not JSON: {exc}"  # report and go on: never stop on one record
                    print(
                        json.dumps(
                            {
                                "id": event_id,
                                "type": ce_type,
                                "topic": record.topic,
                                "key": (record.key or b"").decode(),
                                "time": h.get("ce_time"),
                                "correlationid": h.get("ce_correlationid"),
                                "valid": problem is None,
                                "problem": problem,
                            },
                            ensure_ascii=False,
                        ),
                        flush=True,
                    )
                    handled += 1
            await consumer.commit()  # after handling: at-least-once
    finally:
        await consumer.stop()
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--agency", required=True, help="your agency's name in the ACL")
    parser.add_argument("--name", default="main", help="this consumer's name within the agency")
    parser.add_argument("--topics", nargs="+", default=list(PUBLIC_TOPICS))
    parser.add_argument("--username")
    parser.add_argument("--password-file")
    parser.add_argument("--cafile")
    parser.add_argument("--schemas", default=str(SCHEMAS))
    parser.add_argument("--max-events", type=int)
    parser.add_argument("--idle-exit", type=float, help="stop after this many quiet seconds")
    args = parser.parse_args(argv)
    return asyncio.run(consume(args, security_of(args)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
