"""Write (or check) the Kubernetes base in deploy/k8s/base: `python -m deploy.k8s.generate [--check]`.

The base follows from the code, so it is generated rather than typed: one Deployment, Service,
HPA, PodDisruptionBudget, ServiceAccount and ConfigMap per service; a KafkaTopic for every topic in
`schemas.topics` (dead-letter topics included); a KafkaUser per service whose ACLs are exactly what
the service produces (the catalog) and consumes (its bootstrap's subscriptions); a CloudNativePG
Cluster per service; NetworkPolicies; the Strimzi Kafka with its KRaft node pool; the Ingress.
Environments differ in the hand-written overlays (deploy/k8s/overlays/dev, prod). The tests render
both with kustomize and validate them (tests/deploy/test_k8s.py).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deploy.files import write_or_check
from schemas import catalog, topics
from services.__main__ import SERVICES, load

HERE = Path(__file__).resolve().parent
BASE = HERE / "base"
AGENCY = HERE / "agency"
PART_OF = "wuye"
KAFKA = "wuye-kafka"
BOOTSTRAP = f"{KAFKA}-kafka-bootstrap:9093"
PORT = 8000
METRICS_PORT = 9100  # Prometheus scrapes here; only the monitoring namespace may reach it
# The ingress controller's pods, whose X-Forwarded-For is believed (TRUSTED_PROXIES): the
# cluster's pod network; only the ingress namespace may reach PORT (the NetworkPolicies below).
# The overlays set their cluster's range.
POD_NETWORK = "10.0.0.0/8"
DOMAIN = "wuye.example.gov.cn"  # the overlays set the real hosts
# Who reaches each service from outside the namespace: all have an API; complaints also serves
# the owners' pages and Open311, exposure the public board.
HOSTS = {
    "complaints": "tousu",
    "inspections": "jiancha",
    "notifications": "tongzhi",
    "exposure": "baoguang",
}
# The operator's Keycloak, where it runs in the cluster (the Keycloak Operator's namespace): the
# services reach it on its HTTPS port; the city's identity platform is reached on the internet.
IDENTITY_NAMESPACE = "keycloak"
IDENTITY_PORT = 8443
INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
PRIVATE_RANGES = [
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "169.254.0.0/16",
    "127.0.0.0/8",
    "100.64.0.0/10",  # CGNAT, and Alibaba Cloud's metadata service (100.100.100.200)
]


@dataclass(frozen=True)
class Environment:
    """One overlay's public addresses and identity provider (docs/operations.md, "Identity
    provider"): written into overlays/<name>/identity/ as a kustomize Component."""

    name: str
    domain: str  # each service's host is HOSTS[service] + "." + domain
    oidc_issuer: (
        str  # the provider's issuer; discovery at <issuer>/.well-known/openid-configuration
    )
    jwks_url: str  # the discovery document's jwks_uri
    provider: str  # a comment: which provider this is
    client_id: str = "wuye-workspace"
    audience: str = "wuye-platform"

    def base_url(self, service: str) -> str:
        """Where the ingress serves `service`: its pages' /auth/callback is under this."""
        return f"https://{HOSTS[service]}.{self.domain}"


ENVIRONMENTS = (
    Environment(
        "dev",
        domain=f"dev.{DOMAIN}",
        oidc_issuer=f"https://keycloak.dev.{DOMAIN}/realms/wuye",
        jwks_url=f"https://keycloak.dev.{DOMAIN}/realms/wuye/protocol/openid-connect/certs",
        provider="the operator's Keycloak (realm wuye, deploy/local/keycloak/realm-wuye.json)",
    ),
    Environment(
        "prod",
        domain=DOMAIN,
        oidc_issuer="https://tyrz.tj.example.gov.cn/oidc",
        jwks_url="https://tyrz.tj.example.gov.cn/oidc/jwks",
        provider="the city's unified identity platform (统一身份认证平台)",
    ),
)


