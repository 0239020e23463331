"""The district office's random patrol draw pages (双随机): the draw form (the roster, one
inspector a line), the draws made, and one draw with its seed, inputs and a re-run that checks the
result. Translators only: the same policy and service functions as `draws_http`."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import workspace
from runtime.errors import DomainError, Message
from runtime.http import RequestTrace
from runtime.web_session import CurrentSession
from services.inspections.domain import patrol_draw
from services.inspections.domain.patrol_draw import Inspector
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.entrypoints.workspace_pages import BASE, env, page, status_of
from services.inspections.service import patrol_draws

router = APIRouter(include_in_schema=False)
FORM = "patrol-draw"
DEFAULTS = {
    "roster": "",
    "project_count": "5",
    "inspectors_per_project": "2",
    "exclusion_days": "90",
}
NUMBERS = {
    "project_count": (1, patrol_draw.MAX_PROJECTS, "抽取项目数", "projects to draw"),
    "inspectors_per_project": (
        1,
        patrol_draw.MAX_PER_PROJECT,
        "每个项目的检查人员数",
        "per project",
    ),
    "exclusion_days": (0, patrol_draw.MAX_EXCLUSION_DAYS, "排除天数", "exclusion days"),
}


def parse_roster(text: str) -> tuple[list[Inspector], Message | None]:
    """One inspector a line: staff id, name, then the enterprise or project ids to avoid."""
    out: list[Inspector] = []
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.replace("，", " ").replace(",", " ").split()
        if not parts:
            continue
        if len(parts) < 2 or len(parts[0]) > 64 or len(parts[1]) > 50:
            return out, Message(
                f"第 {n} 行应为：编号 姓名 [回避的企业或项目编号……]",
                f"line {n} should read: staff-id name [enterprise or project ids to avoid…]",
            )
        out.append(Inspector(parts[0], parts[1], frozenset(p[:64] for p in parts[2:])))
    if not out:
        return out, Message("请填写检查人员名单", "enter the inspectors")
    return out, None


@router.get(BASE + "draws", response_class=HTMLResponse)
async def draws(request: Request, session: CurrentSession, deps: Deps) -> Response:
    p = page(request, session, deps)
    refusal = policy.workspace_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    async with deps.units() as uow:
        rows = await uow.draws.search(
            district_code=policy.district_scope(session.principal), limit=50
        )
    may_draw = policy.draw_refusal(session.principal) is None
    return workspace.render(
        env, p, "workspace_draws.html", rows=rows, may_draw=may_draw, values=DEFAULTS
    )


@router.post(BASE + "draws", response_class=HTMLResponse)
async def draw(
    request: Request, session: CurrentSession, deps: Deps, trace: RequestTrace
) -> Response:
    p = page(request, session, deps)
    fields = await workspace.posted_form(request, session, FORM)
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    refusal = policy.draw_refusal(session.principal)
    district = session.principal.district_code
    if refusal is not None or district is None:
        return workspace.refused(env, p, refusal or policy.NO_DISTRICT)
    values = {k: fields.get(k, v)[:20000] for k, v in DEFAULTS.items()}
    roster, problem = parse_roster(values["roster"])
    if problem is not None:
        p.add("roster", problem.zh, problem.en)
    numbers: dict[str, int] = {}
    for name, (low, high, zh, en) in NUMBERS.items():
        raw = values[name].strip()
        if not raw.isdigit() or not low <= int(raw) <= high:
            p.add(name, f"{zh}须为 {low} 至 {high} 的整数", f"{en}: a whole number {low}–{high}")
        else:
            numbers[name] = int(raw)
    if len(numbers) == len(NUMBERS) and problem is None:
        cmd = patrol_draws.DrawPatrols(district_code=district, inspectors=tuple(roster), **numbers)
        try:
            row = await patrol_draws.draw_patrols(
                deps.units(), cmd, drawn_by=session.principal.subject, trace=trace
            )
        except DomainError as exc:
            if exc.field is None:
                return workspace.refused(env, p, exc.message, status_of(exc))
            field = "roster" if exc.field == "inspectors" else exc.field
            p.add(field if field in DEFAULTS else "roster", exc.message.zh, exc.message.en)
        else:
            return RedirectResponse(p.url(f"draws/{row.draw_id}"), status_code=303)
    async with deps.units() as uow:
        rows = await uow.draws.search(district_code=district, limit=50)
    return workspace.render(
        env, p, "workspace_draws.html", 422, rows=rows, may_draw=True, values=values
    )


@router.get(BASE + "draws/{draw_id}", response_class=HTMLResponse)
async def one_draw(draw_id: str, request: Request, session: CurrentSession, deps: Deps) -> Response:
    """The draw, its seed and inputs, the patrols' status, and the re-run beside the result."""
    p = page(request, session, deps)
    refusal = policy.workspace_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    try:
        row = await patrol_draws.get_draw(
            deps.units(), draw_id, policy.district_scope(session.principal)
        )
    except DomainError as exc:
        return workspace.refused(env, p, exc.message, status_of(exc))
    async with deps.units() as uow:
        status = await uow.draws.patrol_status(draw_id)
        names = {x.project_id: x.project_name for x in await uow.projects.search(
            district_code=row.district_code, enterprise_id=None)}  # fmt: skip
    rerun = patrol_draw.draw(patrol_draws.inputs_of(row))
    again = {a.project_id: list(a.inspector_ids) for a in rerun.assignments}
    inspectors = {i["inspector_id"]: i["name"] for i in row.inputs["inspectors"]}
    return workspace.render(
        env, p, "workspace_draw.html", row=row, status=status, again=again,
        verified=patrol_draws.verify(row), inspectors=inspectors, names=names,
    )  # fmt: skip
