"""The authorization matrix (tests/e2e/authz_matrix.py, with the pages' tests/e2e/authz_pages.py)
against the code and the running platform.

1. The rows are exactly the routes the four FastAPI apps serve: a new route without a row, or a
   row left behind by a removed route, fails here (no stack needed). API rows and page rows
   together; only ``/metrics`` is left out.
2. Every API cell, walked against the four services running on the real Kafka + PostgreSQL, with
   resources of enterprise A in district X created beforehand through the APIs.
3. Every page cell, walked on the same platform with a browser session per principal opened in
   each service's own session store.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from deploy.local.samples import FAILED_INSPECTION
from runtime import db
from runtime.auth import DevIssuer, Principal, Role
from runtime.scheduler import FixedClock
from runtime.service import build_app
from runtime.settings import Settings
from runtime.web_session import Session, SessionStore, cookie_name, csrf_token
from schemas.campaigns import v1 as campaigns
from tests import images
from tests.conftest import run_async_in_thread
from tests.e2e import authz_matrix as m
from tests.e2e import authz_pages as pg
from tests.e2e.conftest import (
    CAMPAIGN_TIME,
    Platform,
    eventually,
    start_platform,
    stop_platform,
)
from tests.factories import keep_campaign_phase
from tests.workspace_support import fetch_value

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
OPEN311_KEY = "authz-matrix-open311-key"
ALL_FIVE = {"overall": 5, "cleaning": 5, "greenery": 5, "security": 5, "repair": 5, "complaints": 5}


# --- 1. the table covers every route ---------------------------------------------------------------


def served_routes(service: str) -> set[tuple[str, str, str]]:
    """(service, method, path) of every route the service's app serves, HEAD twins left out."""
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    settings_cls = next(
        v
        for v in vars(bootstrap).values()
        if isinstance(v, type) and issubclass(v, Settings) and v is not Settings
    )
    settings = settings_cls(database_url="postgresql://unused/unused")
    app = build_app(bootstrap.spec(settings), settings)
    out: set[tuple[str, str, str]] = set()
    for route in iter_route_contexts(app.routes):
        path = route.path
        if path is None or path in m.NOT_ROUTES:
            continue
        methods = set(route.methods or ())
        for method in methods - {"HEAD"} or methods:
            out.add((service, method, path))
    return out


def _is_page(key: tuple[str, str, str]) -> bool:
    return key[2].startswith(m.PAGE_PREFIXES)


def test_every_route_of_every_service_has_one_row_with_every_principal() -> None:
    """API rows and page rows together are every route served (``/metrics`` aside)."""
    served = set().union(*(served_routes(s) for s in m.SERVICES))
    rows = [r.key for r in m.MATRIX] + [r.key for r in m.PAGE_MATRIX]
    assert len(rows) == len(set(rows)), "a route has two rows"
    assert sorted(served - set(rows)) == [], (
        "routes without a row in tests/e2e/authz_matrix.py (API) or tests/e2e/authz_pages.py "
        "(/workspace/ and /auth/)"
    )
    assert sorted(set(rows) - served) == [], "rows for routes no service serves"
    assert [r.key for r in m.MATRIX if _is_page(r.key)] == [], "a page route among the API rows"
    for row in m.MATRIX:
        assert set(row.expect) == set(m.PRINCIPALS), row.key


def test_every_page_and_sign_in_route_has_one_page_row_with_every_session() -> None:
    """The page twin: the page table is exactly the served /workspace/ and /auth/ routes."""
    served = {k for s in m.SERVICES for k in served_routes(s) if _is_page(k)}
    rows = [r.key for r in m.PAGE_MATRIX]
    assert served, "no page routes found: the apps' routes were not read"
    assert sorted(served - set(rows)) == [], "page routes without a row in authz_pages.py"
    assert sorted(set(rows) - served) == [], "page rows for routes no service serves"
    for row in m.PAGE_MATRIX:
        assert set(row.expect) == set(pg.PAGE_PRINCIPALS), row.key
        assert (row.csrf is not None) == (row.method == "POST" and row.path != "/auth/logout"), (
            row.key,
            "a page's POST names the form whose CSRF token it carries",
        )


# --- 2. the table against the running platform ------------------------------------------------------


