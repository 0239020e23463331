"""HTTP API of the project registry, checklist templates and activity records (a translator).

Scope comes from the token: the city office sees and registers everything, a district office its
own district, an enterprise its own projects; an out-of-scope project answers 404 like a missing
one. Districts, enterprises and templates are public facts for every authenticated role.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic_core import PydanticCustomError

from runtime.auth import Principal, Role
from runtime.errors import Message, NotFound
from runtime.http import CurrentPrincipal, ErrorResponse, FieldError, error_response, require
from runtime.idempotency import IdempotencyKey
from services.inspections.adapters import repository
from services.inspections.domain import policy
from services.inspections.domain import registry as rules
from services.inspections.service import registry

router = APIRouter(prefix="/api/v1", tags=["registry"])

Office = Annotated[Principal, require(Role.DISTRICT_OFFICE, Role.CITY_OFFICE)]
CityOffice = Annotated[Principal, require(Role.CITY_OFFICE)]
Enterprise = Annotated[Principal, require(Role.ENTERPRISE)]
ProjectId = Annotated[str, PathParam(min_length=1, max_length=64)]

MAX_IMPORT_BYTES = 16 * 1024 * 1024  # ~5,000 projects are about 2 MB
_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (403, 404, 409, 422)
}
_ID = re.compile(rules.ID_PATTERN)
_MEDIA_TYPES: dict[str, rules.FileFormat] = {
    "application/json": "json",
    "text/csv": "csv",
    "application/csv": "csv",
}


def _text(name: str) -> Any:
    return Field(min_length=1, max_length=rules.MAX_LENGTH[name])


class ProjectChangeIn(BaseModel):
    """A project's facts (PUT replaces them all); the project id is in the path."""

    model_config = ConfigDict(extra="forbid")
    project_name: str = _text("project_name")
    address: str = _text("address")
    district_code: str = Field(pattern=rules.DISTRICT_CODE_PATTERN, examples=["120101"])
    district_name: str = _text("district_name")
    enterprise_id: str = Field(pattern=rules.ID_PATTERN)
    enterprise_name: str = _text("enterprise_name")
    service_grade: str = Field(
        min_length=1, max_length=rules.MAX_LENGTH["service_grade"], examples=["一级"]
    )


class ProjectIn(ProjectChangeIn):
    project_id: str = Field(pattern=rules.ID_PATTERN, examples=["P-120101-0001"])


class ProjectOut(BaseModel):
    project_id: str
    project_name: str
    address: str
    district_code: str
    district_name: str
    enterprise_id: str
    enterprise_name: str
    service_grade: str


class ProjectWriteOut(ProjectOut):
    change: Literal["created", "updated", "unchanged"] = Field(
        description="unchanged: the facts were already these; no event was emitted"
    )


class ImportOut(BaseModel):
    created: int
    updated: int
    unchanged: int
    total: int


class DistrictOut(BaseModel):
    district_code: str
    district_name: str
    project_count: int
    enterprise_count: int


class EnterpriseOut(BaseModel):
    enterprise_id: str
    enterprise_name: str
    project_count: int
    district_codes: list[str]


class TemplateItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(pattern=rules.ITEM_ID_PATTERN)
    group: str = Field(min_length=1, max_length=64)
    weight: float = Field(gt=0, le=1000, allow_inf_nan=False)
    severity: Literal["general", "serious", "urgent"]
    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template_id: str = Field(pattern=rules.TEMPLATE_ID_PATTERN)
    version: int = Field(ge=1, le=2**31 - 1, description="must be the latest stored version + 1")
    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    pass_mark: float = Field(ge=0, le=100, allow_inf_nan=False)
    items: list[TemplateItemIn] = Field(min_length=1, max_length=rules.MAX_ITEMS)


class TemplateSummaryOut(BaseModel):
    template_id: str
    versions: list[int]
    latest_version: int
    latest: dict[str, Any]


PhotoRef = Annotated[str, Field(pattern=rules.PHOTO_REF_PATTERN)]
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date_only(value: object) -> object:
    # pydantic alone would also take 1313798400 or "2011-08-19T00:00:00" as a date.
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise PydanticCustomError("date_parsing", "Input should be a date like 2011-08-19")


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["cultural", "publicity"] = Field(
        description="cultural: 社区文化活动 (三(一)3); publicity: 宣传活动 (三(二))"
    )
    title: str = Field(min_length=1, max_length=200)
    held_on: IsoDate = Field(description="活动日期, e.g. 2011-08-20")
    participants: int = Field(ge=0, le=1_000_000)
    description: str = Field(default="", max_length=rules.MAX_DESCRIPTION)
    photo_refs: list[PhotoRef] = Field(default_factory=list, max_length=rules.MAX_PHOTOS)


