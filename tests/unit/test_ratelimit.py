"""The per-client token bucket and its FastAPI dependency."""

from __future__ import annotations

import httpx
import pytest

from runtime.http import create_app
from runtime.ratelimit import Limiters, RateLimitSettings, TokenBucket, rate_limit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refused_with_time_to_next_token() -> None:
    clock = FakeClock()
    bucket = TokenBucket(3, 6, clock=clock)  # one token every 10 s
    assert [bucket.check("a") for _ in range(3)] == [None, None, None]
    wait = bucket.check("a")
    assert wait == pytest.approx(10.0)
    clock.now += 5
    assert bucket.check("a") == pytest.approx(5.0)
    clock.now += 5.01
    assert bucket.check("a") is None


def test_clients_have_separate_buckets() -> None:
    bucket = TokenBucket(1, 1, clock=FakeClock())
    assert bucket.check("a") is None
    assert bucket.check("a") is not None
    assert bucket.check("b") is None


def test_refill_never_exceeds_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(2, 60, clock=clock)
    clock.now += 3600
    assert [bucket.check("a") is None for _ in range(3)] == [True, True, False]


def test_least_recently_seen_clients_are_dropped() -> None:
    bucket = TokenBucket(1, 1, max_keys=2, clock=FakeClock())
    for key in ("a", "b", "c"):
        bucket.check(key)
    assert bucket.check("a") is None  # forgotten: a full bucket again
    assert bucket.check("c") is not None


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(0, 1)


def _app(settings: RateLimitSettings) -> httpx.AsyncClient:
    app = create_app(service="t", title="t", version="0", verifier=None)
    app.state.rate_limiters = Limiters(settings)

    @app.post("/intake", dependencies=[rate_limit("intake")])
    async def intake() -> dict[str, str]:
        return {"ok": "yes"}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def _codes(client: httpx.AsyncClient, n: int, forwarded: str | None = None) -> list[int]:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return [(await client.post("/intake", headers=headers)).status_code for _ in range(n)]


async def test_dependency_answers_429_with_retry_after_in_the_error_shape() -> None:
    async with _app(RateLimitSettings(burst=2, per_minute=1)) as client:
        assert await _codes(client, 2) == [200, 200]
        refused = await client.post("/intake")
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    error = refused.json()["error"]
    assert error["message_en"] == "Too many requests; please try again later"
    assert error["message"]


async def test_forwarded_for_is_never_read_by_the_limiter() -> None:
    """Only the server resolves forwarded headers, and only from TRUSTED_PROXIES (tested against
    the real process in tests/e2e/test_attack_findings.py)."""
    async with _app(RateLimitSettings(burst=1, per_minute=1)) as client:
        assert await _codes(client, 1, "10.0.0.1") == [200]
        assert await _codes(client, 1, "10.0.0.2") == [429]


async def test_disabled_limiter_admits_everything() -> None:
    async with _app(RateLimitSettings(enabled=False, burst=1, per_minute=1)) as client:
        assert set(await _codes(client, 5)) == {200}


def test_ipv6_clients_share_a_bucket_per_64_and_ipv4_stays_per_address() -> None:
    from runtime.ratelimit import network_of

    assert (
        network_of("2001:db8:1:2::1") == network_of("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    )
    assert network_of("2001:db8:1:3::1") != network_of("2001:db8:1:2::1")
    assert network_of("127.0.0.5") == "127.0.0.5"
    assert network_of("not-an-address") == "not-an-address"
