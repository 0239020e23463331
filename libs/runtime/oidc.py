"""OpenID Connect: the identity provider's access tokens for the APIs, and browser sign-in.

APIs: `JwksVerifier` verifies an access token against the provider's JWKS (keys cached; a token
signed with a key id not in the cache refetches the set once, at most every few seconds: key
rotation without a restart), then checks issuer, audience, expiry and the platform's claims
exactly as `runtime.auth.TokenVerifier` does (`role`, `district`, `enterprise`, `name`).
`verifier_from(settings)` builds what a service uses: the JWKS verifier (`AUTH_JWKS_URL`), the
fixed-key one (`AUTH_JWT_PUBLIC_KEY`, the development issuer of the tests), or both, chosen per
token by its `iss`.

Browser sign-in (every `ServiceSpec.sign_in` service gets these routes, `sign_in_router`):

- `GET /auth/login?next=/local/path`: a fresh state, nonce and PKCE verifier (S256) are kept in
  a short-lived signed HttpOnly cookie (path /auth, 10 minutes); the browser goes to the
  provider's authorization endpoint. `next` is only ever a local path (no open redirect).
- `GET /auth/callback`: the state must match the cookie's; the code is exchanged server-side
  with the client secret and the verifier; the id token is verified (signature, issuer,
  audience = client id, nonce) and the Principal comes from the access token's claims; a
  server-side session is opened (runtime.web_session) and its cookie set.
- `GET|POST /auth/logout`: the session is closed and the browser sent to the provider's
  end-session endpoint with `id_token_hint`, back to `/auth/signed-out`.
- Refresh: when a page's session holds an expired access token, `refresh_if_due` (called by
  `web_session.current_session`) refreshes it at the provider; a refused refresh (the provider's
  session ended) ends the page session too.

Every failure (provider unreachable, state mismatch, consent denied, a token that does not
verify) is a bilingual page with status 4xx/502, never a 500.

The module stays whole: the verifier, the flow's cookie and the routes share one client's
secrets and the provider's metadata, and reading them together is how they are reviewed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import jwt
import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime.auth import _KEY_TYPES as ASYMMETRIC_ALGORITHMS
from runtime.auth import Principal, TokenVerifier, _refuse
from runtime.errors import Message, Unauthenticated
from runtime.settings import Settings
from runtime.web_session import Session, Tokens, store

log = structlog.get_logger("runtime.oidc")

OIDC = "wuye.oidc"  # the lifespan-state key of the service's OidcClient
_FLOW_MAX_AGE_S = 600
_REFETCH_MIN_INTERVAL_S = 5.0


# -- access tokens for the APIs -----------------------------------------------------------------


class JwksKeys:
    """The provider's signing keys, fetched from its JWKS URL and cached by key id."""

    def __init__(self, jwks_url: str, *, timeout_s: float = 5.0) -> None:
        self._client = jwt.PyJWKClient(jwks_url, cache_keys=False, cache_jwk_set=False,
                                       timeout=int(max(1, timeout_s)))  # fmt: skip
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = threading.Lock()
        self.fetches = 0

    def _refetch(self) -> None:
        with self._lock:
            if time.monotonic() - self._fetched_at < _REFETCH_MIN_INTERVAL_S and self._keys:
                return
            keys = self._client.get_signing_keys(refresh=True)
            self._keys = {k.key_id: k for k in keys if k.key_id}
            self._fetched_at = time.monotonic()
            self.fetches += 1

    def key(self, kid: str) -> jwt.PyJWK | None:
        found = self._keys.get(kid)
        if found is None:  # unknown: the provider may have rotated its keys; ask once
            self._refetch()
            found = self._keys.get(kid)
        return found


class JwksVerifier(TokenVerifier):
    """`TokenVerifier` whose key comes from the provider's JWKS, by the token's `kid`."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...] = ("RS256", "ES256", "PS256"),
        leeway_s: int = 30,
    ) -> None:
        for alg in algorithms:
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    f"refusing algorithm {alg!r}; allowed: {sorted(ASYMMETRIC_ALGORITHMS)}"
                )
        self.keys = JwksKeys(jwks_url)
        self._issuer, self._audience = issuer, audience
        self._algorithms, self._leeway_s = list(algorithms), leeway_s

    def _key_for(self, token: str) -> Any:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise _refuse("token_malformed") from None
        kid, alg = header.get("kid"), header.get("alg")
        if not isinstance(kid, str) or not kid:
            raise _refuse("token_malformed")
        if alg not in self._algorithms:  # "none", HS256 and anything not asymmetric never pass
            raise _refuse("token_algorithm_refused")
        try:
            key = self.keys.key(kid)
        except jwt.PyJWKClientError:
            log.warning("jwks_unreachable")
            raise Unauthenticated(
                "identity_provider_unavailable",
                Message(
                    "暂时无法验证身份令牌，请稍后重试", "Cannot verify tokens right now; retry"
                ),
            ) from None
        if key is None or not isinstance(key.key, ASYMMETRIC_ALGORITHMS[str(alg)]):
            raise _refuse("token_bad_signature")  # unknown key id, or a key of another type
        return key.key


class ByIssuer(TokenVerifier):
    """Several trusted issuers (Keycloak, and the development issuer of tests): the verifier of
    the token's `iss` verifies it; any other issuer is refused."""

    def __init__(self, verifiers: dict[str, TokenVerifier]) -> None:
        self._by_issuer = dict(verifiers)

    def verify(self, token: str) -> Principal:
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            raise _refuse("token_malformed") from None
        verifier = self._by_issuer.get(issuer) if isinstance(issuer, str) else None
        if verifier is None:
            raise _refuse("token_wrong_issuer")
        return verifier.verify(token)


