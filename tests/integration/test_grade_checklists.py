"""Checklists by contracted service grade (issue 16), in-process on real PostgreSQL over HTTP: an
inspection that names no checklist walks the one of the project's contracted grade; a project
whose grade has no checklist (or whose grade's checklist is not loaded) walks the general one, and
the API and the patrol page say which checklist and why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from services.inspections import bootstrap
from services.inspections.adapters.registry_tables import PgProjects
from services.inspections.domain.project_registry import ProjectFacts
from tests.asgi import served
from tests.inspections_support import inspections_settings
from tests.workspace_support import open_sessions

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=CHINA)
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
TEMPLATES = Path("services/inspections/data/templates")
FIRST = "P-120101-0001"  # 海河花园, contracted at 一级 in the demo registry
FOURTH = "P-120101-0040"  # added below, contracted at 四级: no graded checklist for it
COOKIE = "wuye_inspections_session"


@dataclass
class Office:
    client: httpx.AsyncClient
    dsn: str
    headers: dict[str, str]
    cookie: str

    async def inspect(self, **fields: Any) -> httpx.Response:
        body = {"kind": "patrol", "inspected_at": "2026-03-02T09:00:00+08:00", **fields}
        return await self.client.post("/api/v1/inspections", json=body, headers=self.headers)


@pytest.fixture
async def office(fresh_db: str, kafka_topics: str) -> AsyncIterator[Office]:
    issuer = DevIssuer.generate()
    settings = inspections_settings(fresh_db, kafka_topics, issuer)
    clock = FixedClock(NOW)
    app = build_app(bootstrap.spec(settings), settings, clock=clock)
    async with served(app, follow_redirects=False) as client:
        pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=1)
        try:
            async with pool.acquire() as conn, conn.transaction():
                await PgProjects(conn).upsert(
                    ProjectFacts(
                        project_id=FOURTH,
                        project_name="四级测试小区",
                        address="和平区测试路40号",
                        district_code="120101",
                        district_name="和平区",
                        enterprise_id="E-0001",
                        enterprise_name="测试物业",
                        service_grade="四级",
                    )
                )
            cookies = await open_sessions(pool, clock, "inspections", (HEPING,))
        finally:
            await pool.close()
        headers = {"Authorization": f"Bearer {issuer.issue(HEPING)}"}
        yield Office(client, fresh_db, headers, cookies[HEPING.subject])


def all_pass(template_file: str) -> list[dict[str, str]]:
    body = json.loads((TEMPLATES / template_file).read_text("utf-8"))
    return [{"item_id": i["item_id"], "result": "pass"} for i in body["items"]]


async def test_without_a_template_the_projects_grade_picks_the_checklist(office: Office) -> None:
    answer = await office.inspect(project_id=FIRST, results=all_pass("contract-grade-1.v2.json"))
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert (got["template_id"], got["template_version"]) == ("contract-grade-1", 2)
    assert (got["checklist_reason"], got["contracted_grade"]) == ("contract_grade", "一级")
    assert got["checklist_reason_zh"].startswith("按项目合同约定的一级服务标准检查")
    again = await office.client.get(
        f"/api/v1/inspections/{got['inspection_id']}", headers=office.headers
    )
    assert again.json()["checklist_reason"] == "contract_grade"


async def test_a_grade_without_a_checklist_gets_the_general_one_and_says_so(
    office: Office,
) -> None:
    graded = await office.inspect(
        project_id=FOURTH,
        template_id="contract-grade-1",
        results=all_pass("contract-grade-1.v2.json"),
    )
    assert graded.status_code == 409  # judged against a grade the owners do not pay for
    assert graded.json()["error"]["code"] == "wrong_service_grade"
    answer = await office.inspect(
        project_id=FOURTH, results=all_pass("contract-self-inspection.v2.json")
    )
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert (got["template_id"], got["template_version"]) == ("contract-self-inspection", 2)
    assert (got["checklist_reason"], got["contracted_grade"]) == ("no_grade_checklist", "四级")
    assert got["checklist_reason_zh"] == (
        "项目合同约定的服务等级“四级”没有对应的分级检查表，使用通用检查表 "
        "contract-self-inspection（不按等级判定）。"
    )
    assert "general checklist contract-self-inspection" in got["checklist_reason_en"]
    conn = await asyncpg.connect(office.dsn)
    try:
        rows = await conn.fetch("SELECT project_id, checklist_reason FROM inspections")
    finally:
        await conn.close()
    assert [tuple(r) for r in rows] == [(FOURTH, "no_grade_checklist")]


async def test_a_grade_whose_checklist_is_not_loaded_falls_back_visibly(office: Office) -> None:
    conn = await asyncpg.connect(office.dsn)
    try:
        await conn.execute("DELETE FROM checklist_templates WHERE template_id = 'contract-grade-1'")
    finally:
        await conn.close()
    answer = await office.inspect(
        project_id=FIRST, results=all_pass("contract-self-inspection.v2.json")
    )
    assert answer.status_code == 201, answer.text
    got = answer.json()
    assert (got["template_id"], got["checklist_reason"]) == (
        "contract-self-inspection",
        "grade_checklist_missing",
    )
    assert got["checklist_reason_zh"].startswith("一级服务标准的检查表未加载")


async def test_a_named_checklist_is_walked_as_named(office: Office) -> None:
    flood = await office.inspect(
        project_id=FIRST, template_id="flood-season", results=all_pass("flood-season.v2.json")
    )
    assert flood.status_code == 201, flood.text
    assert (flood.json()["template_version"], flood.json()["checklist_reason"]) == (2, "given")
    v1 = await office.inspect(
        project_id=FIRST,
        template_id="contract-grade-1",
        template_version=1,
        results=all_pass("contract-grade-1.v1.json"),
    )
    assert v1.status_code == 201, v1.text  # an old version stays usable when named
    assert (v1.json()["template_version"], v1.json()["checklist_reason"]) == (1, "contract_grade")
    lone = await office.inspect(
        project_id=FIRST, template_version=1, results=all_pass("contract-grade-1.v1.json")
    )
    assert lone.status_code == 422
    assert lone.json()["error"]["fields"][0]["field"] == "template_version"


async def test_the_patrol_page_says_which_checklist_and_why(office: Office) -> None:
    office.client.cookies.set(COOKIE, office.cookie)
    fourth = await office.client.get(f"/workspace/inspections/patrol/{FOURTH}")
    assert fourth.status_code == 200, fourth.text
    assert "contract-self-inspection 第 2 版" in fourth.text
    assert 'id="checklist-why"' in fourth.text
    assert "服务等级“四级”没有对应的分级检查表，使用通用检查表" in fourth.text
    first = await office.client.get(f"/workspace/inspections/patrol/{FIRST}")
    assert "contract-grade-1 第 2 版" in first.text
    assert "合同约定服务等级：<strong>一级</strong>" in first.text
    assert 'id="checklist-why"' not in first.text  # the grade's own needs no excuse
