"""The random patrol draw pages (双随机) in-process on real PostgreSQL: a district office draws
from the form and lands on the result with its seed and a re-run that agrees; a bad roster or too
few inspectors is shown on its field with nothing written; the city office reads but may not draw;
another district's draw answers 404."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import datetime

import asyncpg
import httpx
import pytest

from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from tests.inspections_support import inspections_settings, signed_in_pages
from tests.workspace_support import Desk, fetch_value
from tests.workspace_support import csrf_token as token

pytestmark = pytest.mark.integration
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=CHINA)
HEPING = Principal("heping-officer", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
NANKAI = Principal("nankai-officer", Role.DISTRICT_OFFICE, district_code="120104", name="赵科长")
CITY = Principal("city-officer", Role.CITY_OFFICE, name="刘处长")
BASE = "/workspace/inspections/"
ROSTER = "I-101 王明 E-0001\nI-102 李强\nI-103 赵伟 E-0002"


ISSUER = DevIssuer.generate()


@pytest.fixture
async def desk(fresh_db: str, kafka_topics: str) -> AsyncIterator[Desk]:
    settings = inspections_settings(fresh_db, kafka_topics, issuer=ISSUER)
    async with signed_in_pages(settings, FixedClock(NOW), (HEPING, NANKAI, CITY)) as desk:
        await register_own_projects(desk.client)
        yield desk


async def register_own_projects(client: httpx.AsyncClient) -> None:
    """Three 和平区 projects of this test's own besides the demo registry's: the app consumes the
    shared complaints topic, where other tests' complaints about the demo projects schedule
    patrols that exclude those projects from a draw (the fresh-clone run of c1ab6cd found none
    left to draw); nobody complains about these."""
    tag = secrets.randbelow(900) + 8000
    rows = [
        {
            "project_id": f"P-120101-{tag}{n}",
            "project_name": f"和平区·抽查测试小区{n}号",
            "address": f"天津市和平区测试路 {n} 号",
            "district_code": "120101",
            "district_name": "和平区",
            "enterprise_id": "E-0301",
            "enterprise_name": "抽查测试物业服务有限公司",
            "service_grade": "二级",
        }
        for n in range(3)
    ]
    city = ISSUER.issue(Principal("city-registry", Role.CITY_OFFICE))
    answer = await client.post(
        "/api/v1/registry/import",
        json={"projects": rows},
        headers={"Authorization": f"Bearer {city}"},
    )
    assert answer.status_code == 200, answer.text


async def count(dsn: str, sql: str) -> int:
    return int(await fetch_value(dsn, sql))


async def draw(client: httpx.AsyncClient, **fields: str) -> httpx.Response:
    """Post the draw form as the office would, drawing again when it answers that a drawn
    project 刚刚被安排了巡查 (409): the app consumes the shared complaints topic, where other
    tests' complaints about the same demo projects schedule complaint-triggered patrols."""
    for _ in range(5):
        form = await client.get(BASE + "draws")
        answer = await client.post(BASE + "draws", data={"csrf_token": token(form), **fields})
        if answer.status_code != 409 or "请重新抽取" not in answer.text:
            return answer
    return answer


async def test_a_district_office_draws_and_sees_the_seed_and_the_rerun(desk: Desk) -> None:
    client = desk.as_(HEPING)
    form = await client.get(BASE + "draws")
    assert form.status_code == 200
    assert "随机抽取" in form.text
    drawn = await draw(
        client, roster=ROSTER, project_count="1", inspectors_per_project="2", exclusion_days="90"
    )
    assert drawn.status_code == 303, drawn.text
    result = await client.get(drawn.headers["location"])
    assert result.status_code == 200
    seed = await count(desk.dsn, "SELECT count(*) FROM patrol_draws")
    assert seed == 1
    conn = await asyncpg.connect(desk.dsn)
    try:
        stored = await conn.fetchrow("SELECT draw_id, seed FROM patrol_draws")
    finally:
        await conn.close()
    assert stored["seed"] in result.text
    assert "结果与上面完全一致" in result.text
    assert "待巡查" in result.text
    listed = await client.get(BASE + "draws")
    assert stored["draw_id"] in listed.text

    other = await desk.as_(NANKAI).get(BASE + f"draws/{stored['draw_id']}")
    assert other.status_code == 404
    city = desk.as_(CITY)
    seen = await city.get(BASE + f"draws/{stored['draw_id']}")
    assert seen.status_code == 200
    page = await city.get(BASE + "draws")
    assert "随机抽取</button>" not in page.text  # the city office reads, it does not draw
    refused = await city.post(
        BASE + "draws", data={"csrf_token": token(page), "roster": ROSTER, "project_count": "1"}
    )
    assert refused.status_code == 403


