"""The findings of a stranger's attack run (issue 13), tried again against the real service
processes: forwarded headers from loopback, forged CSRF pairs and cross-site posts, bytes that
are not UTF-8 in a form, and /metrics on the public port. (The Atom feed's Host header is tested
in test_exposure_board.py, webhook destinations in test_notifications_flow.py.)"""

from __future__ import annotations

import hashlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from services.complaints.entrypoints import csrf
from tests.e2e.conftest import Platform, eventually, start_platform, stop_platform

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
OPEN311_KEY = "attack-open311-key"
SESSION_KEY = "attack-" + "s" * 40
BURST = 25  # per route group; the owner-web tests here post fewer
COUNT = "SELECT count(*) FROM complaints"


@pytest.fixture(scope="module")
def platform(stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    keys = json.dumps({"attack-client": hashlib.sha256(OPEN311_KEY.encode()).hexdigest()})
    p = start_platform(
        stack,
        tmp_path_factory.mktemp("attack"),
        services=("inspections", "complaints"),
        extra_env={
            "OPEN311_API_KEYS": keys,
            "WEB_SESSION_KEY": SESSION_KEY,
            "RATE_LIMIT_BURST": str(BURST),
            "RATE_LIMIT_PER_MINUTE": "1",
            # TRUSTED_PROXIES is left unset, as in production outside the cluster: no proxy.
        },
    )
    yield p
    stop_platform(p)


async def projects_known(platform: Platform) -> None:
    async def known() -> bool:
        return await platform.count("complaints", "SELECT count(*) FROM complaint_projects") >= 4

    await eventually(known)  # the registry arrived over Kafka


async def test_forwarded_for_from_loopback_does_not_make_a_new_client(platform: Platform) -> None:
    """uvicorn believed X-Forwarded-For from any loopback peer: a fresh header per request was a
    fresh rate-limit bucket. Now the limit counts the connection's peer."""
    codes = []
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        for i in range(BURST + 3):
            r = await c.post(
                "/api/v1/complaints",
                json={},
                headers={"X-Forwarded-For": f"203.0.113.{i + 1}", "X-Forwarded-Proto": "https"},
            )
            codes.append(r.status_code)
    assert 429 not in codes[:BURST], codes
    assert codes[BURST:] == [429] * 3, codes


async def _form_page(c: httpx.AsyncClient) -> tuple[str, dict[str, str]]:
    """The step-2 form of a noise complaint: its CSRF token and a complete set of fields."""
    form = await c.get("/", params={"project_id": "P-120103-0001", "category": "noise"})
    assert form.status_code == 200, form.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert found is not None
    fields = {"project_id": "P-120103-0001", "category": "noise", "anonymous": "yes"}
    for name, value in re.findall(r'name="(answer-[a-z_]+)" value="([a-z_]+)"', form.text):
        fields.setdefault(name, value)
    fields["description"] = f"夜间施工噪音 {uuid.uuid4().hex[:6]}"
    return found.group(1), fields


def _session(c: httpx.AsyncClient) -> str:
    return str(c.cookies.get(csrf.SESSION_COOKIE))


async def test_csrf_pairs_not_signed_for_the_session_are_refused(platform: Platform) -> None:
    await projects_known(platform)
    url = platform.url("complaints")
    before = await platform.count("complaints", COUNT)
    async with (
        httpx.AsyncClient(base_url=url, timeout=20) as victim,
        httpx.AsyncClient(base_url=url, timeout=20) as attacker,
    ):
        _, fields = await _form_page(victim)
        attacker_token, _ = await _form_page(attacker)
        now = time.time()
        forged = [
            # the old double submit: a cookie and a field both chosen by the attacker (under the
            # old cookie's name too, which the old check accepted)
            ({csrf.SESSION_COOKIE: "A" * 43, "complaints_csrf": "A" * 43}, "A" * 43),
            # a token of the right shape, not signed with the key
            ({csrf.SESSION_COOKIE: "B" * 43}, f"{int(now)}.{'x' * 43}"),
            # a genuine token, issued to another browser's session
            ({csrf.SESSION_COOKIE: _session(victim)}, attacker_token),
            # signed with the key but expired
            (
                {csrf.SESSION_COOKIE: _session(victim)},
                csrf.issue(SESSION_KEY.encode(), _session(victim), now - csrf.TOKEN_MAX_AGE_S - 5),
            ),
        ]
        for cookies, token in forged:
            async with httpx.AsyncClient(base_url=url, timeout=20, cookies=cookies) as forger:
                r = await forger.post("/", data={**fields, "csrf_token": token})
            assert r.status_code == 403, (cookies, token, r.text[:300])
            assert "页面已过期" in r.text
        assert await platform.count("complaints", COUNT) == before
        # The same fields with a token the server signed for this session now (the key is the
        # configured WEB_SESSION_KEY): filed.
        fresh = csrf.issue(SESSION_KEY.encode(), _session(victim), time.time())
        r = await victim.post("/", data={**fields, "csrf_token": fresh})
        assert r.status_code == 201, r.text[:500]
    assert await platform.count("complaints", COUNT) == before + 1


async def test_cross_site_posts_are_refused_and_same_origin_ones_accepted(
    platform: Platform,
) -> None:
    await projects_known(platform)
    url = platform.url("complaints")
    before = await platform.count("complaints", COUNT)
    async with httpx.AsyncClient(base_url=url, timeout=20) as c:
        token, fields = await _form_page(c)
        data = {**fields, "csrf_token": token}
        for headers in (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Origin": url.replace("http://", "https://")},  # another scheme: another origin
            {"Sec-Fetch-Site": "cross-site"},
            {"Sec-Fetch-Site": "same-site"},  # a sibling subdomain is not our form either
            {"Sec-Fetch-Site": "cross-site", "Origin": url},
        ):
            r = await c.post("/", data=data, headers=headers)
            assert r.status_code == 403, (headers, r.text[:300])
        assert await platform.count("complaints", COUNT) == before
        # What a current browser sends with our own form.
        r = await c.post("/", data=data, headers={"Origin": url, "Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 201, r.text[:500]
    assert await platform.count("complaints", COUNT) == before + 1


async def test_a_web_form_that_is_not_utf8_is_refused_and_nothing_is_written(
    platform: Platform,
) -> None:
    await projects_known(platform)
    url = platform.url("complaints")
    before = await platform.count("complaints", COUNT)
    async with httpx.AsyncClient(base_url=url, timeout=20) as c:
        token, fields = await _form_page(c)
        fields["csrf_token"] = token
        body = str(httpx.QueryParams(fields))  # urlencoded
        for bad in (b"&description=%FF%FE%E5%99", b"&description=\xff\xfe"):
            r = await c.post(
                "/",
                content=body.encode() + bad,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert r.status_code == 400, r.text[:500]
            assert "UTF-8" in r.text
            assert "未保存任何内容" in r.text
        assert (
            "nothing was saved"
            in (
                await c.post(
                    "/?lang=en",
                    content=body.encode() + b"&description=%C3%28",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                )
            ).text
        )
    assert await platform.count("complaints", COUNT) == before


async def test_an_open311_form_that_is_not_utf8_is_refused_and_nothing_is_written(
    platform: Platform,
) -> None:
    await projects_known(platform)
    before = await platform.count("complaints", COUNT)
    fields = {
        "api_key": OPEN311_KEY,
        "service_code": "waste",
        "address_id": "P-120101-0002",
        "attribute[kind]": "household",
    }
    async with httpx.AsyncClient(base_url=platform.url("complaints"), timeout=20) as c:
        r = await c.post(
            "/open311/v2/requests.json",
            content=str(httpx.QueryParams(fields)).encode() + b"&description=%E5%9E%83%FF",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 400, r.text
        assert "UTF-8" in r.text
        # the same request, well-formed, is filed
        r = await c.post(
            "/open311/v2/requests.json", data={**fields, "description": "垃圾桶满溢两天无人清运"}
        )
        assert r.status_code == 201, r.text
    assert await platform.count("complaints", COUNT) == before + 1


async def test_metrics_are_served_on_their_own_port_only(platform: Platform) -> None:
    for process in platform.processes.values():
        async with httpx.AsyncClient(base_url=process.url, timeout=20) as c:
            assert (await c.get("/metrics")).status_code == 404
            assert (await c.get("/healthz")).status_code == 200  # probes stay where they were
        async with httpx.AsyncClient(timeout=20) as c:
            scraped = await c.get(process.metrics_url)
        assert scraped.status_code == 200
        assert "# TYPE wuye_outbox_backlog gauge" in scraped.text
        assert process.metrics_port != process.port
