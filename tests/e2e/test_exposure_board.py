"""The public board served by the exposure process on the real stack: what it shows, what it never
shows, how it answers bad query strings, and that a replay of the topics rebuilds the same board."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from runtime import db
from services.exposure import rebuild
from tests.conftest import run_async_in_thread
from tests.exposure_world import (
    HOSTILE_ENTERPRISE,
    HOSTILE_PROJECT,
    PERSONAL_NOTE,
    PUBLIC_BASE_URL,
    World,
    build,
)

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "exposure" / "migrations"


@pytest.fixture(scope="module")
def world(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("exposure")
    w = run_async_in_thread(lambda: build(stack, tmp))
    yield w
    w.platform.processes["exposure"].stop()


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.url, timeout=20) as c:
        yield c


async def test_the_board_lists_the_published_cases_and_filters_by_district(
    world: World, client: httpx.AsyncClient
) -> None:
    mine = {world.projects["a"], world.projects["b"]}
    everything = (await client.get("/api/v1/board/cases")).json()
    listed = {c["project_id"] for c in everything["items"]} & (mine | {world.projects["c"]})
    assert listed == mine  # the light case is never published
    heping = (await client.get("/api/v1/board/cases?district=120101")).json()
    assert world.projects["a"] in {c["project_id"] for c in heping["items"]}
    assert world.projects["b"] not in {c["project_id"] for c in heping["items"]}
    assert all(c["district_code"] == "120101" for c in heping["items"])
    case = next(c for c in heping["items"] if c["project_id"] == world.projects["a"])
    assert case["notice_no"].startswith("和平区物业通〔2011〕")
    assert case["status"] == "published"
    assert case["items"][0]["title_zh"] == "消防设施运行正常"


async def test_no_personal_data_and_no_live_html_on_any_public_page(
    world: World, client: httpx.AsyncClient
) -> None:
    b = next(
        c
        for c in (await client.get("/api/v1/board/cases?district=120104")).json()["items"]
        if c["project_id"] == world.projects["b"]
    )
    pages = [
        "/",
        "/?district=120104",
        f"/cases/{b['case_id']}",
        f"/enterprises/{world.enterprises['b']}",
        "/grades",
        "/stats",
        "/feed.atom",
        f"/api/v1/board/cases/{b['case_id']}",
        "/api/v1/board/grades",
    ]
    for path in pages:
        response = await client.get(path)
        assert response.status_code == 200, path
        text = response.text
        assert PERSONAL_NOTE not in text, path
        assert "13812345678" not in text, path
        assert "夜班睡岗" not in text, path  # not even masked: notes stay with inspections
        if not path.startswith("/api/"):  # only their escaped forms
            assert HOSTILE_PROJECT not in text, path
            assert HOSTILE_ENTERPRISE not in text, path
            assert "<script" not in text, path
    page = (await client.get(f"/cases/{b['case_id']}")).text
    assert "&lt;script&gt;alert(&#39;board&#39;)&lt;/script&gt;南开新苑" in page
    assert (
        (await client.get("/")).headers["content-security-policy"].startswith("default-src 'none'")
    )


async def test_bad_query_strings_get_a_clear_answer_never_a_server_error(
    client: httpx.AsyncClient,
) -> None:
    for query in (
        "?district=12010",
        "?district=<script>",
        "?page=0",
        "?page=99999999999999999999",
        "?page=abc",
        "?status=deleted",
        "?period=2011-13",
        "?period=0000",
        "?period=9999-12",
        "?period=%00",
        "?enterprise=" + "x" * 100,
        "?district=120101&district=120104",
    ):
        page = await client.get("/" + query)
        assert page.status_code == 400, query
        assert "查询条件无效" in page.text
        api = await client.get("/api/v1/board/cases" + query)
        assert api.status_code == 422 or (query.startswith("?district=120101&") and api.is_success)
    assert (await client.get("/?district=&status=&period=&page=1")).status_code == 200
    missing = await client.get("/cases/no-such-case")
    assert missing.status_code == 404
    assert "未找到该曝光信息" in missing.text
    assert (await client.get("/cases/" + "x" * 500)).status_code == 404
    assert (await client.get("/enterprises/nobody")).status_code == 404
    assert (await client.get("/api/v1/board/cases/nothing")).status_code == 404
    assert (await client.get("/stats.csv?by=owner")).status_code == 422


async def test_grades_statistics_feed_and_csv_agree_with_the_board(
    world: World, client: httpx.AsyncClient
) -> None:
    grades = (await client.get("/api/v1/board/grades")).json()
    by_id = {g["enterprise_id"]: g for g in grades["enterprises"]}
    assert by_id[world.enterprises["a"]]["grade"] == "red"  # a published case
    assert "红" in grades["formula_zh"]
    enterprise = (await client.get(f"/api/v1/board/enterprises/{world.enterprises['a']}")).json()
    projects = {p["project_id"]: p for p in enterprise["projects"]}
    assert projects[world.projects["a"]]["satisfaction_rate"] == pytest.approx(0.75)
    assert projects[world.projects["a"]]["grade"] == "red"
    stats = (await client.get("/api/v1/board/stats")).json()
    heping = next(s for s in stats["by_district"] if s["key"] == "120101")
    assert heping["projects"] >= 2
    svg = (await client.get("/stats")).text
    assert "<svg" in svg
    assert "<script" not in svg
    raw = (await client.get("/stats.csv?by=enterprise")).content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw)))
    assert len(rows[0]) > 3
    ours = [r for r in rows if world.enterprises["b"] in r]
    assert len(ours) == 1
    assert HOSTILE_ENTERPRISE in ours[0]  # verbatim in its cell: CSV quoting, not HTML escaping
    feed = ET.fromstring((await client.get("/feed.atom")).content)  # noqa: S314 - our own feed
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.findtext("a:title", namespaces=ns) or "" for e in feed.findall("a:entry", ns)]
    assert any(HOSTILE_PROJECT in t for t in titles)  # escaped in XML, text again when parsed


async def test_the_feed_links_to_the_configured_public_url_whatever_the_host_header(
    world: World, client: httpx.AsyncClient
) -> None:
    """Absolute links come from PUBLIC_BASE_URL: a spoofed Host (cache poisoning, phishing links
    in a reader) changes nothing."""
    for host in ("evil.example", world.url.removeprefix("http://")):
        response = await client.get("/feed.atom", headers={"Host": host})
        assert response.status_code == 200
        feed = ET.fromstring(response.content)  # noqa: S314 - our own feed
        ns = {"a": "http://www.w3.org/2005/Atom"}
        links = [link.get("href") or "" for link in feed.iter("{http://www.w3.org/2005/Atom}link")]
        entries = feed.findall("a:entry", ns)
        assert entries
        assert len(links) == 2 + len(entries)
        assert all(link.startswith(PUBLIC_BASE_URL + "/") for link in links), links
        assert f"{PUBLIC_BASE_URL}/feed.atom" in links
        assert "evil.example" not in response.text


async def test_a_replay_of_the_topics_rebuilds_the_same_board(world: World, stack: Any) -> None:
    """Rebuild the read model into an empty database from the topics and compare it with the
    live one (for this test's projects: the shared test broker carries other tests' too)."""
    dsn = stack.create_database(f"rebuild_{world.run.lower()}")
    await db.prepare_database(dsn, MIGRATIONS, "exposure")
    pool = await db.create_pool(dsn, max_size=4)
    try:
        replayed = await rebuild.rebuild(pool, world.platform.bootstrap)
        assert replayed.total() > 0
        rebuilt = await snapshot(dsn, world)
        live = await snapshot(world.platform.dsns["exposure"], world)
        assert rebuilt == live
        assert len(live["cases"]) == 3
        assert len(live["case_timeline"]) >= 8
    finally:
        await pool.close()


SNAPSHOT = {
    "cases": "SELECT * FROM cases WHERE project_id = ANY($1::text[]) ORDER BY case_id",
    "case_timeline": """SELECT t.* FROM case_timeline t JOIN cases c USING (case_id)
                         WHERE c.project_id = ANY($1::text[]) ORDER BY t.event_id""",
    "projects": "SELECT * FROM projects WHERE project_id = ANY($1::text[]) ORDER BY project_id",
    "inspection_facts": """SELECT * FROM inspection_facts WHERE project_id = ANY($1::text[])
                            ORDER BY inspection_id""",
    "order_facts": "SELECT * FROM order_facts WHERE project_id = ANY($1::text[]) ORDER BY 1",
    "survey_facts": "SELECT * FROM survey_facts WHERE project_id = ANY($1::text[]) ORDER BY 1",
}


async def snapshot(dsn: str, world: World) -> dict[str, list[dict[str, Any]]]:
    conn = await asyncpg.connect(dsn)
    try:
        ids = list(world.projects.values())
        return {
            name: [dict(r) for r in await conn.fetch(sql, ids)] for name, sql in SNAPSHOT.items()
        }
    finally:
        await conn.close()
