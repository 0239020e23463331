"""Sign-in through the real identity provider (Keycloak of the local stack, runtime.oidc).

A trivial `sign_in=True` service is served by uvicorn on a loopback port; its API accepts
Keycloak's access tokens (JWKS), and Debian's headless Chromium signs in on Keycloak's own login
page, sees the page, signs out; an ended session and a tampered sign-in are refused.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
import uvicorn
from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, Page, sync_playwright

from deploy.local.stack import Keycloak
from runtime.http import CurrentPrincipal
from runtime.oidc import JwksVerifier
from runtime.service import ServiceSpec, build_app
from runtime.settings import Settings
from runtime.web_session import SignedIn
from tests.browser.conftest import CHROMIUM, SCREENSHOTS, _ensure_chromium
from tests.conftest import run_async_in_thread

NO_MIGRATIONS = Path(__file__).parents[1] / "integration" / "no_migrations"
SHOTS = SCREENSHOTS
PASSWORD = "demo-pass-2026"  # the demo realm's (deploy/local/keycloak/realm-wuye.json)
CLIENT_SECRET = "wuye-workspace-dev-secret"


@dataclass
class Site:
    url: str
    dsn: str
    keycloak: Keycloak


def _app(settings: Settings) -> Any:
    router = APIRouter()

    @router.get("/work", response_class=HTMLResponse)
    async def work(me: SignedIn) -> str:
        return f"<h1 id='who'>{me.name}</h1><p id='scope'>{me.role.value} {me.district_code}</p>"

    @router.get("/api/me")
    async def api_me(me: CurrentPrincipal) -> dict[str, str | None]:
        return {"role": me.role.value, "district": me.district_code, "name": me.name,
                "agency": me.agency_id}  # fmt: skip

    spec = ServiceSpec(
        name="signin", title="t", version="0", migrations=NO_MIGRATIONS, routers=(router,),
        sign_in=True,
    )  # fmt: skip
    return build_app(spec, settings)


def _settings(stack: Any, keycloak: Keycloak, dsn: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "service_name": "signin",
        "database_url": dsn,
        "kafka_bootstrap_servers": stack.kafka_bootstrap,
        "auth_jwks_url": keycloak.jwks_url,
        "auth_issuer": keycloak.issuer,
        "oidc_issuer": keycloak.issuer,
        "oidc_client_secret": CLIENT_SECRET,
        "metrics_port": 0,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="module")
def site(stack: Any, keycloak: Keycloak) -> Iterator[Site]:
    _ensure_chromium()
    dsn = stack.create_database(f"signin_{uuid.uuid4().hex[:8]}")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    keycloak.allow_redirects("wuye-workspace", [url])
    server = uvicorn.Server(
        uvicorn.Config(_app(_settings(stack, keycloak, dsn)), log_level="warning", ws="none")
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "test service did not start"
        time.sleep(0.05)
    try:
        yield Site(url=url, dsn=dsn, keycloak=keycloak)
    finally:
        server.should_exit = True
        thread.join(15)


def _password_grant(keycloak: Keycloak, user: str, client: str = "wuye-tests") -> str:
    answer = httpx.post(
        f"{keycloak.issuer}/protocol/openid-connect/token",
        data={"grant_type": "password", "client_id": client, "scope": "openid",
              "client_secret": f"{client}-dev-secret", "username": user, "password": PASSWORD},
    )  # fmt: skip
    answer.raise_for_status()
    return str(answer.json()["access_token"])


def test_the_api_accepts_keycloak_access_tokens_for_the_platform_only(site: Site) -> None:
    token = _password_grant(site.keycloak, "hx-inspector")
    me = httpx.get(f"{site.url}/api/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    assert me.json() == {
        "role": "district_office", "district": "120103", "name": "河西区 李检查", "agency": None,
    }  # fmt: skip

    other = _password_grant(site.keycloak, "hx-inspector", client="other-app")
    refused = httpx.get(f"{site.url}/api/me", headers={"Authorization": f"Bearer {other}"})
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "token_wrong_audience"


def test_the_realm_names_each_agency_in_its_tokens(site: Site) -> None:
    """The `agency_id` user attribute becomes the `agency` claim (the realm's mapper): the demo
    hotline clerk is the 12345 hotline, the water bureau's clerk another agency."""
    for user, agency, name in (("agency-clerk", "12345", "12345 热线 孙专员"),
                               ("water-clerk", "tj-water", "市水务局 钱专员")):  # fmt: skip
        token = _password_grant(site.keycloak, user)
        me = httpx.get(f"{site.url}/api/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json() == {"role": "agency", "district": None, "name": name, "agency": agency}


def test_a_rotated_signing_key_is_fetched_once_and_then_cached(site: Site) -> None:
    verifier = JwksVerifier(
        site.keycloak.jwks_url, issuer=site.keycloak.issuer, audience="wuye-platform"
    )
    verifier.verify(_password_grant(site.keycloak, "city-officer"))
    assert verifier.keys.fetches == 1
    verifier.verify(_password_grant(site.keycloak, "city-officer"))
    assert verifier.keys.fetches == 1  # cached
    # the provider rotates: a new RSA key with a higher priority signs from now on
    realm = site.keycloak.admin_request("GET", "/realms/wuye")
    site.keycloak.admin_request("POST", "/realms/wuye/components", {
        "name": f"rotated-{uuid.uuid4().hex[:6]}", "providerId": "rsa-generated",
        "providerType": "org.keycloak.keys.KeyProvider", "parentId": realm["id"],
        "config": {"priority": [str(int(time.time()))], "keySize": ["2048"]},
    })  # fmt: skip
    time.sleep(5.1)  # the verifier refetches an unknown key id at most every 5 s
    principal = verifier.verify(_password_grant(site.keycloak, "city-officer"))
    assert principal.name == "市住建委 赵主任"
    assert verifier.keys.fetches == 2


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


def _sign_in(page: Page, user: str, shot: str | None = None) -> None:
    page.wait_for_selector("#username")
    if shot:
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / shot), full_page=True)
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("#kc-login")


