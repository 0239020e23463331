"""The public exposure board of the association website (协会网站公开曝光): no sign-in.

Server-rendered, zh-CN first (``?lang=en``), no JavaScript, a strict CSP, everything escaped (Jinja2
autoescape for HTML and Atom). Only published cases appear, and of them only enterprises, projects,
failed items (titles, never the inspector's notes), deadlines, notice numbers and the timeline:
never an owner, a phone number or a complaint text. The JSON API under /api/v1/board
(`board_api`) serves the same data. Every query string is validated: a bad one gets a 400 page (or the API's 422), never 500.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime import workspace
from services.exposure import presentation
from services.exposure.adapters import board_stats
from services.exposure.domain import charts, grades
from services.exposure.entrypoints.deps import Deps
from services.exposure.service.ports import BoardQueries

HERE = Path(__file__).resolve().parents[1]
STYLESHEET = HERE / "static" / "board.css"
CHINA = timezone(timedelta(hours=8))
PAGE_SIZE = 20
DRAWS_SHOWN = 50
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)

router = APIRouter(include_in_schema=False, tags=["public board"])
templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,  # HTML and Atom alike
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# Names come from other services' events: control characters would make the feed invalid XML.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
templates.filters["xmltext"] = lambda value: _NOT_XML.sub("", str(value))
templates.filters["segment"] = lambda value: quote(str(value), safe="")
templates.globals.update(grade_text=presentation.GRADE_TEXT, list_text=presentation.LIST_TEXT)

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
District = Annotated[str, Field(pattern=r"^[0-9]{6}$")]
PERIOD = r"^(19|20)[0-9]{2}(-(0[1-9]|1[0-2]))?$"
Period = Annotated[str, Field(pattern=PERIOD)]
ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class BoardQuery(BaseModel):
    """The list filters, shared by the page, the feed and the JSON API."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    district: District | None = None
    enterprise: Id | None = None
    status: Literal["published", "rectified"] | None = None
    period: Period | None = Field(default=None, description="published in YYYY or YYYY-MM")
    page: int = Field(default=1, ge=1, le=10_000)

    def window(self) -> tuple[datetime | None, datetime | None]:
        if self.period is None:
            return None, None
        year, _, month = self.period.partition("-")
        if month:
            start = datetime(int(year), int(month), 1, tzinfo=CHINA)
            end = datetime(int(year) + (month == "12"), int(month) % 12 + 1, 1, tzinfo=CHINA)
        else:
            start = datetime(int(year), 1, 1, tzinfo=CHINA)
            end = datetime(int(year) + 1, 1, 1, tzinfo=CHINA)
        return start, end

    def params(self, **override: Any) -> dict[str, str]:
        values = {**self.model_dump(exclude_none=True), **override}
        return {k: str(v) for k, v in values.items() if v is not None and v != "" and v != 1}


@dataclass
class Page:
    request: Request
    lang: str

    def t(self, zh: str, en: str) -> str:
        return en if self.lang == "en" else zh

    def pair(self, table: dict[str, tuple[str, str]], key: str) -> str:
        zh, en = table.get(key, (key, key))
        return self.t(zh, en)

    def url(self, path: str, **params: Any) -> str:
        query = {k: str(v) for k, v in params.items() if v not in (None, "")}
        if self.lang == "en":
            query["lang"] = "en"
        return path + ("?" + urlencode(query) if query else "")

    def switch_url(self) -> str:
        query = [(k, v) for k, v in self.request.query_params.multi_items() if k != "lang"]
        if self.lang != "en":
            query.append(("lang", "en"))
        path = self.request.url.path
        return path + ("?" + urlencode(query) if query else "")

    def when(self, moment: datetime | None, with_time: bool = True) -> str:
        if moment is None:
            return ""
        fmt = "%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d"
        return moment.astimezone(CHINA).strftime(fmt)

    def pct(self, value: float | None) -> str:
        return self.t("无数据", "no data") if value is None else f"{value:.0%}"


