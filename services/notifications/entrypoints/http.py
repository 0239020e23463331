"""HTTP API of the notifications service.

- The in-app inbox: each recipient (enterprise, district office, city office, signed-in owner)
  lists its own copies of notices and marks them read.
- A notice's history: what was sent to whom, when, through which channel, with which result —
  for its recipients, the district office of its district and the city office.
- Endpoints: a recipient registers where else its notices go (e-mail, signed webhook), for
  itself only; an enterprise also for its projects' managers.
- Criticisms: the register of circulated criticism notices (通报批评) with their numbers.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import asyncpg
import httpx
from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from runtime import db
from runtime.auth import Principal, Role
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound, Unavailable
from runtime.http import CurrentPrincipal, require
from services.notifications.adapters.channels import (
    DestinationRefused,
    Destinations,
    DestinationUnresolved,
)
from services.notifications.domain import destinations, signing
from services.notifications.domain.rules import CITY

router = APIRouter(prefix="/api/v1", tags=["notices"])

NoticeId = Annotated[str, Path(min_length=1, max_length=64)]
Recipient = tuple[str, str]
Office = Annotated[Principal, require(Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.runtime.pool
    return pool


def inbox_of(principal: Principal) -> Recipient:
    """Whose inbox the caller reads: its own, never another's."""
    if principal.role is Role.ENTERPRISE and principal.enterprise_id:
        return ("enterprise", principal.enterprise_id)
    if principal.role is Role.DISTRICT_OFFICE and principal.district_code:
        return ("district", principal.district_code)
    if principal.role is Role.CITY_OFFICE:
        return ("city", CITY)
    if principal.role is Role.OWNER:
        return ("owner", principal.subject)
    raise Forbidden("no_inbox", Message("当前角色没有通知收件箱", "your role has no notice inbox"))


class NoticeOut(BaseModel):
    notice_id: str
    kind: str
    reason: str
    notice_no: str | None
    subject_kind: str
    subject_id: str
    project_id: str | None
    enterprise_id: str | None
    district_code: str | None
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str
    issued_at: datetime
    correlation_id: str
    cc: bool
    read_at: datetime | None


@router.get("/notices", summary="我的通知 The caller's inbox, newest first")
async def list_notices(
    request: Request,
    principal: CurrentPrincipal,
    kind: Literal["notice", "reminder", "criticism"] | None = None,
    unread: bool = False,
    project_id: str | None = Query(default=None, max_length=64),
    limit: int = Query(default=50, ge=1, le=200),
) -> list[NoticeOut]:
    recipient_kind, recipient_id = inbox_of(principal)
    async with _pool(request).acquire() as conn:
        rows = await conn.fetch(
            """SELECT n.notice_id, n.kind, n.reason, n.notice_no, n.subject_kind, n.subject_id,
                      n.project_id, n.enterprise_id, n.district_code, n.title_zh, n.body_zh,
                      n.title_en, n.body_en, n.issued_at, n.correlation_id, c.cc, c.read_at
                 FROM notice_copies c JOIN notices n USING (notice_id)
                WHERE c.recipient_kind = $1 AND c.recipient_id = $2
                  AND ($3::text IS NULL OR n.kind = $3)
                  AND (NOT $4 OR c.read_at IS NULL)
                  AND ($5::text IS NULL OR n.project_id = $5)
                ORDER BY c.created_at DESC, n.notice_id LIMIT $6""",
            recipient_kind,
            recipient_id,
            kind,
            unread,
            project_id,
            limit,
        )
    return [NoticeOut(**dict(r)) for r in rows]


class ReadOut(BaseModel):
    notice_id: str
    read_at: datetime


@router.post("/notices/{notice_id}/read", summary="标记已读 Mark the caller's copy read")
async def mark_read(request: Request, principal: CurrentPrincipal, notice_id: NoticeId) -> ReadOut:
    recipient_kind, recipient_id = inbox_of(principal)
    async with _pool(request).acquire() as conn:
        read_at = await conn.fetchval(
            """UPDATE notice_copies SET read_at = coalesce(read_at, now())
                WHERE notice_id = $1 AND recipient_kind = $2 AND recipient_id = $3
               RETURNING read_at""",
            notice_id,
            recipient_kind,
            recipient_id,
        )
    if read_at is None:
        raise NotFound("notice_not_found", Message("通知不存在", "no such notice in your inbox"))
    return ReadOut(notice_id=notice_id, read_at=read_at)


