"""API fuzzing: Schemathesis generates requests from every service's committed OpenAPI document
(docs/openapi/, kept equal to the live one by tests/contract) and sends them to the running
services on the real stack. No answer may be a server error, and every documented answer must
match its documented schema. Three ways:

- positive: valid requests for every operation, signed in as each role in turn and anonymous;
- negative: invalid requests (Schemathesis' negative generation mode: wrong types, missing or
  extra fields, values out of range) for every operation, as a role the route admits;
- stateful: sequences that feed one answer's ids into the next request (Schemathesis infers the
  links between operations from the documents: a project id from GET /projects into
  GET /projects/{project_id}, a case id into its review...), as two roles.

Budgets are per operation (positive, negative) or per service (stateful scenarios) and the data is
derandomized, so a run takes the same time and a failure reproduces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from runtime.auth import Role
from tests.conftest import run_async_in_thread
from tests.e2e.conftest import Platform, settled, start_platform, stop_platform

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
SERVICES = ("inspections", "complaints", "notifications", "exposure")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"
EXAMPLES_PER_ROLE = 10  # per operation; x4 roles, x80 operations
EXAMPLES_ANONYMOUS = 3  # per operation: the token check comes first, little else to explore
EXAMPLES_NEGATIVE = 10  # per operation and role; x2 roles
STATEFUL_SCENARIOS = 30  # per service and role; x2 roles
STATEFUL_STEPS = 8  # at most, per scenario
CHECKS = [not_a_server_error, response_schema_conformance]
# Left out of the chained scenarios (still fuzzed one by one above): decisions on an exposure case
# change it for good (an objection filed once answers 409 the next time), so Hypothesis, replaying
# the same choices, meets other answers and other links and stops with "inconsistent data
# generation" where nothing failed. Their transitions are tested in test_exposure_cases.
STATEFUL_LEAVES_OUT: dict[str, list[tuple[list[str], str]]] = {
    "exposure": [(["POST"], r"^/api/v1/cases/")],
    "notifications": [
        # a draft signed off or withdrawn leaves the list of drafts for good: the replay of the
        # same choices then draws from another list ("Inconsistent data generation" in a full run)
        (["POST"], r"^/api/v1/criticism-drafts/"),
        # an endpoint deleted in one scenario is gone when Hypothesis replays it (404, no more
        # links: "the second run stopped drawing earlier", the fresh-clone run of aa6ff55);
        # registration and removal are tested in test_notifications_flow and fuzzed one by one
        (["POST", "DELETE"], r"^/api/v1/endpoints"),
    ],
}


@pytest.fixture(scope="module")
def platform(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    # Configured as in production: without a webhook signing key, registering a webhook is a
    # deliberate 503 (the operator's fix), which the fuzzer would rightly count as a server error.
    p = start_platform(
        stack,
        tmp_path_factory.mktemp("fuzz"),
        services=SERVICES,
        extra_env={"WEBHOOK_SIGNING_KEY": "fuzz-" + "k" * 32},
    )
    yield p
    stop_platform(p)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed_in(platform: Platform) -> list[dict[str, str]]:
    return [
        bearer(platform.token(Role.DISTRICT_OFFICE, district="120101")),
        bearer(platform.token(Role.ENTERPRISE, enterprise="E-0001")),
        bearer(platform.token(Role.CITY_OFFICE)),
        bearer(platform.token(Role.OWNER)),
    ]


def fuzz(
    operation: Any,
    base_url: str,
    headers: dict[str, str],
    examples: int,
    mode: GenerationMode = GenerationMode.POSITIVE,
) -> Any:
    """A Hypothesis test of one operation with one set of headers (a token, or none)."""

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every run: a failure reproduces
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=20)

    return check


def load(service: str) -> Any:
    return schemathesis.openapi.from_dict(json.loads((DOCS / f"{service}.json").read_text()))


def operations(service: str) -> list[Any]:
    found = [result.ok() for result in load(service).get_all_operations()]
    assert found
    return found


def has_input(operation: Any) -> bool:
    """Whether the operation takes anything a request could get wrong (else negative mode has
    nothing to generate: /healthz)."""
    parts = ("path_parameters", "query", "headers", "cookies", "body")
    return any(len(getattr(operation, part)) for part in parts)


def run_all(runs: list[tuple[str, Any]]) -> None:
    failures: list[str] = []
    for label, run in runs:
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - collected so one run reports them all
            failures.append(f"{label}: {str(exc)[:1600]}")
    assert failures == [], "\n\n".join(failures)


@pytest.mark.parametrize("service", SERVICES)
def test_no_server_error_and_no_schema_violation(platform: Platform, service: str) -> None:
    base_url = platform.url(service)
    runs = [
        (op.label, fuzz(op, base_url, headers, examples))
        for op in operations(service)
        for headers, examples in [
            *((h, EXAMPLES_PER_ROLE) for h in signed_in(platform)),
            ({}, EXAMPLES_ANONYMOUS),  # anonymous
        ]
    ]
    run_all(runs)


@pytest.mark.parametrize("service", SERVICES)
def test_invalid_requests_are_refused_without_a_server_error(
    platform: Platform, service: str
) -> None:
    """Negative mode: every request breaks the schema somewhere; the answer is a 4xx in the
    documented shape, as the city office (admitted almost everywhere) and as enterprise A (the
    enterprise-only routes)."""
    base_url = platform.url(service)
    roles = [
        bearer(platform.token(Role.CITY_OFFICE)),
        bearer(platform.token(Role.ENTERPRISE, enterprise="E-0001")),
    ]
    runs = [
        (
            f"{op.label} (negative)",
            fuzz(op, base_url, h, EXAMPLES_NEGATIVE, GenerationMode.NEGATIVE),
        )
        for op in operations(service)
        if has_input(op)
        for h in roles
    ]
    run_all(runs)


def stateful(service: str, base_url: str, headers: dict[str, str]) -> Any:
    """Scenarios that chain operations through the links Schemathesis infers."""
    schema = load(service)
    for methods, path_regex in STATEFUL_LEAVES_OUT.get(service, []):
        schema = schema.exclude(method=methods, path_regex=path_regex)
    machine = schema.as_state_machine()
    # What failed, as the service answered it: a scenario's replay (Hypothesis runs a failing
    # example again to report it) meets a service whose state has moved on, draws differently
    # and ends in "Inconsistent data generation", which would hide the failure itself.
    seen: list[str] = []

    class Scenario(machine):  # type: ignore[misc, valid-type]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": base_url, "headers": headers, "timeout": 20}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            try:
                case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
            except Exception as exc:
                seen.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{str(exc)[:600]}"
                )
                raise

    def run() -> None:
        try:
            Scenario.run(
                settings=settings(
                    max_examples=STATEFUL_SCENARIOS,
                    stateful_step_count=STATEFUL_STEPS,
                    deadline=None,
                    database=None,
                    derandomize=True,
                    suppress_health_check=list(HealthCheck),
                )
            )
        except Exception as exc:
            if not seen:
                raise
            raise AssertionError(f"{exc}\nfirst failure seen: {seen[0]}") from exc

    return run


@pytest.mark.parametrize("service", SERVICES)
def test_chained_requests_give_no_server_error(platform: Platform, service: str) -> None:
    base_url = platform.url(service)
    roles = {
        "district office": bearer(platform.token(Role.DISTRICT_OFFICE, district="120101")),
        "enterprise": bearer(platform.token(Role.ENTERPRISE, enterprise="E-0001")),
    }
    # Scenarios feed answers into the next requests, so what Hypothesis draws depends on the
    # service's state: it must not change under them for reasons of its own (a backlog of
    # earlier tests' events still being consumed), or Hypothesis sees "inconsistent data
    # generation" where there is no failure.
    run_async_in_thread(lambda: settled(platform))
    run_all(
        [
            (f"{service} stateful as {who}", stateful(service, base_url, h))
            for who, h in roles.items()
        ]
    )
