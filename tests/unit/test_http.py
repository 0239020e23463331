"""runtime.http: the app factory's error shape, auth dependency, health, logging and headers."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import asyncpg
import httpx
import pytest
import structlog
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from structlog.testing import capture_logs

from runtime import http
from runtime.auth import DevIssuer, Principal, Role
from runtime.errors import DomainError, Forbidden, Message, NotFound, Unavailable


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=8)
    result: Literal["pass", "fail", "na"]
    score: int = Field(ge=0, le=100)


class InspectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    project_id: str = Field(pattern=r"^P-\d+$")
    items: list[Item] = Field(min_length=1)


DistrictOfficer = Annotated[Principal, http.require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]


def build_app(dev: DevIssuer | None, **kwargs: Any) -> FastAPI:
    app = http.create_app(
        service="test", title="Test", version="0.0.1",
        verifier=dev.verifier() if dev else None, **kwargs,
    )  # fmt: skip

    @app.post("/inspections")
    async def submit(body: InspectionIn, me: DistrictOfficer) -> dict[str, int]:
        return {"items": len(body.items)}

    @app.get("/page")
    async def page(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/me")
    async def me(principal: http.CurrentPrincipal) -> dict[str, str | None]:
        return {"subject": principal.subject, "role": principal.role, "name": principal.name}

    @app.get("/districts/{code}")
    async def district(code: str, principal: DistrictOfficer) -> dict[str, str]:
        if not principal.can_see_district(code):
            raise Forbidden("out_of_scope", Message("不在本辖区", "Outside your district"))
        return {"district": code}

    @app.post("/orders/{order_id}/verify")
    async def verify(order_id: str) -> None:
        raise DomainError(
            "rectification_not_submitted",
            Message("整改尚未提交，不能验收", "Rectification not submitted; cannot verify"),
            field="status",
        )

    @app.get("/orders/{order_id}")
    async def order(order_id: str) -> None:
        raise NotFound("order_not_found", Message("整改单不存在", "Rectification order not found"))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("password=hunter2 at db.internal:5432")

    @app.post("/db-restarting")
    async def db_restarting() -> None:
        raise asyncpg.exceptions.CannotConnectNowError("the database system is shutting down")

    @app.get("/correlation")
    async def correlation() -> dict[str, Any]:
        return {"correlation_id": structlog.contextvars.get_contextvars().get("correlation_id")}

    return app


@pytest.fixture(scope="module")
def dev() -> DevIssuer:
    return DevIssuer.generate()


@pytest.fixture
async def client(dev: DevIssuer) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=build_app(dev))  # raises app exceptions: none may escape
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


def bearer(dev: DevIssuer, principal: Principal) -> dict[str, str]:
    return {"Authorization": f"Bearer {dev.issue(principal)}"}


OFFICER = Principal("officer-1", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")
VALID = {"project_id": "P-1", "items": [{"code": "A1", "result": "pass", "score": 90}]}


def fields_by_path(body: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {f["field"]: f for f in body["error"]["fields"]}


@pytest.mark.asyncio
async def test_healthz_needs_no_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.asyncio
async def test_readyz_200_when_all_checks_pass(dev: DevIssuer) -> None:
    async def database() -> None:
        return None

    app = build_app(dev, readiness=[database])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        response = await c.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


@pytest.mark.asyncio
async def test_readyz_degraded_is_200_with_the_reason_and_liveness_stays_ok(dev: DevIssuer) -> None:
    """Kafka unreachable: the service still takes requests (into its outbox), so it stays in the
    load balancer; readiness says what is missing."""

    async def database() -> None:
        return None

    async def kafka() -> None:
        raise http.Degraded("consumers not connected to Kafka yet")

    app = build_app(dev, readiness=[database, kafka])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        ready = await c.get("/readyz")
        alive = await c.get("/healthz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "degraded",
        "degraded": [{"check": "kafka", "reason": "consumers not connected to Kafka yet"}],
    }
    assert alive.json() == {"status": "ok"}


@pytest.mark.asyncio
async def test_readyz_503_names_failed_checks_without_details(dev: DevIssuer) -> None:
    async def database() -> None:
        return None

    async def kafka() -> None:
        raise ConnectionRefusedError("kafka.internal:9092 refused")

    async def slow_disk() -> None:
        await asyncio.sleep(10)

    app = build_app(dev, readiness=[database, kafka, slow_disk], readiness_timeout_s=0.05)
    transport = httpx.ASGITransport(app=app)
    with capture_logs() as logs:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            response = await c.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "failed": [
            {"check": "kafka", "error": "ConnectionRefusedError"},
            {"check": "slow_disk", "error": "TimeoutError"},
        ],
    }
    assert "kafka.internal" not in response.text
    assert any("kafka.internal" in e.get("error", "") for e in logs)


@pytest.mark.asyncio
async def test_valid_token_reaches_route(client: httpx.AsyncClient, dev: DevIssuer) -> None:
    response = await client.get("/me", headers=bearer(dev, OFFICER))
    assert response.status_code == 200
    assert response.json() == {"subject": "officer-1", "role": "district_office", "name": "王科长"}


@pytest.mark.asyncio
async def test_missing_token_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    error = response.json()["error"]
    assert error["code"] == "token_missing"
    assert error["message"] == "缺少身份令牌，请先登录"
    assert error["message_en"].startswith("Missing bearer token")


@pytest.mark.asyncio
@pytest.mark.parametrize("header", ["Bearer not-a-jwt", "Basic dXNlcjpwYXNz"])
async def test_invalid_credentials_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get("/me", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["error"]["code"] in {"token_malformed", "token_missing"}


@pytest.mark.asyncio
async def test_token_from_another_issuer_401(client: httpx.AsyncClient) -> None:
    impostor = DevIssuer.generate()
    response = await client.get("/me", headers=bearer(impostor, OFFICER))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    assert response.json()["error"]["code"] == "token_bad_signature"


@pytest.mark.asyncio
async def test_role_not_allowed_403(client: httpx.AsyncClient, dev: DevIssuer) -> None:
    owner = Principal("owner-1", Role.OWNER)
    response = await client.get("/districts/120101", headers=bearer(dev, owner))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "role_not_allowed"


@pytest.mark.asyncio
async def test_scope_is_checked_against_the_token(
    client: httpx.AsyncClient, dev: DevIssuer
) -> None:
    own = await client.get("/districts/120101", headers=bearer(dev, OFFICER))
    other = await client.get("/districts/120104", headers=bearer(dev, OFFICER))
    city_office = bearer(dev, Principal("c", Role.CITY_OFFICE))
    city = await client.get("/districts/120104", headers=city_office)
    assert (own.status_code, other.status_code, city.status_code) == (200, 403, 200)
    assert other.json()["error"]["code"] == "out_of_scope"


def test_require_needs_a_role() -> None:
    with pytest.raises(ValueError, match="at least one role"):
        http.require()


@pytest.mark.asyncio
async def test_nested_validation_error_shape(client: httpx.AsyncClient, dev: DevIssuer) -> None:
    body = {
        "items": [
            {"code": "A1", "result": "pass", "score": -1},
            {"code": "TOO-LONG-CODE", "result": "maybe", "score": 50, "photo": "x"},
        ],
    }
    response = await client.post("/inspections", json=body, headers=bearer(dev, OFFICER))
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("validation_failed", "请求参数校验失败")
    assert error["message_en"] == "Request validation failed"
    fields = fields_by_path(response.json())
    assert fields["project_id"]["reason"] == "必填项缺失"
    assert fields["items.0.score"]["reason"] == "必须大于或等于 0"
    assert fields["items.1.code"]["reason"] == "超过最大长度 8"
    assert fields["items.1.result"]["reason"] == "取值必须是 'pass'、'fail'、'na' 之一"
    assert fields["items.1.photo"]["reason"] == "不允许的字段"
    assert all(f["reason_en"] for f in fields.values())  # pydantic's English message


@pytest.mark.asyncio
async def test_validation_reasons_cover_common_types(
    client: httpx.AsyncClient, dev: DevIssuer
) -> None:
    body = {"project_id": "X-1", "items": []}
    response = await client.post("/inspections", json=body, headers=bearer(dev, OFFICER))
    fields = fields_by_path(response.json())
    assert fields["project_id"]["reason"] == "格式不符合要求"
    assert fields["items"]["reason"] == "至少 1 项"


@pytest.mark.asyncio
async def test_invalid_json_is_422_not_500(client: httpx.AsyncClient, dev: DevIssuer) -> None:
    headers = {**bearer(dev, OFFICER), "Content-Type": "application/json"}
    response = await client.post("/inspections", content=b'{"project_id": ', headers=headers)
    assert response.status_code == 422
    assert fields_by_path(response.json())["body"]["reason"] == "请求体不是合法的 JSON"


@pytest.mark.asyncio
async def test_query_parameter_error_keeps_its_location(client: httpx.AsyncClient) -> None:
    response = await client.get("/page", params={"limit": "ten"})
    assert response.status_code == 422
    assert fields_by_path(response.json())["query.limit"]["reason"] == "必须是整数"


@pytest.mark.asyncio
async def test_domain_error_409(client: httpx.AsyncClient) -> None:
    response = await client.post("/orders/R-1/verify")
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "rectification_not_submitted",
            "message": "整改尚未提交，不能验收",
            "message_en": "Rectification not submitted; cannot verify",
            "fields": [
                {
                    "field": "status",
                    "reason": "整改尚未提交，不能验收",
                    "reason_en": "Rectification not submitted; cannot verify",
                }
            ],
        }
    }


@pytest.mark.asyncio
async def test_not_found_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/orders/R-404")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "order_not_found"


@pytest.mark.asyncio
async def test_unknown_route_and_method_use_the_shape(client: httpx.AsyncClient) -> None:
    missing = await client.get("/nowhere")
    wrong_method = await client.delete("/healthz")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["error"]["code"]) == (
        405,
        "method_not_allowed",
    )
    assert wrong_method.headers["Allow"] == "GET"


@pytest.mark.asyncio
async def test_unexpected_exception_500_without_leak(client: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        response = await client.get("/boom", headers={"X-Correlation-ID": "corr-500"})
    assert response.status_code == 500
    assert "hunter2" not in response.text
    assert "RuntimeError" not in response.text
    error = response.json()["error"]
    assert error["code"] == "internal_error"
    assert error["error_id"] in error["message"]
    assert error["error_id"] in error["message_en"]
    assert response.headers["X-Correlation-ID"] == "corr-500"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    crash = next(e for e in logs if e["event"] == "http_unhandled_exception")
    assert crash["error_id"] == error["error_id"]
    assert crash["exc_info"] is True
    request_line = next(e for e in logs if e["event"] == "http_request")
    assert request_line["status"] == 500


@pytest.mark.asyncio
async def test_database_outage_is_503_with_retry_after_not_500(client: httpx.AsyncClient) -> None:
    with capture_logs() as logs:
        response = await client.post("/db-restarting")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    error = response.json()["error"]
    assert error["code"] == "temporarily_unavailable"
    assert "稍后重试" in error["message"]
    assert "retry" in error["message_en"]
    assert "shutting down" not in response.text
    assert not [e for e in logs if e["event"] == "http_unhandled_exception"]
    assert [e["status"] for e in logs if e["event"] == "http_request"] == [503]


@pytest.mark.asyncio
async def test_unconfigured_verifier_fails_closed() -> None:
    app = build_app(None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.get("/healthz")).status_code == 200
        response = await c.get("/me", headers={"Authorization": "Bearer x.y.z"})
    assert response.status_code == 500


@pytest.mark.asyncio
async def test_correlation_id_echoed_and_bound(client: httpx.AsyncClient) -> None:
    response = await client.get("/correlation", headers={"X-Correlation-ID": "cmp-2011-08-14.7"})
    assert response.headers["X-Correlation-ID"] == "cmp-2011-08-14.7"
    assert response.json() == {"correlation_id": "cmp-2011-08-14.7"}
    assert structlog.contextvars.get_contextvars().get("correlation_id") is None  # unbound after


@pytest.mark.asyncio
@pytest.mark.parametrize("incoming", [None, b"has spaces", b"x" * 200, "中文".encode(), b"a\xa0b"])
async def test_correlation_id_generated_when_absent_or_unsafe(
    client: httpx.AsyncClient, incoming: bytes | None
) -> None:
    headers = [(b"X-Correlation-ID", incoming)] if incoming is not None else []
    response = await client.get("/correlation", headers=headers)
    generated = response.headers["X-Correlation-ID"]
    assert str(uuid.UUID(generated)) == generated
    assert response.json() == {"correlation_id": generated}


@pytest.mark.asyncio
async def test_one_log_line_per_request_without_secrets(
    client: httpx.AsyncClient, dev: DevIssuer
) -> None:
    headers = {**bearer(dev, OFFICER), "X-Correlation-ID": "corr-1"}
    with capture_logs(processors=[structlog.contextvars.merge_contextvars]) as logs:
        await client.get("/me", params={"token": "secret-in-query"}, headers=headers)
    [line] = [e for e in logs if e["event"] == "http_request"]
    assert line["method"] == "GET"
    assert line["path"] == "/me"
    assert line["status"] == 200
    assert line["correlation_id"] == "corr-1"
    assert line["role"] == "district_office"
    assert line["subject"] == "officer-1"
    assert isinstance(line["duration_ms"], float)
    assert "Bearer" not in repr(logs)
    assert "secret-in-query" not in repr(logs)


@pytest.mark.asyncio
async def test_security_headers_on_every_response(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/healthz"), await client.get("/nowhere")):
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    docs = await client.get("/docs")
    assert "cdn.jsdelivr.net" not in docs.headers["Content-Security-Policy"]
    assert docs.headers["Content-Security-Policy"].startswith("default-src 'self'")


@pytest.mark.asyncio
async def test_openapi_documents_ops_bearer_and_error_shape(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]["/healthz"]["get"]["tags"] == ["ops"]
    assert spec["paths"]["/readyz"]["get"]["tags"] == ["ops"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    invalid = spec["paths"]["/inspections"]["post"]["responses"]["422"]
    assert invalid["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorResponse")
    assert "HTTPValidationError" not in spec["components"]["schemas"]


@pytest.mark.asyncio
async def test_lifespan_is_used(dev: DevIssuer) -> None:
    entered: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        entered.append("up")
        yield
        entered.append("down")

    app = build_app(dev, lifespan=lifespan)
    async with app.router.lifespan_context(app):
        assert entered == ["up"]
    assert entered == ["up", "down"]


async def test_unavailable_maps_to_503_with_the_reason() -> None:
    app = http.create_app(service="t", title="t", version="1", verifier=None)

    @app.get("/needs-data")
    async def needs_data() -> None:
        raise Unavailable(
            "year_not_loaded", Message("未加载 2027 年节假日", "2027 calendar not loaded")
        )

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/needs-data")
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "year_not_loaded"
    assert "2027" in r.json()["error"]["message"]


async def test_a_value_the_database_cannot_hold_is_a_422_not_a_500() -> None:
    import asyncpg

    app = http.create_app(service="t", title="t", version="1", verifier=None)

    @app.get("/stores")
    async def stores() -> None:
        raise asyncpg.CharacterNotInRepertoireError("invalid byte sequence: 0x00")

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        r = await c.get("/stores")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_value"
    assert "0x00" not in r.text  # the database's message is not echoed