def _may_see_history(principal: Principal, notice: asyncpg.Record, copies: list[Any]) -> bool:
    if principal.role is Role.CITY_OFFICE:
        return True
    if principal.role is Role.DISTRICT_OFFICE:
        return bool(notice["district_code"] == principal.district_code)
    try:
        mine = inbox_of(principal)
    except Forbidden:
        return False
    return any((c["recipient_kind"], c["recipient_id"]) == mine for c in copies)


@router.get("/notices/{notice_id}", summary="通知及投递记录 A notice with its delivery history")
async def notice_history(
    request: Request, principal: CurrentPrincipal, notice_id: NoticeId
) -> dict[str, Any]:
    async with _pool(request).acquire() as conn:
        notice = await conn.fetchrow(
            """SELECT notice_id, rule_id, kind, reason, notice_no, subject_kind, subject_id,
                      project_id, enterprise_id, district_code, title_zh, body_zh, title_en,
                      body_en, cause_event_id, cause_type, correlation_id, issued_at
                 FROM notices WHERE notice_id = $1""",
            notice_id,
        )
        copies = (
            await conn.fetch(
                """SELECT copy_id, recipient_kind, recipient_id, cc, read_at, created_at
                     FROM notice_copies WHERE notice_id = $1 ORDER BY cc, recipient_kind""",
                notice_id,
            )
            if notice
            else []
        )
        # Someone who may not see it learns nothing, not even that it exists.
        if notice is None or not _may_see_history(principal, notice, copies):
            raise NotFound("notice_not_found", Message("通知不存在", "no such notice"))
        deliveries = await conn.fetch(
            """SELECT d.delivery_id, d.copy_id, d.channel, d.address, d.status, d.attempts,
                      d.last_error, d.delivered_at, d.failed_at, d.created_at,
                      coalesce(json_agg(json_build_object(
                          'attempt', a.attempt_no, 'started_at', a.started_at,
                          'finished_at', a.finished_at, 'outcome', a.outcome,
                          'detail', a.detail) ORDER BY a.attempt_no)
                        FILTER (WHERE a.attempt_no IS NOT NULL), '[]') AS attempts_log
                 FROM deliveries d LEFT JOIN delivery_attempts a USING (delivery_id)
                WHERE d.notice_id = $1 GROUP BY d.delivery_id ORDER BY d.created_at""",
            notice_id,
        )
    by_copy: dict[str, list[dict[str, Any]]] = {}
    for d in deliveries:
        item = dict(d)
        item["attempts_log"] = _json(item["attempts_log"])
        by_copy.setdefault(item.pop("copy_id"), []).append(item)
    out = dict(notice)
    office = principal.role in (Role.CITY_OFFICE, Role.DISTRICT_OFFICE)
    mine = None if office else inbox_of(principal)
    out["recipients"] = [
        {
            **dict(c),
            "inbox": "in_app",
            # Offices see every delivery; a recipient sees only its own addresses and results.
            "deliveries": by_copy.get(c["copy_id"], [])
            if office or (c["recipient_kind"], c["recipient_id"]) == mine
            else [],
        }
        for c in copies
    ]
    return out


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


