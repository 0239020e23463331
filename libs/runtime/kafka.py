"""Kafka clients configured for the platform's guarantees, and explicit topic creation.

Producers use `acks="all"` with idempotence (aiokafka's defaults are acks=1 without it). Topics are
created explicitly from `schemas.topics`; the broker's auto-creation is off, so a typo in a topic name
fails loudly instead of silently creating an empty topic. In Kubernetes, Strimzi KafkaTopic resources
create them and `ensure_topics` only finds them present.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from faststream.security import BaseSecurity, SASLScram512

from schemas import topics as topic_registry

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class KafkaSecurity:
    """How clients authenticate: nothing on loopback; in Kubernetes SCRAM-SHA-512 over TLS with
    the KafkaUser's password and the Strimzi cluster CA (deploy/k8s)."""

    protocol: Literal["PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    username: str = ""
    password: str = ""
    cafile: str | None = None

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka producers, consumers and admin clients."""
        if self.protocol == "PLAINTEXT":
            return {}
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
            "ssl_context": create_ssl_context(cafile=self.cafile),
        }

    def for_faststream(self) -> BaseSecurity | None:
        if self.protocol == "PLAINTEXT":
            return None
        return SASLScram512(
            self.username, self.password, ssl_context=create_ssl_context(cafile=self.cafile)
        )


PLAINTEXT = KafkaSecurity()


def make_producer(
    bootstrap_servers: str, *, client_id: str, security: KafkaSecurity = PLAINTEXT
) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        # aiokafka's default batch (16 KiB, about 20 of our events) made the relay wait for a
        # produce round trip per 20 events per partition; 512 KiB stays under the broker's
        # 1 MiB message.max.bytes (docs/performance.md has the before and after).
        max_batch_size=512 * 1024,
        request_timeout_ms=15_000,
        **security.client_kwargs(),
    )


async def stop_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer; aiokafka#647: stopping a group-less consumer soon after it started may
    surface the cancellation of its own internal task. Swallow only that, never a cancellation
    of the calling task."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise


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
