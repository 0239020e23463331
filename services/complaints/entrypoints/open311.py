"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) alongside the native API, so
existing civic clients can file and read complaints. See docs/open311.md for the mapping.

Translators only: filing goes through the same `service.intake.file` as the native API (channel
"open311"), so events and SLA clocks are identical. Responses are JSON (`.json`) or XML (`.xml`);
errors use the spec's shape, `[{"code": 400, "description": "中文 / English"}]`, never the
platform's own error body. Public reads carry no personal data: no contact, no owner text, no
owner-supplied address or media. The wire shapes (JSON/XML, errors, representations) are in
`open311_wire`.

Kept whole: the GeoReport v2 routes are one published interface and change together with
docs/open311.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import math
import re
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from fastapi.routing import APIRoute
from starlette.datastructures import UploadFile
from starlette.routing import Match

from runtime import attachments, idempotency
from runtime.auth import Principal, Role
from runtime.errors import InvalidInput
from runtime.http import RequestTrace
from runtime.ratelimit import client_key, limiters, retry_after_header
from services.complaints.adapters import media_fetch
from services.complaints.domain import categories, geo, owner_input
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.entrypoints import forms, open311_wire
from services.complaints.entrypoints.deps import ComplaintsDeps, Deps
from services.complaints.service import api_keys, intake, locate
from services.complaints.service.ports import ApiKey

router = APIRouter(prefix="/open311/v2", tags=["open311"])

DEFAULT_WINDOW = timedelta(days=90)  # GET requests without dates: the last 90 days
MAX_WINDOW = timedelta(days=366)  # a longer start_date..end_date range is refused (docs/open311.md)
MAX_FORM_BYTES = 64 * 1024
# multipart with `media` photos: as many as a complaint may have, each at the pipeline's limit
MAX_MULTIPART_BYTES = (
    attachments.DEFAULT_LIMITS.max_count * attachments.DEFAULT_LIMITS.max_bytes + MAX_FORM_BYTES
)
MAX_RESULTS = 1000  # the spec's ceiling for one GET requests answer
MAX_ID = 64  # project ids and ticket numbers; longer is refused, never truncated
ATTRIBUTE = re.compile(r"attribute\[([A-Za-z0-9_-]{1,64})\]")


# --- helpers --------------------------------------------------------------------------------------


