"""The public exposure board of the association website (协会网站公开曝光): no sign-in.

Server-rendered, zh-CN first (``?lang=en``), no JavaScript, a strict CSP, everything escaped (Jinja2
autoescape for HTML and Atom). Only published cases appear, and of them only enterprises, projects,
failed items (titles, never the inspector's notes), deadlines, notice numbers and the timeline:
never an owner, a phone number or a complaint text. The JSON API under /api/v1/board serves the
same data. Every query string is validated: a bad one gets a 400 page (or the API's 422), never 500.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlencode

import asyncpg
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from runtime import db
from runtime.errors import Message, NotFound
from services.exposure.adapters import board_stats
from services.exposure.domain import charts, grades

HERE = Path(__file__).resolve().parents[1]
STYLESHEET = HERE / "static" / "board.css"
CHINA = timezone(timedelta(hours=8))
PAGE_SIZE = 20
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
STATUS_TEXT = {
    "published": ("公开曝光中", "Exposed"),
    "rectified": ("已整改(公示中)", "Rectified (still displayed)"),
}
REASON_TEXT = {
    "rectification_overdue": ("整改不及时", "Late rectification"),
    "rectification_inadequate": ("整改不到位", "Inadequate rectification"),
}
TIER_TEXT = {"general": ("一般", "general"), "serious": ("严重", "serious")}
SEVERITY_TEXT = {
    "general": ("一般", "general"),
    "serious": ("严重", "serious"),
    "urgent": ("紧急", "urgent"),
}
GRADE_TEXT = {"green": ("绿", "green"), "yellow": ("黄", "yellow"), "red": ("红", "red")}

router = APIRouter(include_in_schema=False, tags=["public board"])
api = APIRouter(prefix="/api/v1/board", tags=["public board"])
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
        return self.t("无数据", "n/a") if value is None else f"{value:.0%}"


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "zh"


def _html(name: str, page: Page, status_code: int = 200, **context: Any) -> HTMLResponse:
    body = templates.get_template(name).render(page=page, t=page.t, **context)
    return HTMLResponse(
        body,
        status_code=status_code,
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _error_page(page: Page, status_code: int, zh: str, en: str) -> HTMLResponse:
    return _html("error.html", page, status_code, message=page.t(zh, en))


def _query(request: Request) -> BoardQuery:
    """Validate the query string; an empty value means 'no filter'. Repeated keys are refused."""
    raw: dict[str, str] = {}
    for key, value in request.query_params.multi_items():
        if key in raw:
            raise ValueError(f"repeated parameter {key}")
        if value.strip():
            raw[key] = value.strip()
    return BoardQuery.model_validate(raw)


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.runtime.pool
    return pool


# -- reading the published cases ----------------------------------------------------------------------

PUBLIC = """c.case_id, c.project_id, c.project_name, c.enterprise_id, c.enterprise_name,
    c.district_code, coalesce(d.district_name, c.district_code) AS district_name, c.reason, c.tier,
    c.items, c.deadline, c.notice_no, c.published_at, c.min_until, c.max_until, c.rectified_at"""
DISTRICT_NAMES = """LEFT JOIN (SELECT DISTINCT ON (district_code) district_code, district_name
                              FROM projects ORDER BY district_code, occurred_at DESC) d
                      ON d.district_code = c.district_code"""


def _public(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    items = json.loads(out.pop("items"))
    # The inspector's note stays with the offices: it may name a person.
    out["items"] = [
        {k: i[k] for k in ("item_id", "title_zh", "title_en", "severity")} for i in items
    ]
    out["status"] = "rectified" if out["rectified_at"] is not None else "published"
    return out


async def _cases(conn: db.Connection, q: BoardQuery) -> tuple[int, list[dict[str, Any]]]:
    start, end = q.window()
    where = """c.status = 'published'
           AND ($1::text IS NULL OR c.district_code = $1)
           AND ($2::text IS NULL OR c.enterprise_id = $2)
           AND ($3::text IS NULL OR ($3 = 'rectified') = (c.rectified_at IS NOT NULL))
           AND ($4::timestamptz IS NULL OR c.published_at >= $4)
           AND ($5::timestamptz IS NULL OR c.published_at < $5)"""
    args = (q.district, q.enterprise, q.status, start, end)
    total: int = await conn.fetchval(f"SELECT count(*) FROM cases c WHERE {where}", *args)
    rows = await conn.fetch(
        f"""SELECT {PUBLIC} FROM cases c {DISTRICT_NAMES} WHERE {where}
             ORDER BY c.published_at DESC, c.case_id LIMIT $6 OFFSET $7""",
        *args,
        PAGE_SIZE,
        (q.page - 1) * PAGE_SIZE,
    )
    return total, [_public(r) for r in rows]


async def _case(conn: db.Connection, case_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {PUBLIC} FROM cases c {DISTRICT_NAMES} WHERE c.case_id = $1 "
        "AND c.status = 'published'",
        case_id,
    )
    if row is None:
        return None
    case = _public(row)
    timeline = await conn.fetch(
        """SELECT at, title_zh, title_en FROM case_timeline WHERE case_id = $1
            ORDER BY at, event_id""",
        case_id,
    )
    case["timeline"] = [dict(t) for t in timeline]
    return case


async def _districts(conn: db.Connection) -> list[dict[str, str]]:
    """Districts to filter by: the registry's, and any with a published case (named by code
    until the registry copy knows it). The published cases' districts are found by a loose index
    scan (one probe per district), not by reading every case: that read cost the list page 38 ms
    at 100k cases (docs/performance.md)."""
    rows = await conn.fetch(
        """WITH RECURSIVE published AS (
                (SELECT district_code FROM cases WHERE status = 'published'
                  ORDER BY district_code LIMIT 1)
                UNION ALL
                SELECT (SELECT c.district_code FROM cases c
                         WHERE c.status = 'published' AND c.district_code > p.district_code
                         ORDER BY c.district_code LIMIT 1)
                  FROM published p WHERE p.district_code IS NOT NULL),
             named AS (SELECT DISTINCT ON (district_code) district_code, district_name
                         FROM projects ORDER BY district_code, occurred_at DESC)
           SELECT k.district_code, coalesce(n.district_name, k.district_code) AS district_name
             FROM (SELECT district_code FROM named
                   UNION SELECT district_code FROM published WHERE district_code IS NOT NULL) k
             LEFT JOIN named n USING (district_code)
            ORDER BY k.district_code"""
    )
    return [dict(r) for r in rows]


async def _enterprise(conn: db.Connection, enterprise_id: str) -> dict[str, Any] | None:
    name = await conn.fetchval(
        """SELECT enterprise_name FROM projects WHERE enterprise_id = $1
            ORDER BY occurred_at DESC LIMIT 1""",
        enterprise_id,
    ) or await conn.fetchval(
        "SELECT enterprise_name FROM cases WHERE enterprise_id = $1 AND status = 'published' "
        "LIMIT 1",
        enterprise_id,
    )
    if name is None:
        return None
    enterprise_grades = await board_stats.enterprise_grades(conn, enterprise_id=enterprise_id)
    project_grades = await board_stats.project_grades(conn, enterprise_id=enterprise_id)
    _, cases = await _cases(conn, BoardQuery(enterprise=enterprise_id))
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
async def board_page(request: Request) -> HTMLResponse:
    page = Page(request, _lang(request))
    try:
        q = _query(request)
    except (ValidationError, ValueError):
        return _error_page(
            page, 400, "查询条件无效,请返回重新选择。", "Invalid filters: go back and choose again."
        )
    async with _pool(request).acquire() as conn:
        total, rows = await _cases(conn, q)
        districts = await _districts(conn)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    return _html(
        "list.html",
        page,
        q=q,
        total=total,
        cases=rows,
        pages=pages,
        districts=districts,
        status_text=STATUS_TEXT,
        reason_text=REASON_TEXT,
    )


@router.get("/cases/{case_id}", response_class=HTMLResponse)
async def case_page(request: Request, case_id: str) -> HTMLResponse:
    page = Page(request, _lang(request))
    case = None
    if ID.fullmatch(case_id):
        async with _pool(request).acquire() as conn:
            case = await _case(conn, case_id)
    if case is None:
        return _error_page(page, 404, "未找到该曝光信息。", "No such exposure case.")
    return _html(
        "case.html",
        page,
        case=case,
        status_text=STATUS_TEXT,
        reason_text=REASON_TEXT,
        tier_text=TIER_TEXT,
        severity_text=SEVERITY_TEXT,
    )


@router.get("/enterprises/{enterprise_id}", response_class=HTMLResponse)
async def enterprise_page(request: Request, enterprise_id: str) -> HTMLResponse:
    page = Page(request, _lang(request))
    found = None
    if ID.fullmatch(enterprise_id):
        async with _pool(request).acquire() as conn:
            found = await _enterprise(conn, enterprise_id)
    if found is None:
        return _error_page(page, 404, "未找到该企业。", "No such enterprise.")
    return _html(
        "enterprise.html",
        page,
        e=found,
        grade_text=GRADE_TEXT,
        status_text=STATUS_TEXT,
        reason_text=REASON_TEXT,
    )


@router.get("/grades", response_class=HTMLResponse)
async def grades_page(request: Request) -> HTMLResponse:
    page = Page(request, _lang(request))
    async with _pool(request).acquire() as conn:
        enterprises = await board_stats.enterprise_grades(conn)
    return _html(
        "grades.html",
        page,
        enterprises=enterprises,
        grade_text=GRADE_TEXT,
        formula=page.t(grades.FORMULA_ZH, grades.FORMULA_EN),
    )


@router.get("/stats", response_class=HTMLResponse)
async def stats_page(request: Request) -> HTMLResponse:
    page = Page(request, _lang(request))
    async with _pool(request).acquire() as conn:
        by_district = await board_stats.district_stats(conn)
        by_enterprise = await board_stats.enterprise_stats(conn)
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
        )
        for key, zh, en in measures
    ]
    return _html(
        "stats.html",
        page,
        by_district=by_district,
        by_enterprise=by_enterprise,
        measures=measures,
        charts=chart_svgs,
    )


@router.get("/stats.csv")
async def stats_csv(
    request: Request, by: Literal["district", "enterprise"] = "district"
) -> Response:
    async with _pool(request).acquire() as conn:
        rows = (
            await board_stats.district_stats(conn)
            if by == "district"
            else await board_stats.enterprise_stats(conn)
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
async def atom_feed(request: Request) -> Response:
    async with _pool(request).acquire() as conn:
        _, rows = await _cases(conn, BoardQuery())
    updated = max((r["published_at"] for r in rows), default=datetime(2011, 1, 1, tzinfo=UTC))
    body = templates.get_template("feed.atom.xml").render(
        cases=rows,
        updated=updated,
        base=request.app.state.runtime.extras["public_base_url"],  # PUBLIC_BASE_URL, not Host
        reason_text=REASON_TEXT,
    )
    return Response(body, media_type="application/atom+xml; charset=utf-8")


# -- the same data as JSON -------------------------------------------------------------------------


@api.get("/cases", summary="公开曝光列表 Published cases (filters as on the board)")
async def api_cases(
    request: Request,
    district: str | None = Query(default=None, pattern=r"^[0-9]{6}$"),
    enterprise: str | None = Query(default=None, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$"),
    status: Literal["published", "rectified"] | None = None,
    period: str | None = Query(default=None, pattern=PERIOD),
    page: int = Query(default=1, ge=1, le=10_000),
) -> dict[str, Any]:
    q = BoardQuery(
        district=district, enterprise=enterprise, status=status, period=period, page=page
    )
    async with _pool(request).acquire() as conn:
        total, rows = await _cases(conn, q)
    return {"page": page, "page_size": PAGE_SIZE, "total": total, "items": rows}


@api.get("/cases/{case_id}", summary="公开曝光详情 One published case with its timeline")
async def api_case(
    request: Request, case_id: Annotated[str, Field(max_length=64)]
) -> dict[str, Any]:
    async with _pool(request).acquire() as conn:
        case = await _case(conn, case_id)
    if case is None:
        raise NotFound("case_not_found", Message("未找到该曝光信息", "no such exposure case"))
    return case


@api.get("/enterprises/{enterprise_id}", summary="企业 An enterprise: grade, projects, cases")
async def api_enterprise(
    request: Request, enterprise_id: Annotated[str, Field(max_length=64)]
) -> dict[str, Any]:
    async with _pool(request).acquire() as conn:
        found = await _enterprise(conn, enterprise_id)
    if found is None:
        raise NotFound("enterprise_not_found", Message("未找到该企业", "no such enterprise"))
    return found


@api.get("/grades", summary="红黑榜 Grades of every enterprise and the formula")
async def api_grades(request: Request) -> dict[str, Any]:
    async with _pool(request).acquire() as conn:
        enterprises = await board_stats.enterprise_grades(conn)
    return {
        "formula_zh": grades.FORMULA_ZH,
        "formula_en": grades.FORMULA_EN,
        "enterprises": enterprises,
    }


@api.get("/stats", summary="活动统计 Campaign statistics by district and by enterprise")
async def api_stats(request: Request) -> dict[str, Any]:
    async with _pool(request).acquire() as conn:
        return {
            "by_district": await board_stats.district_stats(conn),
            "by_enterprise": await board_stats.enterprise_stats(conn),
        }
