"""Signing off circulated criticisms in the notices workspace (issue 16), in-process on real
PostgreSQL: the drafts the ladder wrote are on the district office's list (not another district's;
the city reads all; an enterprise is refused); the sign-off page says what happens; signing off
takes the next number and shows the issued criticism, whose official document (PDF) opens for
those who may see it and reads back with its number, office, enterprise and date; a withdrawal
needs a reason and takes no number."""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg
import httpx
import pypdf
import pytest

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.registry_copy import RegistryCopy
from runtime.scheduler import FixedClock
from runtime.service import build_app
from runtime.unit_of_work import Delivered
from schemas import cloudevents
from schemas.registry import v1 as registry
from services.notifications import bootstrap
from services.notifications.adapters import rule_file
from services.notifications.adapters.postgres import PgNotificationsUnitOfWork
from services.notifications.service import issuing
from services.notifications.settings import NotificationsSettings
from tests import factories
from tests.asgi import served
from tests.workspace_support import Desk as WorkspaceDesk
from tests.workspace_support import form_token, open_sessions

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=CHINA)
BASE = "/workspace/notifications/"
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
HEXI = Principal("hexi-officer", Role.DISTRICT_OFFICE, district_code="120103", name="李科长")
ENTERPRISE = Principal("ent-clerk", Role.ENTERPRISE, enterprise_id="E-0001", name="张经理")
OTHER = Principal("other-clerk", Role.ENTERPRISE, enterprise_id="E-0002", name="赵经理")
CITY = Principal("city-officer", Role.CITY_OFFICE, name="刘处长")
PEOPLE = (HEPING, HEXI, ENTERPRISE, OTHER, CITY)
PROJECTS = (
    ("P-120101-0001", "和平区·海河花园", "120101", "和平区", "E-0001", "津城物业服务有限公司"),
    ("P-120103-0001", "河西区·友谊花园", "120103", "河西区", "E-0002", "友谊物业管理有限公司"),
)


@dataclass
class Desk(WorkspaceDesk):
    drafts: dict[str, list[str]]  # district code -> draft ids


@pytest.fixture
async def desk(fresh_db: str, kafka_topics: str) -> AsyncIterator[Desk]:
    settings = NotificationsSettings(database_url=fresh_db, kafka_bootstrap_servers=kafka_topics)
    clock = FixedClock(NOW)
    spec = dataclasses.replace(bootstrap.spec(settings), consumers=(), jobs=())
    app = build_app(spec, settings, clock=clock)
    book = rule_file.load(settings.rules_file)
    async with served(app, follow_redirects=False) as client:
        pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=2)
        try:
            cookies = await open_sessions(pool, clock, "notifications", PEOPLE)
            async with PgNotificationsUnitOfWork(pool, clock=clock) as uow:
                await RegistryCopy("projects").apply(uow.connection, [registry.ProjectRegistered(
                    project_id=pid, project_name=name, address="天津市", district_code=code,
                    district_name=district, enterprise_id=eid, enterprise_name=ename,
                    service_grade="一级", occurred_at=NOW,
                ) for pid, name, code, district, eid, ename in PROJECTS])  # fmt: skip
                # Three final rejections (整改不到位): three drafts, two in Heping, one in Hexi.
                events = [
                    factories.rectification_rejected("P-120101-0001", "RO-A"),
                    factories.rectification_rejected("P-120101-0001", "RO-B"),
                    factories.rectification_rejected("P-120103-0001", "RO-C").model_copy(
                        update={"district_code": "120103", "enterprise_id": "E-0002"}
                    ),
                ]
                await issuing.notices_for(book)(
                    uow,
                    [Delivered(e, cloudevents.from_event(e, source="/test")) for e in events],
                )
                await uow.commit()
            async with pool.acquire() as conn:
                rows = await conn.fetch(
                    "SELECT draft_id, district_code FROM criticism_drafts ORDER BY subject_id"
                )
        finally:
            await pool.close()
        drafts: dict[str, list[str]] = {}
        for r in rows:
            drafts.setdefault(r["district_code"], []).append(r["draft_id"])
        yield Desk("notifications", client, fresh_db, cookies, clock, drafts)


def token(page: httpx.Response, action: str) -> str:
    """The CSRF token of a draft's `action` form."""
    return form_token(page, f'{BASE}drafts/[^"]+/{action}')


async def status(dsn: str, draft_id: str) -> tuple[str, str | None]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT status, notice_no FROM criticism_drafts WHERE draft_id = $1", draft_id
        )
        return row["status"], row["notice_no"]
    finally:
        await conn.close()


async def test_each_district_office_lists_its_own_drafts_and_the_city_all(desk: Desk) -> None:
    heping = await desk.as_(HEPING).get(BASE + "drafts")
    assert heping.status_code == 200
    shown = set(re.findall(rf'href="{BASE}drafts/([^"/]+)"', heping.text))
    assert shown == set(desk.drafts["120101"])
    assert "（文号签发时编定）" in heping.text
    assert "通报批评签发" in heping.text  # the navigation entry
    assert f"{BASE}drafts/{desk.drafts['120101'][0]}/sign-off" in heping.text

    city = await desk.as_(CITY).get(BASE + "drafts")
    shown = set(re.findall(rf'href="{BASE}drafts/([^"/]+)"', city.text))
    assert shown == {*desk.drafts["120101"], *desk.drafts["120103"]}
    assert "/sign-off" not in city.text  # read only

    refused = await desk.as_(ENTERPRISE).get(BASE + "drafts")
    assert refused.status_code == 403
    assert "海河花园" not in refused.text
    other = await desk.as_(HEXI).get(f"{BASE}drafts/{desk.drafts['120101'][0]}")
    assert other.status_code == 404
    assert "海河花园" not in other.text