def verifier_from(settings: Settings) -> TokenVerifier | None:
    verifiers: dict[str, TokenVerifier] = {}
    if settings.auth_jwt_public_key:
        verifiers[settings.auth_issuer] = TokenVerifier(
            settings.auth_jwt_public_key,
            issuer=settings.auth_issuer,
            audience=settings.auth_audience,
            algorithms=settings.auth_algorithms,
        )
    if settings.auth_jwks_url:
        issuer = settings.oidc_issuer or settings.auth_issuer
        verifiers[issuer] = JwksVerifier(
            settings.auth_jwks_url, issuer=issuer, audience=settings.auth_audience
        )
    if not verifiers:
        return None
    if len(verifiers) == 1:
        return next(iter(verifiers.values()))
    return ByIssuer(verifiers)


# -- browser sign-in ----------------------------------------------------------------------------


class SignInFailed(Exception):
    def __init__(self, status: int, message: Message) -> None:
        super().__init__(message.en)
        self.status, self.message = status, message


_PROVIDER_DOWN = Message(
    "统一身份认证服务暂时无法访问，请稍后重试",
    "The identity provider cannot be reached; try again later",
)
_FLOW_LOST = Message(
    "登录请求已失效或不是从本站发起的，请重新登录",
    "The sign-in request has expired or did not start here; please sign in again",
)
_DENIED = Message("登录已取消或未获授权", "Sign-in was cancelled or not authorised")
_BAD_TOKENS = Message(
    "身份提供方返回的令牌无法验证，请重新登录", "The identity provider's tokens did not verify"
)
_NO_ACCOUNT = Message(
    "此账号未分配平台角色或辖区/企业/机构，请联系管理员",
    "This account has no platform role or scope; ask your administrator",
)


@dataclass(frozen=True)
class Provider:
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    issuer: str


