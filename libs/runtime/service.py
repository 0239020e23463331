"""Composition of one service process: database, outbox relay, event consumers and HTTP API.

Each service's `bootstrap.py` describes itself with a `ServiceSpec`; `build_app` turns it into a
FastAPI application whose lifespan starts and stops everything in order, and `main` runs it under
uvicorn. Shutdown is graceful: uvicorn stops taking requests, consumers finish the record in hand
and commit, the relay finishes its pass, then the pool closes.

A service starts without Kafka: it needs its database to start (migrations), but Kafka only to
publish and consume. The consumers and the dead-letter producer are connected by a background task
that retries with backoff (up to `KAFKA_RECONNECT_MAX_S`) and logs every failed attempt
(`kafka_connect_failed`); the relay's producer is started lazily by the relay, which retries the
same way. Meanwhile HTTP is served, requests write their events into the outbox, `/readyz` answers
200 `degraded` with the reason and `/healthz` stays ok.

Kept whole: the start-up and shutdown order of the pool, relay, jobs, composition and consumers is
one sequence, and reads only in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import structlog
import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Response
from faststream.kafka import KafkaBroker

import schemas
from runtime import db, kafka, metrics, oidc, outbox
from runtime import logging as runtime_logging
from runtime.auth import TokenVerifier
from runtime.consumer import AnyHandler, EventConsumer, RetryPolicy
from runtime.http import PROVIDED, Degraded, create_app
from runtime.relay import OutboxRelay, RelayConfig
from runtime.scheduler import Clock, PeriodicJob, clock_from, run_periodically
from runtime.settings import Settings
from runtime.subscriptions import Subscription, register
from runtime.unit_of_work import PgUnitOfWork
from runtime.web_session import SESSIONS, SessionStore

log = structlog.get_logger(__name__)
ASYNCAPI_DOCUMENT = Path(schemas.__file__).parent / "asyncapi.json"


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer group: what it reads and, by event type, what handles it: each handler takes
    the service's unit of work and a run of events of one type
    (`runtime.unit_of_work.BatchHandler`). Listed in each service's `subscriptions.py`."""

    subscription: Subscription
    handlers: Mapping[str, AnyHandler]


@dataclass(frozen=True)
class Wiring:
    """What the runtime hands a service's composition root at startup."""

    settings: Settings
    pool: asyncpg.Pool
    clock: Clock


@dataclass(frozen=True)
class Composed:
    """What a service's composition root builds at startup (`ServiceSpec.compose`).

    `unit`: the service's unit of work; each consumer transaction joins a copy of it.
    `provided`: the one object route handlers receive through FastAPI's `Depends`
    (`runtime.http.provided(<its type>)`): typed, no string keys."""

    unit: PgUnitOfWork
    provided: object = None


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    version: str
    migrations: Path
    routers: Sequence[APIRouter] = ()
    consumers: Sequence[ConsumerSpec] = ()
    # Time-driven work (deadline scans), run on every replica; jobs are safe to run concurrently.
    jobs: Sequence[PeriodicJob] = ()
    # Called with the pool at startup, after migrations (tests seed reference rows with it).
    on_startup: Sequence[Callable[[asyncpg.Pool, Settings], Awaitable[None]]] = field(
        default_factory=tuple
    )
    # The composition root: builds the unit of work and what routes depend on, once the pool
    # and the clock exist.
    compose: Callable[[Wiring], Awaitable[Composed]] | None = None
    # Serves staff workspace pages: keeps sign-in sessions (runtime.web_session) in its database.
    sign_in: bool = False


# How long shutdown lets a Kafka connection attempt in hand finish (a reachable broker answers in
# well under a second; an unreachable one is cancelled after this).
SHUTDOWN_CONNECT_GRACE_S = 10.0


@dataclass
class KafkaLink:
    """The consumers' side of Kafka, connected in the background (`_connect_kafka`)."""

    wanted: bool  # the service has consumers
    broker: KafkaBroker | None = None
    dead_letters: AIOKafkaProducer | None = None
    attempts: int = 0
    last_error: str | None = None
    # Set at shutdown: the connector finishes the attempt in hand and tries no more. It is not
    # cancelled mid-attempt unless that takes too long: aiokafka leaks the socket of a bootstrap
    # cancelled between connecting and its metadata answer ("Unclosed AIOKafkaConnection").
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def connected(self) -> bool:
        return not self.wanted or self.broker is not None