class Discovery(BaseHTTPRequestHandler):
    """An identity provider's discovery document (and nothing else): enough for the services'
    sign-in routes to know where the provider's pages are, without running Keycloak."""

    def do_GET(self) -> None:
        issuer = self.server.issuer  # type: ignore[attr-defined]
        if self.path != "/realms/wuye/.well-known/openid-configuration":
            self.send_error(404)
            return
        body = json.dumps({
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/protocol/openid-connect/auth",
            "token_endpoint": f"{issuer}/protocol/openid-connect/token",
            "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
        }).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    """The issuer URL of a provider that publishes only its discovery document."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Discovery)
    server.issuer = f"http://127.0.0.1:{server.server_address[1]}/realms/wuye"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield str(server.issuer)  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def platform(
    stack: Any, tmp_path_factory: pytest.TempPathFactory, provider: str
) -> Iterator[Platform]:
    keys = json.dumps({"authz-matrix": hashlib.sha256(OPEN311_KEY.encode()).hexdigest()})
    p = start_platform(
        stack,
        tmp_path_factory.mktemp("authz"),
        services=m.SERVICES,
        extra_env={
            "WEBHOOK_SIGNING_KEY": "authz-" + "k" * 32,
            "OPEN311_API_KEYS": keys,
            # Twelve principals file complaints from one address: the intake limit is not the
            # subject here (tests/integration covers it).
            "RATE_LIMIT_ENABLED": "false",
            # The pages' sign-in (runtime.oidc) at a provider that only publishes where its
            # pages are; API tokens stay the test issuer's (no AUTH_JWKS_URL).
            "OIDC_ISSUER": provider,
            "OIDC_CLIENT_SECRET": "authz-matrix-client-secret",
        },
    )
    yield p
    stop_platform(p)


def authorization(platform: Platform) -> dict[str, str | None]:
    """The Authorization header of each principal (None: no header)."""
    issuer = platform.issuer
    city = Principal("city-1", Role.CITY_OFFICE)
    now = int(time.time())
    claims = {
        "iss": issuer.issuer,
        "aud": issuer.audience,
        "sub": "city-1",
        "role": "city_office",
        "jti": uuid.uuid4().hex,
    }
    tokens = {
        "malformed": "not-a-jwt",
        "expired": issuer.sign({**claims, "iat": now - 7200, "exp": now - 3600}),
        "wrong_key": DevIssuer.generate().issue(city),
        "wrong_audience": issuer.sign(
            {**claims, "aud": "another-platform", "iat": now, "exp": now + 3600}
        ),
        "owner": platform.token(Role.OWNER),
        "enterprise_a": platform.token(Role.ENTERPRISE, enterprise="E-0001"),
        "enterprise_b": platform.token(Role.ENTERPRISE, enterprise="E-0002"),
        "district_x": platform.token(Role.DISTRICT_OFFICE, district="120101"),
        "district_y": platform.token(Role.DISTRICT_OFFICE, district="120104"),
        "city": platform.token(Role.CITY_OFFICE),
        "agency": platform.token(Role.AGENCY, agency="12345"),
    }
    return {"anonymous": None, **{k: f"Bearer {v}" for k, v in tokens.items()}}


class Api:
    """Signed-in calls for the setup; every answer must be the one expected."""

    def __init__(self, platform: Platform, auth: dict[str, str | None]) -> None:
        self.platform, self.auth = platform, auth
        self.client = httpx.AsyncClient(timeout=30)

    async def call(
        self, who: str, service: str, method: str, path: str, expect: int = 200, **kw: Any
    ) -> Any:
        headers = dict(kw.pop("headers", {}))
        if (value := self.auth[who]) is not None:
            headers["Authorization"] = value
        r = await self.client.request(
            method, self.platform.url(service) + path, headers=headers, **kw
        )
        assert r.status_code == expect, f"{method} {path} as {who}: {r.status_code} {r.text}"
        return r.json() if r.content else None


async def _implementation_phase(dsn: str) -> None:
    """The complaints service's copy of the campaign phases, as the campaigns topic would give it:
    surveys open only during an implementation phase."""
    event = campaigns.CampaignPhaseStarted(
        campaign_id="quality-month-2011",
        phase="implementation",
        phase_title_zh="实施阶段",
        starts_on=date(2011, 8, 1),
        ends_on=date(2011, 12, 31),
        title_zh="物业服务质量提升活动",
    )
    pool = await db.create_pool(dsn, max_size=1)
    try:
        await keep_campaign_phase(pool, event)
    finally:
        await pool.close()


async def seed(platform: Platform, api: Api) -> dict[str, Any]:
    """Resources of enterprise A (E-0001) in district X (120101), made through the APIs."""
    s: dict[str, Any] = {
        "project_id": "P-120101-0001",
        "enterprise_id": "E-0001",
        "template_id": "contract-self-inspection",
        "version": 1,
        "fmt": "json",
        "service_code": "other",
        "open311_api_key": OPEN311_KEY,
    }

    async def projects_known() -> bool:
        counts = [
            await platform.count("complaints", "SELECT count(*) FROM complaint_projects"),
            await platform.count("notifications", "SELECT count(*) FROM projects"),
        ]
        return min(counts) >= 4

    await eventually(projects_known)
    template_url = f"/api/v1/templates/{s['template_id']}/versions/1"
    template = await api.call("city", "inspections", "GET", template_url)
    s["template_body"] = template
    s["all_pass"] = [{"item_id": i["item_id"], "result": "pass"} for i in template["items"]]
    campaign = await api.call(
        "city",
        "inspections",
        "POST",
        "/api/v1/campaigns/from-template",
        201,
        json={"template": "quality-month-2011", "year": 2012},
    )
    s["campaign_id"] = campaign["campaign_id"]
    drawn = await api.call(
        "district_x", "inspections", "POST", "/api/v1/patrol-draws", 201, json=m.DRAW
    )
    s["draw_id"] = drawn["draw_id"]
    on_roster = {"inspector_id": "I-matrix-x", "name": "矩阵名单甲"}
    await api.call("district_x", "inspections", "POST", "/api/v1/draw-roster", 201, json=on_roster)
    s["inspector_id"] = on_roster["inspector_id"]
    facility = await api.call(
        "enterprise_a",
        "inspections",
        "POST",
        "/api/v1/facilities",
        201,
        json={**m.FACILITY, "name": "矩阵电梯（种子）"},
    )
    s["facility_id"] = facility["facility_id"]

    # A failed patrol: three rectification orders for E-0001 and a notice in its inbox.
    inspection = await api.call(
        "district_x", "inspections", "POST", "/api/v1/inspections", 201, json=FAILED_INSPECTION
    )
    s["inspection_id"] = inspection["inspection_id"]
    orders = [
        o["order_id"]
        for o in await api.call("district_x", "inspections", "GET", "/api/v1/rectifications")
        if o["inspection_id"] == s["inspection_id"]
    ]
    assert len(orders) == 3, orders
    s["order_id"], published_order, review_order = orders
    # Two orders rejected twice (整改不到位): two exposure cases.
    for order in (published_order, review_order):
        url = f"/api/v1/rectifications/{order}"
        for n in (1, 2):
            if order == published_order and n == 1:  # evidence with a photo, for the pages
                await api.call(
                    "enterprise_a",
                    "inspections",
                    "POST",
                    f"{url}/submissions/with-photos",
                    201,
                    data={"evidence_text": "已整改"},
                    files=[("photos", ("fix.jpg", images.jpeg((320, 240)), "image/jpeg"))],
                )
            else:
                await api.call(
                    "enterprise_a",
                    "inspections",
                    "POST",
                    f"{url}/submissions",
                    201,
                    json={"evidence_text": "已整改", "photo_refs": []},
                )
            await api.call(
                "district_x",
                "inspections",
                "POST",
                f"{url}/decision",
                json={"decision": "reject", "reason": "消防栓水压仍未达标"},
            )

    s["evidence_photo_id"] = await fetch_value(
        platform.dsns["inspections"],
        "SELECT attachment_id::text FROM attachments WHERE owner_kind = 'rectification'"
        " AND owner_id LIKE $1 ORDER BY created_at LIMIT 1",
        f"{published_order}:%",
    )
    assert s["evidence_photo_id"], "the evidence photo was not stored"

    # The owner's complaint with a photo, and its follow-up token.
    complaint = {
        "project_id": s["project_id"],
        "category": "other",
        "description": "三号楼电梯运行时异响",
    }
    filed = await api.call(
        "owner",
        "complaints",
        "POST",
        "/api/v1/complaints/with-photos",
        201,
        data={"complaint": json.dumps(complaint, ensure_ascii=False)},
        files=[("photos", ("lift.jpg", images.jpeg((320, 240)), "image/jpeg"))],
    )
    s["complaint_id"] = s["service_request_id"] = filed["complaint_id"]
    s["complaint_token"], s["ticket_no"] = filed["token"], filed["ticket_no"]
    detail = await api.call(
        "district_x", "complaints", "GET", f"/api/v1/complaints/{s['complaint_id']}"
    )
    s["attachment_id"] = detail["photos"][0]["attachment_id"]

    # Surveys: one closed (with an answer) in district X for results, one open for the rest.
    await _implementation_phase(platform.dsns["complaints"])
    closed = await api.call(
        "enterprise_a",
        "complaints",
        "POST",
        "/api/v1/surveys",
        201,
        json={"project_id": s["project_id"], "households": 3},
    )
    await api.call(
        "anonymous",
        "complaints",
        "POST",
        "/api/v1/surveys/answers",
        201,
        headers={"X-Survey-Token": closed["tokens"][0]},
        json={"scores": ALL_FIVE},
    )
    await api.call(
        "enterprise_a", "complaints", "POST", f"/api/v1/surveys/{closed['survey_id']}/close"
    )
    s["survey_id"] = closed["survey_id"]
    still_open = await api.call(
        "enterprise_a",
        "complaints",
        "POST",
        "/api/v1/surveys",
        201,
        json={"project_id": "P-120103-0001", "households": 3},
    )
    s["open_survey_id"], s["survey_token"] = still_open["survey_id"], still_open["tokens"][0]

    # Notifications: the failed patrol's notice in A's inbox; a channel of A's.
    async def notice() -> bool:
        inbox = await api.call("enterprise_a", "notifications", "GET", "/api/v1/notices")
        for n in inbox:
            if n["subject_id"] == s["inspection_id"]:
                s["notice_id"] = n["notice_id"]
        return "notice_id" in s

    await eventually(notice)
    endpoint = await api.call(
        "enterprise_a",
        "notifications",
        "POST",
        "/api/v1/endpoints",
        201,
        json={
            "recipient_kind": "enterprise",
            "recipient_id": "E-0001",
            "channel": "email",
            "address": "seed@e-0001.example.cn",
        },
    )
    s["endpoint_id"] = endpoint["endpoint_id"]

    # The two final rejections' criticism drafts, signed off by district X (the exposure cases
    # wait for the issued criticism): the first is the matrix's draft and criticism.
    async def drafted() -> bool:
        drafts = await api.call("district_x", "notifications", "GET", "/api/v1/criticism-drafts")
        s["draft_ids"] = [
            d["draft_id"] for d in drafts if d["subject_id"] in (published_order, review_order)
        ]
        return len(s["draft_ids"]) == 2

    await eventually(drafted, timeout=60)
    for draft_id in s["draft_ids"]:
        await api.call(
            "district_x", "notifications", "POST", f"/api/v1/criticism-drafts/{draft_id}/sign-off"
        )
    s["draft_id"] = s["criticism_id"] = s["draft_ids"][0]

    # Exposure: both cases in review (after the criticism notice); one confirmed (published), an
    # objection pending on the other.
    async def cases_in_review() -> bool:
        cases = await api.call("district_x", "exposure", "GET", "/api/v1/cases")
        by_order = {c["order_id"]: c for c in cases if c["status"] == "in_review"}
        if {published_order, review_order} <= set(by_order):
            s["published_case_id"] = by_order[published_order]["case_id"]
            s["case_id"] = by_order[review_order]["case_id"]
            return True
        return False

    await eventually(cases_in_review, timeout=90)
    await api.call(
        "district_x",
        "exposure",
        "POST",
        f"/api/v1/cases/{s['published_case_id']}/review",
        json={"decision": "confirm"},
    )
    objection = await api.call(
        "enterprise_a",
        "exposure",
        "POST",
        f"/api/v1/cases/{s['case_id']}/objections",
        201,
        json={"grounds": "已按期整改"},
    )
    s["objection_id"] = objection["objection_id"]
    return s


_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def fill(value: Any, s: dict[str, Any]) -> Any:
    """Put the seed's values in for ``{name}``: a whole-string placeholder keeps the value's type."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole:
            return s[whole.group(1)]
        return _PLACEHOLDER.sub(lambda g: str(s[g.group(1)]), value)
    if isinstance(value, dict):
        return {k: fill(v, s) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, s) for v in value]
    return value


