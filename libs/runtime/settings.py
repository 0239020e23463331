"""Configuration, read in one place.

Every process reads its settings from the environment (Kubernetes ConfigMaps and Secrets, or the
variables `make demo` exports). Field names map to upper-case variables: `KAFKA_BOOTSTRAP_SERVERS`,
`DATABASE_URL`, `AUTH_JWT_PUBLIC_KEY`, ... A service that needs more subclasses `Settings`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    service_name: str = Field(description="Logical service name: complaints, inspections, ...")
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    # PLAINTEXT on loopback; SASL_SSL (SCRAM-SHA-512, the Strimzi KafkaUser) in Kubernetes.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str | None = None
    # Prepended to every consumer group id: lets a staging copy or a test run share a cluster.
    consumer_group_prefix: str = ""
    database_url: str = Field(description="asyncpg DSN of this service's own database")
    db_pool_min: int = 1
    db_pool_max: int = 10

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    # Proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: comma-separated addresses
    # or CIDR ranges (the ingress controller's pods in Kubernetes). Empty, the default: none, so
    # the client is always the connection's peer and a forwarded header changes nothing (uvicorn
    # alone would trust any client on loopback).
    trusted_proxies: str = ""
    # Behind a TLS-terminating proxy the request scheme is http: say so here, so pages mark their
    # cookies Secure (and `__Host-` prefixed) anyway.
    public_https: bool = False
    # The staff workspace's navigation: `service=base-url` pairs (runtime.workspace); empty = the
    # paths one host routes (/workspace/<service>/).
    workspace_links: str = ""
    # Which outside agency is the 12345 citizens' hotline (its tokens' `agency` claim): the only
    # agency that registers complaints for owners (the complaints service) and the only one whose
    # workspace navigation offers 代业主登记 (every service draws the shared navigation).
    hotline_agency_id: str = Field(default="12345", min_length=1, max_length=64)
    # Prometheus metrics are served on a port of their own, bound to METRICS_HOST (default: the
    # HTTP host), never on HTTP_PORT: the public ports answer 404 for /metrics, and in Kubernetes
    # only the monitoring namespace may reach this one. 0 turns the metrics listener off.
    metrics_port: int = Field(default=9100, ge=0, le=65535)
    metrics_host: str | None = None
    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    # Identity: tokens are issued by the city identity provider; we hold only its public key.
    auth_jwt_public_key: str = ""
    auth_issuer: str = "https://id.dev.wuye.local"
    auth_audience: str = "wuye-platform"
    auth_algorithms: tuple[str, ...] = ("ES256",)
    # The identity provider (OpenID Connect; Keycloak locally, see docs/operations.md): its
    # access tokens are verified through its JWKS (keys cached, refetched on an unknown key id);
    # with AUTH_JWT_PUBLIC_KEY set as well, each token's `iss` picks the key (runtime.oidc).
    auth_jwks_url: str = ""
    oidc_issuer: str = ""
    # The workspace pages' confidential client (Authorization Code + PKCE S256); its redirect
    # URI is OIDC_REDIRECT_BASE_URL + /auth/callback (empty: the request's own base URL, local only).
    oidc_client_id: str = "wuye-workspace"
    oidc_client_secret: SecretStr = SecretStr("")
    oidc_redirect_base_url: str = ""

    # Business time. Unset in production (the system clock). `make demo` sets a start in 2011
    # and a speed so the campaign's deadlines pass in minutes; see runtime.scheduler.SimulatedClock.
    clock_start: AwareDatetime | None = None
    clock_anchor: AwareDatetime | None = None
    clock_speed: float = Field(default=1.0, gt=0)
    # A file whose segments change the simulated clock's speed while the services run (the demo:
    # real speed after the scripted campaign); see runtime.scheduler.ControlledClock.
    clock_control_file: Path | None = None
    job_interval_s: float | None = Field(
        default=None, gt=0, description="Override every job's interval"
    )

    # Delivery tuning (see docs/architecture.md, "Guarantees").
    outbox_batch_size: int = 200
    outbox_poll_interval_s: float = 1.0
    outbox_max_backoff_s: float = 30.0
    outbox_keep_published_days: int = Field(default=30, ge=1)
    consumer_max_attempts: int = 5
    consumer_retry_base_s: float = 0.2
    consumer_retry_max_s: float = 5.0
    # Records handled in one transaction (runtime.consumer.EventConsumer.handle_batch); 1 turns
    # batching off.
    consumer_batch_size: int = Field(default=200, ge=1, le=5000)
    # aiokafka's max_poll_interval_ms, set deliberately: a batch is given half of it, then the
    # records finished are committed and the rest re-polled, so a consumer waiting out a
    # database outage never leaves its group (runtime.subscriptions, docs/operations.md).
    consumer_max_poll_interval_s: float = Field(default=300.0, ge=2)
    # Attempts to publish one outbox row before it is parked for an operator (runtime.relay).
    outbox_max_attempts: int = Field(default=20, ge=1)
    # A service starts without Kafka and connects in the background (runtime.service): retries
    # back off up to this; one attempt may take this long before it counts as failed.
    kafka_reconnect_max_s: float = Field(default=5.0, gt=0)
    kafka_connect_timeout_s: float = Field(default=30.0, gt=0)

    def kafka_security(self) -> Any:
        """A `runtime.kafka.KafkaSecurity` (typed Any: settings import no client library)."""
        from runtime.kafka import KafkaSecurity

        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password.get_secret_value(),
            cafile=self.kafka_ssl_cafile,
        )

    # How often the outbox and consumer-lag gauges of /metrics are sampled.
    metrics_interval_s: float = Field(default=15.0, gt=0)
