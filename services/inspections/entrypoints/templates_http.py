"""HTTP API of checklist templates (a translator): public facts for every authenticated role,
published by the city office, one immutable version after the other."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import Message, NotFound
from runtime.http import CurrentPrincipal
from services.inspections.domain import problems, templates
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.entrypoints.registry_responses import ERRORS, unprocessable
from services.inspections.service import registry_handlers

router = APIRouter(prefix="/api/v1", tags=["registry"])


class TemplateItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    item_id: str = Field(pattern=templates.ITEM_ID_PATTERN)
    group: str = Field(min_length=1, max_length=64)
    weight: float = Field(gt=0, le=1000, allow_inf_nan=False)
    severity: Literal["general", "serious", "urgent"]
    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)


class TemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    template_id: str = Field(pattern=templates.TEMPLATE_ID_PATTERN)
    version: int = Field(ge=1, le=2**31 - 1, description="must be the latest stored version + 1")
    title_zh: str = Field(min_length=1, max_length=200)
    title_en: str = Field(min_length=1, max_length=200)
    pass_mark: float = Field(ge=0, le=100, allow_inf_nan=False)
    items: list[TemplateItemIn] = Field(min_length=1, max_length=templates.MAX_ITEMS)


class TemplateSummaryOut(BaseModel):
    template_id: str
    versions: list[int]
    latest_version: int
    latest: dict[str, Any]


# --- checklist templates ----------------------------------------------------------------------


@router.get("/templates", response_model=list[TemplateSummaryOut])
async def get_templates(principal: CurrentPrincipal, deps: Deps) -> list[dict[str, Any]]:
    """Each template's latest version (full body) and the list of its versions."""
    async with deps.units() as uow:
        summaries = await uow.templates.summaries()
    return [{**t, "latest_version": t["versions"][-1]} for t in summaries]


@router.get(
    "/templates/{template_id}/versions/{version}",
    response_model=dict[str, Any],
    responses=ERRORS,
)
async def get_template_version(
    template_id: Annotated[str, PathParam(max_length=64)],
    version: Annotated[int, PathParam(ge=1, le=2**31 - 1)],
    principal: CurrentPrincipal,
    deps: Deps,
) -> dict[str, Any]:
    async with deps.units() as uow:
        body = await uow.templates.body(template_id, version)
    if body is None:
        raise NotFound(
            "template_not_found",
            Message(
                f"检查模板 {template_id} 第 {version} 版不存在",
                f"template {template_id} v{version} does not exist",
            ),
        )
    return body


@router.post("/templates", status_code=201, response_model=dict[str, Any], responses=ERRORS)
async def post_template(
    body: TemplateIn, response: Response, principal: policy.CityOffice, deps: Deps
) -> dict[str, Any] | JSONResponse:
    """Publish a new version (latest + 1). A published version is never edited (409);
    sending the same version with the same body again answers 200."""
    try:
        stored, created = await registry_handlers.publish_template(deps.units(), body.model_dump())
    except problems.Invalid as exc:
        return unprocessable(exc)
    if not created:
        response.status_code = 200
    return stored