def matches(expected: m.Expect, status: int) -> bool:
    if status >= 500:
        return False
    if expected == m.ALLOWED:
        return status not in m.NOT_ALLOWED_STATUSES
    return status == expected


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def ask(
    clients: dict[str, httpx.AsyncClient],
    platform: Platform,
    row: m.Row,
    auth: str | None,
    s: dict[str, Any],
) -> httpx.Response:
    base = platform.url(row.service)
    s = {**s, **{k: fill(v, s) for k, v in row.values.items()}}
    headers = {k: fill(v, s) for k, v in row.headers.items()}
    if auth is not None:
        headers["Authorization"] = auth
    path = fill(row.path, s)
    form = fill(row.form, s) if row.form is not None else None
    request = {
        "params": fill(row.params, s),
        "json": fill(row.json, s) if row.json is not None else None,
    }
    if row.form_page is None:
        client = clients[row.service]
        client.cookies.clear()  # each principal its own visitor
        return await client.request(row.method, base + path, headers=headers, data=form, **request)
    async with httpx.AsyncClient(base_url=base, timeout=30) as fresh:  # a fresh cookie jar
        page = await fresh.get(fill(row.form_page, s), headers=headers)
        token = _CSRF.search(page.text)
        assert token is not None, f"no CSRF token on {row.form_page}: {page.status_code}"
        form = {**(form or {}), "csrf_token": token.group(1)}
        headers |= {"Origin": base, "Sec-Fetch-Site": "same-origin"}
        return await fresh.request(row.method, path, headers=headers, data=form, **request)


