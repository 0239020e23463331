"""The public board's data as JSON under /api/v1/board: what the board's pages show (published
cases, enterprises' grades and pages, the statistics), for the city's other sites and apps. No
sign-in; the same rules as the pages (only published cases, no personal data)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from runtime.errors import Message, NotFound
from services.exposure.domain import grades
from services.exposure.entrypoints import board as board_pages
from services.exposure.entrypoints.deps import Deps
from services.exposure.entrypoints.figures_common import (
    MAX_ID,
    PublicFiguresOut,
    figures_body,
    load,
)

api = APIRouter(prefix="/api/v1/board", tags=["public board"])


@api.get("/cases", summary="公开曝光列表 Published cases (filters as on the board)")
async def api_cases(
    deps: Deps,
    district: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    enterprise: str | None = Query(default=None, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$"),
    status: Literal["published", "rectified"] | None = None,
    period: str | None = Query(default=None, pattern=board_pages.PERIOD),
    page: int = Query(default=1, ge=1, le=10_000),
) -> dict[str, Any]:
    q = board_pages.BoardQuery(
        district=district, enterprise=enterprise, status=status, period=period, page=page
    )
    async with deps.board_queries() as queries:
        total, rows = await board_pages.published_cases(queries, q)
    return {"page": page, "page_size": board_pages.PAGE_SIZE, "total": total, "items": rows}


@api.get("/cases/{case_id}", summary="公开曝光详情 One published case with its timeline")
async def api_case(deps: Deps, case_id: Annotated[str, Field(max_length=64)]) -> dict[str, Any]:
    async with deps.board_queries() as queries:
        case = await queries.published_case(case_id)
    if case is None:
        raise NotFound("case_not_found", Message("未找到该曝光信息", "no such exposure case"))
    return case


@api.get("/enterprises/{enterprise_id}", summary="企业 An enterprise: grade, projects, cases")
async def api_enterprise(
    deps: Deps, enterprise_id: Annotated[str, Field(max_length=64)]
) -> dict[str, Any]:
    async with deps.board_queries() as queries:
        found = await board_pages.enterprise_view(queries, enterprise_id)
    if found is None:
        raise NotFound("enterprise_not_found", Message("未找到该企业", "no such enterprise"))
    return found


@api.get(
    "/grades",
    summary="红黑榜 Grades of every enterprise (红榜 honour roll: green; 黑榜 black list: red) and the formula",
)
async def api_grades(deps: Deps) -> dict[str, Any]:
    async with deps.board_queries() as queries:
        enterprises = await queries.enterprise_grades()
    return {
        "formula_zh": grades.FORMULA_ZH,
        "formula_en": grades.FORMULA_EN,
        "enterprises": enterprises,
    }


@api.get("/stats", summary="活动统计 Campaign statistics by district and by enterprise")
async def api_stats(deps: Deps) -> dict[str, Any]:
    async with deps.board_queries() as queries:
        return {
            "by_district": await queries.district_stats(),
            "by_enterprise": await queries.enterprise_stats(),
        }


@api.get("/draws", summary="双随机抽查公示 Random patrol draws, as the board's /draws shows them")
async def api_draws(deps: Deps) -> dict[str, Any]:
    """The published draws (newest first): what the board's page shows, no more. Inspectors by
    staff id only (their names and conflicts stay with the inspections service)."""
    async with deps.board_queries() as queries:
        draws = await queries.draws(board_pages.DRAWS_SHOWN)
    return {"draws": [board_pages.public_draw(d) for d in draws]}


@api.get(
    "/figures",
    response_model=PublicFiguresOut,
    summary="专项行动数据（公开部分） The campaign figures, public subset (as the board's /figures)",
)
async def api_figures(
    deps: Deps,
    campaign: str | None = Query(
        default=None,
        max_length=MAX_ID,
        description="专项行动编号，`all` 为全部时间；缺省为最近的专项行动 "
        "Campaign id, `all` for all time; default: the latest campaign",
    ),
    district: str | None = Query(
        default=None,
        pattern=r"^[0-9]{6}$",
        description="区划代码：按企业列出该区县的数据；缺省按区县 "
        "District code: its enterprises' figures; default: by district",
    ),
) -> dict[str, object]:
    """The columns and numbers of the board's /figures page and /figures.csv, nothing more
    (self-inspections, activity plans and unpublished cases stay with the offices). Rates are
    fractions 0-1 (the page and the CSV show percent), null when nothing was due."""
    loaded = await load(deps, campaign, district)
    if isinstance(loaded, Message):
        raise NotFound("campaign_not_found", loaded)
    return figures_body(loaded, district, public=True)
