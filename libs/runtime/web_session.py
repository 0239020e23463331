"""Staff sign-in sessions for the workspace pages: server-side, in the service's own database.

The browser holds only an opaque random id in an HttpOnly cookie (SameSite=Lax, so the identity
provider's redirect back carries it; `__Host-` prefixed and Secure over https); the service
keeps, under the id's SHA-256 (table `web_sessions`, runtime migration 0006), who signed in (a
`Principal`, with the same scope rules as an API token), the identity provider's tokens (for
refresh and sign-out, never sent to the browser), a per-session CSRF secret, and when the session
ends: after `idle_s` without a request or `absolute_s` after sign-in, whichever comes first.

Each service keeps its own sessions and cookie (no service reads another's store). Signing in
once at the identity provider signs a person in to every service's pages: each service runs its
own short code flow (runtime.oidc), which the provider answers without asking again.

Pages depend on `SignedIn` (the Principal) or `CurrentSession`: without a valid session a GET is
sent to sign in (303 to `/auth/login?next=<path>`), anything else gets 401. A POST from a page
carries the session's CSRF token (`csrf_token`), checked with `check_csrf` together with where
the request comes from (`Sec-Fetch-Site` / `Origin`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated
from urllib.parse import quote, urlsplit

import asyncpg
from fastapi import Depends, Request

from runtime.auth import Principal, Role
from runtime.errors import Forbidden, Message, Unauthenticated
from runtime.scheduler import Clock

SESSIONS = "wuye.sessions"  # the lifespan-state key of the service's SessionStore
CSRF_FIELD = "csrf_token"
_ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


@dataclass(frozen=True)
class Tokens:
    """What the identity provider gave at sign-in or refresh."""

    access_token: str | None = None
    refresh_token: str | None = None
    id_token: str | None = None
    access_expires_at: datetime | None = None


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf_secret: str
    tokens: Tokens
    created_at: datetime
    expires_at: datetime
    id_hash: str


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def cookie_name(service: str, *, secure: bool) -> str:
    name = f"wuye_{service}_session"
    return "__Host-" + name if secure else name


class SessionStore:
    """The service's sessions, on its pool."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        *,
        service: str,
        secure: bool,
        idle_s: float = 8 * 3600,
        absolute_s: float = 12 * 3600,
    ) -> None:
        self._pool = pool
        self._clock = clock
        self.service = service
        self.secure = secure
        self.cookie = cookie_name(service, secure=secure)
        self.idle = timedelta(seconds=idle_s)
        self.absolute = timedelta(seconds=absolute_s)

    async def open(self, principal: Principal, tokens: Tokens | None = None) -> str:
        """A new session for `principal`; returns the id to set as the cookie (shown once)."""
        session_id = secrets.token_urlsafe(32)
        now = self._clock.now()
        tokens = tokens or Tokens()
        async with self._pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO web_sessions (id_hash, subject, role, district_code, enterprise_id,
                          name, csrf_secret, access_token, refresh_token, id_token,
                          access_expires_at, created_at, last_seen_at, expires_at, agency_id)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14)""",
                _hash(session_id),
                principal.subject,
                principal.role.value,
                principal.district_code,
                principal.enterprise_id,
                principal.name,
                secrets.token_urlsafe(32),
                tokens.access_token,
                tokens.refresh_token,
                tokens.id_token,
                tokens.access_expires_at,
                now,
                now + min(self.idle, self.absolute),
                principal.agency_id,
            )
        return session_id

    async def get(self, session_id: str) -> Session | None:
        """The live session with this id (its idle time restarts), or None."""
        if not session_id or len(session_id) > 128:
            return None
        now = self._clock.now()
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                """UPDATE web_sessions
                      SET last_seen_at = $2,
                          expires_at = least(created_at + $3::interval, $2 + $4::interval)
                    WHERE id_hash = $1 AND expires_at > $2
                RETURNING *""",
                _hash(session_id),
                now,
                self.absolute,
                self.idle,
            )
        return None if row is None else _session(row)

    async def replace_tokens(self, session: Session, tokens: Tokens) -> Session:
        """After a refresh at the identity provider."""
        async with self._pool.acquire() as conn:
            await conn.execute(
                """UPDATE web_sessions SET access_token = $2, refresh_token = $3,
                          id_token = coalesce($4, id_token), access_expires_at = $5
                    WHERE id_hash = $1""",
                session.id_hash,
                tokens.access_token,
                tokens.refresh_token,
                tokens.id_token,
                tokens.access_expires_at,
            )
        return replace(session, tokens=tokens)

    def now(self) -> datetime:
        return self._clock.now()

    async def close_by_hash(self, id_hash: str) -> None:
        async with self._pool.acquire() as conn:
            await conn.execute("DELETE FROM web_sessions WHERE id_hash = $1", id_hash)

    async def close(self, session_id: str) -> Session | None:
        """Sign out: the session is gone; returns it (its id token ends the provider's session)."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "DELETE FROM web_sessions WHERE id_hash = $1 RETURNING *", _hash(session_id)
            )
        return None if row is None else _session(row)

    async def purge(self, pool: asyncpg.Pool, now: datetime) -> int:
        """A periodic job: delete ended sessions."""
        async with pool.acquire() as conn:
            status = await conn.execute("DELETE FROM web_sessions WHERE expires_at <= $1", now)
        return int(status.split()[-1])