def labels(service: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": PART_OF}


def subscriptions(service: str) -> list[tuple[str, tuple[str, ...]]]:
    settings_cls, bootstrap = load(service)
    settings = settings_cls.model_construct(database_url="postgresql://unused/unused")
    spec = bootstrap.spec(settings)  # type: ignore[attr-defined]
    return [(c.subscription.group, tuple(c.subscription.topics)) for c in spec.consumers]


def produced_topics(service: str) -> list[str]:
    names = {catalog.EVENT_TYPES[t].topic for t, who in catalog.PRODUCERS.items() if who == service}
    return sorted(names)


def consumed_topics(service: str) -> list[str]:
    return sorted({t for _, ts in subscriptions(service) for t in ts})


# -- per service -----------------------------------------------------------------------------------


def config_map(service: str) -> dict[str, Any]:
    data = {
        "SERVICE_NAME": service,
        "KAFKA_BOOTSTRAP_SERVERS": BOOTSTRAP,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_USERNAME": f"wuye-{service}",
        "KAFKA_SSL_CAFILE": "/etc/wuye/kafka-ca/ca.crt",
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "INFO",
        "DB_POOL_MAX": "10",
        "METRICS_PORT": str(METRICS_PORT),
        "TRUSTED_PROXIES": POD_NETWORK,
    }
    if service == "notifications":
        data |= {
            "SMTP_HOST": "smtp.example.gov.cn",
            "SMTP_PORT": "587",
            "SMTP_SENDER": "tongzhi@wuye.example.gov.cn",
        }
    # TLS ends at the ingress: session cookies are Secure all the same (every service has pages).
    data["PUBLIC_HTTPS"] = "true"
    if service == "exposure":
        # Absolute links in the Atom feed; never taken from a request's Host header.
        data["PUBLIC_BASE_URL"] = f"https://{HOSTS['exposure']}.{DOMAIN}"
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{service}-config", "labels": labels(service)},
        "data": data,
    }


