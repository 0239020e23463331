"""FastAPI app factory used by every service: health, one error shape, bearer auth, request logging.

Error shape, everywhere (validation, domain refusals, auth, unknown routes, crashes)::

    {"error": {"code": "validation_failed", "message": "<zh>", "message_en": "<en>",
               "fields": [{"field": "items.2.result", "reason": "<zh>", "reason_en": "<en>"}]}}

``message``/``reason`` are always Chinese and ``message_en``/``reason_en`` always English, whatever
``Accept-Language`` says: one fixed contract is simpler for clients, needs no ``Vary`` header and
keeps responses cacheable; a client wanting English reads the ``_en`` fields. A 500 also carries
``error_id``, the key of the logged stack trace; the client never sees the exception itself.
Field paths drop pydantic's leading ``body`` (``items.2.result``) but keep ``query.``, ``path.``...

``/healthz`` (liveness) and ``/readyz`` (readiness) need no token and stay in the OpenAPI document
under the ``ops`` tag, so operators find them where they find everything else. ``/readyz`` lists
failed checks by name and exception type only; the full error goes to the log. A check that raises
``Degraded`` does not fail readiness: the service works without that part (Kafka down: requests
are accepted into the outbox), so ``/readyz`` answers 200 ``{"status": "degraded"}`` with the
reasons, and the instance keeps receiving traffic.

Each request is logged once (method, path without query, status, duration_ms, role and subject when
authenticated; never headers or bodies) with ``correlation_id`` bound in ``structlog.contextvars``
from ``X-Correlation-ID`` (generated when absent or malformed) and echoed in the response.
"""

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any, TypeVar

import asyncpg
import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.types import Message as AsgiMessage

from runtime.auth import Principal, Role, TokenVerifier
from runtime.db import is_retry_later_error
from runtime.errors import (
    DomainError,
    Forbidden,
    InvalidInput,
    Message,
    NotFound,
    Unauthenticated,
    Unavailable,
    validation_reason,
)
from runtime.unit_of_work import Trace
from runtime.web_session import SignInRequired

CORRELATION_HEADER = "X-Correlation-ID"
_CORRELATION_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_OPS_PATHS = frozenset({"/healthz", "/readyz"})
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    # Strict default; an HTML route sets its own and this one steps aside (setdefault).
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'none'",
}
# Swagger UI and ReDoc load their assets from the service (fastapi-offline), never from a CDN.
_DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; worker-src blob:; frame-ancestors 'none'"
)
DOCS_URL, REDOC_URL, DOCS_ASSETS_URL = "/docs", "/redoc", "/static-offline-docs"
OFFLINE_DOCS = {"docs_url": DOCS_URL, "redoc_url": REDOC_URL, "static_url": DOCS_ASSETS_URL}
# Most specific first; the domain knows nothing of HTTP, so the mapping lives here.
_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (Unauthenticated, 401), (Forbidden, 403), (NotFound, 404), (InvalidInput, 422),
    (Unavailable, 503),
    (DomainError, 409),
)  # fmt: skip
_log = structlog.get_logger()


class FieldError(BaseModel):
    field: str
    reason: str
    reason_en: str


class ErrorBody(BaseModel):
    code: str
    message: str
    message_en: str
    fields: list[FieldError] = []
    error_id: str | None = None


class ErrorResponse(BaseModel):
    """The one error shape, for ``responses={404: {"model": ErrorResponse}}`` in routes."""

    error: ErrorBody


def error_response(
    status: int, code: str, message: Message, fields: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None, error_id: str | None = None,
) -> JSONResponse:  # fmt: skip
    fields_json = [f.model_dump() for f in fields]
    body: dict[str, Any] = {
        "code": code, "message": message.zh, "message_en": message.en, "fields": fields_json,
    }  # fmt: skip
    if error_id is not None:
        body["error_id"] = error_id
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def _on_data_error(_request: Request, exc: Exception) -> Response:
    """A value the database cannot hold (a NUL character, a number or date out of range) that a
    route's validation let through: the client's input, so 422, never a 500. Logged, because a
    tighter field type belongs on the route."""
    _log.warning("input_rejected_by_database", error=type(exc).__name__)
    return error_response(
        422,
        "invalid_value",
        Message(
            "请求中含有无法保存的字符或数值", "The request contains a value that cannot be stored"
        ),
    )