def _w3_param(name: str, raw: str | None) -> datetime | None:
    if raw is None or not raw.strip():
        return None
    try:
        moment = datetime.fromisoformat(raw.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise open311_wire.Open311Error(
            400,
            f"{name} 须为带时区的 W3C 日期时间，如 2026-03-02T09:00:00+08:00",
            f"{name} must be a W3C datetime with a time zone, e.g. 2026-03-02T09:00:00Z",
        )
    if not 2000 <= moment.year <= 2100:  # also keeps window arithmetic and the database safe
        raise open311_wire.Open311Error(
            400, f"{name} 须在 2000 至 2100 年之间", f"{name} must lie between 2000 and 2100"
        )
    return moment


def _csv(raw: str | None) -> list[str]:
    return [p.strip() for p in (raw or "").split(",") if p.strip()]


async def _client(deps: ComplaintsDeps, api_key: str | None) -> tuple[str, ApiKey | None]:
    """The client application behind an API key and its stored key: keys issued with
    `python -m services.complaints.apikeys` (hashed in the database, revocable, with a rate),
    else the older keys configured as SHA-256 hashes (OPEN311_API_KEYS={"client-id": "<sha256
    hex>"}). The service never holds a key itself."""
    if api_key is None or not api_key.strip():
        raise open311_wire.Open311Error(400, "缺少 api_key", "api_key is required")
    stored = await api_keys.holder(deps.units, api_key)
    if stored is not None:
        return stored.client_id, stored
    configured = deps.settings.open311_api_keys
    digest = hashlib.sha256(api_key.strip().encode()).hexdigest()
    found = None
    for client_id, expected in configured.items():
        if hmac.compare_digest(digest, expected.strip().lower()):
            found = client_id
    if found is None:
        raise open311_wire.Open311Error(403, "api_key 无效", "invalid api_key")
    return found, None


def _throttle(request: Request, client_id: str, key: ApiKey | None) -> None:
    """Per client application and address, on the shared token buckets (runtime.ratelimit);
    an issued key also has its own rate, for all its addresses together (a minute's worth may
    come at once)."""
    lim = limiters(request)
    if not lim.settings.enabled:
        return
    wait = lim.bucket("open311").check(f"{client_id}|{client_key(request)}")
    if wait is None and key is not None:
        rate = key.rate_per_minute
        own = lim.bucket(f"open311-key:{rate}", burst=rate, per_minute=rate)
        wait = own.check(key.key_id)
    if wait is not None:
        raise open311_wire.Open311Error(
            429,
            "请求过于频繁，请稍后再试",
            "too many requests; please try again later",
            {"Retry-After": retry_after_header(wait)},
        )


def _degrees(form: Any, name: str, limit: float) -> float | None:
    raw = _form_value(form, name)
    if raw is None:
        return None
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise open311_wire.Open311Error(
            400,
            f"{name} 须为 -{limit:g} 至 {limit:g} 之间的十进制度数",
            f"{name} must be decimal degrees between -{limit:g} and {limit:g}",
        )
    return value


def _point(form: Any, datum: geo.Datum) -> geo.Point | None:
    """The form's lat/long as a WGS-84 point (converted from the configured datum), or None."""
    lat, lng = _degrees(form, "lat", 90), _degrees(form, "long", 180)
    if (lat is None) != (lng is None):
        raise open311_wire.Open311Error(400, "lat 与 long 须同时提供", "lat and long come together")
    if lat is None or lng is None:
        return None
    return geo.to_wgs84(geo.Point(lat, lng), datum)


async def _read_form(request: Request) -> tuple[dict[str, str], list[attachments.Upload]]:
    """The POST's fields and its `media` files. The spec's body is form-urlencoded (at most
    MAX_FORM_BYTES); multipart/form-data is also read, for `media` photo files (FixMyStreet's
    upload), capped as the owners' form is. Bytes that are not UTF-8 are refused, never stored
    as U+FFFD."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if kind == "multipart/form-data":
            return await forms.parse_multipart(
                request.headers,
                request.stream(),
                file_field="media",
                max_bytes=MAX_MULTIPART_BYTES,
                max_files=attachments.DEFAULT_LIMITS.max_count,
            )
        if kind != "application/x-www-form-urlencoded":
            raise open311_wire.Open311Error(
                400,
                "请求体须为 application/x-www-form-urlencoded 或 multipart/form-data",
                "the body must be application/x-www-form-urlencoded or multipart/form-data",
            )
        declared = request.headers.get("content-length", "")
        if not declared.isdigit() or int(declared) > MAX_FORM_BYTES:
            raise open311_wire.Open311Error(
                400, f"请求体不能超过 {MAX_FORM_BYTES} 字节", f"at most {MAX_FORM_BYTES} bytes"
            )
        return forms.parse(await request.body()), []
    except forms.InvalidForm as exc:
        raise open311_wire.Open311Error(400, exc.message.zh, exc.message.en) from exc


async def _fetch_media(deps: ComplaintsDeps, url: str) -> bytes:
    settings = deps.settings
    try:
        return await media_fetch.download(
            url,
            allowed=settings.open311_media_url_origins,
            max_bytes=attachments.DEFAULT_LIMITS.max_bytes,
            timeout_s=settings.open311_media_fetch_timeout_s,
        )
    except media_fetch.MediaRefused as exc:
        raise open311_wire.Open311Error(400, exc.message.zh, exc.message.en) from exc


def _category(rules: ComplaintRules, code: str) -> categories.Category:
    category = rules.categories.by_id.get(code)
    if category is None:
        raise open311_wire.Open311Error(
            404, f"没有这个服务类别：{code[:64]}", f"no service {code[:64]!r}"
        )
    return category


def _form_value(form: Any, name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    if isinstance(value, UploadFile):
        raise open311_wire.Open311Error(400, f"{name} 须为文本", f"{name} must be text, not a file")
    text = str(value)
    return text if text.strip() else None


def _answers(form: Any, category: categories.Category) -> dict[str, str | bool]:
    kinds = {q.id: q.kind for q in category.questions}
    answers: dict[str, str | bool] = {}
    for key in form:
        match = ATTRIBUTE.fullmatch(key)
        if match is None:
            continue
        code, raw = match.group(1), _form_value(form, key)
        if raw is None:
            continue
        if kinds.get(code) == "yesno" and raw.strip().lower() in ("true", "false"):
            answers[code] = raw.strip().lower() == "true"
        else:
            answers[code] = raw
    return answers


# --- endpoints ------------------------------------------------------------------------------------


@router.get("/services.{fmt}", summary="GET services: the complaint categories")
async def services(deps: Deps, fmt: str, jurisdiction_id: str | None = None) -> Response:
    async def make() -> open311_wire.Payload:
        return [open311_wire.service(c) for c in deps.rules.categories.by_id.values()]

    return await open311_wire.answer(fmt, "services", "service", make)


@router.get(
    "/services/{service_code}.{fmt}",
    summary="GET service definition: a category's extra questions as attributes",
)
async def service_definition(
    deps: Deps, service_code: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    async def make() -> open311_wire.Payload:
        category = _category(deps.rules, service_code)
        return {
            "service_code": category.id,
            "attributes": [
                open311_wire.attribute(i, q) for i, q in enumerate(category.questions, start=1)
            ],
        }

    return await open311_wire.answer(fmt, "service_definition", "attribute", make)


FORM_FIELDS = {
    "api_key": "客户端应用的 API 密钥 (required)",
    "jurisdiction_id": "ignored: one jurisdiction",
    "service_code": "投诉类别 (required)",
    "address_id": "项目编号 project_id; or give lat/long or address_string",
    "address_string": "地址：无 address_id 且坐标未匹配时按登记地址或项目名称匹配项目；"
    "并作为楼栋单元等位置说明保存 (private; never returned)",
    "lat": "纬度 (decimal degrees; GCJ-02 unless configured WGS-84): the nearest project",
    "long": "经度 (decimal degrees, with lat)",
    "description": f"投诉内容 (required, {owner_input.MAX_DESCRIPTION} chars, plain text)",
    "media_url": "照片链接: fetched only from configured origins (OPEN311_MEDIA_URL_ORIGINS), "
    "else refused; stored as a photo of the complaint",
    "first_name": "联系人 (private)",
    "last_name": "联系人 (private)",
    "phone": "联系电话 (private)",
    "email": "not stored",
    "device_id": "not stored",
    "account_id": "not stored; echoed back",
}


FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["api_key", "service_code", "description"],
    "properties": {
        **{k: {"type": "string", "description": v} for k, v in FORM_FIELDS.items()},
        "attribute[code]": {
            "type": "string",
            "description": "answer to the category's question `code`",
        },
    },
}


@router.post(
    "/requests.{fmt}",
    summary="POST service request (form-encoded, api_key required)",
    openapi_extra={
        "parameters": [
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                "description": (
                    "Optional (an extension): a retry with the same key files nothing new and "
                    "answers 200 with the first request and a new follow_up_token; the same key "
                    "with a different request answers 409."
                ),
            }
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/x-www-form-urlencoded": {"schema": FORM_SCHEMA},
                "multipart/form-data": {
                    "schema": {
                        **FORM_SCHEMA,
                        "properties": {
                            **FORM_SCHEMA["properties"],
                            "media": {
                                "type": "array",
                                "maxItems": attachments.DEFAULT_LIMITS.max_count,
                                "items": {"type": "string", "format": "binary"},
                                "description": "照片 photos (JPEG, PNG, WebP)",
                            },
                        },
                    }
                },
            },
        },
    },
)
async def post_request(request: Request, deps: Deps, trace: RequestTrace, fmt: str) -> Response:
    replayed = False

    async def make() -> open311_wire.Payload:
        nonlocal replayed
        form, uploads = await _read_form(request)
        client_id, stored_key = await _client(deps, _form_value(form, "api_key"))
        _throttle(request, client_id, stored_key)
        code = _form_value(form, "service_code")
        if code is None:
            raise open311_wire.Open311Error(400, "缺少 service_code", "service_code is required")
        rules = deps.rules
        category = rules.categories.by_id.get(code)
        if category is None:
            raise open311_wire.Open311Error(
                400, f"service_code 无效：{code[:64]}", "invalid service_code"
            )
        project_id = _form_value(form, "address_id")
        if project_id is not None and len(project_id) > MAX_ID:
            raise open311_wire.Open311Error(400, "address_id 过长", "address_id is too long")
        point = _point(form, deps.settings.open311_lat_long_datum)
        where = _form_value(form, "address_string")
        if project_id is None:
            if point is None and where is None:
                raise open311_wire.Open311Error(
                    400,
                    "请提供 address_id（项目编号）、lat/long 或 address_string",
                    "give address_id (the project id), lat/long or address_string",
                )
            found = await locate.project_at(
                deps.units,
                point=point,
                address=where,
                radius_m=deps.settings.open311_match_radius_m,
            )
            project_id = found.project.project_id
        description = _form_value(form, "description")
        if description is None:
            raise open311_wire.Open311Error(400, "缺少 description", "description is required")
        media_url = _form_value(form, "media_url")
        if media_url is not None:
            uploads.append(attachments.Upload(await _fetch_media(deps, media_url), "media_url"))
        try:  # the owners' photo pipeline: sniffed type, size, pixels, re-encoded without EXIF
            prepared = await asyncio.to_thread(attachments.prepare_all, uploads, where="media")
        except InvalidInput as exc:
            raise open311_wire.Open311Error(400, exc.message.zh, exc.message.en) from exc
        names = [_form_value(form, n) for n in ("first_name", "last_name")]
        name = " ".join(n.strip() for n in names if n is not None) or None
        key = request.headers.get(idempotency.HEADER)
        if key is not None and not 1 <= len(key) <= idempotency.MAX_LENGTH:
            raise open311_wire.Open311Error(
                400,
                f"{idempotency.HEADER} 须为 1-{idempotency.MAX_LENGTH} 个字符",
                f"{idempotency.HEADER} must have 1 to {idempotency.MAX_LENGTH} characters",
            )
        filed = await intake.file(
            deps.units(),
            rules,
            Principal(f"open311:{client_id}"[:64], Role.OWNER),
            intake.Intake(
                project_id=project_id,
                category=category.id,
                description=description,
                channel="open311",
                contact_name=name,
                contact_phone=_form_value(form, "phone"),
                address=where,
                answers=_answers(form, category),
                photos=prepared,
            ),
            trace=trace,
            idempotency_key=key,
        )
        replayed = filed.replayed
        notice = open311_wire.notice(filed.ticket_no)
        for alert in rules.categories.alerts(filed.complaint):  # what to do now comes first
            notice = f"{alert.advice_zh} / {alert.advice_en};{notice}"
        return [
            {
                # The spec: service_request_id when the request exists at once (it does here),
                # token only when it does not, never both. The ticket number is in the notice
                # and /tokens/{ticket number} still maps it to the id.
                "service_request_id": filed.complaint.complaint_id,
                "service_notice": notice,
                "account_id": _form_value(form, "account_id"),
                # Extension: the owner's private follow-up token (native API and web pages).
                "follow_up_token": filed.token,
            }
        ]

    response = await open311_wire.answer(fmt, "service_requests", "request", make, status=201)
    if replayed:  # the same Idempotency-Key again: the first request, not a new one
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return response


@router.get("/requests.{fmt}", summary="GET service requests (public, no personal data)")
async def get_requests(
    deps: Deps,
    fmt: str,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    jurisdiction_id: str | None = None,
) -> Response:
    async def make() -> open311_wire.Payload:
        rules = deps.rules
        ids = _csv(service_request_id)
        if ids:  # the spec: service_request_id overrides every other parameter
            if len(ids) > MAX_RESULTS:
                raise open311_wire.Open311Error(
                    400,
                    f"service_request_id 最多 {MAX_RESULTS} 个",
                    f"at most {MAX_RESULTS} ids",
                )
            async with deps.units() as uow:
                rows = await uow.public.by_ids(ids)
            return [open311_wire.request(r, rules) for r in rows]
        codes = _csv(service_code)
        unknown = [c for c in codes if c not in rules.categories.by_id]
        if unknown:
            raise open311_wire.Open311Error(
                400, f"service_code 无效：{unknown[0][:64]}", "invalid service_code"
            )
        states = set(_csv(status))
        if not states <= {"open", "closed"}:
            raise open311_wire.Open311Error(
                400, "status 只能是 open 或 closed", "status is open or closed"
            )
        closed = None if len(states) != 1 else states == {"closed"}
        start, end = _w3_param("start_date", start_date), _w3_param("end_date", end_date)
        now = deps.clock.now()
        end = end or (now if start is None else max(now, start))
        start = start or end - DEFAULT_WINDOW
        if start > end:
            raise open311_wire.Open311Error(
                400, "start_date 晚于 end_date", "start_date is after end_date"
            )
        if end - start > MAX_WINDOW:
            raise open311_wire.Open311Error(
                400,
                f"start_date 至 end_date 最长 {MAX_WINDOW.days} 天，请分段查询",
                f"start_date to end_date spans at most {MAX_WINDOW.days} days; query in parts",
            )
        async with deps.units() as uow:
            rows = await uow.public.search(
                service_codes=codes or None,
                closed=closed,
                start=start,
                end=end,
                limit=MAX_RESULTS,
            )
        return [open311_wire.request(r, rules) for r in rows]

    return await open311_wire.answer(fmt, "service_requests", "request", make)


@router.get("/requests/{service_request_id}.{fmt}", summary="GET one service request")
async def get_request(
    deps: Deps, service_request_id: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    async def make() -> open311_wire.Payload:
        async with deps.units() as uow:
            rows = await uow.public.by_ids([service_request_id])
        if not rows:
            raise open311_wire.Open311Error(404, "没有这个投诉", "no such service request")
        return [open311_wire.request(rows[0], deps.rules)]

    return await open311_wire.answer(fmt, "service_requests", "request", make)


@router.get("/tokens/{token}.{fmt}", summary="GET service_request_id from a token (ticket no.)")
async def get_token(
    deps: Deps, token: str, fmt: str, jurisdiction_id: str | None = None
) -> Response:
    async def make() -> open311_wire.Payload:
        complaint_id = None
        if len(token) <= MAX_ID:
            async with deps.units() as uow:
                complaint_id = await uow.public.id_for_ticket(token)
        if complaint_id is None:
            raise open311_wire.Open311Error(404, "没有这个受理编号", "no such token")
        return [{"service_request_id": complaint_id, "token": token}]

    return await open311_wire.answer(fmt, "service_requests", "request", make)


# Registered last: every other path under /open311/v2 answers in the spec's error format, never
# the platform's own 404/405 body.
UNKNOWN_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@router.api_route("/{path:path}", methods=list(UNKNOWN_METHODS), include_in_schema=False)
async def unknown(request: Request, path: str) -> Response:
    fmt = path.rsplit(".", 1)[-1] if "." in path else "json"
    fmt = fmt if fmt in open311_wire.FORMATS else "json"
    allowed = sorted(
        m
        for route in router.routes
        if isinstance(route, APIRoute)
        and route.endpoint is not unknown
        and route.matches(request.scope)[0] is Match.PARTIAL
        for m in (route.methods or ())
        if m != "HEAD"
    )
    if allowed:
        return open311_wire.error_response(
            fmt,
            open311_wire.Open311Error(
                405,
                f"此路径不支持 {request.method[:8]}，可用：{', '.join(allowed)}",
                f"{request.method[:8]} is not allowed here; use {', '.join(allowed)}",
                {"Allow": ", ".join(allowed)},
            ),
        )
    return open311_wire.error_response(
        fmt,
        open311_wire.Open311Error(
            404,
            "没有这个 Open311 资源，见 /open311/v2/services.json",
            "no such Open311 resource; see /open311/v2/services.json",
        ),
    )
