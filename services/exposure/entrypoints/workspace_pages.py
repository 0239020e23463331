"""The exposure service's workspace pages (issue 15): a district office reviews its cases (hold,
publish, withdraw, each on its own confirmation page) and decides objections; an enterprise reads
its own cases and objects; the city office sees every district's. On the shared shell
`runtime.workspace`. Translators only: reads through the case queries, every refusal from
`policy`, every change through the same commands as the office API (`service.commands`). The
city office's campaign overview is `workspace_campaign`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import workspace
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound
from runtime.http import RequestTrace
from runtime.web_session import CurrentSession, Session
from services.exposure.entrypoints import policy
from services.exposure.entrypoints.deps import Deps, ExposureDeps
from services.exposure.service import commands
from services.exposure.service.ports import Scope

BASE = "/workspace/exposure/"
env = workspace.environment(Path(__file__).resolve().parents[1] / "templates")
router = APIRouter(include_in_schema=False)
workspace.add_static_route(router, BASE + "static/workspace.css")
LIST_LIMIT = 200
ACTIONS = ("hold", "publish", "withdraw", "object")
STATUS = {
    "opened": ("待通报批评", "Awaiting criticism notice"),
    "in_review": ("复核期", "In review"),
    "held": ("暂缓公开", "On hold"),
    "published": ("公开曝光中", "Published"),
    "withdrawn": ("已撤下", "Withdrawn"),
}
REASONS = {
    "rectification_overdue": ("整改逾期", "Rectification overdue"),
    "rectification_inadequate": ("整改不到位", "Rectification inadequate"),
}
SEVERITY = {
    "general": ("一般", "general"),
    "serious": ("严重", "serious"),
    "urgent": ("紧急", "urgent"),
}
TIERS = {"light": ("轻微", "Light"), "general": ("一般", "General"), "serious": ("严重", "Serious")}


def page(request: Request, session: Session, deps: ExposureDeps) -> workspace.WorkspacePage:
    return workspace.page_for(
        request,
        session,
        service="exposure",
        links=deps.settings.workspace_links,
        hotline_agency=deps.settings.hotline_agency_id,
        now=deps.clock.now(),
    )


def label(p: workspace.WorkspacePage, table: dict[str, tuple[str, str]], key: str) -> str:
    zh, en = table.get(key, (key, key))
    return p.t(zh, en)


def status_of(exc: DomainError) -> int:
    for kind, code in ((Forbidden, 403), (NotFound, 404), (InvalidInput, 422)):
        if isinstance(exc, kind):
            return code
    return 409


def render(p: workspace.WorkspacePage, template: str, code: int = 200, **ctx: Any) -> HTMLResponse:
    return workspace.render(
        env,
        p,
        template,
        code,
        label=label,
        STATUS=STATUS,
        REASONS=REASONS,
        TIERS=TIERS,
        SEVERITY=SEVERITY,
        **ctx,
    )


@router.get(BASE, response_class=HTMLResponse)
async def cases(request: Request, session: CurrentSession, deps: Deps) -> Response:
    """曝光案件: in review and on hold first (the review window's end), then published (their
    display periods), then those awaiting the criticism notice; an enterprise, its own."""
    p = page(request, session, deps)
    refusal = policy.cases_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    async with deps.case_queries() as queries:
        rows = await queries.cases(
            policy.case_scope(session.principal), status=None, limit=LIST_LIMIT
        )
    groups: dict[str, list[dict[str, Any]]] = {"review": [], "published": [], "opened": []}
    for row in rows:
        if row["status"] in ("in_review", "held"):
            groups["review"].append(row)
        elif row["status"] in ("published", "opened"):
            groups[row["status"]].append(row)
    groups["review"].sort(key=lambda r: (r["review_ends_at"] is None, r["review_ends_at"] or 0))
    groups["published"].sort(key=lambda r: r["max_until"] or r["updated_at"])
    return render(
        p, "exposure_cases.html", groups=groups, limit=LIST_LIMIT, shown=len(rows),
        may_review=policy.review_refusal(session.principal) is None,
        is_city=policy.campaign_refusal(session.principal) is None,
    )  # fmt: skip


async def _case(p: workspace.WorkspacePage, deps: ExposureDeps, case_id: str) -> Any:
    """The case with its timeline, objections and the project's inspection failures, or the page
    saying why this person may not open it."""
    async with deps.board_queries() as board:
        names = {d["district_code"]: d["district_name"] for d in await board.districts()}
    async with deps.case_queries() as queries:
        found = await queries.case(case_id, Scope("all"))  # policy.case_refusal says why not
        if found is None:
            return workspace.refused(env, p, Message("案件不存在", "no such case"), 404)
        found["district_name"] = names.get(found["district_code"], found["district_code"])
        refusal = policy.case_refusal(
            p.principal, found["district_code"], found["enterprise_id"], names
        )
        if refusal is not None:
            return workspace.refused(env, p, refusal)
        evidence: list[dict[str, Any]] = []
        if policy.review_refusal(p.principal) is None:
            evidence = await queries.evidence(
                district_code=found["district_code"], project_id=found["project_id"], limit=10
            )
    return found, evidence


@router.get(BASE + "cases/{case_id}", response_class=HTMLResponse)
async def case(case_id: str, request: Request, session: CurrentSession, deps: Deps) -> Response:
    p = page(request, session, deps)
    found = await _case(p, deps, case_id)
    if isinstance(found, Response):
        return found
    row, evidence = found
    return render(
        p, "exposure_case.html", case=row, evidence=evidence,
        may_review=policy.review_refusal(session.principal) is None,
        may_object=policy.object_refusal(session.principal) is None,
    )  # fmt: skip


def _action_refusal(p: workspace.WorkspacePage, action: str) -> Message | None:
    if action == "object":
        return policy.object_refusal(p.principal)
    return policy.review_refusal(p.principal)


@router.get(BASE + "cases/{case_id}/{action}", response_class=HTMLResponse)
async def confirm(
    case_id: str, action: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """One action, one page: what holding, publishing, withdrawing or objecting will do."""
    p = page(request, session, deps)
    if action not in ACTIONS:
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    found = await _case(p, deps, case_id)
    if isinstance(found, Response):
        return found
    refusal = _action_refusal(p, action)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    return render(
        p, "exposure_confirm.html", case=found[0], action=action, text="",
        rule=deps.policy.tiers[found[0]["tier"]],
    )  # fmt: skip


async def _run(
    deps: ExposureDeps, p: workspace.WorkspacePage, case_id: str, action: str, text: str,
    trace: RequestTrace,
) -> None:  # fmt: skip
    district = policy.acting_district(p.principal)
    if action in ("hold", "publish"):
        decision: Literal["hold", "confirm"] = "hold" if action == "hold" else "confirm"
        await commands.review(
            deps.units(), case_id, decision=decision, note=text, district_code=district,
            trace=trace,
        )  # fmt: skip
    elif action == "withdraw":
        await commands.withdraw(deps.units(), case_id, district_code=district, trace=trace)
    else:
        if not text.strip():
            raise InvalidInput(
                "empty_grounds", Message("请填写异议理由", "give the grounds"), field="text"
            )
        await commands.object_to(
            deps.units(), case_id, enterprise_id=policy.objecting_enterprise(p.principal),
            grounds=text.strip(), trace=trace,
        )  # fmt: skip


@router.post(BASE + "cases/{case_id}/{action}", response_class=HTMLResponse)
async def act(
    case_id: str,
    action: str,
    request: Request,
    session: CurrentSession,
    deps: Deps,
    trace: RequestTrace,
) -> Response:
    p = page(request, session, deps)
    if action not in ACTIONS:
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    fields = await workspace.posted_form(request, session, f"case:{case_id}:{action}")
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    found = await _case(p, deps, case_id)
    if isinstance(found, Response):
        return found
    refusal = _action_refusal(p, action)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    text = fields.get("text", "")[: 2000 if action == "object" else 500]
    try:
        await _run(deps, p, case_id, action, text, trace)
    except DomainError as exc:
        if exc.field:
            p.add("text", exc.message.zh, exc.message.en)
            return render(
                p, "exposure_confirm.html", 422, case=found[0], action=action, text=text,
                rule=deps.policy.tiers[found[0]["tier"]],
            )  # fmt: skip
        return workspace.refused(env, p, exc.message, status_of(exc))
    return RedirectResponse(p.url(f"cases/{case_id}", done=action), status_code=303)


DECISIONS = ("uphold", "dismiss")


@router.get(BASE + "cases/{case_id}/objections/{objection_id}/{decision}")
async def objection_form(
    case_id: str, objection_id: str, decision: str, request: Request, session: CurrentSession,
    deps: Deps,
) -> Response:  # fmt: skip
    p = page(request, session, deps)
    if decision not in DECISIONS:
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    found = await _case(p, deps, case_id)
    if isinstance(found, Response):
        return found
    refusal = policy.review_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    objection = next((o for o in found[0]["objections"] if o["objection_id"] == objection_id), None)
    if objection is None:
        return workspace.refused(env, p, Message("异议不存在", "no such objection"), 404)
    return render(
        p, "exposure_objection.html", case=found[0], objection=objection, decision=decision,
        reason="",
    )  # fmt: skip


@router.post(BASE + "cases/{case_id}/objections/{objection_id}/{decision}")
async def decide_objection(
    case_id: str, objection_id: str, decision: str, request: Request, session: CurrentSession,
    deps: Deps, trace: RequestTrace,
) -> Response:  # fmt: skip
    p = page(request, session, deps)
    if decision not in DECISIONS:
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    fields = await workspace.posted_form(request, session, f"objection:{objection_id}:{decision}")
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    found = await _case(p, deps, case_id)
    if isinstance(found, Response):
        return found
    refusal = policy.review_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    objection = next((o for o in found[0]["objections"] if o["objection_id"] == objection_id), None)
    if objection is None:
        return workspace.refused(env, p, Message("异议不存在", "no such objection"), 404)
    reason = fields.get("reason", "").strip()[:1000]
    if not reason:
        p.add("reason", "请填写处理理由", "Give the reason for the decision")
        return render(
            p, "exposure_objection.html", 422, case=found[0], objection=objection,
            decision=decision, reason=reason,
        )  # fmt: skip
    try:
        await commands.decide_objection(
            deps.units(), case_id, objection_id, upheld=decision == "uphold", reason=reason,
            district_code=policy.acting_district(session.principal), trace=trace,
        )  # fmt: skip
    except DomainError as exc:
        return workspace.refused(env, p, exc.message, status_of(exc))
    return RedirectResponse(p.url(f"cases/{case_id}", done=decision), status_code=303)