def _secret_env(name: str, secret: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": secret, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"secretKeyRef": ref}}


def _config_env(name: str, config_map: str, key: str, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": config_map, "key": key}
    if optional:
        ref["optional"] = True
    return {"name": name, "valueFrom": {"configMapKeyRef": ref}}


def env(service: str) -> list[dict[str, Any]]:
    out = [
        # Secrets are created by the operators (CloudNativePG, Strimzi) or by the city's
        # operations team, never committed: see docs/operations.md.
        _secret_env("DATABASE_URL", f"wuye-pg-{service}-app", "uri"),
        _secret_env("KAFKA_SASL_PASSWORD", f"wuye-{service}", "password"),
        # A fixed-key issuer beside the provider: optional, empty in production.
        _config_env("AUTH_JWT_PUBLIC_KEY", "wuye-identity", "jwt-public-key.pem", True),
        _config_env("AUTH_ISSUER", "wuye-identity", "issuer", True),
        _config_env("AUTH_AUDIENCE", "wuye-identity", "audience"),
        # The OpenID Connect provider (docs/operations.md, "Identity provider"): its JWKS for the
        # APIs, its issuer and the workspace client for the pages' sign-in.
        _config_env("AUTH_JWKS_URL", "wuye-identity", "jwks-url", True),
        _config_env("OIDC_ISSUER", "wuye-identity", "oidc-issuer", True),
        _config_env("OIDC_CLIENT_ID", "wuye-identity", "oidc-client-id", True),
        _secret_env("OIDC_CLIENT_SECRET", "wuye-oidc", "client-secret", True),
    ]
    if service == "notifications":
        out += [
            _secret_env("SMTP_USERNAME", "notifications-channels", "smtp-username", True),
            _secret_env("SMTP_PASSWORD", "notifications-channels", "smtp-password", True),
            _secret_env("WEBHOOK_SIGNING_KEY", "notifications-channels", "webhook-signing-key"),
        ]
    if service == "complaints":
        out.append(_secret_env("OPEN311_API_KEYS", "complaints-open311", "api-keys.json", True))
        # Signs the owners' pages' CSRF tokens; the same on every replica.
        out.append(_secret_env("WEB_SESSION_KEY", "complaints-web", "session-key"))
    return out


def probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 3,
        "failureThreshold": failures,
    }


def deployment(service: str) -> dict[str, Any]:
    container = {
        "name": service,
        "image": "wuye",  # the overlays pin the tag (kustomize `images`)
        "imagePullPolicy": "IfNotPresent",
        "args": [service],
        "ports": [
            {"name": "http", "containerPort": PORT, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        "envFrom": [{"configMapRef": {"name": f"{service}-config"}}],
        "env": env(service),
        # Migrations run at start (advisory lock); the startup probe gives them time.
        "startupProbe": probe("/healthz", 2, 60),
        "livenessProbe": probe("/healthz", 10, 3),
        "readinessProbe": probe("/readyz", 5, 3),
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "512Mi"},
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - an emptyDir: the root fs is read-only
            {"name": "kafka-ca", "mountPath": "/etc/wuye/kafka-ca", "readOnly": True},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": service, "labels": labels(service)},
        "spec": {
            # One process runs the HTTP API, the consumers (one group per subscription: replicas
            # share partitions), the outbox relay (one leader per database) and the jobs
            # (SKIP LOCKED claims): every replica is alike, so one Deployment scales them all.
            "replicas": 2,
            "revisionHistoryLimit": 5,
            "selector": {"matchLabels": labels(service)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}},
            "template": {
                "metadata": {
                    "labels": labels(service),
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(METRICS_PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": {
                    "serviceAccountName": service,
                    "automountServiceAccountToken": False,
                    "terminationGracePeriodSeconds": 45,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": 10001,
                        "runAsGroup": 10001,
                        "fsGroup": 10001,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "topologySpreadConstraints": [
                        {
                            "maxSkew": 1,
                            "topologyKey": "kubernetes.io/hostname",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": labels(service)},
                        }
                    ],
                    "containers": [container],
                    "volumes": [
                        {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}},
                        {
                            "name": "kafka-ca",
                            "secret": {
                                "secretName": f"{KAFKA}-cluster-ca-cert",
                                "items": [{"key": "ca.crt", "path": "ca.crt"}],
                            },
                        },
                    ],
                },
            },
        },
    }


def service_objects(service: str) -> list[dict[str, Any]]:
    meta = {"name": service, "labels": labels(service)}
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta,
            "automountServiceAccountToken": False,
        },
        config_map(service),
        deployment(service),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {
                "selector": labels(service),
                "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
            },
        },
        {
            "apiVersion": "autoscaling/v2",
            "kind": "HorizontalPodAutoscaler",
            "metadata": meta,
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": service},
                "minReplicas": 2,
                "maxReplicas": 8,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 70},
                        },
                    }
                ],
            },
        },
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": meta,
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": labels(service)}},
        },
    ]


# -- network ---------------------------------------------------------------------------------------


def _ns(name: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}}}


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": p} for p in ports]