class ActivityOut(BaseModel):
    record_id: str
    project_id: str
    kind: str
    title: str
    held_on: date
    participants: int
    description: str
    photo_refs: list[str]
    recorded_by: str
    recorder_enterprise_id: str
    recorded_at: datetime


def _actor(p: Principal) -> policy.Actor:
    return policy.Actor(
        role=p.role.value, district_code=p.district_code, enterprise_id=p.enterprise_id
    )


def _now(request: Request) -> datetime:
    """Business time from the service's clock (simulated in the demo)."""
    clock = getattr(request.app.state.runtime, "clock", None)
    return clock.now() if clock is not None else datetime.now(UTC)


def _unprocessable(exc: rules.Invalid) -> JSONResponse:
    zh, en = exc.zh, exc.en
    if exc.total > len(exc.problems):
        zh += f"(共 {exc.total} 处问题,仅列出前 {len(exc.problems)} 处)"
        en += f" ({exc.total} problems, the first {len(exc.problems)} listed)"
    fields = [FieldError(field=p.field, reason=p.zh, reason_en=p.en) for p in exc.problems]
    return error_response(422, exc.code, Message(zh, en), fields)


def _facts(values: dict[str, Any]) -> rules.ProjectFacts:
    facts, problems = rules.check_project(values)
    if facts is None:
        raise rules.InvalidProject(problems)
    return facts


# --- projects ---------------------------------------------------------------------------------


@router.get("/projects/{project_id}", response_model=ProjectOut, responses=_ERRORS)
async def get_project(
    project_id: ProjectId, request: Request, principal: CurrentPrincipal
) -> dict[str, Any]:
    project = await registry.get_project(
        request.app.state.runtime.pool, project_id, _actor(principal)
    )
    return project.__dict__


@router.post("/projects", status_code=201, response_model=ProjectWriteOut, responses=_ERRORS)
async def post_project(
    body: ProjectIn, request: Request, principal: Office
) -> dict[str, Any] | JSONResponse:
    """Register a project: the city office anywhere, a district office in its own district."""
    try:
        facts = _facts(body.model_dump())
    except rules.Invalid as exc:
        return _unprocessable(exc)
    project = await registry.create_project(
        request.app.state.runtime.pool, facts, _actor(principal), _now(request)
    )
    return {**project.__dict__, "change": "created"}


@router.put("/projects/{project_id}", response_model=ProjectWriteOut, responses=_ERRORS)
async def put_project(
    project_id: ProjectId, body: ProjectChangeIn, request: Request, principal: Office
) -> dict[str, Any] | JSONResponse:
    """Replace a project's facts; a district office may not move it out of its district."""
    if not _ID.fullmatch(project_id):  # no such project can exist
        raise NotFound(
            "project_not_found",
            Message(f"物业项目 {project_id} 不存在", f"project {project_id} does not exist"),
        )
    try:
        facts = _facts({**body.model_dump(), "project_id": project_id})
    except rules.Invalid as exc:
        return _unprocessable(exc)
    project, change = await registry.update_project(
        request.app.state.runtime.pool, facts, _actor(principal), _now(request)
    )
    return {**project.__dict__, "change": change}


