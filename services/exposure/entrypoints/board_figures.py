"""The public subset of the campaign's own figures (issue 16) on the board: per district, or per
enterprise within a district, for a campaign chosen from those seen (or all time), and their CSV
(Excel BOM); the same as JSON is `board_api`'s /api/v1/board/figures. No sign-in; what is public
and why is `domain.figures`' docstring."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from runtime.errors import Message
from services.exposure.domain import figures
from services.exposure.entrypoints.board import Page, error_page, html_page, lang_of
from services.exposure.entrypoints.deps import Deps
from services.exposure.entrypoints.figures_common import ALL, csv_response, load

router = APIRouter(include_in_schema=False, tags=["public board"])
_DISTRICT = re.compile(r"[0-9]{6}")


async def _figures(
    request: Request, deps: Deps, campaign: str | None, district: str | None, *, csv: bool
) -> Response:
    page = Page(request, lang_of(request))
    district = district or None
    if district is not None and not _DISTRICT.fullmatch(district):
        return error_page(
            page, 400, "district：区划代码应为 6 位数字", "district: a six-digit district code"
        )
    loaded = await load(deps, campaign or None, district)
    if isinstance(loaded, Message):
        return error_page(page, 404, loaded.zh, loaded.en)
    window, campaigns, rows, by = loaded.window, loaded.campaigns, loaded.rows, loaded.by
    if csv:
        return csv_response(
            figures.figures_csv(window, rows, by, public=True),
            f"wuye-public-campaign-figures-by-{by}.csv",
        )
    async with deps.board_queries() as board:
        names = {d["district_code"]: d["district_name"] for d in await board.districts()}
    return html_page(
        "figures.html", page, window=window, campaigns=campaigns, rows=rows, by=by,
        district=district, district_name=names.get(district or "", district),
        groups=figures.GROUPS, campaign_param=window.campaign_id or ALL, ALL=ALL,
    )  # fmt: skip


@router.get("/figures", response_class=HTMLResponse)
async def figures_page(
    request: Request, deps: Deps, campaign: str | None = None, district: str | None = None
) -> Response:
    return await _figures(request, deps, campaign, district, csv=False)


@router.get("/figures.csv")
async def figures_export(
    request: Request, deps: Deps, campaign: str | None = None, district: str | None = None
) -> Response:
    return await _figures(request, deps, campaign, district, csv=True)