@dataclass(frozen=True)
class Grant:
    access_token: str
    refresh_token: str | None
    id_token: str | None
    expires_in: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class OidcClient:
    """One service's confidential client at the provider."""

    def __init__(self, settings: Settings, api_verifier: TokenVerifier | None) -> None:
        self.issuer = settings.oidc_issuer.rstrip("/")
        self.client_id = settings.oidc_client_id
        self._secret = settings.oidc_client_secret.get_secret_value()
        self.redirect_base_url = settings.oidc_redirect_base_url.rstrip("/")
        self.secure = settings.public_https
        self.service = settings.service_name
        self._provider: Provider | None = None
        self._jwks: JwksVerifier | None = None
        self._api_verifier = api_verifier
        self._audience = settings.auth_audience
        self._flow_key = hashlib.sha256(f"wuye-signin-flow|{self._secret}".encode()).digest()

    @property
    def configured(self) -> bool:
        return bool(self.issuer and self.client_id and self._secret)

    @property
    def flow_cookie(self) -> str:
        name = f"wuye_{self.service}_signin"
        return "__Host-" + name if self.secure else name

    def redirect_uri(self, request: Request) -> str:
        base = self.redirect_base_url or str(request.base_url).rstrip("/")
        return f"{base}/auth/callback"

    async def provider(self) -> Provider:
        if self._provider is None:
            try:
                async with httpx.AsyncClient(timeout=5) as http:
                    answer = await http.get(f"{self.issuer}/.well-known/openid-configuration")
                    answer.raise_for_status()
                    doc = answer.json()
            except (httpx.HTTPError, ValueError):
                log.warning("oidc_discovery_failed", issuer=self.issuer)
                raise SignInFailed(502, _PROVIDER_DOWN) from None
            if doc.get("issuer") != self.issuer:
                log.error("oidc_issuer_mismatch", expected=self.issuer, got=doc.get("issuer"))
                raise SignInFailed(502, _PROVIDER_DOWN)
            self._provider = Provider(
                authorization_endpoint=doc["authorization_endpoint"],
                token_endpoint=doc["token_endpoint"],
                jwks_uri=doc["jwks_uri"],
                end_session_endpoint=doc.get("end_session_endpoint"),
                issuer=doc["issuer"],
            )
            self._jwks = JwksVerifier(doc["jwks_uri"], issuer=self.issuer, audience=self._audience)
        return self._provider

    # the flow cookie: state, nonce, PKCE verifier and where to go back, signed (HMAC)
    def seal(self, flow: dict[str, Any]) -> str:
        body = _b64(json.dumps(flow, separators=(",", ":")).encode())
        mac = _b64(hmac.new(self._flow_key, body.encode(), hashlib.sha256).digest())
        return f"{body}.{mac}"

    def unseal(self, value: str) -> dict[str, Any] | None:
        body, _, mac = value.partition(".")
        good = _b64(hmac.new(self._flow_key, body.encode(), hashlib.sha256).digest())
        if not mac or not hmac.compare_digest(mac, good):
            return None
        try:
            flow = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        if not isinstance(flow, dict) or flow.get("exp", 0) < time.time():
            return None
        return flow

    async def _token_request(self, form: dict[str, str]) -> Grant:
        provider = await self.provider()
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                answer = await http.post(
                    provider.token_endpoint, data=form, auth=(self.client_id, self._secret)
                )
        except httpx.HTTPError:
            raise SignInFailed(502, _PROVIDER_DOWN) from None
        if answer.status_code >= 500:
            raise SignInFailed(502, _PROVIDER_DOWN)
        if answer.status_code != 200:
            log.info("oidc_token_refused", status=answer.status_code)
            raise SignInFailed(400, _FLOW_LOST)
        data = answer.json()
        return Grant(
            access_token=data["access_token"],
            refresh_token=data.get("refresh_token"),
            id_token=data.get("id_token"),
            expires_in=int(data.get("expires_in", 300)),
        )

    def principal(self, access_token: str) -> Principal:
        """The signed-in person, from the access token's claims, as the APIs read them."""
        assert self._jwks is not None  # provider() ran
        return self._jwks.verify(access_token)

    def check_id_token(self, id_token: str | None, nonce: str) -> None:
        assert self._jwks is not None
        if not id_token:
            raise SignInFailed(400, _BAD_TOKENS)
        try:
            claims = jwt.decode(
                id_token,
                self._jwks._key_for(id_token),
                algorithms=["RS256", "ES256", "PS256"],
                issuer=self.issuer,
                audience=self.client_id,
                leeway=30,
                options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
            )
        except (jwt.PyJWTError, Unauthenticated):
            raise SignInFailed(400, _BAD_TOKENS) from None
        if not hmac.compare_digest(str(claims.get("nonce")), nonce):
            raise SignInFailed(400, _BAD_TOKENS)

    async def refresh(self, refresh_token: str) -> Grant:
        return await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )


def _local_path(candidate: str | None) -> str:
    """Only a path on this site: `/x?y`; never `//host`, `/\\host`, a scheme or a host."""
    if not candidate or not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
        return "/"
    parts = urlsplit(candidate)
    if parts.scheme or parts.netloc or any(c in candidate for c in "\r\n\t\\"):
        return "/"
    return candidate


def failure_page(status: int, message: Message) -> HTMLResponse:
    page = f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>登录未完成 / Sign-in not completed</title></head>
