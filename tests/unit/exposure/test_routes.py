"""The exposure routes on the in-memory unit of work and read fakes (no database): they parse,
authorize through the policy, call a handler with the request's trace, and render."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from runtime.auth import DevIssuer, Principal, Role, TokenVerifier
from runtime.http import PROVIDED, create_app
from schemas.exposure import v1 as exposure
from services.exposure.adapters.memory import MemoryExposureUnitOfWork
from services.exposure.adapters.memory_queries import (
    MemoryBoardQueries,
    MemoryCaseQueries,
    MemoryFigureQueries,
)
from services.exposure.domain import decisions
from services.exposure.entrypoints import board, board_api, board_figures
from services.exposure.entrypoints.cases_http import router as cases_router
from services.exposure.entrypoints.deps import ExposureDeps
from services.exposure.entrypoints.http import router as evidence_router
from services.exposure.service import cases, facts, publication
from services.exposure.settings import ExposureSettings
from tests import factories
from tests.asgi import served
from tests.unit.exposure.builders import POLICY, T0, delivered, notice, overdue, unit

ISSUER = DevIssuer.generate()
CITY = Principal("city-1", Role.CITY_OFFICE)
HEPING = Principal("district-1", Role.DISTRICT_OFFICE, district_code="120101")
HEXI = Principal("district-3", Role.DISTRICT_OFFICE, district_code="120103")
E1 = Principal("enterprise-1", Role.ENTERPRISE, enterprise_id="E-0001")
E2 = Principal("enterprise-2", Role.ENTERPRISE, enterprise_id="E-0002")


def app_on(uow: MemoryExposureUnitOfWork) -> FastAPI:
    deps = ExposureDeps(
        units=lambda: uow,
        case_queries=lambda: contextlib.nullcontext(MemoryCaseQueries(uow.cases, uow.facts)),
        board_queries=lambda: contextlib.nullcontext(MemoryBoardQueries(uow.cases)),
        figure_queries=lambda: contextlib.nullcontext(MemoryFigureQueries(uow.cases, uow.facts)),
        clock=uow.clock,
        settings=ExposureSettings(
            database_url="postgresql://unused/unused", public_base_url="https://board.example/"
        ),
        policy=POLICY,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        yield {PROVIDED: deps}

    verifier = TokenVerifier(ISSUER.public_key_pem, issuer=ISSUER.issuer, audience=ISSUER.audience)
    app = create_app(
        service="exposure", title="exposure", version="0", verifier=verifier, lifespan=lifespan
    )
    for router in (
        board.router,
        board_api.api,
        board_figures.router,
        cases_router,
        evidence_router,
    ):
        app.include_router(router)
    return app


def as_(principal: Principal, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {ISSUER.issue(principal)}", **headers}


async def case_in_review(uow: MemoryExposureUnitOfWork, order: str = "O-1") -> str:
    await cases.open_or_raise(uow, [delivered(overdue(order))])
    issued = delivered(notice(order, T0))
    await facts.record_criticisms(uow, [issued])
    await cases.criticism(uow, [issued])
    await uow.commit()
    return decisions.case_id_of(order)


@pytest.fixture
async def world() -> AsyncIterator[tuple[MemoryExposureUnitOfWork, httpx.AsyncClient, str]]:
    uow = unit(T0 + timedelta(hours=1))
    case_id = await case_in_review(uow)
    async with served(app_on(uow)) as client:
        yield uow, client, case_id


async def test_a_review_carries_the_requests_correlation_id(
    world: tuple[MemoryExposureUnitOfWork, httpx.AsyncClient, str],
) -> None:
    uow, client, case_id = world
    before = len(uow.outbox.committed)
    response = await client.post(
        f"/api/v1/cases/{case_id}/review",
        json={"decision": "hold", "note": "核查中"},
        headers=as_(HEPING, **{"X-Correlation-ID": "corr-review-1"}),
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "held"
    assert [w.event.ce_type for w in uow.outbox.committed[before:]] == [
        exposure.ExposureReviewed.ce_type
    ]
    [written] = uow.outbox.committed[before:]
    assert (written.trace.correlation_id, written.trace.causation_id) == ("corr-review-1", None)
    assert response.json()["timeline"][-1]["title_zh"] == "区物业办暂缓公开"


async def test_another_district_gets_not_found_and_changes_nothing(
    world: tuple[MemoryExposureUnitOfWork, httpx.AsyncClient, str],
) -> None:
    uow, client, case_id = world
    before = len(uow.outbox.committed)
    response = await client.post(f"/api/v1/cases/{case_id}/withdraw", headers=as_(HEXI))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "case_not_found"
    assert (await client.get(f"/api/v1/cases/{case_id}", headers=as_(HEXI))).status_code == 404
    assert len(uow.outbox.committed) == before


async def test_enterprises_see_and_object_to_their_own_cases_only(
    world: tuple[MemoryExposureUnitOfWork, httpx.AsyncClient, str],
) -> None:
    _, client, case_id = world
    own = await client.get("/api/v1/cases", headers=as_(E1))
    assert [c["case_id"] for c in own.json()] == [case_id]
    assert (await client.get("/api/v1/cases", headers=as_(E2))).json() == []
    blank = await client.post(
        f"/api/v1/cases/{case_id}/objections", json={"grounds": "  "}, headers=as_(E1)
    )
    assert blank.status_code == 422
    assert blank.json()["error"]["code"] == "empty_grounds"
    other = await client.post(
        f"/api/v1/cases/{case_id}/objections", json={"grounds": "不是我们"}, headers=as_(E2)
    )
    assert other.status_code == 404
    filed = await client.post(
        f"/api/v1/cases/{case_id}/objections", json={"grounds": "已整改"}, headers=as_(E1)
    )
    assert filed.status_code == 201
    assert filed.json()["case"]["objections"][0]["status"] == "pending"
    forbidden = await client.post(f"/api/v1/cases/{case_id}/withdraw", headers=as_(E1))
    assert forbidden.status_code == 403


async def test_a_district_office_sees_its_districts_evidence(
    world: tuple[MemoryExposureUnitOfWork, httpx.AsyncClient, str],
) -> None:
    uow, client, _ = world
    await facts.record_evidence(
        uow,
        [
            delivered(factories.inspection_failed()),
            delivered(factories.inspection_failed(district_code="120103")),
        ],
    )
    mine = await client.get("/api/v1/evidence", headers=as_(HEPING))
    assert [e["district_code"] for e in mine.json()] == ["120101"]
    every = await client.get("/api/v1/evidence", headers=as_(CITY))
    assert sorted(e["district_code"] for e in every.json()) == ["120101", "120103"]
    assert (await client.get("/api/v1/evidence", headers=as_(E1))).status_code == 403


async def test_the_feed_links_to_the_public_base_url_not_the_host(
    world: tuple[MemoryExposureUnitOfWork, httpx.AsyncClient, str],
) -> None:
    uow, client, case_id = world
    assert await publication.act_on_due(lambda: uow, T0 + timedelta(hours=120)) == 1
    feed = await client.get("/feed.atom", headers={"Host": "evil.example"})
    assert feed.status_code == 200
    assert f"https://board.example/cases/{case_id}" in feed.text
    assert "evil.example" not in feed.text
    page = await client.get(f"/api/v1/board/cases/{case_id}")
    assert page.json()["status"] == "published"
    assert all("note" not in item for item in page.json()["items"])


async def test_the_boards_campaign_figures_refuse_bad_input_with_reasons() -> None:
    uow = unit()
    async with served(app_on(uow)) as client:
        empty = await client.get("/figures")
        bad_district = await client.get("/figures?district=12010x")
        unknown = await client.get("/figures.csv?campaign=no-such-campaign")
        all_time = await client.get("/figures.csv?campaign=all")
    assert empty.status_code == 200
    assert "此期间尚无数据" in empty.text  # no campaign seen: all time, nothing yet
    assert (bad_district.status_code, unknown.status_code) == (400, 404)
    assert "district" in bad_district.text
    assert "6 位数字" in bad_district.text
    assert "campaign" in unknown.text
    assert all_time.status_code == 200
    assert all_time.content.startswith("\ufeff".encode())
