"""The campaign's own figures in full (issue 16), on the offices' workspace: the city office's
table by district, each district's table by enterprise (also the district office's own), for a
campaign chosen from those seen (or all time), and their CSV (Excel BOM). Refusals from
`policy.figures_refusal`; the public subset is the board's (`board_figures`). The same as JSON:
`figures_http` (/api/v1/figures)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from runtime import workspace
from runtime.errors import Message
from runtime.web_session import CurrentSession
from services.exposure.domain import figures
from services.exposure.entrypoints import policy
from services.exposure.entrypoints.deps import Deps
from services.exposure.entrypoints.figures_common import ALL, csv_response, load
from services.exposure.entrypoints.workspace_pages import BASE, env, page, render

router = APIRouter(include_in_schema=False)


async def _figures(
    request: Request, session: CurrentSession, deps: Deps, campaign: str | None,
    district: str | None, *, csv: bool,
) -> Response:  # fmt: skip
    p = page(request, session, deps)
    principal = session.principal
    district = policy.figures_scope(principal, district)
    refusal = policy.figures_refusal(principal, district)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    if district is not None and len(district) > 16:
        return workspace.refused(env, p, Message("区县不存在", "no such district"), 404)
    loaded = await load(deps, campaign, district)
    if isinstance(loaded, Message):
        return workspace.refused(env, p, loaded, 404)
    window, campaigns, rows, by = loaded.window, loaded.campaigns, loaded.rows, loaded.by
    if csv:
        return csv_response(
            figures.figures_csv(window, rows, by, public=False),
            f"wuye-campaign-figures-by-{by}.csv",
        )
    async with deps.board_queries() as board:
        names = {d["district_code"]: d["district_name"] for d in await board.districts()}
    query = {"campaign": window.campaign_id or ALL}
    if district is not None:
        query["district"] = district
    return render(
        p, "exposure_figures.html", window=window, campaigns=campaigns, rows=rows, by=by,
        district=district, district_name=names.get(district or "", district),
        groups=figures.GROUPS, query=query, ALL=ALL,
        is_city=policy.sees_city_figures(principal),
    )  # fmt: skip


@router.get(BASE + "figures", response_class=HTMLResponse)
async def figures_page(
    request: Request, session: CurrentSession, deps: Deps,
    campaign: str | None = None, district: str | None = None,
) -> Response:  # fmt: skip
    return await _figures(request, session, deps, campaign, district, csv=False)


@router.get(BASE + "figures.csv")
async def figures_export(
    request: Request, session: CurrentSession, deps: Deps,
    campaign: str | None = None, district: str | None = None,
) -> Response:  # fmt: skip
    return await _figures(request, session, deps, campaign, district, csv=True)