@pytest.fixture(scope="module")
def seeded(platform: Platform) -> tuple[dict[str, str | None], dict[str, Any]]:
    auth = authorization(platform)

    async def make() -> dict[str, Any]:
        api = Api(platform, auth)
        try:
            return await seed(platform, api)
        finally:
            await api.client.aclose()

    return auth, run_async_in_thread(make)


async def test_every_principal_gets_the_answer_the_matrix_says_on_every_route(
    platform: Platform, seeded: tuple[dict[str, str | None], dict[str, Any]]
) -> None:
    auth, s = seeded
    differences: list[str] = []
    cells = 0
    clients = {s: httpx.AsyncClient(timeout=30) for s in m.SERVICES}
    for row in m.MATRIX:
        # Those refused first, those allowed last: a DELETE by its owner must not turn the
        # others' 404 into a "gone" that proves nothing.
        order = sorted(m.PRINCIPALS, key=lambda p: row.expect[p] == m.ALLOWED)
        for who in order:
            r = await ask(clients, platform, row, auth[who], s)
            cells += 1
            where = f"{row.service} {row.method} {row.path} as {who}"
            if not matches(row.expect[who], r.status_code):
                differences.append(
                    f"{where}: expected {row.expect[who]}, got {r.status_code} {r.text[:300]}"
                )
            public = row.expect == m.public()
            if r.is_success and (public or who in m.OUTSIDERS):
                private = m.NEVER_PUBLIC if public else m.PRIVATE
                leaked = [name for name in private if str(s[name]) in r.text]
                if leaked:
                    differences.append(f"{where}: the answer shows A's {leaked}")
    for client in clients.values():
        await client.aclose()
    routes, principals = m.size()
    assert cells == routes * principals
    assert differences == [], f"{len(differences)} of {cells} cells differ:\n" + "\n".join(
        differences
    )


