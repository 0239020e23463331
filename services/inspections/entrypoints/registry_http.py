"""HTTP API of the project registry (a translator): single projects, the registry import, and
the districts and enterprises derived from the projects.

Scope comes from the token: the city office sees and registers everything, a district office its
own district, an enterprise its own projects; an out-of-scope project answers 404 like a missing
one. Districts and enterprises are public facts for every authenticated role.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import Message, NotFound
from runtime.http import CurrentPrincipal, ErrorResponse, RequestTrace, error_response
from services.inspections.adapters import registry_files
from services.inspections.domain import problems, project_registry
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.entrypoints.registry_responses import ERRORS, ProjectId, unprocessable
from services.inspections.service import registry_handlers

router = APIRouter(prefix="/api/v1", tags=["registry"])

MAX_IMPORT_BYTES = 16 * 1024 * 1024  # ~5,000 projects are about 2 MB
_ID = re.compile(project_registry.ID_PATTERN)
_MEDIA_TYPES: dict[str, registry_files.FileFormat] = {
    "application/json": "json",
    "text/csv": "csv",
    "application/csv": "csv",
}


def _text(name: str) -> Any:
    return Field(min_length=1, max_length=project_registry.MAX_LENGTH[name])


class ProjectChangeIn(BaseModel):
    """A project's facts (PUT replaces them all); the project id is in the path."""

    model_config = ConfigDict(extra="forbid")
    project_name: str = _text("project_name")
    address: str = _text("address")
    district_code: str = Field(pattern=project_registry.DISTRICT_CODE_PATTERN, examples=["120101"])
    district_name: str = _text("district_name")
    enterprise_id: str = Field(pattern=project_registry.ID_PATTERN)
    enterprise_name: str = _text("enterprise_name")
    service_grade: str = Field(
        min_length=1, max_length=project_registry.MAX_LENGTH["service_grade"], examples=["一级"]
    )
    latitude: float | None = Field(
        default=None, ge=-90, le=90, description="纬度, WGS-84 (GPS; not GCJ-02); with longitude"
    )
    longitude: float | None = Field(
        default=None, ge=-180, le=180, description="经度, WGS-84; with latitude"
    )


class ProjectIn(ProjectChangeIn):
    project_id: str = Field(pattern=project_registry.ID_PATTERN, examples=["P-120101-0001"])


class ProjectOut(BaseModel):
    project_id: str
    project_name: str
    address: str
    district_code: str
    district_name: str
    enterprise_id: str
    enterprise_name: str
    service_grade: str
    latitude: float | None = None
    longitude: float | None = None


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


def _facts(values: dict[str, Any]) -> project_registry.ProjectFacts:
    facts, problems = project_registry.check_project(values)
    if facts is None:
        raise project_registry.InvalidProject(problems)
    return facts


# --- projects ---------------------------------------------------------------------------------


@router.get("/projects/{project_id}", response_model=ProjectOut, responses=ERRORS)
async def get_project(
    project_id: ProjectId, principal: CurrentPrincipal, deps: Deps
) -> dict[str, Any]:
    project = await registry_handlers.get_project(
        deps.units(), project_id, policy.actor_of(principal)
    )
    return dataclasses.asdict(project)


@router.post("/projects", status_code=201, response_model=ProjectWriteOut, responses=ERRORS)
async def post_project(
    body: ProjectIn, principal: policy.Office, deps: Deps, trace: RequestTrace
) -> dict[str, Any] | JSONResponse:
    """Register a project: the city office anywhere, a district office in its own district."""
    try:
        facts = _facts(body.model_dump())
    except problems.Invalid as exc:
        return unprocessable(exc)
    project = await registry_handlers.create_project(
        deps.units(), facts, policy.actor_of(principal), trace
    )
    return {**dataclasses.asdict(project), "change": "created"}


@router.put("/projects/{project_id}", response_model=ProjectWriteOut, responses=ERRORS)
async def put_project(
    project_id: ProjectId,
    body: ProjectChangeIn,
    principal: policy.Office,
    deps: Deps,
    trace: RequestTrace,
) -> dict[str, Any] | JSONResponse:
    """Replace a project's facts; a district office may not move it out of its district."""
    if not _ID.fullmatch(project_id):  # no such project can exist
        raise NotFound(
            "project_not_found",
            Message(f"物业项目 {project_id} 不存在", f"project {project_id} does not exist"),
        )
    try:
        facts = _facts({**body.model_dump(), "project_id": project_id})
    except problems.Invalid as exc:
        return unprocessable(exc)
    project, change = await registry_handlers.update_project(
        deps.units(), facts, policy.actor_of(principal), trace
    )
    return {**dataclasses.asdict(project), "change": change}


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
    responses={**ERRORS, 413: {"model": ErrorResponse}, 415: {"model": ErrorResponse}},
    openapi_extra=_IMPORT_BODY,
)
async def import_registry(
    request: Request, principal: policy.CityOffice, deps: Deps, trace: RequestTrace
) -> dict[str, int] | JSONResponse:
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
        projects = registry_files.parse_projects(bytes(data), fmt)
    except problems.Invalid as exc:
        return unprocessable(exc)
    counts = await registry_handlers.import_projects(deps.units(), projects, trace)
    return {**counts, "total": len(projects)}


@router.get("/districts", response_model=list[DistrictOut])
async def get_districts(principal: CurrentPrincipal, deps: Deps) -> list[dict[str, Any]]:
    async with deps.units() as uow:
        return await uow.projects.districts()


@router.get("/enterprises", response_model=list[EnterpriseOut])
async def get_enterprises(
    principal: CurrentPrincipal,
    deps: Deps,
    district_code: Annotated[
        str | None, Query(pattern=project_registry.DISTRICT_CODE_PATTERN)
    ] = None,
) -> list[dict[str, Any]]:
    """Enterprises with their project counts; `district_code` keeps those serving that district."""
    async with deps.units() as uow:
        return await uow.projects.enterprises(district_code=district_code)