def network_policies() -> list[dict[str, Any]]:
    def policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "labels": {"app.kubernetes.io/part-of": PART_OF}},
            "spec": spec,
        }

    out = [
        policy("default-deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
        policy(
            "allow-dns",
            {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                **_ns("kube-system"),
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        ),
    ]
    for service in SERVICES:
        egress: list[dict[str, Any]] = [
            {
                "to": [{"podSelector": {"matchLabels": {"strimzi.io/cluster": KAFKA}}}],
                "ports": _tcp(9093),
            },
            {
                "to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": f"wuye-pg-{service}"}}}],
                "ports": _tcp(5432),
            },
        ]
        # The identity provider (sign-in, token refresh, its JWKS): the operator's Keycloak in the
        # cluster, or the city's platform on the internet (HTTPS only, no private address).
        egress.append({"to": [_ns(IDENTITY_NAMESPACE)], "ports": _tcp(IDENTITY_PORT)})
        if service == "notifications":
            # SMTP relay and webhook receivers on the internet, never an internal address (SSRF).
            egress.append(
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}],
                    "ports": _tcp(25, 465, 587, 443),
                }
            )
        else:
            egress.append(
                {
                    "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": PRIVATE_RANGES}}],
                    "ports": _tcp(443),
                }
            )
        out.append(
            policy(
                service,
                {
                    "podSelector": {"matchLabels": labels(service)},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [
                        {"from": [_ns(INGRESS_NAMESPACE)], "ports": _tcp(PORT)},
                        # metrics on their own port, for the cluster's Prometheus only
                        {"from": [_ns(MONITORING_NAMESPACE)], "ports": _tcp(METRICS_PORT)},
                    ],
                    "egress": egress,
                },
            )
        )
        pg = {"cnpg.io/cluster": f"wuye-pg-{service}"}
        out.append(
            policy(
                f"wuye-pg-{service}",
                {
                    "podSelector": {"matchLabels": pg},
                    "policyTypes": ["Ingress", "Egress"],
                    "ingress": [
                        {
                            "from": [{"podSelector": {"matchLabels": labels(service)}}],
                            "ports": _tcp(5432),
                        },
                        {"from": [{"podSelector": {"matchLabels": pg}}]},
                        {"from": [_ns("cnpg-system")], "ports": _tcp(5432, 8000)},
                        {"from": [_ns(MONITORING_NAMESPACE)], "ports": _tcp(9187)},
                    ],
                    "egress": [
                        {"to": [{"podSelector": {"matchLabels": pg}}]},
                        # the instance manager talks to the Kubernetes API
                        {"ports": _tcp(443, 6443)},
                    ],
                },
            )
        )
    kafka = {"strimzi.io/cluster": KAFKA}
    out.append(
        policy(
            KAFKA,
            {
                "podSelector": {"matchLabels": kafka},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {
                        "from": [
                            {"podSelector": {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}}}
                        ],
                        "ports": _tcp(9093),
                    },
                    {"from": [{"podSelector": {"matchLabels": kafka}}]},
                    {"from": [_ns("strimzi")]},
                    {"from": [_ns(MONITORING_NAMESPACE)], "ports": _tcp(9404)},
                ],
                "egress": [
                    {"to": [{"podSelector": {"matchLabels": kafka}}]},
                    {"ports": _tcp(443, 6443)},
                ],
            },
        )
    )
    return out


def ingress() -> dict[str, Any]:
    hosts = {s: f"{HOSTS[s]}.{DOMAIN}" for s in SERVICES}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": "wuye",
            "labels": {"app.kubernetes.io/part-of": PART_OF},
            "annotations": {"nginx.ingress.kubernetes.io/proxy-body-size": "2m"},
        },
        "spec": {
            "ingressClassName": "nginx",
            "tls": [{"hosts": sorted(hosts.values()), "secretName": "wuye-tls"}],
            "rules": [
                {
                    "host": hosts[s],
                    "http": {
                        "paths": [
                            *(
                                [
                                    {  # a published case's photos, served by their owner
                                        "path": "/public/photos/",
                                        "pathType": "Prefix",
                                        "backend": {
                                            "service": {
                                                "name": "inspections",
                                                "port": {"name": "http"},
                                            }
                                        },
                                    }
                                ]
                                if s == "exposure"
                                else []
                            ),
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": s, "port": {"name": "http"}}},
                            },
                        ]
                    },
                }
                for s in SERVICES
            ],
        },
    }


# -- Kafka (Strimzi) and PostgreSQL (CloudNativePG) ------------------------------------------------