# --- 3. the pages against the running platform ------------------------------------------------------

PEOPLE = {
    "owner": Principal("owner-page", Role.OWNER, name="业主"),
    "enterprise_a": Principal("ent-a-page", Role.ENTERPRISE, enterprise_id="E-0001"),
    "enterprise_b": Principal("ent-b-page", Role.ENTERPRISE, enterprise_id="E-0002"),
    "district_x": Principal("dist-x-page", Role.DISTRICT_OFFICE, district_code="120101"),
    "district_y": Principal("dist-y-page", Role.DISTRICT_OFFICE, district_code="120104"),
    "city": Principal("city-page", Role.CITY_OFFICE),
    "hotline": Principal("hotline-page", Role.AGENCY, agency_id="12345"),
    "agency": Principal("agency-page", Role.AGENCY, agency_id="12315"),
}
CSRF_REFUSED = "表单已失效或来源不明"


@dataclass
class Visitor:
    """One page principal's browser: its session cookie by service (None: none), and for a
    signed-in person the sessions themselves (for the CSRF tokens their pages render)."""

    cookies: dict[str, str | None] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)


async def open_page_sessions(platform: Platform) -> dict[str, Visitor]:
    """Each page principal's sessions, opened in each service's own session store as the
    sign-in callback would open them."""
    start = datetime.fromisoformat(CAMPAIGN_TIME)  # the services' business clock starts here
    out = {who: Visitor() for who in pg.PAGE_PRINCIPALS}
    for service in m.SERVICES:
        pool = await db.create_pool(platform.dsns[service], max_size=1)
        try:
            store = SessionStore(pool, FixedClock(start), service=service, secure=False)
            for who, person in PEOPLE.items():
                session_id = await store.open(person)
                session = await store.get(session_id)
                assert session is not None
                out[who].cookies[service] = session_id
                out[who].sessions[service] = session
            out["anonymous"].cookies[service] = None
            out["forged"].cookies[service] = secrets.token_urlsafe(32)
            # idle for a day: ended before the service's clock started
            stale = SessionStore(
                pool, FixedClock(start - timedelta(days=1)), service=service, secure=False
            )
            out["expired"].cookies[service] = await stale.open(PEOPLE["district_x"])
            closed = await store.open(PEOPLE["district_x"])
            assert await store.close(closed) is not None
            out["signed_out"].cookies[service] = closed
        finally:
            await pool.close()
    return out


