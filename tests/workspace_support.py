"""The signed-in staff pages (工作台) shared by the in-process workspace tests: a session per
person opened on the service's own session store, a client that acts as one of them, the CSRF
token of a page's form, and plain reads of the service's database."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx

from runtime.auth import Principal
from runtime.scheduler import Clock
from runtime.web_session import SessionStore, cookie_name

CSRF_TOKEN = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


async def open_sessions(
    pool: asyncpg.Pool, clock: Clock, service: str, people: Iterable[Principal]
) -> dict[str, str]:
    """Sign each person in to `service`'s pages (a plain-HTTP session, as in-process tests
    use); returns the session cookie's value by the person's subject."""
    store = SessionStore(pool, clock, service=service, secure=False)
    return {p.subject: await store.open(p) for p in people}


async def sign_in(
    dsn: str, clock: Clock, service: str, people: Iterable[Principal]
) -> dict[str, str]:
    """`open_sessions` on a short-lived pool of its own (for fixtures that seed nothing else)."""
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        return await open_sessions(pool, clock, service, people)
    finally:
        await pool.close()


@dataclass
class Desk:
    """One service's staff pages served in-process, and the session each signed-in person
    holds (`cookies`, by subject); `clock` is the app's own."""

    service: str
    client: httpx.AsyncClient
    dsn: str
    cookies: dict[str, str]
    clock: Clock

    def as_(self, who: Principal) -> httpx.AsyncClient:
        """The client, carrying only `who`'s session cookie."""
        self.client.cookies.clear()
        self.client.cookies.set(cookie_name(self.service, secure=False), self.cookies[who.subject])
        return self.client


def csrf_token(page: httpx.Response) -> str:
    """The CSRF token of the page's last form (the first one is the sign-out form's)."""
    found = CSRF_TOKEN.findall(page.text)
    assert found, page.text[:2000]
    return str(found[-1])


def form_token(page: httpx.Response, action: str) -> str:
    """The CSRF token of the form whose action matches the regular expression `action` (for a
    page with one form per row)."""
    found = re.search(
        rf'action="{action}"[^>]*>\s*<input type="hidden" name="csrf_token" value="([0-9a-f]+)"',
        page.text,
    )
    assert found, page.text[:3000]
    return found.group(1)


async def sign_in_client(
    client: httpx.AsyncClient, pool: asyncpg.Pool, clock: Clock, service: str, who: Principal
) -> None:
    """Open a session for `who` on `service`'s pages and give `client` its cookie."""
    cookies = await open_sessions(pool, clock, service, (who,))
    client.cookies.set(cookie_name(service, secure=False), cookies[who.subject])


async def fetch_rows(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows read on a connection of their own (outside any service transaction)."""
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


async def fetch_value(dsn: str, sql: str, *args: Any) -> Any:
    """One value read on a connection of its own."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()