@router.get("/criticisms", summary="通报批评登记 The register of circulated criticisms")
async def list_criticisms(
    request: Request,
    principal: Office,
    year: int | None = Query(default=None, ge=2000, le=2100),
    limit: int = Query(default=100, ge=1, le=500),
) -> list[dict[str, Any]]:
    """District offices see their district's, enterprises those addressed to them, the city all."""
    if principal.role is Role.DISTRICT_OFFICE:
        scope, arg = "n.district_code = $1", principal.district_code
    elif principal.role is Role.ENTERPRISE:
        scope, arg = "n.enterprise_id = $1", principal.enterprise_id
    else:
        scope, arg = "$1::text IS NULL", None
    async with _pool(request).acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT n.notice_id, n.notice_no, n.reason, n.subject_kind, n.subject_id,
                       n.project_id, n.enterprise_id, n.district_code, n.title_zh, n.title_en,
                       n.issued_at
                  FROM notices n
                 WHERE n.kind = 'criticism' AND {scope}
                   AND ($2::int IS NULL
                        OR extract(year FROM n.issued_at AT TIME ZONE 'Asia/Shanghai') = $2)
                 ORDER BY n.issued_at DESC, n.notice_no LIMIT $3""",
            arg,
            year,
            limit,
        )
    return [dict(r) for r in rows]


# -- endpoints ----------------------------------------------------------------------------------

EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    recipient_kind: Literal["enterprise", "manager", "district", "city"] = Field(
        description="收件方: enterprise, manager (a project's manager), district, city"
    )
    recipient_id: str = Field(
        min_length=1,
        max_length=64,
        description="enterprise id, project id (manager), district code, or 'city'",
    )
    channel: Literal["email", "webhook"]
    address: str = Field(min_length=3, max_length=500, description="e-mail address or https URL")


class EndpointOut(BaseModel):
    endpoint_id: str
    recipient_kind: str
    recipient_id: str
    channel: str
    address: str
    created_at: datetime
    webhook_secret: str | None = Field(
        default=None, description="签名密钥 Shown once, at registration, for webhooks"
    )


def _signing_key(request: Request) -> bytes:
    key: bytes = request.app.state.runtime.extras["webhook_signing_key"]
    return key


async def _check_scope(conn: db.Connection, principal: Principal, body: EndpointIn) -> None:
    refused = Forbidden(
        "not_your_recipient",
        Message("只能为本单位登记通知渠道", "you may register channels only for yourself"),
        field="recipient_id",
    )
    if principal.role is Role.CITY_OFFICE:
        if body.recipient_kind != "city" or body.recipient_id != CITY:
            raise refused
    elif principal.role is Role.DISTRICT_OFFICE:
        if body.recipient_kind != "district" or body.recipient_id != principal.district_code:
            raise refused
    elif body.recipient_kind == "enterprise":
        if body.recipient_id != principal.enterprise_id:
            raise refused
    elif body.recipient_kind == "manager":
        owner = await conn.fetchval(
            "SELECT enterprise_id FROM projects WHERE project_id = $1", body.recipient_id
        )
        if owner is None or owner != principal.enterprise_id:
            raise refused
    else:
        raise refused


async def _check_address(body: EndpointIn, allow_http: bool, allowed: Destinations) -> str:
    address = body.address.strip()
    if body.channel == "email":
        if not EMAIL.fullmatch(address):
            raise InvalidInput(
                "bad_email", Message("邮箱地址格式不正确", "not an e-mail address"), field="address"
            )
        return address
    try:
        url = httpx.URL(address)
        host = url.host  # IDNA decoding happens here and may fail
    except (httpx.InvalidURL, UnicodeError) as exc:
        raise InvalidInput(
            "bad_url", Message("网址格式不正确", "not a URL"), field="address"
        ) from exc
    schemes = ("https", "http") if allow_http else ("https",)
    if url.scheme not in schemes or not host or url.userinfo:
        raise InvalidInput(
            "bad_url",
            Message(
                "回调地址须为 https 网址,且不含用户名密码", "use an https URL without credentials"
            ),
            field="address",
        )
    # Never an internal address (SSRF); checked again at every send, as DNS answers change.
    try:
        await allowed.resolve(host, url.port or (443 if url.scheme == "https" else 80))
    except DestinationRefused as exc:
        raise InvalidInput(
            "webhook_destination_refused",
            Message(
                "回调地址不能指向本机、内网、保留地址或云元数据服务:"
                + destinations.REASONS_ZH.get(exc.reason, exc.reason),
                "the callback URL may not point to loopback, private, reserved or cloud "
                f"metadata addresses: {exc.reason}",
            ),
            field="address",
        ) from exc
    except DestinationUnresolved as exc:
        raise InvalidInput(
            "webhook_host_unresolved",
            Message(
                "回调地址的主机名无法解析,请核对", "the callback URL's host name does not resolve"
            ),
            field="address",
        ) from exc
    return str(url)


@router.post("/endpoints", status_code=201, summary="登记通知渠道 Register an e-mail or webhook")
async def create_endpoint(request: Request, principal: Office, body: EndpointIn) -> EndpointOut:
    settings = request.app.state.runtime.settings
    key = _signing_key(request)
    if body.channel == "webhook" and not key:
        raise Unavailable(
            "webhooks_not_configured",
            Message("系统未配置回调签名密钥", "webhook signing is not configured"),
        )
    address = await _check_address(
        body,
        getattr(settings, "webhook_allow_http", False),
        request.app.state.runtime.extras["webhook_destinations"],
    )
    endpoint_id = str(uuid.uuid4())
    async with _pool(request).acquire() as conn, conn.transaction():
        await _check_scope(conn, principal, body)
        row = await conn.fetchrow(
            """INSERT INTO endpoints (endpoint_id, recipient_kind, recipient_id, channel, address,
                      created_by, owner_enterprise_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (recipient_kind, recipient_id, channel, address)
                  WHERE disabled_at IS NULL DO NOTHING
               RETURNING endpoint_id, recipient_kind, recipient_id, channel, address, created_at""",
            endpoint_id,
            body.recipient_kind,
            body.recipient_id,
            body.channel,
            address,
            principal.subject,
            principal.enterprise_id if principal.role is Role.ENTERPRISE else None,
        )
    if row is None:
        # The secret was shown when it was registered; to get a new one, disable and register again.
        raise DomainError(
            "endpoint_exists",
            Message("该通知渠道已登记", "this channel is already registered"),
            field="address",
        )
    out = EndpointOut(**dict(row))
    if out.channel == "webhook":
        out.webhook_secret = signing.endpoint_secret(key, out.endpoint_id)
    return out


def _own_recipients(principal: Principal) -> tuple[str, str | None]:
    if principal.role is Role.CITY_OFFICE:
        return "recipient_kind = 'city'", None
    if principal.role is Role.DISTRICT_OFFICE:
        return "recipient_kind = 'district' AND recipient_id = $1", principal.district_code
    return (
        """(recipient_kind = 'enterprise' AND recipient_id = $1)
           OR (recipient_kind = 'manager' AND owner_enterprise_id = $1)""",
        principal.enterprise_id,
    )


@router.get("/endpoints", summary="本单位的通知渠道 The caller's registered channels")
async def list_endpoints(request: Request, principal: Office) -> list[EndpointOut]:
    where, arg = _own_recipients(principal)
    async with _pool(request).acquire() as conn:
        rows = await conn.fetch(
            f"""SELECT endpoint_id, recipient_kind, recipient_id, channel, address, created_at
                  FROM endpoints WHERE disabled_at IS NULL AND ($1::text IS NULL OR TRUE)
                   AND ({where}) ORDER BY created_at""",
            arg,
        )
    return [EndpointOut(**dict(r)) for r in rows]


@router.delete("/endpoints/{endpoint_id}", status_code=204, summary="停用通知渠道 Disable")
async def disable_endpoint(
    request: Request, principal: Office, endpoint_id: Annotated[str, Path(max_length=64)]
) -> None:
    where, arg = _own_recipients(principal)
    async with _pool(request).acquire() as conn:
        done = await conn.fetchval(
            f"""UPDATE endpoints SET disabled_at = now()
                 WHERE endpoint_id = $2 AND disabled_at IS NULL
                   AND ($1::text IS NULL OR TRUE) AND ({where})
                RETURNING endpoint_id""",
            arg,
            endpoint_id,
        )
    if done is None:
        raise NotFound("endpoint_not_found", Message("通知渠道不存在", "no such endpoint"))
