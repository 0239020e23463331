"""Rate limiting for public intake: an in-process token bucket per client.

Each client key (the client's IP address) owns a bucket of ``burst`` tokens refilled at
``per_minute`` tokens a minute; a request takes one token or is refused with 429 and a
``Retry-After`` header saying when the next token arrives.

The limit is PER REPLICA: each process keeps its own buckets in memory, so N replicas admit up to N
times the configured rate, and a restart forgets every bucket. That is enough to blunt a script
hammering one form; a platform-wide limit would need a shared store (e.g. Redis), which is out of
scope here.

The client key is the client address of the request (``scope["client"]``), never a header read
here: the server (``runtime.service.main``) replaces the peer address with the one from
``X-Forwarded-For`` only when the peer is one of the configured ``TRUSTED_PROXIES`` (default: none),
so nobody else can pick a fresh key per request.

Settings (environment): ``RATE_LIMIT_ENABLED``, ``RATE_LIMIT_BURST``, ``RATE_LIMIT_PER_MINUTE``,
``RATE_LIMIT_MAX_CLIENTS``.

Use as a route dependency (the JSON error shape of ``runtime.http``)::

    @router.post("/requests", dependencies=[rate_limit("open311")])

or call ``limiter_for(request, "web").check(client_key(request))`` and render a 429
page yourself (the owner web pages do).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from fastapi import Depends, Request
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException

from runtime.errors import Message

TOO_MANY = Message("请求过于频繁，请稍后再试", "Too many requests; please try again later")


class RateLimitSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RATE_LIMIT_", extra="ignore", frozen=True)

    enabled: bool = True
    burst: int = Field(default=10, ge=1, description="Requests a client may make at once")
    per_minute: float = Field(default=6.0, gt=0, description="Sustained requests per minute")
    max_clients: int = Field(default=100_000, ge=1, description="Buckets kept (LRU)")


class TokenBucket:
    """Buckets per key; thread-safe; the least recently seen keys are dropped past ``max_keys``
    (a dropped key starts again with a full bucket, which only errs on the lenient side)."""

    def __init__(
        self,
        burst: int,
        per_minute: float,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or per_minute <= 0 or max_keys < 1:
            raise ValueError("burst >= 1, per_minute > 0 and max_keys >= 1 are required")
        self.burst = float(burst)
        self.rate_per_s = per_minute / 60.0
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def check(self, key: str) -> float | None:
        """Take one token for ``key``: None when allowed, else the seconds until one is free."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate_per_s)
            retry_after: float | None = None
            if tokens >= 1.0:
                tokens -= 1.0
            else:
                retry_after = (1.0 - tokens) / self.rate_per_s
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            return retry_after


def client_key(request: Request) -> str:
    """The request's client address, as the server resolved it (see the module's docstring)."""
    client = request.client
    return network_of(client.host[:64] if client is not None else "unknown")


def network_of(address: str) -> str:
    """IPv6 clients are keyed by their /64: one subscriber line gets a whole /64, so keying by
    the full address would hand it a fresh bucket per address. IPv4 stays per address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


class Limiters:
    """The buckets of one app, one per named route group, with their settings."""

    def __init__(self, settings: RateLimitSettings | None = None) -> None:
        self.settings = settings if settings is not None else RateLimitSettings()
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def bucket(
        self, name: str, *, burst: int | None = None, per_minute: float | None = None
    ) -> TokenBucket:
        """The bucket `name`, made on first use with the settings' burst and rate unless given
        (a caller with its own rate, e.g. per API key, puts the rate in the name)."""
        with self._lock:
            if name not in self._buckets:
                s = self.settings
                self._buckets[name] = TokenBucket(
                    burst if burst is not None else s.burst,
                    per_minute if per_minute is not None else s.per_minute,
                    max_keys=s.max_clients,
                )
            return self._buckets[name]

    def check(self, request: Request, name: str) -> float | None:
        """None when the request may go on, else the seconds to wait."""
        if not self.settings.enabled:
            return None
        return self.bucket(name).check(client_key(request))


def limiters(request: Request) -> Limiters:
    """The app's limiters, created on first use from the environment."""
    state: Any = request.app.state
    found = getattr(state, "rate_limiters", None)
    if not isinstance(found, Limiters):
        found = Limiters()
        state.rate_limiters = found
    return found


class RateLimited(HTTPException):
    """429, rendered by runtime.http's HTTP error handler with ``Retry-After``."""

    def __init__(self, retry_after_s: float) -> None:
        super().__init__(
            status_code=429,
            detail=TOO_MANY.en,
            headers={"Retry-After": retry_after_header(retry_after_s)},
        )


def rate_limit(name: str) -> Any:
    """Route dependency: ``dependencies=[rate_limit("intake")]``; 429 once the bucket is empty."""

    async def check_rate(request: Request) -> None:
        wait = limiters(request).check(request, name)
        if wait is not None:
            raise RateLimited(wait)

    return Depends(check_rate)
