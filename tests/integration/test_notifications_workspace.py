"""The notices pages of the staff workspace (notifications service, issue 15), in-process on real
PostgreSQL: each office reads exactly the inbox the API gives it, unread first; a notice shows its
文号, issuing office and a link to its subject in the owning service's workspace; marking read needs
the session's CSRF token; another inbox's notice opened by URL reveals nothing."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import asyncpg
import httpx
import pytest

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.registry_copy import RegistryCopy
from runtime.scheduler import FixedClock
from runtime.service import build_app
from schemas.registry import v1 as registry
from services.notifications import bootstrap
from services.notifications.adapters.postgres import PgNotificationsUnitOfWork
from services.notifications.domain.notices import Copy, Notice
from services.notifications.settings import NotificationsSettings
from tests.asgi import served
from tests.workspace_support import Desk, form_token, open_sessions

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=CHINA)
BASE = "/workspace/notifications/"
INSPECTIONS = "http://127.0.0.1:8002/workspace/inspections/"
COMPLAINTS = "https://ws.example.cn/workspace/complaints/"
EXPOSURE = "https://ws.example.cn/workspace/exposure/"
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
HEXI = Principal("hexi-officer", Role.DISTRICT_OFFICE, district_code="120103", name="李科长")
ENTERPRISE = Principal("ent-clerk", Role.ENTERPRISE, enterprise_id="E-0001", name="张经理")
OTHER = Principal("other-clerk", Role.ENTERPRISE, enterprise_id="E-0002", name="赵经理")
CITY = Principal("city-officer", Role.CITY_OFFICE, name="刘处长")
AGENCY = Principal("agency-1", Role.AGENCY, name="消防支队", agency_id="tj-fire")
KINDS_CLERK = Principal("kinds-clerk", Role.ENTERPRISE, enterprise_id="E-0003", name="钱经理")
PEOPLE = (HEPING, HEXI, ENTERPRISE, OTHER, CITY, AGENCY, KINDS_CLERK)


def notice(
    notice_id: str, hours_ago: int, *copies: tuple[str, str, bool], **changes: object
) -> Notice:
    fields: dict[str, object] = {
        "rule_id": "inspection-failed",
        "kind": "notice",
        "reason": "inspection_failed",
        "notice_no": None,
        "subject_kind": "inspection",
        "subject_id": f"I-{notice_id}",
        "project_id": "P-120101-0001",
        "enterprise_id": "E-0001",
        "district_code": "120101",
        "title_zh": f"检查不合格整改通知 {notice_id}",
        "body_zh": f"津城物业:\n第一行 {notice_id}\n<script>alert(1)</script>",
        "title_en": f"Inspection failed {notice_id}",
        "body_en": f"Body {notice_id}",
        "cause_event_id": f"ev-{notice_id}",
        "cause_type": "cn.tj.wuye.inspections.InspectionFailed.v1",
        "correlation_id": f"corr-{notice_id}",
        "issued_at": NOW - timedelta(hours=hours_ago),
        "copies": tuple(
            Copy(f"{notice_id}-{kind}-{rid}", notice_id, kind, rid, cc) for kind, rid, cc in copies
        ),
    } | changes
    return Notice(notice_id, **fields)  # type: ignore[arg-type]


NOTICES = (
    notice("N-old", 30, ("enterprise", "E-0001", False), ("district", "120101", True)),
    notice(
        "N-crit",
        2,
        ("enterprise", "E-0001", False),
        ("district", "120101", True),
        ("city", "city", True),
        kind="criticism",
        reason="rectification_overdue",
        rule_id="rectification-overdue-criticism",
        notice_no="和平区物业通〔2026〕1号",
        subject_kind="rectification_order",
        subject_id="RO-0001",
        title_zh="通报批评:和平区·海河花园逾期未整改",
    ),
    notice("N-new", 1, ("enterprise", "E-0001", False), ("district", "120101", True)),
    notice(
        "N-hexi",
        1,
        ("enterprise", "E-0002", False),
        ("district", "120103", True),
        project_id="P-120103-0001",
        enterprise_id="E-0002",
        district_code="120103",
        title_zh="河西区的通知",
    ),
)
# One notice per subject kind, in E-0003's inbox: (subject kind, subject id, where it links).
KINDS = (
    ("rectification_order", "RO-0002", f"{INSPECTIONS}orders/RO-0002"),
    ("complaint", "C-0001", f"{COMPLAINTS}c/C-0001"),
    ("exposure_case", "X-0001", f"{EXPOSURE}cases/X-0001"),
    ("inspection", "I-0001", f"{INSPECTIONS}inspections/I-0001"),
    ("patrol", "PT-0001", f"{INSPECTIONS}patrol/P-120101-0001"),  # the project to patrol
    ("complaint", "C/../0002", f"{COMPLAINTS}c/C%2F..%2F0002"),  # ids are quoted
    ("plan", "quality-month-2026", None),
    ("survey", "S-0001", None),
    ("something_new", "Z-0001", None),
)
BY_KIND = tuple(
    notice(f"N-kind-{n}", 40 + n, ("enterprise", "E-0003", False),
           subject_kind=kind, subject_id=sid, title_zh=f"通知 {kind} {n}")
    for n, (kind, sid, _) in enumerate(KINDS)
)  # fmt: skip


@pytest.fixture
async def desk(fresh_db: str, kafka_topics: str) -> AsyncIterator[Desk]:
    settings = NotificationsSettings(
        database_url=fresh_db,
        kafka_bootstrap_servers=kafka_topics,
        workspace_links=f"inspections={INSPECTIONS},complaints={COMPLAINTS},exposure={EXPOSURE}",
    )
    clock = FixedClock(NOW)
    # no consumers or jobs: the pages are the subject, the notices are seeded directly (a consumer
    # would also read what other tests publish on the shared topics)
    spec = dataclasses.replace(bootstrap.spec(settings), consumers=(), jobs=())
    app = build_app(spec, settings, clock=clock)
    async with served(app, follow_redirects=False) as client:
        pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=2)
        try:
            cookies = await open_sessions(pool, clock, "notifications", PEOPLE)
            async with PgNotificationsUnitOfWork(pool, clock=clock) as uow:
                await RegistryCopy("projects").apply(uow.connection, [registry.ProjectRegistered(
                    project_id="P-120101-0001", project_name="和平区·海河花园",
                    address="天津市和平区南京路 101 号", district_code="120101",
                    district_name="和平区", enterprise_id="E-0001",
                    enterprise_name="津城物业服务有限公司", service_grade="一级", occurred_at=NOW,
                )])  # fmt: skip
                await uow.notices.add(NOTICES + BY_KIND)
                await uow.commit()
        finally:
            await pool.close()
        yield Desk("notifications", client, fresh_db, cookies, clock)


def read_token(page: httpx.Response, notice_id: str) -> str:
    """The CSRF token of the form that marks this notice read."""
    return form_token(page, f'{BASE}notices/{notice_id}/read[^"]*')


async def read_at(dsn: str, notice_id: str, kind: str, rid: str) -> datetime | None:
    conn = await asyncpg.connect(dsn)
    try:
        value: datetime | None = await conn.fetchval(
            "SELECT read_at FROM notice_copies WHERE notice_id = $1 AND recipient_kind = $2"
            " AND recipient_id = $3",
            notice_id, kind, rid,
        )  # fmt: skip
        return value
    finally:
        await conn.close()


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(desk: Desk) -> None:
    desk.client.cookies.clear()
    answer = await desk.client.get(BASE)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/auth/login?next=/workspace/notifications/")


async def test_each_office_reads_its_own_inbox_unread_first(desk: Desk) -> None:
    client = desk.as_(ENTERPRISE)
    # N-old read already: it goes below the unread ones although N-crit is older than N-new
    old = await client.get(f"{BASE}notices/N-old")
    marked = await client.post(
        f"{BASE}notices/N-old/read", data={"csrf_token": read_token(old, "N-old")}
    )
    assert marked.status_code == 303
    page = await client.get(BASE)
    assert page.status_code == 200
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    order = [page.text.index(f'notices/{n}"') for n in ("N-new", "N-crit", "N-old")]
    assert order == sorted(order)
    assert "N-hexi" not in page.text
    assert "河西区的通知" not in page.text
    assert "通知（2 条未读）" in page.text  # the unread count in the navigation
    assert "和平区物业通〔2026〕1号" in page.text

    # the same inbox as the API, for every office
    for who, mine, not_mine in (
        (HEPING, {"N-old", "N-crit", "N-new"}, {"N-hexi"}),
        (HEXI, {"N-hexi"}, {"N-old", "N-crit", "N-new"}),
        (OTHER, {"N-hexi"}, {"N-crit"}),
        (CITY, {"N-crit"}, {"N-old", "N-new", "N-hexi"}),
    ):
        page = await desk.as_(who).get(BASE)
        assert page.status_code == 200, who
        shown = set(re.findall(rf'href="{BASE}notices/([^"/]+)"', page.text))
        assert shown == mine, (who, shown)
        assert not shown & not_mine


async def test_a_notice_shows_its_number_office_body_and_subject(desk: Desk) -> None:
    client = desk.as_(ENTERPRISE)
    page = await client.get(f"{BASE}notices/N-crit")
    assert page.status_code == 200
    assert "和平区物业通〔2026〕1号" in page.text  # 文号
    assert "和平区物业管理办公室" in page.text  # issuing office
    assert "和平区·海河花园" in page.text
    assert f'href="{INSPECTIONS}orders/RO-0001"' in page.text  # the owning service's page
    assert "<script>alert(1)</script>" not in page.text  # escaped
    assert "&lt;script&gt;" in page.text
    english = await client.get(f"{BASE}notices/N-crit", params={"lang": "en"})
    assert "property management office" in english.text


async def test_each_kind_of_notice_links_to_where_it_is_acted_on_or_says_there_is_none(
    desk: Desk,
) -> None:
    client = desk.as_(KINDS_CLERK)
    inbox = await client.get(BASE)
    for n, (kind, _, href) in enumerate(KINDS):
        page = await client.get(f"{BASE}notices/N-kind-{n}")
        assert page.status_code == 200, kind
        main = page.text.split("<main", 1)[1]
        if href is None:
            assert "/workspace/" not in main.replace(f"{BASE}", ""), kind  # no link out
            assert '<p class="muted">' in main, kind
        else:
            assert f'class="button secondary" href="{href}"' in main, kind
            assert f'href="{href}"' in inbox.text, kind  # the inbox links it too
    plan = await client.get(f"{BASE}notices/N-kind-6")
    assert "活动方案通过接口提交" in plan.text
    survey = await client.get(f"{BASE}notices/N-kind-7", params={"lang": "en"})
    assert "Surveys are opened through the API" in survey.text
    unknown = await client.get(f"{BASE}notices/N-kind-8", params={"lang": "zh"})
    assert "此类通知没有对应的办理页面" in unknown.text
    assert "无办理页面" in inbox.text


async def test_marking_read_needs_the_sessions_token_and_is_the_apis_write(desk: Desk) -> None:
    client = desk.as_(HEPING)
    page = await client.get(f"{BASE}notices/N-crit")
    forged = await client.post(f"{BASE}notices/N-crit/read", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert await read_at(desk.dsn, "N-crit", "district", "120101") is None

    marked = await client.post(
        f"{BASE}notices/N-crit/read?from=notice", data={"csrf_token": read_token(page, "N-crit")}
    )
    assert marked.status_code == 303
    assert marked.headers["location"] == f"{BASE}notices/N-crit?done=read"
    assert await read_at(desk.dsn, "N-crit", "district", "120101") is not None
    # only this office's copy: the enterprise's and the city's stay unread
    assert await read_at(desk.dsn, "N-crit", "enterprise", "E-0001") is None
    assert await read_at(desk.dsn, "N-crit", "city", "city") is None
    shown = await client.get(marked.headers["location"])
    assert "已标记为已读" in shown.text
    assert "标记已读" not in shown.text.split("</nav>", 1)[1].split("已标记为已读", 1)[1]


async def test_another_inbox_s_notice_by_url_reveals_nothing_and_is_not_marked(
    desk: Desk,
) -> None:
    client = desk.as_(HEXI)
    page = await client.get(f"{BASE}notices/N-crit")
    assert page.status_code == 404
    assert "通知不存在" in page.text
    assert "和平区物业通" not in page.text
    assert "海河花园" not in page.text
    # a token for the form name is not enough: the copy is not in this inbox
    own = await client.get(f"{BASE}notices/N-hexi")
    token = read_token(own, "N-hexi")
    crossed = await client.post(f"{BASE}notices/N-crit/read", data={"csrf_token": token})
    assert crossed.status_code == 403  # the token is bound to its form
    missing = await client.get(f"{BASE}notices/no-such-notice")
    assert missing.status_code == 404


async def test_a_role_without_an_inbox_is_told_why(desk: Desk) -> None:
    page = await desk.as_(AGENCY).get(BASE)
    assert page.status_code == 403
    assert "通知工作台仅供物业企业、区县物业办和市物业办使用" in page.text