ITEM = re.compile(r'name="r-([^"]+)" value="pass"')


async def save_draft_photo(platform: Platform, visitor: Visitor, project_id: str) -> str:
    """District X's officer saves the patrol's first group with a photo, as the group's page
    posts it; returns the draft photo's id (only its own drafter is ever served it)."""
    base, service = platform.url("inspections"), "inspections"
    cookie = {"Cookie": f"{cookie_name(service, secure=False)}={visitor.cookies[service]}"}
    url = f"{base}/workspace/inspections/patrol/{project_id}/groups/1"
    async with httpx.AsyncClient(timeout=30) as client:
        page = await client.get(url, headers=cookie)
        items = ITEM.findall(page.text)
        assert page.status_code == 200, page.text[:500]
        assert items, page.text[:500]
        form = {f"r-{item}": "pass" for item in items}
        form["csrf_token"] = csrf_token(visitor.sessions[service], f"patrol:{project_id}")
        saved = await client.post(
            url,
            data=form,
            files=[(f"p-{items[0]}", ("site.jpg", images.jpeg((320, 240)), "image/jpeg"))],
            headers={**cookie, "Origin": base, "Sec-Fetch-Site": "same-origin"},
        )
        assert saved.status_code == 303, saved.text[:500]
    photo = await fetch_value(
        platform.dsns[service],
        "SELECT attachment_id::text FROM attachments WHERE owner_kind = 'patrol-draft' LIMIT 1",
    )
    assert photo, "the draft photo was not stored"
    return str(photo)


def page_matches(expected: pg.PageExpect, r: httpx.Response, method: str) -> bool:
    if r.status_code >= 500:
        return False
    to_sign_in = r.is_redirect and r.headers.get("location", "").startswith("/auth/login?next=")
    if expected == pg.SIGN_IN:
        return to_sign_in if method == "GET" else r.status_code == 401
    if expected == pg.ALLOWED:
        return r.status_code not in m.NOT_ALLOWED_STATUSES and not to_sign_in
    return r.status_code == expected and not to_sign_in


