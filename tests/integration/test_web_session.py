"""Staff sign-in sessions (runtime.web_session) on real PostgreSQL, and what a page sees."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from runtime.auth import Principal, Role
from runtime.scheduler import FixedClock
from runtime.service import ServiceSpec, build_app
from runtime.settings import Settings
from runtime.web_session import (
    CSRF_FIELD,
    CurrentSession,
    SessionStore,
    SignedIn,
    Tokens,
    check_csrf,
    csrf_token,
)
from tests.asgi import served

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
OFFICER = Principal("officer-1", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
NO_MIGRATIONS = Path(__file__).parent / "no_migrations"


def sessions(pool: asyncpg.Pool, clock: FixedClock) -> SessionStore:
    return SessionStore(pool, clock, service="test", secure=False, idle_s=600, absolute_s=3600)


async def test_a_session_keeps_the_principal_and_tokens_and_only_a_hash_of_its_id(
    pool: asyncpg.Pool,
) -> None:
    clock = FixedClock(T0)
    store = sessions(pool, clock)
    tokens = Tokens("access", "refresh", "id", T0 + timedelta(minutes=5))
    session_id = await store.open(OFFICER, tokens)

    found = await store.get(session_id)
    assert found is not None
    assert found.principal == OFFICER
    assert found.tokens == tokens
    async with pool.acquire() as conn:
        stored = await conn.fetchval("SELECT id_hash FROM web_sessions")
    assert session_id not in stored  # the cookie value itself is not in the table
    assert await store.get("not-" + session_id) is None


async def test_a_session_ends_when_idle_and_at_its_absolute_limit(pool: asyncpg.Pool) -> None:
    clock = FixedClock(T0)
    store = sessions(pool, clock)
    session_id = await store.open(OFFICER)

    for _ in range(5):  # used every 9 minutes: the idle limit (10) keeps moving ...
        clock.advance(timedelta(minutes=9))
        assert await store.get(session_id) is not None
    clock.advance(timedelta(minutes=11))  # ... until it is left alone for longer
    assert await store.get(session_id) is None

    other = await store.open(OFFICER)
    for _ in range(6):
        clock.advance(timedelta(minutes=9))
        await store.get(other)
    clock.advance(timedelta(minutes=9))  # 63 minutes after sign-in: past the absolute hour
    assert await store.get(other) is None
    assert await store.purge(pool, clock.now()) == 2


async def test_closing_a_session_signs_out_and_returns_its_tokens(pool: asyncpg.Pool) -> None:
    store = sessions(pool, FixedClock(T0))
    session_id = await store.open(OFFICER, Tokens(id_token="id-token"))
    closed = await store.close(session_id)
    assert closed is not None
    assert closed.tokens.id_token == "id-token"
    assert await store.get(session_id) is None


@pytest.fixture
async def pages(fresh_db: str, kafka_topics: str) -> AsyncIterator[httpx.AsyncClient]:
    clock = FixedClock(T0)
    router = APIRouter()

    @router.get("/work", response_class=HTMLResponse)
    async def work(me: SignedIn) -> str:
        return f"<p>{me.name}</p>"

    @router.get("/form")
    async def form(session: CurrentSession) -> dict[str, str]:
        return {"token": csrf_token(session, "/act")}

    @router.post("/act")
    async def act(
        request: Request, session: CurrentSession, token: str = Form(alias=CSRF_FIELD)
    ) -> dict[str, str]:
        check_csrf(request, session, "/act", token)
        return {"done": session.principal.subject}

    spec = ServiceSpec(
        name="test", title="t", version="0", migrations=NO_MIGRATIONS, routers=(router,),
        sign_in=True,
    )  # fmt: skip
    app = build_app(
        spec,
        Settings(service_name="test", database_url=fresh_db, kafka_bootstrap_servers=kafka_topics),
        clock=clock,
    )
    async with served(app, follow_redirects=False) as client:
        pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=1)
        try:
            session_id = await SessionStore(pool, clock, service="test", secure=False).open(OFFICER)
        finally:
            await pool.close()
        client.headers["x-test-session"] = session_id
        yield client


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(
    pages: httpx.AsyncClient,
) -> None:
    answer = await pages.get("/work?tab=queue")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/auth/login?next=/work%3Ftab%3Dqueue"
    refused = await pages.post("/act", data={CSRF_FIELD: "x"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "sign_in_required"


def sign_in(client: httpx.AsyncClient) -> None:
    client.cookies.set("wuye_test_session", client.headers["x-test-session"])


async def test_a_signed_in_page_knows_who_it_serves(pages: httpx.AsyncClient) -> None:
    sign_in(pages)
    answer = await pages.get("/work")
    assert answer.status_code == 200
    assert "王科长" in answer.text


async def test_a_form_post_needs_the_sessions_token_and_this_sites_origin(
    pages: httpx.AsyncClient,
) -> None:
    sign_in(pages)
    token = (await pages.get("/form")).json()["token"]
    same_site = {"sec-fetch-site": "same-origin", "origin": "http://test"}

    ok = await pages.post("/act", data={CSRF_FIELD: token}, headers=same_site)
    assert ok.json() == {"done": "officer-1"}
    forged = await pages.post("/act", data={CSRF_FIELD: "0" * 64}, headers=same_site)
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "csrf_refused"
    cross = await pages.post(
        "/act", data={CSRF_FIELD: token}, headers={"sec-fetch-site": "cross-site"}
    )
    assert cross.status_code == 403
    elsewhere = await pages.post(
        "/act",
        data={CSRF_FIELD: token},
        headers={"origin": "https://evil.example"},
    )
    assert elsewhere.status_code == 403
