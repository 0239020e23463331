"""API fuzzing: Schemathesis generates requests from every service's committed OpenAPI document
(docs/openapi/, kept equal to the live one by tests/contract) and sends them to the running
services on the real stack, signed in as each role in turn. No answer may be a server error, and
every documented answer must match its documented schema."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from runtime.auth import Role
from tests.e2e.conftest import Platform, start_platform, stop_platform

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
SERVICES = ("inspections", "complaints", "notifications", "exposure")
DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"
EXAMPLES_PER_ROLE = 10  # per operation; x4 roles, x80 operations


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


def tokens(platform: Platform) -> list[str]:
    return [
        platform.token(Role.DISTRICT_OFFICE, district="120101"),
        platform.token(Role.ENTERPRISE, enterprise="E-0001"),
        platform.token(Role.CITY_OFFICE),
        platform.token(Role.OWNER),
    ]


def fuzz(operation: Any, base_url: str, token: str) -> Any:
    """A Hypothesis test of one operation, signed in with one token."""

    @settings(
        max_examples=EXAMPLES_PER_ROLE,
        deadline=None,
        database=None,
        derandomize=True,  # the same requests on every run: a failure reproduces
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        case.call_and_validate(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            checks=[not_a_server_error, response_schema_conformance],
            timeout=20,
        )

    return check


@pytest.mark.parametrize("service", SERVICES)
def test_no_server_error_and_no_schema_violation(platform: Platform, service: str) -> None:
    schema = schemathesis.openapi.from_dict(json.loads((DOCS / f"{service}.json").read_text()))
    base_url = platform.url(service)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        for token in tokens(platform):
            try:
                fuzz(operation, base_url, token)()
            except Exception as exc:  # noqa: BLE001 - collected so one run reports them all
                failures.append(f"{operation.label}: {str(exc)[:800]}")
    assert failures == [], "\n\n".join(failures)