def _session(row: asyncpg.Record) -> Session:
    return Session(
        principal=Principal(
            subject=row["subject"],
            role=Role(row["role"]),
            district_code=row["district_code"],
            enterprise_id=row["enterprise_id"],
            name=row["name"],
            agency_id=row["agency_id"],
        ),
        csrf_secret=row["csrf_secret"],
        tokens=Tokens(
            access_token=row["access_token"],
            refresh_token=row["refresh_token"],
            id_token=row["id_token"],
            access_expires_at=row["access_expires_at"],
        ),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        id_hash=row["id_hash"],
    )


# -- what pages depend on ---------------------------------------------------------------------


class SignInRequired(Unauthenticated):
    """No valid session: a page sends the browser to sign in (runtime.http renders it as a 303
    to `login_path` for a GET, a 401 page otherwise)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(
            "sign_in_required",
            Message("请先登录，或登录已过期", "Please sign in (or your session has ended)"),
        )
        self.next_path = next_path

    def login_url(self, login_path: str = "/auth/login") -> str:
        return f"{login_path}?next={quote(self.next_path, safe='/')}"


def store(request: Request) -> SessionStore:
    found = (request.scope.get("state") or {}).get(SESSIONS)
    if not isinstance(found, SessionStore):
        raise RuntimeError("this service keeps no web sessions (Composed.sessions is not set)")
    return found


async def current_session(request: Request) -> Session:
    sessions = store(request)
    session_id = request.cookies.get(sessions.cookie, "")
    session = await sessions.get(session_id) if session_id else None
    if session is not None:  # an expired access token is refreshed at the identity provider
        from runtime.oidc import refresh_if_due

        session = await refresh_if_due(request, session)
    if session is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    request.state.principal = session.principal  # for the request log line
    return session


CurrentSession = Annotated[Session, Depends(current_session)]


async def signed_in(session: CurrentSession) -> Principal:
    return session.principal


SignedIn = Annotated[Principal, Depends(signed_in)]
"""The signed-in person of a workspace page: ``async def page(me: SignedIn)``."""


def csrf_token(session: Session, form: str) -> str:
    """The hidden field of the session's form `form` (e.g. the path it posts to)."""
    return hmac.new(
        session.csrf_secret.encode(), f"wuye-form|{form}".encode(), hashlib.sha256
    ).hexdigest()


def check_csrf(request: Request, session: Session, form: str, token: str) -> None:
    """Refuse a POST not made by this session's own page: a cross-site origin, or a token that
    is not the session's for this form."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in _ALLOWED_FETCH_SITES:
        raise _cross_site()
    origin = request.headers.get("origin")
    if origin is not None:
        ours = urlsplit(str(request.base_url))
        theirs = urlsplit(origin)
        if (theirs.scheme, theirs.netloc) != (ours.scheme, ours.netloc):
            raise _cross_site()
    if not hmac.compare_digest(token, csrf_token(session, form)):
        raise _cross_site()


def _cross_site() -> Forbidden:
    return Forbidden(
        "csrf_refused",
        Message(
            "表单已失效或来源不明，请返回页面刷新后重试",
            "The form has expired or did not come from this site; reload the page and try again",
        ),
    )


async def open_for_tests(pool: asyncpg.Pool, principal: Principal, clock: Clock) -> str:
    """Sign `principal` in without an identity provider (tests, the demo's scripted users use
    the real provider): the cookie value of a new session of the service using `pool`."""
    return await SessionStore(pool, clock, service="test", secure=False).open(principal)
