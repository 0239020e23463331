"""The Kubernetes manifests, offline: both overlays rendered with kustomize; every built-in kind
validated strictly against the Kubernetes schemas (kubernetes-validate); the custom resources
checked against the code (topics match schemas/, ACLs are least-privilege); and the rules every
workload must follow (probes, restricted security, resources, HPA and PDB, no secrets in the repo)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from deploy.k8s import generate, tools
from schemas import catalog, topics
from services.__main__ import SERVICES, load

REPO = Path(__file__).resolve().parents[2]
OVERLAYS = REPO / "deploy" / "k8s" / "overlays"
K8S_VERSION = "1.32.0"
CUSTOM_GROUPS = ("kafka.strimzi.io/", "postgresql.cnpg.io/")

Docs = list[dict[str, Any]]


@pytest.fixture(scope="module", params=["dev", "prod"])
def rendered(request: pytest.FixtureRequest) -> tuple[str, Docs]:
    text = tools.build(OVERLAYS / request.param)
    return request.param, [d for d in yaml.safe_load_all(text) if d]


def of_kind(docs: Docs, kind: str) -> Docs:
    return [d for d in docs if d["kind"] == kind]


def test_the_generated_base_is_fresh() -> None:
    assert generate.main(["--check"]) == 0, "run `python -m deploy.k8s.generate`"


def test_every_built_in_object_is_valid_kubernetes(rendered: tuple[str, Docs]) -> None:
    _, docs = rendered
    built_in = [d for d in docs if not d["apiVersion"].startswith(CUSTOM_GROUPS)]
    assert len(built_in) > 30
    for doc in built_in:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)  # raises on any error


def test_a_broken_object_is_caught_by_the_validation() -> None:
    """The check above can fail: an unknown field or a wrong type is refused."""
    deployment = generate.deployment("complaints")
    deployment["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, K8S_VERSION, strict=True)
    extra = generate.deployment("complaints")
    extra["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(extra, K8S_VERSION, strict=True)


def test_every_deployment_is_probed_restricted_and_sized(rendered: tuple[str, Docs]) -> None:
    env, docs = rendered
    deployments = of_kind(docs, "Deployment")
    assert sorted(d["metadata"]["name"] for d in deployments) == sorted(SERVICES)
    for d in deployments:
        name = d["metadata"]["name"]
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert pod["automountServiceAccountToken"] is False, name
        (container,) = pod["containers"]
        assert container["args"] == [name]
        assert container["image"].startswith("registry.example.gov.cn/wuye/platform:")
        for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                            ("readinessProbe", "/readyz")):  # fmt: skip
            assert container[probe]["httpGet"]["path"] == path, (name, probe)
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["readOnlyRootFilesystem"] is True
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["seccompProfile"]["type"] == "RuntimeDefault"
        assert {"cpu", "memory"} <= set(container["resources"]["requests"])
        assert "memory" in container["resources"]["limits"]
        # secrets come by reference, never by value
        for var in container["env"]:
            assert "value" not in var or var["name"] not in {"DATABASE_URL", "KAFKA_SASL_PASSWORD"}
    for kind in ("HorizontalPodAutoscaler", "PodDisruptionBudget", "Service", "ServiceAccount"):
        assert sorted(o["metadata"]["name"] for o in of_kind(docs, kind)) == sorted(SERVICES), kind
    assert of_kind(docs, "Secret") == []  # no secret is ever in the repository
    name = "wuye-dev" if env == "dev" else "wuye"
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {name}
    (namespace,) = of_kind(docs, "Namespace")
    assert namespace["metadata"]["name"] == name
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_network_is_denied_by_default_and_opened_per_need(rendered: tuple[str, Docs]) -> None:
    _, docs = rendered
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    deny = policies["default-deny"]
    assert deny["podSelector"] == {}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny
    assert "egress" not in deny
    for service in SERVICES:
        spec = policies[service]
        ports = {p["port"] for rule in spec["egress"] for p in rule.get("ports", ())}
        internet = [
            rule for rule in spec["egress"] for peer in rule.get("to", ()) if "ipBlock" in peer
        ]
        # every one reaches the identity provider: HTTPS, no private address (SSRF)
        assert internet, service
        assert "10.0.0.0/8" in internet[0]["to"][0]["ipBlock"]["except"]
        if service == "notifications":  # SMTP and webhooks as well
            assert {p["port"] for p in internet[0]["ports"]} == {25, 465, 587, 443}
        else:
            assert [p["port"] for p in internet[0]["ports"]] == [443], service
            assert ports == {9093, 5432, generate.IDENTITY_PORT, 443}, service
        pg = policies[f"wuye-pg-{service}"]
        own = pg["ingress"][0]
        assert own["from"] == [{"podSelector": {"matchLabels": generate.labels(service)}}]


def test_metrics_are_scraped_on_their_own_port_by_monitoring_only(
    rendered: tuple[str, Docs],
) -> None:
    """/metrics is not on the public port (issue 13): Prometheus scrapes METRICS_PORT, which only
    the monitoring namespace may reach; the ingress reaches the HTTP port only, and the services
    believe X-Forwarded-For from the cluster's pods only; the feed's links use the public URL."""
    env, docs = rendered
    policies = {p["metadata"]["name"]: p["spec"] for p in of_kind(docs, "NetworkPolicy")}
    configs = {c["metadata"]["name"]: c["data"] for c in of_kind(docs, "ConfigMap")}
    for d in of_kind(docs, "Deployment"):
        name = d["metadata"]["name"]
        template = d["spec"]["template"]
        (container,) = template["spec"]["containers"]
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports == {"http": generate.PORT, "metrics": generate.METRICS_PORT}, name
        assert template["metadata"]["annotations"]["prometheus.io/port"] == str(
            generate.METRICS_PORT
        )
        assert configs[f"{name}-config"]["METRICS_PORT"] == str(generate.METRICS_PORT)
        assert configs[f"{name}-config"]["TRUSTED_PROXIES"] == "10.244.0.0/16", (env, name)
        reach = {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]: {
                p["port"] for p in rule["ports"]
            }
            for rule in policies[name]["ingress"]
            for peer in rule["from"]
        }
        assert reach == {
            generate.INGRESS_NAMESPACE: {generate.PORT},
            generate.MONITORING_NAMESPACE: {generate.METRICS_PORT},
        }, name
    host = "baoguang.dev.wuye.example.gov.cn" if env == "dev" else "baoguang.wuye.example.gov.cn"
    assert configs["exposure-config"]["PUBLIC_BASE_URL"] == f"https://{host}"


def test_sign_in_is_configured_for_the_identity_provider_behind_the_ingress(
    rendered: tuple[str, Docs],
) -> None:
    """Each service's pages are signed in through the overlay's OIDC provider: its issuer, JWKS
    and client from the ConfigMap `wuye-identity`, the client secret from a Secret, and the
    redirect base (its /auth/callback) at the host the Ingress routes to that service; the
    navigation links every service at its host. The settings classes read what is set."""
    env, docs = rendered
    (environment,) = [e for e in generate.ENVIRONMENTS if e.name == env]
    configs = {c["metadata"]["name"]: c["data"] for c in of_kind(docs, "ConfigMap")}
    identity = configs["wuye-identity"]
    assert identity["oidc-issuer"] == environment.oidc_issuer
    assert identity["oidc-issuer"].startswith("https://")
    assert identity["jwks-url"].startswith("https://")
    assert identity["oidc-client-id"] == "wuye-workspace"
    assert identity["audience"] == "wuye-platform"
    assert "client-secret" not in identity  # the secret stays in the Secret wuye-oidc
    (ingress,) = of_kind(docs, "Ingress")
    host_of = {  # each service's own host: the one whose "/" it serves
        path["backend"]["service"]["name"]: r["host"]
        for r in ingress["spec"]["rules"]
        for path in r["http"]["paths"]
        if path["path"] == "/"
    }
    suffix = ".dev.wuye.example.gov.cn" if env == "dev" else ".wuye.example.gov.cn"
    for d in of_kind(docs, "Deployment"):
        name = d["metadata"]["name"]
        (container,) = d["spec"]["template"]["spec"]["containers"]
        refs = {
            v["name"]: v["valueFrom"].get("configMapKeyRef") or v["valueFrom"]["secretKeyRef"]
            for v in container["env"]
        }
        assert refs["OIDC_ISSUER"]["name"] == "wuye-identity"
        assert refs["AUTH_JWKS_URL"]["key"] == "jwks-url"
        assert refs["OIDC_CLIENT_SECRET"]["name"] == "wuye-oidc"
        assert "configMapKeyRef" not in str(refs["OIDC_CLIENT_SECRET"])
        data = configs[f"{name}-config"]
        assert host_of[name].endswith(suffix)
        assert data["OIDC_REDIRECT_BASE_URL"] == f"https://{host_of[name]}", (env, name)
        assert data["PUBLIC_HTTPS"] == "true", name
        links = dict(pair.split("=", 1) for pair in data["WORKSPACE_LINKS"].split(","))
        assert links == {s: f"https://{host_of[s]}/workspace/{s}/" for s in SERVICES}
        # what the service reads: the pod's environment, by its settings class
        environ = {k: v for k, v in data.items()} | {
            var: identity[ref["key"]]
            for var, ref in refs.items()
            if ref["name"] == "wuye-identity" and ref["key"] in identity
        }
        settings_cls, _ = load(name)
        settings = settings_cls.model_validate(
            {k.lower(): v for k, v in environ.items()} | {"database_url": "postgresql://x/y"}
        )
        assert settings.oidc_redirect_base_url == f"https://{host_of[name]}"
        assert settings.oidc_issuer == environment.oidc_issuer
        assert settings.auth_jwks_url == environment.jwks_url
        assert settings.public_https is True


def test_a_kafka_topic_for_every_topic_in_the_contract(rendered: tuple[str, Docs]) -> None:
    env, docs = rendered
    found = {t["metadata"]["name"]: t["spec"] for t in of_kind(docs, "KafkaTopic")}
    expected = {t.name: t for t in (*topics.TOPICS, *topics.DEAD_LETTER_TOPICS)}
    assert set(found) == set(expected)
    for name, spec in found.items():
        contract = expected[name]
        assert spec["partitions"] == contract.partitions, name
        for key, value in contract.config.items():
            assert str(spec["config"][key]) == value, (name, key)
        replicas = 1 if env == "dev" else 3
        assert spec["replicas"] == replicas
        assert spec["config"]["min.insync.replicas"] == (1 if env == "dev" else 2)
    assert found["wuye.registry.projects"]["config"]["cleanup.policy"] == "compact"


def test_every_kafka_user_may_do_exactly_what_its_service_does(rendered: tuple[str, Docs]) -> None:
    _, docs = rendered
    users = {u["metadata"]["name"]: u["spec"] for u in of_kind(docs, "KafkaUser")}
    assert set(users) == {f"wuye-{s}" for s in SERVICES}
    for service in SERVICES:
        spec = users[f"wuye-{service}"]
        assert spec["authentication"]["type"] == "scram-sha-512"
        grants: dict[tuple[str, str, str], set[str]] = {}
        for acl in spec["authorization"]["acls"]:
            r = acl["resource"]
            grants.setdefault((r["type"], r["name"], r["patternType"]), set()).update(
                acl["operations"]
            )
        writes = {
            name for (kind, name, _), ops in grants.items() if kind == "topic" and "Write" in ops
        }
        produced = {
            catalog.EVENT_TYPES[t].topic for t, s in catalog.PRODUCERS.items() if s == service
        }
        assert writes == produced | {f"wuye.dlq.{service}"}, service
        reads = {
            name for (kind, name, _), ops in grants.items() if kind == "topic" and "Read" in ops
        }
        assert reads == set(generate.consumed_topics(service)), service
        groups = {(name, p) for (kind, name, p) in grants if kind == "group"}
        assert groups == {(f"{service}.", "prefix")}, service
        assert all(name != "*" for (_, name, _) in grants), service
        allowed = {"Read", "Write", "Describe"}
        assert set().union(*grants.values()) <= allowed, service
        assert all(p == "literal" for (kind, _, p) in grants if kind == "topic"), service


def test_the_agency_template_reads_public_topics_only() -> None:
    template = yaml.safe_load(
        (REPO / "deploy" / "k8s" / "agency" / "kafkauser-template.yaml").read_text()
    )
    acls = template["spec"]["authorization"]["acls"]
    topics_read = {a["resource"]["name"] for a in acls if a["resource"]["type"] == "topic"}
    assert topics_read == {t.name for t in topics.TOPICS if t.public}
    assert "wuye.complaints.events" not in topics_read  # internal
    ops = Counter(op for a in acls for op in a["operations"])
    assert set(ops) == {"Describe", "Read"}
    (group,) = [a for a in acls if a["resource"]["type"] == "group"]
    assert group["resource"] == {"type": "group", "name": "agency-AGENCY.", "patternType": "prefix"}


def test_one_postgres_cluster_per_service_and_a_kraft_kafka(rendered: tuple[str, Docs]) -> None:
    env, docs = rendered
    clusters = {c["metadata"]["name"]: c["spec"] for c in of_kind(docs, "Cluster")}
    assert set(clusters) == {f"wuye-pg-{s}" for s in SERVICES}
    for service in SERVICES:
        spec = clusters[f"wuye-pg-{service}"]
        initdb = spec["bootstrap"]["initdb"]
        assert {k: initdb[k] for k in ("database", "owner")} == {
            "database": service,
            "owner": service,
        }
        # Open311 filing by lat/long needs PostGIS in the complaints database only, created at
        # bootstrap by the operator (the service's role is no superuser)
        postgis = ["CREATE EXTENSION IF NOT EXISTS postgis"] if service == "complaints" else None
        assert initdb.get("postInitApplicationSQL") == postgis, service
        assert ("postgis" in spec.get("imageName", "")) == (service == "complaints"), service
        assert spec["instances"] == (1 if env == "dev" else 3)
    (kafka,) = of_kind(docs, "Kafka")
    assert kafka["apiVersion"] == "kafka.strimzi.io/v1"
    assert "zookeeper" not in kafka["spec"]
    listener = kafka["spec"]["kafka"]["listeners"][0]
    assert listener["tls"] is True
    assert listener["authentication"]["type"] == "scram-sha-512"
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"
    (pool,) = of_kind(docs, "KafkaNodePool")
    assert sorted(pool["spec"]["roles"]) == ["broker", "controller"]
