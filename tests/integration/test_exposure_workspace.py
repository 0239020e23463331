"""The exposure service's workspace pages (issue 15), in-process on real PostgreSQL: the cases a
district office reviews (hold, publish, withdraw, each confirmed on its own page), objections
filed by the enterprise and decided by the office, another district's case refused with the
reason, CSRF, the same events as the office API, and the city office's campaign overview with its
CSV export and overdue lists."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest

from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from services.exposure import bootstrap
from services.exposure.settings import ExposureSettings
from tests import exposure_workspace_seed as seed
from tests.asgi import served
from tests.workspace_support import open_sessions

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 1, 10, 0, tzinfo=CHINA)
NOW = T0 + timedelta(days=2)  # cases in their review window (notice at T0 + 1 day, 120 h)
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
HEXI = Principal("hexi-officer", Role.DISTRICT_OFFICE, district_code="120103", name="李科长")
ENTERPRISE = Principal("ent-clerk", Role.ENTERPRISE, enterprise_id="E-0001", name="张经理")
CITY = Principal("city-officer", Role.CITY_OFFICE, name="赵处长")
BASE = "/workspace/exposure/"
COOKIE = "wuye_exposure_session"
TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class Desk:
    client: httpx.AsyncClient
    dsn: str
    pool: asyncpg.Pool
    cookies: dict[str, str]
    issuer: DevIssuer

    def as_(self, who: Principal) -> httpx.AsyncClient:
        self.client.cookies.clear()
        self.client.cookies.set(COOKIE, self.cookies[who.subject])
        return self.client

    def bearer(self, who: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.issue(who)}"}


@pytest.fixture
async def desk(fresh_db: str, kafka_topics: str) -> AsyncIterator[Desk]:
    issuer = DevIssuer.generate()
    settings = ExposureSettings(
        database_url=fresh_db,
        kafka_bootstrap_servers=kafka_topics,
        auth_jwt_public_key=issuer.public_key_pem,
    )
    # no consumers or jobs: the pages are the subject, the facts are seeded directly (a consumer
    # would also read what other tests publish on the shared topics)
    spec = dataclasses.replace(bootstrap.spec(settings), consumers=(), jobs=())
    app = build_app(spec, settings, clock=FixedClock(NOW))
    async with served(app, follow_redirects=False) as client:
        pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=2)
        try:
            people = (HEPING, HEXI, ENTERPRISE, CITY)
            cookies = await open_sessions(pool, FixedClock(NOW), "exposure", people)
            await seed.projects(pool, T0)
            yield Desk(client, fresh_db, pool, cookies, issuer)
        finally:
            await pool.close()


def token(page: httpx.Response) -> str:
    found = TOKEN.findall(page.text)  # the last one: the first is the sign-out form's
    assert found, page.text[:2000]
    return str(found[-1])


async def events(pool: asyncpg.Pool, case_id: str) -> list[str]:
    """The exposure events in the outbox about one case since it went into review, in order
    (short type names; the seeding's ExposureCaseOpened and ExposureEvidenceAdded left out)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT event_type FROM outbox WHERE convert_from(payload, 'UTF8') LIKE $1
               ORDER BY seq""",
            f"%{case_id}%",
        )
    names = [r["event_type"].split(".")[-2] for r in rows]
    return [n for n in names if n not in ("ExposureCaseOpened", "ExposureEvidenceAdded")]


async def status(pool: asyncpg.Pool, case_id: str) -> str:
    async with pool.acquire() as conn:
        return str(await conn.fetchval("SELECT status FROM cases WHERE case_id = $1", case_id))


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(desk: Desk) -> None:
    desk.client.cookies.clear()
    answer = await desk.client.get(BASE)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/auth/login?next=/workspace/exposure/")


async def test_publish_and_withdraw_confirmed_on_their_own_pages_emit_what_the_api_emits(
    desk: Desk,
) -> None:
    by_page, by_api = [await seed.case_in_review(desk.pool, 0, T0) for _ in range(2)]
    client = desk.as_(HEPING)
    listing = await client.get(BASE)
    assert listing.status_code == 200
    assert "和平区·海河花园" in listing.text
    assert "复核期至" in listing.text
    assert by_page in listing.text

    case = await client.get(f"{BASE}cases/{by_page}")
    assert case.status_code == 200
    assert "津物业通〔2026〕7号" in case.text  # the criticism notice
    assert "消防设施运行正常" in case.text  # the failed item
    confirm = await client.get(f"{BASE}cases/{by_page}/publish")
    assert confirm.status_code == 200
    assert "将在协会网站公开曝光" in confirm.text
    assert confirm.headers["content-security-policy"].startswith("default-src 'none'")
    assert await status(desk.pool, by_page) == "in_review"  # the confirmation page changes nothing
    done = await client.post(
        f"{BASE}cases/{by_page}/publish", data={"csrf_token": token(confirm), "text": "证据确凿"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"{BASE}cases/{by_page}?done=publish"
    assert await status(desk.pool, by_page) == "published"
    shown = await client.get(done.headers["location"])
    assert "已公开曝光" in shown.text

    api = await desk.client.post(
        f"/api/v1/cases/{by_api}/review",
        json={"decision": "confirm", "note": "证据确凿"},
        headers=desk.bearer(HEPING),
    )
    assert api.status_code == 200, api.text
    assert await events(desk.pool, by_page) == await events(desk.pool, by_api)
    assert await events(desk.pool, by_page) == ["ExposureReviewed", "ExposurePublished"]

    client = desk.as_(HEPING)
    confirm = await client.get(f"{BASE}cases/{by_page}/withdraw")
    assert "公开曝光台撤下" in confirm.text
    done = await client.post(f"{BASE}cases/{by_page}/withdraw", data={"csrf_token": token(confirm)})
    assert done.status_code == 303
    api = await desk.client.post(f"/api/v1/cases/{by_api}/withdraw", headers=desk.bearer(HEPING))
    assert api.status_code == 200, api.text
    assert await status(desk.pool, by_page) == "withdrawn"
    assert await events(desk.pool, by_page) == await events(desk.pool, by_api)
    assert (await events(desk.pool, by_page))[-1] == "ExposureWithdrawn"

    client = desk.as_(HEPING)  # a withdrawn case cannot be withdrawn again: the domain says why
    again = await client.get(f"{BASE}cases/{by_page}/withdraw")
    refused = await client.post(
        f"{BASE}cases/{by_page}/withdraw", data={"csrf_token": token(again)}
    )
    assert refused.status_code == 409
    assert "案件已撤下" in refused.text


async def test_hold_keeps_the_case_from_publication(desk: Desk) -> None:
    case_id = await seed.case_in_review(desk.pool, 0, T0)
    client = desk.as_(HEPING)
    confirm = await client.get(f"{BASE}cases/{case_id}/hold")
    assert "不会自动公开" in confirm.text
    done = await client.post(f"{BASE}cases/{case_id}/hold", data={"csrf_token": token(confirm)})
    assert done.status_code == 303
    assert await status(desk.pool, case_id) == "held"
    assert await events(desk.pool, case_id) == ["ExposureReviewed"]


async def test_another_districts_case_is_refused_with_the_reason_and_nothing_changes(
    desk: Desk,
) -> None:
    case_id = await seed.case_in_review(desk.pool, 0, T0)  # 和平区
    client = desk.as_(HEXI)
    listing = await client.get(BASE)
    assert case_id not in listing.text
    page = await client.get(f"{BASE}cases/{case_id}")
    assert page.status_code == 403
    assert "此案件属于和平区，您所在的河西区无权查看或处理" in page.text
    confirm = await client.get(f"{BASE}cases/{case_id}/publish")
    assert confirm.status_code == 403
    own = await client.get(BASE)  # a valid token of this person, for another district's case
    posted = await client.post(f"{BASE}cases/{case_id}/publish", data={"csrf_token": token(own)})
    assert posted.status_code == 403
    assert await status(desk.pool, case_id) == "in_review"
    assert await events(desk.pool, case_id) == []


async def test_a_post_without_the_forms_token_is_refused_and_writes_nothing(desk: Desk) -> None:
    case_id = await seed.case_in_review(desk.pool, 0, T0)
    client = desk.as_(HEPING)
    for bad in ("0" * 64, "x", ""):
        answer = await client.post(f"{BASE}cases/{case_id}/publish", data={"csrf_token": bad})
        assert answer.status_code == 403
    other_form = await client.get(f"{BASE}cases/{case_id}/hold")  # a token for another form
    answer = await client.post(
        f"{BASE}cases/{case_id}/publish", data={"csrf_token": token(other_form)}
    )
    assert answer.status_code == 403
    assert await status(desk.pool, case_id) == "in_review"
    assert await events(desk.pool, case_id) == []


async def test_the_enterprise_objects_and_the_district_decides(desk: Desk) -> None:
    case_id = await seed.case_in_review(desk.pool, 0, T0)  # E-0001's
    other = await seed.case_in_review(desk.pool, 1, T0)  # E-0009's
    client = desk.as_(ENTERPRISE)
    listing = await client.get(BASE)
    assert listing.status_code == 200
    assert case_id in listing.text
    assert other not in listing.text
    case = await client.get(f"{BASE}cases/{case_id}")
    assert "提出异议" in case.text
    assert "确认公开" not in case.text  # no office action offered
    assert (await client.get(f"{BASE}cases/{other}")).status_code == 403
    refused = await client.get(f"{BASE}cases/{case_id}/publish")
    assert refused.status_code == 403
    assert "只有区县物业办或市物业办" in refused.text
    assert (await client.get(f"{BASE}campaign")).status_code == 403

    form = await client.get(f"{BASE}cases/{case_id}/object")
    empty = await client.post(
        f"{BASE}cases/{case_id}/object", data={"csrf_token": token(form), "text": "  "}
    )
    assert empty.status_code == 422
    assert "请填写异议理由" in empty.text
    filed = await client.post(
        f"{BASE}cases/{case_id}/object",
        data={"csrf_token": token(form), "text": "已于期限前完成整改 <b>附照片</b>"},
    )
    assert filed.status_code == 303
    shown = await client.get(filed.headers["location"])
    assert "&lt;b&gt;附照片&lt;/b&gt;" in shown.text  # escaped
    assert await events(desk.pool, case_id) == ["ObjectionFiled"]

    client = desk.as_(HEPING)
    case = await client.get(f"{BASE}cases/{case_id}")
    assert "确认公开" not in case.text  # a pending objection blocks publication
    objection = re.search(rf"{BASE}cases/{case_id}/objections/([^/]+)/dismiss", case.text)
    assert objection
    path = objection.group(0)
    form = await client.get(path)
    assert form.status_code == 200
    blank = await client.post(path, data={"csrf_token": token(form), "reason": ""})
    assert blank.status_code == 422
    assert "请填写处理理由" in blank.text
    done = await client.post(path, data={"csrf_token": token(form), "reason": "照片未显示整改完成"})
    assert done.status_code == 303
    assert await status(desk.pool, case_id) == "in_review"
    assert await events(desk.pool, case_id) == ["ObjectionFiled", "ObjectionDecided"]


async def test_the_city_office_sees_every_district_exports_csv_and_drills_into_overdue(
    desk: Desk,
) -> None:
    await seed.case_in_review(desk.pool, 0, T0)
    await seed.case_in_review(desk.pool, 2, T0)
    order = await seed.overdue_order(desk.pool, 2, T0)
    await seed.inspection(desk.pool, 0, True, T0)
    await seed.inspection(desk.pool, 0, False, T0)
    await seed.inspection(desk.pool, 2, False, T0)
    client = desk.as_(CITY)
    page = await client.get(f"{BASE}campaign")
    assert page.status_code == 200, page.text
    assert "和平区" in page.text
    assert "河西区" in page.text
    assert "50.0%" in page.text  # 和平区: one of two inspections failed
    assert "<svg" in page.text
    assert f"{BASE}campaign/120103/overdue" in page.text
    listing = await client.get(BASE)
    assert listing.status_code == 200
    assert "河西区·友谊新苑" in listing.text
    assert "和平区·海河花园" in listing.text

    csv = await client.get(f"{BASE}campaign.csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.content.startswith("\ufeff".encode())
    lines = csv.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("区县代码 District code,区县 District")
    heping = next(line for line in lines if line.startswith("120101,"))
    assert ",2,1,50.0," in heping

    overdue = await client.get(f"{BASE}campaign/120103/overdue")
    assert overdue.status_code == 200
    assert order in overdue.text
    assert "河西区·友谊新苑" in overdue.text

    english = await client.get(f"{BASE}campaign", params={"lang": "en"})
    assert "Campaign at a glance, by district" in english.text
    assert english.headers["content-language"] == "en"

    client = desk.as_(HEPING)
    refused = await client.get(f"{BASE}campaign")
    assert refused.status_code == 403
    assert "仅供市物业办使用" in refused.text
    assert (await client.get(f"{BASE}campaign.csv")).status_code == 403
