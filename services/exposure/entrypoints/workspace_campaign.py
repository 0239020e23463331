"""The city office's campaign overview (issue 15): every district in one table from the exposure
service's own fact tables (the board's statistics, plus inspection failures and cases), one SVG
chart, a CSV export (Excel BOM, like the board's) and each district's overdue rectification
orders. Refusals from `policy.campaign_refusal`."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from runtime import workspace
from runtime.errors import Message
from runtime.web_session import CurrentSession
from services.exposure.domain import charts
from services.exposure.domain.board import CampaignPlans, CampaignStats, PlanCount
from services.exposure.entrypoints import policy
from services.exposure.entrypoints.deps import Deps, ExposureDeps
from services.exposure.entrypoints.workspace_pages import BASE, env, page, render

router = APIRouter(include_in_schema=False)
OVERDUE_LIMIT = 200
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class DistrictRow:
    """One district of the campaign: the board's statistics and the exposure service's own
    counts of inspections that failed and of cases."""

    code: str
    name: str
    stats: CampaignStats | None
    inspections: int
    failed: int
    cases_review: int
    cases_published: int
    cases_total: int
    plans: PlanCount | None = None  # None: no campaign seen, or no project in the district

    @property
    def failure_rate(self) -> float | None:
        return self.failed / self.inspections if self.inspections else None


async def district_rows(deps: ExposureDeps) -> tuple[CampaignPlans | None, list[DistrictRow]]:
    """The campaign seen last (for its plans) and one row per district."""
    async with deps.board_queries() as board:
        stats = {s.key: s for s in await board.district_stats()}
        names = {d["district_code"]: d["district_name"] for d in await board.districts()}
    async with deps.case_queries() as queries:
        extras = await queries.district_extras()
        plans = await queries.campaign_plans()
    by_district = plans.by_district if plans else {}
    zero = dict.fromkeys(
        ("inspections", "failed", "cases_review", "cases_published", "cases_total"), 0
    )
    codes = sorted(set(stats) | set(names) | set(extras) | set(by_district))
    return plans, [
        DistrictRow(
            code=code,
            name=(stats[code].name if code in stats else names.get(code, code)),
            stats=stats.get(code),
            **(extras.get(code) or zero),
            plans=by_district.get(code),
        )
        for code in codes
    ]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text  # no spreadsheet formulas


def campaign_csv(plans: CampaignPlans | None, rows: list[DistrictRow]) -> str:
    """The table as CSV (Excel BOM, Chinese + English headers, rates in percent; the plans'
    columns name their campaign)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    campaign = _cell(plans.campaign_id) if plans else ""
    writer.writerow([
        "区县代码 District code", "区县 District",
        f"已交活动方案 Plans submitted {campaign}".rstrip(),
        f"应交活动方案 Plans due {campaign}".rstrip(), "项目数 Projects", "检查数 Inspections",
        "不合格数 Failed", "不合格率（%） Failure rate (%)", "应整改 Orders due",
        "按期整改 On time", "按期整改率（%） On-time rectification (%)",
        "应办结投诉 Complaints due", "按期办结 Closed on time",
        "投诉按期办结率（%） Complaints within SLA (%)", "满意率（%） Satisfaction (%)",
        "待复核案件 Cases in review", "公开曝光中 Cases published", "案件总数 Cases",
    ])  # fmt: skip
    for r in rows:
        s = r.stats
        writer.writerow([
            _cell(r.code), _cell(r.name), r.plans.submitted if r.plans else "",
            r.plans.due if r.plans else "", s.projects if s else "", r.inspections, r.failed,
            _pct(r.failure_rate), s.orders_due if s else "", s.orders_on_time if s else "",
            _pct(s.on_time_rectification_rate if s else None), s.complaints_due if s else "",
            s.complaints_on_time if s else "", _pct(s.complaint_on_time_rate if s else None),
            _pct(s.satisfaction_rate if s else None), r.cases_review, r.cases_published,
            r.cases_total,
        ])  # fmt: skip
    return "\ufeff" + buffer.getvalue()


@router.get(BASE + "campaign", response_class=HTMLResponse)
async def campaign(request: Request, session: CurrentSession, deps: Deps) -> Response:
    p = page(request, session, deps)
    refusal = policy.campaign_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    plans, rows = await district_rows(deps)
    chart = charts.bar_chart(
        p.t("各区县检查不合格率", "Inspection failure rate by district"),
        [(r.name, r.failure_rate) for r in rows],
        width=480,  # scales down to a phone's width (workspace.css)
        description=p.t("不合格检查数 / 检查数", "failed inspections / inspections"),
        no_data=p.t("无数据", "no data"),
    )
    return render(p, "exposure_campaign.html", plans=plans, rows=rows, chart=Markup(chart))  # noqa: S704 (escaped SVG)


@router.get(BASE + "campaign.csv")
async def campaign_export(request: Request, session: CurrentSession, deps: Deps) -> Response:
    p = page(request, session, deps)
    refusal = policy.campaign_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    return Response(
        campaign_csv(*await district_rows(deps)),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="wuye-campaign-by-district.csv"',
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get(BASE + "campaign/{district_code}/overdue", response_class=HTMLResponse)
async def overdue(
    district_code: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """A district's rectification orders overdue and not verified (the city office's drill-down)."""
    p = page(request, session, deps)
    refusal = policy.campaign_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    if len(district_code) > 16:
        return workspace.refused(env, p, Message("区县不存在", "no such district"), 404)
    async with deps.board_queries() as board:
        names = {d["district_code"]: d["district_name"] for d in await board.districts()}
    async with deps.case_queries() as queries:
        orders: list[dict[str, Any]] = await queries.overdue_orders(
            district_code, limit=OVERDUE_LIMIT
        )
    return render(
        p, "exposure_overdue.html", district=names.get(district_code, district_code),
        orders=orders, limit=OVERDUE_LIMIT,
    )  # fmt: skip