def lang_of(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "zh"


def html_page(name: str, page: Page, status_code: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(name).render(page=page, t=page.t, **context)
    # Photos come from the inspections service's public route (PUBLIC_PHOTOS_URL's origin).
    origin = workspace.origin_of(context.get("photos_base") or "") or ""
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={
            "Content-Security-Policy": PAGE_CSP.replace(
                "img-src 'self'", f"img-src 'self' {origin}".strip()
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def error_page(page: Page, status_code: int, zh: str, en: str) -> HTMLResponse:
    return html_page("error.html", page, status_code, message=page.t(zh, en))


def _query(request: Request) -> BoardQuery:
    """Validate the query string; an empty value means 'no filter'. Repeated keys are refused."""
    raw: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in raw:
            raise ValueError(f"repeated parameter {key}")
        if value.strip():
            raw[key] = value.strip()
    return BoardQuery.model_validate(raw)


async def published_cases(queries: BoardQueries, q: BoardQuery) -> tuple[int, list[dict[str, Any]]]:
    start, end = q.window()
    return await queries.published(
        district=q.district,
        enterprise=q.enterprise,
        status=q.status,
        start=start,
        end=end,
        limit=PAGE_SIZE,
        offset=(q.page - 1) * PAGE_SIZE,
    )


async def enterprise_view(queries: BoardQueries, enterprise_id: str) -> dict[str, Any] | None:
    name = await queries.enterprise_name(enterprise_id)
    if name is None:
        return None
    enterprise_grades = await queries.enterprise_grades(enterprise_id)
    project_grades = await queries.project_grades(enterprise_id)
    _, cases = await published_cases(queries, BoardQuery(enterprise=enterprise_id))
    return {
        "enterprise_id": enterprise_id,
        "enterprise_name": name,
        "grade": enterprise_grades[0] if enterprise_grades else None,
        "projects": project_grades,
        "cases": cases,
    }


# -- pages ------------------------------------------------------------------------------------------


@router.get("/static/board.css")
async def stylesheet() -> Response:
    return Response(
        STYLESHEET.read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/", response_class=HTMLResponse)
async def board_page(request: Request, deps: Deps) -> HTMLResponse:
    page = Page(request, lang_of(request))
    try:
        q = _query(request)
    except (ValidationError, ValueError):
        return error_page(
            page,
            400,
            "查询条件无效，请返回重新选择。",
            "Invalid filters: go back and choose again.",
        )
    async with deps.board_queries() as queries:
        total, rows = await published_cases(queries, q)
        districts = await queries.districts()
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return html_page(
        "list.html",
        page,
        q=q,
        total=total,
        cases=rows,
        pages=pages,
        districts=districts,
        status_text=presentation.BOARD_STATUS_TEXT,
        reason_text=presentation.BOARD_REASON_TEXT,
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, deps: Deps, case_id: str) -> HTMLResponse:
    page = Page(request, lang_of(request))
    case = None
    if ID.fullmatch(case_id):
        async with deps.board_queries() as queries:
            case = await queries.published_case(case_id)
    if case is None:
        return error_page(page, 404, "未找到该曝光信息。", "No such exposure case.")
    return html_page(
        "case.html",
        page,
        case=case,
        status_text=presentation.BOARD_STATUS_TEXT,
        reason_text=presentation.BOARD_REASON_TEXT,
        tier_text=presentation.TIER_TEXT,
        severity_text=presentation.SEVERITY_TEXT,
        photos_base=deps.settings.photos_base(),
    )


@router.get("/enterprises/{enterprise_id}", response_class=HTMLResponse)
async def enterprise_page(request: Request, deps: Deps, enterprise_id: str) -> HTMLResponse:
    page = Page(request, lang_of(request))
    found = None
    if ID.fullmatch(enterprise_id):
        async with deps.board_queries() as queries:
            found = await enterprise_view(queries, enterprise_id)
    if found is None:
        return error_page(page, 404, "未找到该企业。", "No such enterprise.")
    return html_page(
        "enterprise.html",
        page,
        e=found,
        status_text=presentation.BOARD_STATUS_TEXT,
        reason_text=presentation.BOARD_REASON_TEXT,
    )


@router.get("/grades", response_class=HTMLResponse)
async def grades_page(request: Request, deps: Deps) -> HTMLResponse:
    page = Page(request, lang_of(request))
    async with deps.board_queries() as queries:
        enterprises = await queries.enterprise_grades()
    return html_page(
        "grades.html",
        page,
        enterprises=enterprises,
        formula=page.t(grades.FORMULA_ZH, grades.FORMULA_EN),
    )


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(request: Request, deps: Deps) -> HTMLResponse:
    page = Page(request, lang_of(request))
    async with deps.board_queries() as queries:
        by_district = await queries.district_stats()
        by_enterprise = await queries.enterprise_stats()
    measures = (
        ("on_time_rectification_rate", "按期整改率", "on-time rectification"),
        ("complaint_on_time_rate", "投诉按期办结率", "complaints closed on time"),
        ("satisfaction_rate", "满意率", "satisfaction"),
        ("survey_coverage", "满意度调查覆盖率", "survey coverage"),
    )
    chart_svgs = [
        charts.bar_chart(
            page.t(zh, en),
            [(row.name, getattr(row, key)) for row in by_district],
            width=480,  # scales down to a phone's width (board.css) and stays legible
            no_data=page.t("无数据", "no data"),
        )
        for key, zh, en in measures
    ]
    return html_page(
        "stats.html",
        page,
        by_district=by_district,
        by_enterprise=by_enterprise,
        measures=measures,
        charts=chart_svgs,
    )


def public_draw(d: dict[str, Any]) -> dict[str, Any]:
    """A draw as the board publishes it (page and JSON): the figures of its inputs, the seed and
    algorithm, and each project drawn with its inspectors' staff ids and the patrol's result."""
    return {
        "draw_id": d["draw_id"],
        "district_code": d["district_code"],
        "district_name": d["district_name"],
        "drawn_at": d["drawn_at"],
        "seed": d["seed"],
        "algorithm": d["algorithm"],
        "candidate_count": len(d["projects"]),
        "excluded_count": len(d["excluded_project_ids"]),
        "inspector_count": len(d["inspectors"]),
        "inspectors_per_project": d["inspectors_per_project"],
        "due_by": d["due_by"],
        "patrols": [
            {
                "project_name": p["project_name"],
                "inspector_ids": list(p["inspector_ids"]),
                "outcome": p.get("outcome"),
            }
            for p in d["patrols"]
        ],
    }


@router.get("/draws", response_class=HTMLResponse)
async def draws_page(request: Request, deps: Deps) -> HTMLResponse:
    """双随机、一公开: every random patrol draw, its seed and inputs, and the patrols' results."""
    page = Page(request, lang_of(request))
    async with deps.board_queries() as queries:
        draws = [public_draw(d) for d in await queries.draws(DRAWS_SHOWN)]
    for d in draws:
        d["drawn_at"] = datetime.fromisoformat(d["drawn_at"])
        d["due_by"] = datetime.fromisoformat(d["due_by"])
    return html_page("draws.html", page, draws=draws)


@router.get("/stats.csv")
async def stats_csv(deps: Deps, by: Literal["district", "enterprise"] = "district") -> Response:
    async with deps.board_queries() as queries:
        rows = (
            await queries.district_stats() if by == "district" else await queries.enterprise_stats()
        )
    return Response(
        board_stats.stats_csv(rows, by=by, excel_bom=True),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="wuye-stats-by-{by}.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/feed.atom")
async def atom_feed(deps: Deps) -> Response:
    async with deps.board_queries() as queries:
        _, rows = await published_cases(queries, BoardQuery())
    updated = max((r["published_at"] for r in rows), default=datetime(2011, 1, 1, tzinfo=UTC))
    body = templates.get_template("feed.atom.xml").render(
        cases=rows,
        updated=updated,
        base=deps.public_base_url,  # PUBLIC_BASE_URL, not Host
        reason_text=presentation.BOARD_REASON_TEXT,
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")
