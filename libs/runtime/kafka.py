"""Kafka clients configured for the platform's guarantees, and explicit topic creation.

Producers use `acks="all"` with idempotence (aiokafka's defaults are acks=1 without it). Topics are
created explicitly from `schemas.topics`; the broker's auto-creation is off, so a typo in a topic name
fails loudly instead of silently creating an empty topic. In Kubernetes, Strimzi KafkaTopic resources
create them and `ensure_topics` only finds them present.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from schemas import topics as topic_registry

log = structlog.get_logger(__name__)


def make_producer(bootstrap_servers: str, *, client_id: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        request_timeout_ms=15_000,
    )


def all_topics() -> list[topic_registry.TopicSpec]:
    return [
        *topic_registry.TOPICS,
        *(topic_registry.dead_letter_topic(s) for s in topic_registry.DEAD_LETTER_SERVICES),
    ]


async def ensure_topics(
    bootstrap_servers: str,
    specs: Iterable[topic_registry.TopicSpec] | None = None,
    *,
    replication_factor: int = 1,
) -> list[str]:
    """Create the topics that do not exist yet; return the names created."""
    wanted = list(specs if specs is not None else all_topics())
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="wuye-topic-admin")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in wanted if s.name not in existing]
        if not missing:
            return []
        new = [
            NewTopic(
                name=s.name,
                num_partitions=s.partitions,
                replication_factor=replication_factor,
                topic_configs=dict(s.config),
            )
            for s in missing
        ]
        # Another process may create them between our listing and our request.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new)
        log.info("topics_created", topics=[s.name for s in missing])
        return [s.name for s in missing]
    finally:
        await admin.close()
