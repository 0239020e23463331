"""The district office's random patrol draw pages (双随机): the draw form (the roster, one
inspector a line), the draws made, and one draw with its seed, inputs and a re-run that checks the
result. Translators only: the same policy and service functions as `draws_http`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import workspace
from runtime.auth import Principal
from runtime.errors import DomainError, Message
from runtime.http import RequestTrace
from runtime.web_session import CurrentSession, Session
from services.inspections.domain import patrol_draw
from services.inspections.domain.patrol_draw import Inspector
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps, InspectionsDeps
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


def parse_roster(text: str) -> tuple[list[Inspector] | None, Message | None]:
    """One inspector a line: staff id, name, then the enterprise or project ids to avoid; an
    empty text means the district's roster (None)."""
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
    return (out or None), None


async def _office_form(
    request: Request,
    session: Session,
    deps: InspectionsDeps,
    form: str,
    refusal_of: Callable[[Principal], Message | None],
) -> tuple[workspace.WorkspacePage, dict[str, str], str] | Response:
    """A district office's posted form: its fields and district, or the refusal page (a stale
    form, a role that may not, no district)."""
    p = page(request, session, deps)
    fields = await workspace.posted_form(request, session, form)
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    refusal = refusal_of(session.principal)
    district = session.principal.district_code
    if refusal is not None or district is None:
        return workspace.refused(env, p, refusal or policy.NO_DISTRICT)
    return p, fields, district


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
    active = await _active_count(deps, session.principal.district_code) if may_draw else 0
    return workspace.render(
        env, p, "workspace_draws.html", rows=rows, may_draw=may_draw, values=DEFAULTS,
        active=active,
    )  # fmt: skip


@router.post(BASE + "draws", response_class=HTMLResponse)
async def draw(
    request: Request, session: CurrentSession, deps: Deps, trace: RequestTrace
) -> Response:
    posted = await _office_form(request, session, deps, FORM, policy.draw_refusal)
    if isinstance(posted, Response):
        return posted
    p, fields, district = posted
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
        inspectors = tuple(roster) if roster is not None else None
        cmd = patrol_draws.DrawPatrols(district_code=district, inspectors=inspectors, **numbers)
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
        env, p, "workspace_draws.html", 422, rows=rows, may_draw=True, values=values,
        active=await _active_count(deps, district),
    )  # fmt: skip


async def _active_count(deps: InspectionsDeps, district: str | None) -> int:
    if district is None:
        return 0
    return len(await patrol_draws.roster(deps.units(), district, active_only=True))


# --- the district's roster ---------------------------------------------------------------------

ROSTER_FORM = "draw-roster"
ROSTER_FIELDS = {"inspector_id": "", "name": "", "conflicts": ""}


async def _roster_page(
    p: workspace.WorkspacePage, deps: InspectionsDeps, principal: Principal,
    values: dict[str, str], code: int = 200,
) -> Response:  # fmt: skip
    district = policy.district_scope(principal)
    entries = await patrol_draws.roster(deps.units(), district)
    async with deps.units() as uow:
        projects = await uow.projects.search(district_code=district, enterprise_id=None)
    districts = {x.district_code: x.district_name for x in projects}
    return workspace.render(
        env, p, "workspace_roster.html", code, entries=entries, values=values,
        may_edit=policy.roster_refusal(principal) is None, all_districts=district is None,
        districts=districts,
    )  # fmt: skip


@router.get(BASE + "draws/roster", response_class=HTMLResponse)
async def roster(request: Request, session: CurrentSession, deps: Deps) -> Response:
    """The district's roster (the city office reads every district's)."""
    p = page(request, session, deps)
    refusal = policy.workspace_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    return await _roster_page(p, deps, session.principal, ROSTER_FIELDS)


@router.post(BASE + "draws/roster", response_class=HTMLResponse)
async def add_to_roster(request: Request, session: CurrentSession, deps: Deps) -> Response:
    posted = await _office_form(request, session, deps, ROSTER_FORM, policy.roster_refusal)
    if isinstance(posted, Response):
        return posted
    p, fields, district = posted
    values = {k: fields.get(k, "")[:2000] for k in ROSTER_FIELDS}
    conflicts = values["conflicts"].replace("，", " ").replace(",", " ").split()
    try:
        await patrol_draws.add_to_roster(
            deps.units(), district, values["inspector_id"], values["name"], conflicts,
            added_by=session.principal.subject,
        )  # fmt: skip
    except DomainError as exc:
        p.add(exc.field if exc.field in ROSTER_FIELDS else "inspector_id", exc.message.zh,
              exc.message.en)  # fmt: skip
        return await _roster_page(p, deps, session.principal, values, 422)
    return RedirectResponse(p.url("draws/roster"), status_code=303)


@router.post(BASE + "draws/roster/{inspector_id}/deactivate", response_class=HTMLResponse)
async def deactivate(
    inspector_id: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    posted = await _office_form(request, session, deps, ROSTER_FORM, policy.roster_refusal)
    if isinstance(posted, Response):
        return posted
    p, _fields, district = posted
    try:
        await patrol_draws.deactivate(
            deps.units(), district, inspector_id, by=session.principal.subject
        )
    except DomainError as exc:
        return workspace.refused(env, p, exc.message, status_of(exc))
    return RedirectResponse(p.url("draws/roster"), status_code=303)


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