async def test_bad_input_is_shown_on_its_field_and_nothing_is_written(desk: Desk) -> None:
    client = desk.as_(HEPING)
    form = await client.get(BASE + "draws")
    bad = await client.post(
        BASE + "draws",
        data={
            "csrf_token": token(form),
            "roster": "I-101",
            "project_count": "zero",
            "inspectors_per_project": "2",
            "exclusion_days": "90",
        },
    )
    assert bad.status_code == 422
    assert "第 1 行应为" in bad.text
    assert "抽取项目数须为 1 至 200 的整数" in bad.text
    too_few = await client.post(
        BASE + "draws",
        data={
            "csrf_token": token(bad),
            "roster": "I-101 王明",
            "project_count": "1",
            "inspectors_per_project": "2",
            "exclusion_days": "90",
        },
    )
    assert too_few.status_code == 422
    assert "可派的检查人员只有 1 名" in too_few.text
    assert "I-101 王明" in too_few.text  # the form keeps what was typed
    assert await count(desk.dsn, "SELECT count(*) FROM patrol_draws") == 0
    assert await count(desk.dsn, "SELECT count(*) FROM scheduled_patrols") == 0


async def test_the_roster_page_adds_deactivates_and_feeds_the_draw(desk: Desk) -> None:
    """The district's roster on its page: added (a bad id is shown on its field), deactivated;
    the draw form left empty sends the active roster; the city reads every district's roster
    without a form; another district sees only its own."""
    client = desk.as_(HEPING)
    page = await client.get(BASE + "draws/roster")
    assert page.status_code == 200
    assert "名单中还没有检查人员" in page.text
    empty = await client.post(
        BASE + "draws",
        data={"csrf_token": token(await client.get(BASE + "draws")), "project_count": "1",
              "inspectors_per_project": "1", "exclusion_days": "90", "roster": ""},
    )  # fmt: skip
    assert empty.status_code == 422
    assert "本区检查人员名单中没有在岗人员" in empty.text

    for staff, name, conflicts in [("I-201", "王明", "E-0001，P-120101-0002"), ("I-202", "李强", ""),
                                   ("I-203", "赵伟", "")]:  # fmt: skip
        added = await client.post(
            BASE + "draws/roster",
            data={"csrf_token": token(page), "inspector_id": staff, "name": name,
                  "conflicts": conflicts},
        )  # fmt: skip
        assert added.status_code == 303, added.text
    bad = await client.post(
        BASE + "draws/roster",
        data={"csrf_token": token(page), "inspector_id": "I 204", "name": "<b>钱</b>"},
    )
    assert bad.status_code == 422
    assert "检查人员编号须为 1 至 64 个字母" in bad.text
    assert "&lt;b&gt;钱&lt;/b&gt;" in bad.text  # kept, escaped
    listed = await client.get(BASE + "draws/roster")
    assert "E-0001、P-120101-0002" in listed.text
    assert "（在岗 3 人）" in listed.text
    gone = await client.post(
        BASE + "draws/roster/I-203/deactivate", data={"csrf_token": token(listed)}
    )
    assert gone.status_code == 303
    listed = await client.get(BASE + "draws/roster")
    assert "（在岗 2 人）" in listed.text
    assert "已停用" in listed.text
    form = await client.get(BASE + "draws")
    assert "不填则从本区名单的 2 名在岗人员中选派" in form.text

    drawn = await draw(
        client, project_count="1", inspectors_per_project="1", exclusion_days="90", roster=""
    )
    assert drawn.status_code == 303, drawn.text
    result = await client.get(drawn.headers["location"])
    assert "王明" in result.text or "李强" in result.text
    assert "赵伟" not in result.text  # deactivated: not drawn

    city = await desk.as_(CITY).get(BASE + "draws/roster")
    assert city.status_code == 200
    assert "和平区" in city.text
    assert "I-201" in city.text
    assert "添加到名单" not in city.text  # the city office reads, it keeps no roster
    refused = await desk.as_(CITY).post(
        BASE + "draws/roster", data={"csrf_token": token(city), "inspector_id": "I-9", "name": "甲"}
    )
    assert refused.status_code == 403
    nankai = await desk.as_(NANKAI).get(BASE + "draws/roster")
    assert "I-201" not in nankai.text
    away = await desk.as_(NANKAI).post(
        BASE + "draws/roster/I-201/deactivate", data={"csrf_token": token(nankai)}
    )
    assert away.status_code == 404