def kafka_cluster() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "KafkaNodePool",
            "metadata": {"name": "dual-role", "labels": {"strimzi.io/cluster": KAFKA}},
            "spec": {
                "replicas": 3,
                "roles": ["controller", "broker"],
                "storage": {
                    "type": "jbod",
                    "volumes": [
                        {
                            "id": 0,
                            "type": "persistent-claim",
                            "size": "100Gi",
                            "deleteClaim": False,
                            "kraftMetadata": "shared",
                        }
                    ],
                },
                "resources": {
                    "requests": {"cpu": "1", "memory": "4Gi"},
                    "limits": {"memory": "4Gi"},
                },
            },
        },
        {
            "apiVersion": "kafka.strimzi.io/v1",
            "kind": "Kafka",
            "metadata": {"name": KAFKA},
            "spec": {
                "kafka": {
                    "version": "4.1.0",
                    "listeners": [
                        {
                            "name": "tls",
                            "port": 9093,
                            "type": "internal",
                            "tls": True,
                            "authentication": {"type": "scram-sha-512"},
                        }
                    ],
                    "authorization": {"type": "simple"},
                    "config": {
                        "auto.create.topics.enable": False,
                        "default.replication.factor": 3,
                        "min.insync.replicas": 2,
                        "offsets.topic.replication.factor": 3,
                        "transaction.state.log.replication.factor": 3,
                        "transaction.state.log.min.isr": 2,
                    },
                },
                "entityOperator": {"topicOperator": {}, "userOperator": {}},
            },
        },
    ]


def kafka_topics() -> list[dict[str, Any]]:
    out = []
    for spec in kafka_all_topics():
        config: dict[str, Any] = {k: _config_value(v) for k, v in spec.config.items()}
        config["min.insync.replicas"] = 2
        out.append(
            {
                "apiVersion": "kafka.strimzi.io/v1",
                "kind": "KafkaTopic",
                "metadata": {
                    "name": spec.name,
                    "labels": {
                        "strimzi.io/cluster": KAFKA,
                        "wuye/public": str(spec.public).lower(),
                    },
                },
                "spec": {"partitions": spec.partitions, "replicas": 3, "config": config},
            }
        )
    return out


def kafka_all_topics() -> list[topics.TopicSpec]:
    return [*topics.TOPICS, *topics.DEAD_LETTER_TOPICS]


def _config_value(value: str) -> Any:
    return int(value) if value.lstrip("-").isdigit() else value


def _acl(kind: str, name: str, operations: list[str], pattern: str = "literal") -> dict[str, Any]:
    return {
        "resource": {"type": kind, "name": name, "patternType": pattern},
        "operations": operations,
    }


def kafka_users() -> list[dict[str, Any]]:
    out = []
    for service in SERVICES:
        acls = [_acl("topic", t, ["Write", "Describe"]) for t in produced_topics(service)]
        acls.append(_acl("topic", topics.dead_letter_topic(service).name, ["Write", "Describe"]))
        acls += [_acl("topic", t, ["Read", "Describe"]) for t in consumed_topics(service)]
        acls.append(_acl("group", f"{service}.", ["Read", "Describe"], "prefix"))
        out.append(
            {
                "apiVersion": "kafka.strimzi.io/v1",
                "kind": "KafkaUser",
                "metadata": {"name": f"wuye-{service}", "labels": {"strimzi.io/cluster": KAFKA}},
                "spec": {
                    "authentication": {"type": "scram-sha-512"},
                    "authorization": {"type": "simple", "acls": acls},
                },
            }
        )
    return out


def agency_user_template() -> dict[str, Any]:
    public = sorted(t.name for t in topics.TOPICS if t.public)
    return {
        "apiVersion": "kafka.strimzi.io/v1",
        "kind": "KafkaUser",
        "metadata": {
            "name": "agency-AGENCY",
            "labels": {"strimzi.io/cluster": KAFKA, "wuye/agency": "AGENCY"},
        },
        "spec": {
            "authentication": {"type": "scram-sha-512"},
            "authorization": {
                "type": "simple",
                "acls": [
                    *[_acl("topic", t, ["Describe", "Read"]) for t in public],
                    _acl("group", "agency-AGENCY.", ["Describe", "Read"], "prefix"),
                ],
            },
        },
    }


# Services whose database needs PostGIS (complaints: the nearest project to an Open311 lat/long).
# CloudNativePG's PostGIS image; the extension is created by the superuser at bootstrap (the
# service's own role is not one), so the migration's CREATE EXTENSION IF NOT EXISTS is a no-op.
POSTGIS_SERVICES = ("complaints",)
POSTGIS_IMAGE = "ghcr.io/cloudnative-pg/postgis:15"