def verifier_from(settings: Settings) -> TokenVerifier | None:
    """The API's token verifier: the identity provider's JWKS and/or a fixed public key."""
    return oidc.verifier_from(settings)


def build_app(spec: ServiceSpec, settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """The service's app; `clock` replaces the one the settings describe (tests pass a
    FixedClock)."""
    state: dict[str, Any] = {}
    given_clock = clock

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        await db.prepare_database(settings.database_url, spec.migrations, spec.name)
        pool = await db.create_pool(
            settings.database_url, min_size=settings.db_pool_min, max_size=settings.db_pool_max
        )
        for hook in spec.on_startup:
            await hook(pool, settings)
        security = settings.kafka_security()
        relay = OutboxRelay(
            pool,
            lambda: kafka.make_producer(
                settings.kafka_bootstrap_servers,
                client_id=f"{spec.name}-relay",
                security=security,
            ),
            RelayConfig(
                batch_size=settings.outbox_batch_size,
                poll_interval_s=settings.outbox_poll_interval_s,
                max_backoff_s=settings.outbox_max_backoff_s,
                max_attempts=settings.outbox_max_attempts,
                reconnect_max_s=settings.kafka_reconnect_max_s,
            ),
        )
        stop = asyncio.Event()
        relay_task = asyncio.create_task(relay.run(stop), name=f"{spec.name}-outbox-relay")
        clock = given_clock or clock_from(
            settings.clock_start,
            settings.clock_anchor,
            settings.clock_speed,
            settings.clock_control_file,
        )
        retention = PeriodicJob(
            "outbox-retention",
            functools.partial(
                outbox.purge_published, keep_days=settings.outbox_keep_published_days
            ),
            interval_s=3600,
        )
        sampler = metrics.Sampler(
            settings.kafka_bootstrap_servers,
            security.client_kwargs(),
            [
                (settings.consumer_group_prefix + c.subscription.group, c.subscription.topics)
                for c in spec.consumers
            ],
        )
        job_tasks = [
            asyncio.create_task(
                run_periodically(
                    dataclasses.replace(job, interval_s=settings.job_interval_s or job.interval_s),
                    pool,
                    clock,
                    stop,
                ),
                name=job.name,
            )
            for job in (*spec.jobs, retention)
        ]
        # Not shortened by JOB_INTERVAL_S: a demo's fast jobs need no faster scrapes.
        job_tasks.append(
            asyncio.create_task(
                run_periodically(sampler.job(settings.metrics_interval_s), pool, clock, stop),
                name="metrics-sampler",
            )
        )
        if spec.compose is not None:
            composed = await spec.compose(Wiring(settings=settings, pool=pool, clock=clock))
        else:
            composed = Composed(PgUnitOfWork(pool, source=f"/wuye/{spec.name}", clock=clock))
        sessions = None
        if spec.sign_in:
            sessions = SessionStore(pool, clock, service=spec.name, secure=settings.public_https)
            purge = PeriodicJob("web-session-purge", sessions.purge, interval_s=3600)
            job_tasks.append(
                asyncio.create_task(
                    run_periodically(purge, pool, clock, stop), name="web-session-purge"
                )
            )
        link = KafkaLink(wanted=bool(spec.consumers))
        connector = asyncio.create_task(
            _connect_kafka(spec, settings, pool, composed.unit, link),
            name=f"{spec.name}-kafka-connector",
        )
        state["pool"] = pool
        state["link"] = link
        state["relay"] = relay
        log.info("service_started", consumers=[c.subscription.group for c in spec.consumers])
        try:
            # Lifespan state: Starlette copies it into every request's scope, where
            # `runtime.http.provided` finds what the routes depend on.
            yield {
                PROVIDED: composed.provided,
                SESSIONS: sessions,
                oidc.OIDC: oidc.OidcClient(settings, api_verifier) if spec.sign_in else None,
            }
        finally:
            log.info("service_stopping")
            # Each step is bounded and isolated, so one that hangs (an unreachable broker) or
            # fails cannot keep the others from running: the connector (if Kafka never came),
            # consumers (they finish the record in hand and commit), then the dead-letter
            # producer, the relay, the pool.
            link.stopping.set()
            finished, _ = await asyncio.wait({connector}, timeout=SHUTDOWN_CONNECT_GRACE_S)
            if not finished:
                connector.cancel()
            await _step("kafka_connector", _cancelled(connector), 15)
            if link.broker is not None:
                await _step("consumers", link.broker.stop(), 20)
            if link.dead_letters is not None:
                await _step("dead_letter_producer", link.dead_letters.stop(), 5)
            stop.set()
            for task in job_tasks:
                await _step(task.get_name(), task, 30)
            await _step("outbox_relay", relay_task, 35)
            await _step("relay_producer", relay.close(), 10)
            await _step("metrics_sampler", sampler.close(), 5)
            await _step("database_pool", pool.close(), 10)
            log.info("service_stopped")

    async def database_ready() -> None:
        pool: asyncpg.Pool | None = state.get("pool")
        if pool is None:
            raise RuntimeError("database pool not started")
        async with pool.acquire() as conn:
            await conn.fetchval("SELECT 1")

    async def kafka_connected() -> None:
        """Degraded (not unready) without Kafka: requests are still taken into the outbox."""
        link: KafkaLink | None = state.get("link")
        relay: OutboxRelay | None = state.get("relay")
        missing = []
        if link is not None and not link.connected:
            why = f": {link.last_error}" if link.last_error else ""
            missing.append(f"consumers not connected to Kafka ({link.attempts} attempts{why})")
        if relay is not None and relay.kafka_error is not None:
            missing.append(f"outbox relay cannot reach Kafka ({relay.kafka_error})")
        if missing:
            raise Degraded("; ".join(missing))

    api_verifier = verifier_from(settings)
    app = create_app(
        service=spec.name,
        title=spec.title,
        version=spec.version,
        verifier=api_verifier,
        lifespan=lifespan,
        readiness=[database_ready, kafka_connected],
    )
    for router in spec.routers:
        app.include_router(router)
    if spec.sign_in:
        app.include_router(oidc.sign_in_router())

    @app.get("/asyncapi.json", tags=["ops"], summary="The platform's event catalog (AsyncAPI 3)")
    async def asyncapi_document() -> Response:
        # The committed document (CI checks it is fresh), the same for every service.
        return Response(ASYNCAPI_DOCUMENT.read_bytes(), media_type="application/json")

    return app


async def _step(name: str, work: Awaitable[Any], within_s: float) -> None:
    try:
        await asyncio.wait_for(work, within_s)
    except Exception as exc:  # noqa: BLE001 - shutdown goes on; the error is logged
        log.error("shutdown_step_failed", step=name, error=repr(exc))


async def _cancelled(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _connect_kafka(
    spec: ServiceSpec, settings: Settings, pool: asyncpg.Pool, unit: PgUnitOfWork, link: KafkaLink
) -> None:
    """Start the dead-letter producer and the consumers, retrying until Kafka answers."""
    if not spec.consumers:
        return
    while not link.stopping.is_set():
        link.attempts += 1
        broker: KafkaBroker | None = None
        try:
            if link.dead_letters is None:
                link.dead_letters = await _start_producer(
                    kafka.make_producer(
                        settings.kafka_bootstrap_servers,
                        client_id=f"{spec.name}-dead-letters",
                        security=settings.kafka_security(),
                    ),
                    settings.kafka_connect_timeout_s,
                )
            await _topics_exist(link.dead_letters, spec)
            broker = _consumers(spec, settings, pool, unit, link.dead_letters)
            await asyncio.wait_for(broker.start(), settings.kafka_connect_timeout_s)
        except asyncio.CancelledError:
            if broker is not None:
                await _step("consumers_half_started", broker.stop(), 10)
            raise
        except Exception as exc:  # noqa: BLE001 - Kafka unreachable: logged, retried
            if broker is not None:
                await _step("consumers_half_started", broker.stop(), 10)
            delay = min(settings.kafka_reconnect_max_s, 0.5 * 2 ** min(link.attempts - 1, 10))
            link.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning(
                "kafka_connect_failed",
                attempt=link.attempts,
                error=repr(exc),
                retry_in_s=delay,
                part="consumers" if link.dead_letters is not None else "dead_letter_producer",
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(link.stopping.wait(), delay)
            continue
        link.broker, link.last_error = broker, None
        log.info(
            "kafka_consumers_started",
            attempts=link.attempts,
            consumers=[c.subscription.group for c in spec.consumers],
        )
        return


class TopicsMissing(RuntimeError):
    pass


async def _topics_exist(producer: AIOKafkaProducer, spec: ServiceSpec) -> None:
    """The consumers' topics must exist before they join their groups: a consumer subscribed to
    a topic created later would see it only at its next metadata refresh (5 minutes). Topics are
    created by `ensure_topics` or by Strimzi, possibly after the service started."""
    wanted = {t for c in spec.consumers for t in c.subscription.topics}
    cluster = await producer.client.fetch_all_metadata()
    missing = sorted(wanted - set(cluster.topics()))
    if missing:
        raise TopicsMissing(f"topics not created yet: {', '.join(missing)}")


async def _start_producer(producer: AIOKafkaProducer, timeout_s: float) -> AIOKafkaProducer:
    try:
        await asyncio.wait_for(producer.start(), timeout_s)
    except BaseException:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), 5)
        raise
    return producer


def _consumers(
    spec: ServiceSpec,
    settings: Settings,
    pool: asyncpg.Pool,
    unit: PgUnitOfWork,
    dead_letters: AIOKafkaProducer,
) -> KafkaBroker:
    """A broker with a subscriber per consumer group (a new one per connection attempt: a
    FastStream broker whose start failed is not started again)."""
    security = settings.kafka_security()
    # FastStream's own per-message INFO lines would bypass our JSON format; route its logger
    # through the standard library (configured in runtime.logging) where it stays at WARNING.
    broker = KafkaBroker(
        # a list: FastStream takes one string as one host, so "a:9092,b:9092" (a cluster's
        # bootstrap list, as aiokafka and the relay accept it) would not resolve
        [s.strip() for s in settings.kafka_bootstrap_servers.split(",") if s.strip()],
        client_id=spec.name,
        security=security.for_faststream(),
        logger=logging.getLogger("faststream"),
        # Consumers only: what they publish goes through the outbox (the relay's producer) or
        # to the dead-letter producer above, never through the broker. FastStream's own
        # producer would be idle, and one whose start is cut short (a timed-out or cancelled
        # connection attempt) is never stopped, leaking its connection on every retry.
        # Read-only Kafka credentials are enough for this side as well.
        consumer_only=True,
    )
    retry = RetryPolicy(
        max_attempts=settings.consumer_max_attempts,
        base_delay_s=settings.consumer_retry_base_s,
        max_delay_s=settings.consumer_retry_max_s,
    )
    for consumer_spec in spec.consumers:
        consumer = EventConsumer(
            service=spec.name,
            name=consumer_spec.subscription.group,  # the inbox key stays stable across prefixes
            pool=pool,
            handlers=consumer_spec.handlers,
            unit=unit,
            dead_letters=dead_letters,
            retry=retry,
        )
        subscription = consumer_spec.subscription
        if settings.consumer_group_prefix:
            subscription = dataclasses.replace(
                subscription, group=settings.consumer_group_prefix + subscription.group
            )
        register(
            broker,
            consumer,
            subscription,
            batch_size=settings.consumer_batch_size,
            max_poll_interval_s=settings.consumer_max_poll_interval_s,
        )
    return broker


def main(spec: ServiceSpec, settings: Settings) -> None:
    runtime_logging.configure(spec.name, level=settings.log_level, fmt=settings.log_format)
    app = build_app(spec, settings)
    if settings.metrics_port:
        # Bound before uvicorn starts, so a taken port stops the process at once.
        metrics.serve(settings.metrics_host or settings.http_host, settings.metrics_port)
    trusted_proxies = settings.trusted_proxies.strip()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,  # our structlog configuration handles uvicorn's loggers
        timeout_graceful_shutdown=20,
        # uvicorn believes X-Forwarded-For from loopback by default, which let any local client
        # choose its rate-limit key: forwarded headers count only from the configured proxies.
        proxy_headers=bool(trusted_proxies),
        forwarded_allow_ips=trusted_proxies or None,
    )