def _on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    if isinstance(exc, SignInRequired) and request.method in ("GET", "HEAD"):
        return RedirectResponse(exc.login_url(), status_code=303)  # a page: go and sign in
    status = next(s for t, s in _STATUS if isinstance(exc, t))
    fields = []
    if exc.field:
        fields = [FieldError(field=exc.field, reason=exc.message.zh, reason_en=exc.message.en)]
    headers = None
    if status == 401:
        challenge = "Bearer" if exc.code == "token_missing" else 'Bearer error="invalid_token"'
        headers = {"WWW-Authenticate": challenge}
    return error_response(status, exc.code, exc.message, fields, headers)


def _field_path(loc: Sequence[int | str], error_type: str) -> str:
    if error_type == "json_invalid" or tuple(loc) == ("body",):
        return "body"
    parts = list(loc[1:] if loc and loc[0] == "body" else loc)
    return ".".join(str(p) for p in parts)


def _on_validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    fields = []
    for error in exc.errors():
        reason = validation_reason(error)
        path = _field_path(error.get("loc", ()), str(error.get("type", "")))
        fields.append(FieldError(field=path, reason=reason.zh, reason_en=reason.en))
    message = Message("请求参数校验失败", "Request validation failed")
    return error_response(422, "validation_failed", message, fields)


_HTTP_ERRORS = {
    404: ("not_found", Message("请求的资源不存在", "Not found")),
    405: ("method_not_allowed", Message("不支持该请求方法", "Method not allowed")),
    429: (
        "rate_limited",
        Message("请求过于频繁，请稍后再试", "Too many requests; please try again later"),
    ),
}


def _on_http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    default = ("http_error", Message("请求无法处理", detail))
    code, message = _HTTP_ERRORS.get(exc.status_code, default)
    return error_response(exc.status_code, code, message, headers=dict(exc.headers or {}))


class _RequestContext:
    """Correlation id, one log line, security headers, and the only place a 500 is produced."""

    def __init__(self, app: ASGIApp, docs_paths: set[str | None]) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = Headers(scope=scope).get(CORRELATION_HEADER, "")
        correlation_id = incoming if _CORRELATION_ID.fullmatch(incoming) else str(uuid.uuid4())
        path: str = scope["path"]
        started, status = time.perf_counter(), 500
        response_started = False

        async def send_with_headers(message: AsgiMessage) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status, response_started = message["status"], True
                headers = MutableHeaders(scope=message)
                headers[CORRELATION_HEADER] = correlation_id
                for name, value in _SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if path in self.docs_paths:
                    headers["Content-Security-Policy"] = _DOCS_CSP
            await send(message)

        scope[CORRELATION_SCOPE_KEY] = correlation_id  # `request_trace` hands it to the handlers
        with structlog.contextvars.bound_contextvars(correlation_id=correlation_id):
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception as exc:
                if is_retry_later_error(exc) and not response_started:
                    # The database is restarting or failing over: nothing was committed (the
                    # transaction died with the connection); the client may retry shortly.
                    _log.warning("http_dependency_unavailable", error=repr(exc))
                    response = error_response(
                        503, "temporarily_unavailable", _UNAVAILABLE, headers={"Retry-After": "5"}
                    )
                    await response(scope, receive, send_with_headers)
                    return
                error_id = uuid.uuid4().hex
                _log.error("http_unhandled_exception", error_id=error_id, exc_info=True)
                if response_started:
                    raise  # too late for an error body; the server closes the connection
                message = Message(
                    f"服务器内部错误，请稍后重试（错误编号 {error_id}）",
                    f"Internal server error; please try again later (error id {error_id})",
                )
                response = error_response(500, "internal_error", message, error_id=error_id)
                await response(scope, receive, send_with_headers)
            finally:
                who = {}
                if principal := scope.get("state", {}).get("principal"):
                    who = {"role": principal.role.value, "subject": principal.subject}
                log = _log.debug if path in _OPS_PATHS else _log.info  # probes would drown the log
                duration_ms = round((time.perf_counter() - started) * 1000, 1)
                log("http_request", method=scope["method"], path=path, status=status,
                    duration_ms=duration_ms, **who)  # fmt: skip


_UNAVAILABLE = Message(
    "服务暂时不可用（数据库正在恢复），请稍后重试",
    "The service is temporarily unavailable (its database is recovering); please retry shortly",
)

_bearer = HTTPBearer(auto_error=False, description="JWT issued by the city identity provider")