async def _sessions(dsn: str, sql: str = "SELECT count(*) FROM web_sessions") -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def test_a_person_signs_in_on_keycloaks_page_and_out_again(site: Site, chromium: Browser) -> None:
    for width, height, shot in ((1280, 800, "keycloak-login.png"),
                                (390, 844, "keycloak-login-phone.png")):  # fmt: skip
        context = chromium.new_context(locale="zh-CN", viewport={"width": width, "height": height})
        page = context.new_page()
        page.goto(f"{site.url}/work")
        assert page.url.startswith(site.keycloak.issuer)  # Keycloak's own login page
        assert "登录" in page.content()  # zh-CN
        _sign_in(page, "hp-inspector", shot)
        page.wait_for_url(f"{site.url}/work")
        assert page.text_content("#who") == "和平区 王检查"
        assert page.text_content("#scope") == "district_office 120101"
        cookie = next(c for c in context.cookies() if c["name"] == "wuye_signin_session")
        assert cookie["httpOnly"]
        assert cookie["sameSite"] == "Lax"

        page.goto(f"{site.url}/auth/logout")
        page.wait_for_url(f"{site.url}/auth/signed-out")
        assert "您已退出登录" in page.content()
        page.goto(f"{site.url}/work")  # the provider's session ended too: its login page again
        page.wait_for_selector("#username")
        context.close()


def test_an_ended_session_is_sent_to_sign_in_again(site: Site, chromium: Browser) -> None:
    context = chromium.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{site.url}/work")
    _sign_in(page, "city-officer")
    page.wait_for_url(f"{site.url}/work")
    first = next(c for c in context.cookies() if c["name"] == "wuye_signin_session")["value"]

    run_async_in_thread(lambda: _sessions(site.dsn, "UPDATE web_sessions SET expires_at = now()"))
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))
    page.goto(f"{site.url}/work")
    page.wait_for_url(f"{site.url}/work")
    # through the sign-in again (the provider's single sign-on answers without a password)
    assert any(url.startswith(f"{site.url}/auth/login?next=/work") for url in visited)
    second = next(c for c in context.cookies() if c["name"] == "wuye_signin_session")["value"]
    assert second != first
    assert page.text_content("#who") == "市住建委 赵主任"
    context.close()


def test_an_expired_access_token_is_refreshed_server_side(site: Site, chromium: Browser) -> None:
    context = chromium.new_context(locale="zh-CN")
    page = context.new_page()
    page.goto(f"{site.url}/work")
    _sign_in(page, "e0001-desk")
    page.wait_for_url(f"{site.url}/work")
    sql = "SELECT access_token FROM web_sessions WHERE name = '津城物业 张客服'"
    before = run_async_in_thread(lambda: _sessions(site.dsn, sql))
    run_async_in_thread(lambda: _sessions(
        site.dsn, "UPDATE web_sessions SET access_expires_at = now() - interval '1 minute'"
    ))  # fmt: skip
    page.goto(f"{site.url}/work")
    assert page.text_content("#who") == "津城物业 张客服"
    after = run_async_in_thread(lambda: _sessions(site.dsn, sql))
    assert after
    assert after != before
    context.close()


def test_a_tampered_or_denied_sign_in_is_refused_with_a_page(site: Site) -> None:
    sessions_before = run_async_in_thread(lambda: _sessions(site.dsn))
    with httpx.Client(base_url=site.url) as client:
        start = client.get("/auth/login", params={"next": "//evil.example/x"})
        assert start.status_code == 303
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        assert "code_challenge_method=S256" in start.headers["location"]

        forged = client.get("/auth/callback", params={"state": state + "x", "code": "abc"})
        assert forged.status_code == 400
        assert "登录请求已失效" in forged.text
        assert "did not start here" in forged.text

        start = client.get("/auth/login")
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        denied = client.get("/auth/callback", params={"state": state, "error": "access_denied"})
        assert denied.status_code == 403
        assert "登录已取消" in denied.text

    with httpx.Client(base_url=site.url) as stranger:  # no flow cookie at all
        lost = stranger.get("/auth/callback", params={"state": state, "code": "abc"})
        assert lost.status_code == 400
    assert run_async_in_thread(lambda: _sessions(site.dsn)) == sessions_before  # none opened


def test_an_unreachable_provider_gets_a_clear_page(stack: Any, keycloak: Keycloak) -> None:
    dsn = stack.create_database(f"signin_{uuid.uuid4().hex[:8]}")
    settings = _settings(stack, keycloak, dsn, oidc_issuer="http://127.0.0.1:9/realms/wuye")

    async def attempt() -> httpx.Response:
        from tests.asgi import served

        async with served(_app(settings)) as client:
            return await client.get("/auth/login")

    answer = run_async_in_thread(attempt)
    assert answer.status_code == 502
    assert "统一身份认证服务暂时无法访问" in answer.text