def _initdb(s: str) -> dict[str, Any]:
    initdb: dict[str, Any] = {"database": s, "owner": s}
    if s in POSTGIS_SERVICES:
        initdb["postInitApplicationSQL"] = ["CREATE EXTENSION IF NOT EXISTS postgis"]
    return initdb


def postgres_clusters() -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "postgresql.cnpg.io/v1",
            "kind": "Cluster",
            "metadata": {"name": f"wuye-pg-{s}", "labels": labels(s)},
            "spec": {
                "instances": 3,
                **({"imageName": POSTGIS_IMAGE} if s in POSTGIS_SERVICES else {}),
                "primaryUpdateStrategy": "unsupervised",
                "bootstrap": {"initdb": _initdb(s)},
                "postgresql": {"parameters": {"max_connections": "200", "timezone": "UTC"}},
                "storage": {"size": "20Gi"},
                "monitoring": {"enablePodMonitor": True},
            },
        }
        for s in SERVICES
    ]


# -- the overlays' identity component --------------------------------------------------------------


def workspace_links(env: Environment) -> str:
    """WORKSPACE_LINKS: each service's pages at its own host (one navigation across them)."""
    return ",".join(f"{s}={env.base_url(s)}/workspace/{s}/" for s in SERVICES)


def identity_component(env: Environment) -> dict[str, Any]:
    """A kustomize Component: the ConfigMap `wuye-identity` (the provider; nothing secret: the
    client secret stays in the Secret `wuye-oidc`) and, merged into each service's ConfigMap,
    OIDC_REDIRECT_BASE_URL (the public base its /auth/callback is reached at behind the ingress)
    and WORKSPACE_LINKS."""
    return {
        "apiVersion": "kustomize.config.k8s.io/v1alpha1",
        "kind": "Component",
        "generatorOptions": {"disableNameSuffixHash": True},
        "configMapGenerator": [
            {
                "name": "wuye-identity",
                "literals": [
                    f"oidc-issuer={env.oidc_issuer}",
                    f"jwks-url={env.jwks_url}",
                    f"oidc-client-id={env.client_id}",
                    f"audience={env.audience}",
                ],
            },
            *(
                {
                    "name": f"{s}-config",
                    "behavior": "merge",
                    "literals": [
                        f"OIDC_REDIRECT_BASE_URL={env.base_url(s)}",
                        f"WORKSPACE_LINKS={workspace_links(env)}",
                    ],
                }
                for s in SERVICES
            ),
        ],
    }


def identity_path(env: Environment) -> Path:
    return HERE / "overlays" / env.name / "identity" / "kustomization.yaml"


# -- writing ---------------------------------------------------------------------------------------

HEADER = "# Generated by `python -m deploy.k8s.generate` from the code; do not edit by hand.\n"


def documents() -> dict[Path, list[dict[str, Any]]]:
    return {
        BASE / "services.yaml": [o for s in SERVICES for o in service_objects(s)],
        BASE / "network-policies.yaml": network_policies(),
        BASE / "ingress.yaml": [ingress()],
        BASE / "kafka.yaml": kafka_cluster(),
        BASE / "kafka-topics.yaml": kafka_topics(),
        BASE / "kafka-users.yaml": kafka_users(),
        BASE / "postgres.yaml": postgres_clusters(),
        AGENCY / "kafkauser-template.yaml": [agency_user_template()],
    }


def render(docs: list[dict[str, Any]], comment: str = "") -> str:
    return (
        HEADER
        + comment
        + "".join("---\n" + yaml.safe_dump(d, sort_keys=False, allow_unicode=True) for d in docs)
    )


def main(argv: list[str]) -> int:
    files = {path: render(docs) for path, docs in documents().items()}
    for e in ENVIRONMENTS:
        note = (
            f"# {e.name}: the identity provider is {e.provider}. Set the values in\n"
            "# deploy/k8s/generate.py (ENVIRONMENTS); docs/operations.md says what each one is.\n"
        )
        files[identity_path(e)] = render([identity_component(e)], note)
    return write_or_check(files, check="--check" in argv, command="python -m deploy.k8s.generate")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