_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "A registry file: JSON {projects: [...]} or CSV (UTF-8, header row).",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["projects"],
                    "properties": {
                        "projects": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/ProjectIn"},
                        }
                    },
                }
            },
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/registry/import",
    response_model=ImportOut,
    responses={**_ERRORS, 413: {"model": ErrorResponse}, 415: {"model": ErrorResponse}},
    openapi_extra=_IMPORT_BODY,
)
async def import_registry(request: Request, principal: CityOffice) -> dict[str, int] | JSONResponse:
    """Import a registry file, all or nothing: any bad row refuses the whole file (422)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = _MEDIA_TYPES.get(media_type)
    if fmt is None:
        return error_response(
            415,
            "unsupported_media_type",
            Message(
                "请以 application/json 或 text/csv 提交登记文件",
                "send the registry file as application/json or text/csv",
            ),
        )
    data = bytearray()
    async for chunk in request.stream():
        data.extend(chunk)
        if len(data) > MAX_IMPORT_BYTES:
            return error_response(
                413,
                "file_too_large",
                Message(
                    f"登记文件不能超过 {MAX_IMPORT_BYTES // (1024 * 1024)} MB",
                    f"the registry file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MB",
                ),
            )
    try:
        projects = rules.parse_projects(bytes(data), fmt)
    except rules.Invalid as exc:
        return _unprocessable(exc)
    counts = await registry.import_projects(request.app.state.runtime.pool, projects, _now(request))
    return {**counts, "total": len(projects)}


@router.get("/districts", response_model=list[DistrictOut])
async def get_districts(request: Request, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    async with request.app.state.runtime.pool.acquire() as conn:
        return await repository.list_districts(conn)


@router.get("/enterprises", response_model=list[EnterpriseOut])
async def get_enterprises(
    request: Request,
    principal: CurrentPrincipal,
    district_code: Annotated[str | None, Query(pattern=rules.DISTRICT_CODE_PATTERN)] = None,
) -> list[dict[str, Any]]:
    """Enterprises with their project counts; `district_code` keeps those serving that district."""
    async with request.app.state.runtime.pool.acquire() as conn:
        return await repository.list_enterprises(conn, district_code=district_code)


# --- checklist templates ----------------------------------------------------------------------


@router.get("/templates", response_model=list[TemplateSummaryOut])
async def get_templates(request: Request, principal: CurrentPrincipal) -> list[dict[str, Any]]:
    """Each template's latest version (full body) and the list of its versions."""
    async with request.app.state.runtime.pool.acquire() as conn:
        templates = await repository.list_templates(conn)
    return [{**t, "latest_version": t["versions"][-1]} for t in templates]


@router.get(
    "/templates/{template_id}/versions/{version}",
    response_model=dict[str, Any],
    responses=_ERRORS,
)
async def get_template_version(
    template_id: Annotated[str, PathParam(max_length=64)],
    version: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    request: Request,
    principal: CurrentPrincipal,
) -> dict[str, Any]:
    async with request.app.state.runtime.pool.acquire() as conn:
        body = await repository.get_template_body(conn, template_id, version)
    if body is None:
        raise NotFound(
            "template_not_found",
            Message(
                f"检查模板 {template_id} 第 {version} 版不存在",
                f"template {template_id} v{version} does not exist",
            ),
        )
    return body


@router.post("/templates", status_code=201, response_model=dict[str, Any], responses=_ERRORS)
async def post_template(
    body: TemplateIn, request: Request, response: Response, principal: CityOffice
) -> dict[str, Any] | JSONResponse:
    """Publish a new version (latest + 1). A published version is never edited (409);
    sending the same version with the same body again answers 200."""
    try:
        stored, created = await registry.publish_template(
            request.app.state.runtime.pool, body.model_dump()
        )
    except rules.Invalid as exc:
        return _unprocessable(exc)
    if not created:
        response.status_code = 200
    return stored


# --- activity records -------------------------------------------------------------------------


@router.post(
    "/projects/{project_id}/activities",
    status_code=201,
    response_model=ActivityOut,
    responses=_ERRORS,
)
async def post_activity(
    project_id: ProjectId,
    body: ActivityIn,
    request: Request,
    response: Response,
    principal: Enterprise,
    idempotency_key: IdempotencyKey = None,
) -> dict[str, Any] | JSONResponse:
    """Record a community cultural or publicity activity (the project's own enterprise only)."""
    cmd = registry.RecordActivity(
        project_id=project_id,
        kind=body.kind,
        title=body.title,
        held_on=body.held_on,
        participants=body.participants,
        description=body.description,
        photo_refs=tuple(body.photo_refs),
        idempotency_key=idempotency_key,
    )
    try:
        record, created = await registry.record_activity(
            request.app.state.runtime.pool,
            cmd,
            _actor(principal),
            principal.subject,
            _now(request),
        )
    except rules.Invalid as exc:
        return _unprocessable(exc)
    if not created:
        response.status_code = 200
    return record


@router.get(
    "/projects/{project_id}/activities", response_model=list[ActivityOut], responses=_ERRORS
)
async def get_activities(
    project_id: ProjectId,
    request: Request,
    principal: CurrentPrincipal,
    kind: Literal["cultural", "publicity"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    """A project's activity records, latest first."""
    return await registry.list_activities(
        request.app.state.runtime.pool, project_id, _actor(principal), kind=kind, limit=limit
    )