async def ask_page(
    client: httpx.AsyncClient,
    platform: Platform,
    row: pg.PageRow,
    visitor: Visitor,
    s: dict[str, Any],
) -> httpx.Response:
    base = platform.url(row.service)
    s = {**s, **{k: fill(v, s) for k, v in row.values.items()}}
    url = base + fill(row.path, s)
    headers: dict[str, str] = {}
    cookie = visitor.cookies.get(row.service)
    if cookie is not None:
        headers["Cookie"] = f"{cookie_name(row.service, secure=False)}={cookie}"
    client.cookies.clear()  # only the principal's own session, nothing an earlier answer set
    if row.method == "GET":
        return await client.get(url, params=row.params, headers=headers)
    form = dict(fill(row.form or {}, s))
    if row.csrf is not None:
        # The token this session's page renders for the form; without a session, one of the
        # caller's own making (all a stranger has).
        session = visitor.sessions.get(row.service)
        form["csrf_token"] = (
            csrf_token(session, fill(row.csrf, s)) if session else secrets.token_hex(32)
        )
    headers |= {"Origin": base, "Sec-Fetch-Site": "same-origin"}
    return await client.request(row.method, url, data=form, headers=headers)


async def test_every_session_gets_the_page_the_matrix_says_on_every_page_route(
    platform: Platform, seeded: tuple[dict[str, str | None], dict[str, Any]], provider: str
) -> None:
    """Walks after the API matrix on the same platform (pytest runs the file in order)."""
    _, seed_values = seeded
    s = {**seed_values, "issuer": provider}
    visitors = await open_page_sessions(platform)
    s["draft_photo_id"] = await save_draft_photo(platform, visitors["district_x"], s["project_id"])
    private = (*m.PRIVATE, "evidence_photo_id", "draft_photo_id")
    clients = {who: httpx.AsyncClient(timeout=30) for who in pg.PAGE_PRINCIPALS}
    differences: list[str] = []
    cells = 0
    answers: Counter[int] = Counter()
    started = time.monotonic()
    try:
        for row in pg.PAGE_MATRIX:
            order = sorted(pg.PAGE_PRINCIPALS, key=lambda p: row.expect[p] == pg.ALLOWED)
            for who in order:
                r = await ask_page(clients[who], platform, row, visitors[who], s)
                cells += 1
                answers[r.status_code] += 1
                where = f"{row.service} {row.method} {row.path} as {who}"
                expected = row.expect[who]
                if not page_matches(expected, r, row.method):
                    location = r.headers.get("location", "")
                    differences.append(
                        f"{where}: expected {expected}, got {r.status_code} {location} "
                        f"{r.text[:300]!r}"
                    )
                    continue
                if CSRF_REFUSED in r.text:
                    differences.append(f"{where}: refused by the CSRF check, not the policy")
                if row.redirect_to is not None and r.is_redirect and expected != pg.SIGN_IN:
                    target = fill(row.redirect_to, s)
                    if not r.headers["location"].startswith(target):
                        differences.append(
                            f"{where}: sent to {r.headers['location']}, not {target}"
                        )
                if r.is_success and (who in pg.PAGE_OUTSIDERS or who in pg.BROKEN_SESSIONS):
                    leaked = [name for name in private if str(s[name]) in r.text]
                    if leaked:
                        differences.append(f"{where}: the page shows A's {leaked}")
        # Signing out (the last rows) ended every session: the pages send each person to sign in.
        for who in pg.SIGNED_IN:
            for service in m.SERVICES:
                row = pg.PageRow(service, "GET", f"/workspace/{service}/", {})
                r = await ask_page(clients[who], platform, row, visitors[who], s)
                if not page_matches(pg.SIGN_IN, r, "GET"):
                    differences.append(f"{service} as {who}: still signed in after signing out")
    finally:
        for client in clients.values():
            await client.aclose()
    routes, principals = m.page_size()
    assert cells == routes * principals
    print(
        f"page matrix: {routes} routes x {principals} principals = {cells} cells "
        f"in {time.monotonic() - started:.0f} s; answers {sorted(answers.items())}"
    )
    assert differences == [], f"{len(differences)} of {cells} page cells differ:\n" + "\n".join(
        differences
    )
