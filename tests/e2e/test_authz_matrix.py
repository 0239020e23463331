"""The authorization matrix (tests/e2e/authz_matrix.py) against the code and the running platform.

1. The rows are exactly the routes the four FastAPI apps serve: a new route without a row, or a
   row left behind by a removed route, fails here (no stack needed).
2. Every cell, walked against the four services running on the real Kafka + PostgreSQL, with
   resources of enterprise A in district X created beforehand through the APIs.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi.routing import iter_route_contexts

from deploy.local.samples import FAILED_INSPECTION
from runtime import db
from runtime.auth import DevIssuer, Principal, Role
from runtime.service import build_app
from runtime.settings import Settings
from schemas.campaigns import v1 as campaigns
from tests import images
from tests.conftest import run_async_in_thread
from tests.e2e import authz_matrix as m
from tests.e2e.conftest import Platform, eventually, start_platform, stop_platform
from tests.factories import keep_campaign_phase

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
        if path is None or path in m.NOT_API_ROUTES or path.startswith(m.NOT_API_PREFIXES):
            continue
        methods = set(route.methods or ())
        for method in methods - {"HEAD"} or methods:
            out.add((service, method, path))
    return out


def test_every_route_of_every_service_has_one_row_with_every_principal() -> None:
    served = set().union(*(served_routes(s) for s in m.SERVICES))
    rows = [r.key for r in m.MATRIX]
    assert len(rows) == len(set(rows)), "a route has two rows"
    assert sorted(served - set(rows)) == [], "routes without a row in tests/e2e/authz_matrix.py"
    assert sorted(set(rows) - served) == [], "rows for routes no service serves"
    for row in m.MATRIX:
        assert tuple(row.expect) == m.PRINCIPALS or set(row.expect) == set(m.PRINCIPALS), row.key


# --- 2. the table against the running platform ------------------------------------------------------


@pytest.fixture(scope="module")
def platform(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
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
        for _ in (1, 2):
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