async def _authenticate(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    verifier: TokenVerifier | None = request.app.state.verifier
    if verifier is None:  # fail closed, loudly: a misconfigured service serves no protected route
        raise RuntimeError("no TokenVerifier configured (AUTH_JWT_PUBLIC_KEY is empty)")
    if credentials is None:
        missing = Message("缺少身份令牌，请先登录", "Missing bearer token; please sign in")
        raise Unauthenticated("token_missing", missing)
    principal = verifier.verify(credentials.credentials)
    request.state.principal = principal  # for the request log line
    return principal


CurrentPrincipal = Annotated[Principal, Depends(_authenticate)]
"""Any authenticated role: ``async def route(me: CurrentPrincipal)``."""


def require(*roles: Role) -> Any:
    """Dependency admitting only ``roles``; 401 without a valid token, 403 for other roles.

    ``me: Annotated[Principal, require(Role.CITY_OFFICE)]`` or ``dependencies=[require(...)]``.
    """
    if not roles:
        raise ValueError("require() needs at least one role; use CurrentPrincipal for any role")
    allowed = frozenset(roles)

    async def check_role(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            refusal = Message("当前角色无权执行此操作", "Your role may not do this")
            raise Forbidden("role_not_allowed", refusal)
        return principal

    return Depends(check_role)


Check = Callable[[], Awaitable[None]]


class Degraded(Exception):
    """Raised by a readiness check: the service serves, but `reason` is missing."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _run_check(check: Check, timeout_s: float) -> dict[str, str] | None:
    name = getattr(check, "__name__", type(check).__name__)
    try:
        async with asyncio.timeout(timeout_s):
            await check()
    except Degraded as degraded:
        return {"check": name, "degraded": degraded.reason}
    except Exception as exc:  # noqa: BLE001 - a check may fail any way; report it, don't crash
        _log.warning("readiness_check_failed", check=name, error=repr(exc))
        return {"check": name, "error": type(exc).__name__}
    return None


def create_app(
    *,
    service: str,
    title: str,
    version: str,
    verifier: TokenVerifier | None,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[Any]] | None = None,
    readiness: Sequence[Check] = (),
    readiness_timeout_s: float = 2.0,
) -> FastAPI:
    # Declared app-wide so OpenAPI shows our 422 shape instead of FastAPI's HTTPValidationError.
    invalid = {"model": ErrorResponse, "description": "请求参数校验失败 / Validation failed"}
    app = FastAPIOffline(
        title=title, version=version, lifespan=lifespan, responses={422: invalid}, **OFFLINE_DOCS
    )
    app.state.service = service
    app.state.verifier = verifier
    checks = tuple(readiness)

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: every check passes", responses={503: {}})
    async def readyz() -> JSONResponse:
        results = await asyncio.gather(*(_run_check(c, readiness_timeout_s) for c in checks))
        failed = [r for r in results if r is not None and "degraded" not in r]
        degraded = [{"check": r["check"], "reason": r["degraded"]} for r in results
                    if r is not None and "degraded" in r]  # fmt: skip
        if failed:
            body: dict[str, Any] = {"status": "unavailable", "failed": failed}
            if degraded:
                body["degraded"] = degraded
            return JSONResponse(body, status_code=503)
        if degraded:
            return JSONResponse({"status": "degraded", "degraded": degraded})
        return JSONResponse({"status": "ready"})

    app.add_exception_handler(DomainError, _on_domain_error)
    app.add_exception_handler(asyncpg.DataError, _on_data_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
    docs = {DOCS_URL, REDOC_URL, app.swagger_ui_oauth2_redirect_url} - {None}
    app.add_middleware(_RequestContext, docs_paths=docs)
    return app


# -- what routes depend on ---------------------------------------------------------------------

PROVIDED = "wuye.provided"  # the lifespan state key of the service's composition (runtime.service)
CORRELATION_SCOPE_KEY = "wuye.correlation_id"
T = TypeVar("T")


def provided(kind: type[T]) -> Callable[[Request], T]:
    """A FastAPI dependency answering the object the service's composition root built at startup
    (`runtime.service.Composed.provided`), checked to be a `kind`: the routes' one way to reach
    their units of work, clock and settings, typed for mypy."""

    def dependency(request: Request) -> T:
        state = request.scope.get("state") or {}
        value = state.get(PROVIDED)
        if not isinstance(value, kind):
            raise RuntimeError(
                f"no {kind.__name__} in the lifespan state: is the app served with its lifespan?"
            )
        return value

    dependency.__name__ = f"provided_{kind.__name__}"
    return dependency


def request_trace(request: Request) -> Trace:
    """The request's trace: its correlation id (X-Correlation-ID, or the one generated for it)."""
    correlation_id = request.scope.get(CORRELATION_SCOPE_KEY)
    return Trace.start(correlation_id if isinstance(correlation_id, str) else str(uuid.uuid4()))


RequestTrace = Annotated[Trace, Depends(request_trace)]