<body>
<h1>登录未完成</h1><p>{html.escape(message.zh)}</p>
<p lang="en">{html.escape(message.en)}</p>
<p><a href="/auth/login">重新登录 / Sign in again</a></p>
</body></html>"""
    return HTMLResponse(
        page,
        status_code=status,
        headers={"Cache-Control": "no-store"},  # and the runtime's strict CSP (no script)
    )


def _client(request: Request) -> OidcClient:
    found = (request.scope.get("state") or {}).get(OIDC)
    if not isinstance(found, OidcClient):
        raise RuntimeError("this service has no OIDC client (ServiceSpec.sign_in is not set)")
    return found


def sign_in_router() -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["sign-in"], include_in_schema=False)

    @router.get("/login")
    async def login(request: Request, next: str | None = None) -> Response:
        oidc = _client(request)
        if not oidc.configured:
            return failure_page(503, _PROVIDER_DOWN)
        try:
            provider = await oidc.provider()
        except SignInFailed as failed:
            return failure_page(failed.status, failed.message)
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        challenge = _b64(hashlib.sha256(verifier.encode()).digest())
        query = urlencode({
            "response_type": "code", "client_id": oidc.client_id,
            "redirect_uri": oidc.redirect_uri(request), "scope": "openid",
            "state": state, "nonce": nonce,
            "code_challenge": challenge, "code_challenge_method": "S256",
            "ui_locales": "zh-CN en",
        })  # fmt: skip
        flow = {"state": state, "nonce": nonce, "verifier": verifier,
                "next": _local_path(next), "exp": int(time.time()) + _FLOW_MAX_AGE_S}  # fmt: skip
        answer = RedirectResponse(f"{provider.authorization_endpoint}?{query}", status_code=303)
        answer.set_cookie(oidc.flow_cookie, oidc.seal(flow), max_age=_FLOW_MAX_AGE_S,
                          path="/", httponly=True, samesite="lax", secure=oidc.secure)  # fmt: skip
        answer.headers["Cache-Control"] = "no-store"
        return answer

    @router.get("/callback")
    async def callback(
        request: Request,
        state: str = "",
        code: str = "",
        error: str | None = None,
    ) -> Response:
        oidc = _client(request)
        flow = oidc.unseal(request.cookies.get(oidc.flow_cookie, ""))
        try:
            if flow is None or not state or not hmac.compare_digest(state, str(flow["state"])):
                log.info("sign_in_state_refused")
                raise SignInFailed(400, _FLOW_LOST)
            if error is not None:
                log.info("sign_in_denied", error=error[:64])
                raise SignInFailed(403, _DENIED)
            if not code:
                raise SignInFailed(400, _FLOW_LOST)
            grant = await oidc._token_request({
                "grant_type": "authorization_code", "code": code,
                "redirect_uri": oidc.redirect_uri(request), "code_verifier": str(flow["verifier"]),
            })  # fmt: skip
            oidc.check_id_token(grant.id_token, str(flow["nonce"]))
            try:
                principal = oidc.principal(grant.access_token)
            except Unauthenticated as refused:
                log.info("sign_in_token_refused", code=refused.code)
                raise SignInFailed(403, _NO_ACCOUNT) from None
        except SignInFailed as failed:
            page = failure_page(failed.status, failed.message)
            page.delete_cookie(oidc.flow_cookie, path="/")
            return page
        sessions = store(request)
        now = sessions.now()
        session_id = await sessions.open(
            principal,
            Tokens(grant.access_token, grant.refresh_token, grant.id_token,
                   now + timedelta(seconds=grant.expires_in)),
        )  # fmt: skip
        log.info("signed_in", subject=principal.subject, role=principal.role.value)
        answer = RedirectResponse(str(flow["next"]), status_code=303)
        answer.delete_cookie(oidc.flow_cookie, path="/")
        answer.set_cookie(sessions.cookie, session_id, path="/", httponly=True,
                          samesite="lax", secure=sessions.secure)  # fmt: skip
        return answer

    async def logout(request: Request) -> Response:
        oidc = _client(request)
        sessions = store(request)
        closed = await sessions.close(request.cookies.get(sessions.cookie, ""))
        target = "/auth/signed-out"
        if closed is not None and oidc.configured:
            try:
                provider = await oidc.provider()
            except SignInFailed:
                provider = None
            if provider is not None and provider.end_session_endpoint:
                base = oidc.redirect_base_url or str(request.base_url).rstrip("/")
                params = {"client_id": oidc.client_id,
                          "post_logout_redirect_uri": f"{base}/auth/signed-out"}  # fmt: skip
                if closed.tokens.id_token:
                    params["id_token_hint"] = closed.tokens.id_token
                target = f"{provider.end_session_endpoint}?{urlencode(params)}"
        answer = RedirectResponse(target, status_code=303)
        answer.delete_cookie(sessions.cookie, path="/", secure=sessions.secure, httponly=True)
        return answer

    router.add_api_route("/logout", logout, methods=["GET", "POST"])

    @router.get("/signed-out")
    async def signed_out() -> HTMLResponse:
        page = failure_page(200, Message("您已退出登录", "You have signed out"))
        return page

    return router


async def refresh_if_due(request: Request, session: Session) -> Session | None:
    """Called for each page request with a session: refresh its access token when expired."""
    oidc = (request.scope.get("state") or {}).get(OIDC)
    tokens = session.tokens
    if not isinstance(oidc, OidcClient) or not tokens.refresh_token:
        return session
    sessions = store(request)
    now: datetime = sessions.now()
    if tokens.access_expires_at is None or tokens.access_expires_at > now + timedelta(seconds=10):
        return session
    try:
        grant = await oidc.refresh(tokens.refresh_token)
    except SignInFailed as failed:
        if failed.status == 502:  # provider down: the page session stands until it is back
            return session
        await sessions.close_by_hash(session.id_hash)
        return None
    return await sessions.replace_tokens(
        session,
        Tokens(grant.access_token, grant.refresh_token, grant.id_token or tokens.id_token,
               now + timedelta(seconds=grant.expires_in)),
    )  # fmt: skip