async def test_signing_off_numbers_issues_and_opens_the_official_document(desk: Desk) -> None:
    first, second = desk.drafts["120101"]
    client = desk.as_(HEPING)
    page = await client.get(f"{BASE}drafts/{first}/sign-off")
    assert page.status_code == 200
    assert "签发后" in page.text
    assert "文号不重复、不空缺" in page.text
    forged = await client.post(f"{BASE}drafts/{first}/sign-off", data={"csrf_token": "0" * 64})
    assert forged.status_code == 403
    assert await status(desk.dsn, first) == ("draft", None)
    # another district's office cannot sign it off, even with a token of its own
    other = desk.as_(HEXI)
    own = await other.get(f"{BASE}drafts/{desk.drafts['120103'][0]}/sign-off")
    crossed = await other.post(
        f"{BASE}drafts/{first}/sign-off", data={"csrf_token": token(own, "sign-off")}
    )
    assert crossed.status_code == 403  # the token is bound to its form
    assert await status(desk.dsn, first) == ("draft", None)

    client = desk.as_(HEPING)
    page = await client.get(f"{BASE}drafts/{first}/sign-off")
    signed = await client.post(
        f"{BASE}drafts/{first}/sign-off", data={"csrf_token": token(page, "sign-off")}
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == f"{BASE}notices/{first}?done=signed"
    assert await status(desk.dsn, first) == ("issued", "和平区物业通〔2026〕1号")
    shown = await client.get(signed.headers["location"])
    assert "已签发，文号 和平区物业通〔2026〕1号" in shown.text
    pdf_link = f"{BASE}criticisms/{first}/document.pdf"
    assert f'href="{pdf_link}"' in shown.text
    again = await client.post(
        f"{BASE}drafts/{first}/sign-off", data={"csrf_token": token(page, "sign-off")}
    )
    assert again.status_code == 409  # signed off once, for good
    assert "已签发" in again.text

    pdf = await client.get(pdf_link)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf.content)).pages)
    for expected in ("和平区物业通〔2026〕1号", "天津市和平区物业管理办公室", "津城物业服务有限公司",
                     "2026年3月3日", "通报批评", "（印章位置）"):  # fmt: skip
        assert expected in text, expected
    # the enterprise addressed opens it too; another enterprise or district does not
    assert (await desk.as_(ENTERPRISE).get(pdf_link)).status_code == 200
    for outsider in (OTHER, HEXI):
        refused = await desk.as_(outsider).get(pdf_link)
        assert refused.status_code == 404, outsider
        assert refused.headers["content-type"].startswith("text/html")
    # the second draft takes the next number
    page = await desk.as_(HEPING).get(f"{BASE}drafts/{second}/sign-off")
    await desk.as_(HEPING).post(
        f"{BASE}drafts/{second}/sign-off", data={"csrf_token": token(page, "sign-off")}
    )
    assert await status(desk.dsn, second) == ("issued", "和平区物业通〔2026〕2号")


async def test_a_withdrawal_needs_a_reason_and_takes_no_number(desk: Desk) -> None:
    first, second = desk.drafts["120101"]
    client = desk.as_(HEPING)
    page = await client.get(f"{BASE}drafts/{first}/withdraw")
    assert "撤回后该草稿不会签发，也不取文号" in page.text
    empty = await client.post(
        f"{BASE}drafts/{first}/withdraw",
        data={"csrf_token": token(page, "withdraw"), "reason": " "},
    )
    assert empty.status_code == 422
    assert "撤回须写明理由" in empty.text
    assert await status(desk.dsn, first) == ("draft", None)
    withdrawn = await client.post(
        f"{BASE}drafts/{first}/withdraw",
        data={"csrf_token": token(page, "withdraw"), "reason": "企业已于复查当日整改完毕"},
    )
    assert withdrawn.status_code == 303
    assert await status(desk.dsn, first) == ("withdrawn", None)
    listed = await client.get(withdrawn.headers["location"])
    assert "草稿已撤回，未取文号" in listed.text
    assert first not in listed.text
    # the next sign-off takes number 1: nothing was skipped
    page = await client.get(f"{BASE}drafts/{second}/sign-off")
    await client.post(
        f"{BASE}drafts/{second}/sign-off", data={"csrf_token": token(page, "sign-off")}
    )
    assert await status(desk.dsn, second) == ("issued", "和平区物业通〔2026〕1号")
    # the city reads, but neither signs off nor withdraws
    refused = await desk.as_(CITY).get(f"{BASE}drafts/{second}/withdraw")
    assert refused.status_code == 403
    assert "只有区县物业办可以签发或撤回本区的通报批评" in refused.text
