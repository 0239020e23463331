"""The inspections HTTP API as a client sees it: scope, validation, idempotent retries."""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import httpx
import pytest

from runtime.auth import Role
from tests.e2e.conftest import FAILED_INSPECTION, Platform

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


async def post(
    platform: Platform, body: dict[str, Any], token: str | None, **headers: str
) -> httpx.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(base_url=platform.url("inspections"), timeout=20) as client:
        return await client.post("/api/v1/inspections", json=body, headers=headers)


async def test_retry_with_the_same_idempotency_key_records_once(platform: Platform) -> None:
    token = platform.token(Role.DISTRICT_OFFICE, district="120101")
    key = uuid.uuid4().hex
    corr = f"idem-{key[:8]}"
    responses = await asyncio.gather(
        *(
            post(
                platform,
                FAILED_INSPECTION,
                token,
                **{"Idempotency-Key": key, "X-Correlation-ID": corr},
            )
            for _ in range(3)
        )
    )
    assert sorted(r.status_code for r in responses) == [200, 200, 201]
    assert len({r.json()["inspection_id"] for r in responses}) == 1
    # One inspection's events: InspectionCompleted, InspectionFailed and one
    # RectificationOrdered per failed item (3), written once despite three requests.
    assert (
        await platform.count(
            "inspections", "SELECT count(*) FROM outbox WHERE correlation_id = $1", corr
        )
        == 5
    )


async def test_without_a_token_the_answer_is_401(platform: Platform) -> None:
    response = await post(platform, FAILED_INSPECTION, None)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_district_office_cannot_inspect_another_district(platform: Platform) -> None:
    token = platform.token(
        Role.DISTRICT_OFFICE, district="120104"
    )  # 南开区; the project is in 和平区
    response = await post(platform, FAILED_INSPECTION, token)
    # Outside its scope the project answers like a missing one, so ids cannot be probed.
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "project_not_found"
    assert error["message_en"]


async def test_an_enterprise_self_inspects_only_its_own_projects(platform: Platform) -> None:
    body = {**FAILED_INSPECTION, "kind": "self"}
    other = platform.token(Role.ENTERPRISE, enterprise="E-0003")
    assert (await post(platform, body, other)).status_code == 404
    own = platform.token(Role.ENTERPRISE, enterprise="E-0001")
    assert (await post(platform, body, own)).status_code == 201


async def test_an_empty_idempotency_key_is_refused_not_stored(platform: Platform) -> None:
    token = platform.token(Role.DISTRICT_OFFICE, district="120101")
    for _ in range(2):
        response = await post(platform, FAILED_INSPECTION, token, **{"Idempotency-Key": ""})
        assert response.status_code == 422, response.text


async def test_an_owner_cannot_record_inspections(platform: Platform) -> None:
    token = platform.token(Role.OWNER)
    assert (await post(platform, FAILED_INSPECTION, token)).status_code == 403


@pytest.mark.parametrize(
    ("mutate", "field", "status"),
    [
        (lambda b: b.update(kind="audit"), "kind", 422),
        (lambda b: b.pop("inspected_at"), "inspected_at", 422),
        (lambda b: b.update(inspected_at="2011-08-20T09:30:00"), "inspected_at", 422),  # no offset
        (lambda b: b.update(score=100), "score", 422),  # a client never sends the score
        (lambda b: b.update(template_version=2**40), "template_version", 422),
        (lambda b: b.update(inspected_at="0001-01-01T00:00:00+08:00"), "inspected_at", 422),
        (lambda b: b.update(inspected_at="2099-01-01T00:00:00+08:00"), "inspected_at", 422),
        (lambda b: b["results"].pop(), "results", 422),  # an item without a result
        (
            lambda b: b["results"].append({"item_id": "nope", "result": "pass"}),
            "results.17.item_id",
            409,  # scoring an item that is not in the template is refused as illegal
        ),
        (
            lambda b: b["results"][-1].update(note=""),
            "results.16.note",
            422,
        ),  # failed item, no note
    ],
)
async def test_bad_input_is_refused_with_the_field_and_nothing_is_written(
    platform: Platform, mutate: Any, field: str, status: int
) -> None:
    body = copy.deepcopy(FAILED_INSPECTION)
    mutate(body)
    token = platform.token(Role.DISTRICT_OFFICE, district="120101")
    corr = f"bad-{uuid.uuid4().hex[:8]}"
    response = await post(platform, body, token, **{"X-Correlation-ID": corr})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["message"]
    assert error["message_en"]
    fields = [f["field"] for f in error["fields"]]
    assert field in fields, error
    assert (
        await platform.count(
            "inspections", "SELECT count(*) FROM outbox WHERE correlation_id = $1", corr
        )
        == 0
    )
