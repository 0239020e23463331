"""The complaints workspace pages (issue 15): the enterprise's desk (the list by SLA time left, a
complaint with its history, accept / reply / transfer / extension each on its own confirmation
page) and the district office's escalated complaints (the extension decision; on a complaint
escalated for too many transfers 指定办理 or 自行办理, then its reply), on the shared shell
`runtime.workspace`. Translators only: reads through the service handlers, every refusal from
`policy`, every change through the same handlers as the API (`service.handling`)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import workspace
from runtime.auth import Principal
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound
from runtime.http import RequestTrace
from runtime.web_session import CurrentSession, Session
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain.sla import Clock
from services.complaints.entrypoints import policy
from services.complaints.entrypoints.complaints_http import STATUS_ZH
from services.complaints.entrypoints.deps import ComplaintsDeps, Deps
from services.complaints.service import handling
from services.complaints.service.ports import Row

BASE = "/workspace/complaints/"
env = workspace.environment(Path(__file__).resolve().parents[1] / "templates")
router = APIRouter(include_in_schema=False)
workspace.add_static_route(router, BASE + "static/workspace.css")
LIST_LIMIT = 500
PAGE_SIZE = 15
STATUS_EN = {
    "filed": "Awaiting acceptance", "accepted": "In hand",
    "replied": "Replied, awaiting feedback", "reopened": "Reopened", "closed": "Closed",
}  # fmt: skip
ACTIONS = ("accept", "reply", "transfer", "extension")
DECISIONS = ("approve", "refuse")
SUPERVISION = ("assign", "takeover")  # the district office, on an escalated complaint
MAX_TEXT = {"text": 4000, "reason": 1000, "to_org": 64}


def page(request: Request, session: Session, deps: ComplaintsDeps) -> workspace.WorkspacePage:
    return workspace.page_for(
        request,
        session,
        service="complaints",
        links=deps.settings.workspace_links,
        hotline_agency=deps.settings.hotline_agency_id,
        now=deps.clock.now(),
    )


def status_label(p: workspace.WorkspacePage, status: str) -> str:
    return p.t(STATUS_ZH[status], STATUS_EN[status])


def status_of(exc: DomainError) -> int:
    for kind, code in ((Forbidden, 403), (NotFound, 404), (InvalidInput, 422)):
        if isinstance(exc, kind):
            return code
    return 409


def clock_of(c: complaint_model.Complaint) -> Clock | None:
    """The clock that matters now: acceptance until accepted, then completion; none once the
    enterprise has replied or the complaint is closed."""
    running = c.running_clocks
    return min(running, key=lambda k: k.deadline) if running else None


def escalated(c: complaint_model.Complaint, now: datetime) -> bool:
    """What a district office follows: escalated, overdue (marked by the SLA scan or past a
    running deadline now), reopened, or an extension to decide."""
    return (
        c.escalated_at is not None
        or c.acceptance.overdue_at is not None
        or (c.completion.overdue_at is not None and c.status is not complaint_model.Status.CLOSED)
        or any(k.deadline < now for k in c.running_clocks)
        or c.status is complaint_model.Status.REOPENED
        or c.pending_extension is not None
    )


def item(p: workspace.WorkspacePage, row: Row, names: dict[str, str]) -> dict[str, Any]:
    c = row.complaint
    clock = clock_of(c)
    return {
        "row": row,
        "c": c,
        "clock": clock,
        "overdue": clock is not None and clock.deadline < p.now,
        "project_name": names.get(c.project_id, c.project_id),
    }


def category_name(p: workspace.WorkspacePage, deps: ComplaintsDeps, category_id: str) -> str:
    found = deps.rules.categories.by_id.get(category_id)
    return category_id if found is None else p.t(found.name_zh, found.name_en)


def view_helpers(p: workspace.WorkspacePage, deps: ComplaintsDeps) -> dict[str, Any]:
    return {
        "status_label": status_label,
        "category_name": lambda cid: category_name(p, deps, cid),
        "tier_label": lambda u: p.t("紧急", "Urgent") if u == "urgent" else p.t("一般", "Normal"),
    }


@router.get(BASE, response_class=HTMLResponse)
async def desk(
    request: Request,
    session: CurrentSession,
    deps: Deps,
    status: str = "",
    category: str = "",
    project: str = "",
    page_no: int = 1,
) -> Response:
    """The enterprise's desk (its complaints, the next deadline first, overdue on top) and the
    offices' escalated complaints (overdue, reopened, escalated, extensions to decide)."""
    p = page(request, session, deps)
    refusal = policy.desk_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    if status and status not in STATUS_ZH:
        status = ""
    office = policy.sees_escalations(session.principal)
    rows = await handling.list_for(
        deps.units(), session.principal, status=status or None, limit=LIST_LIMIT
    )
    async with deps.units() as uow:
        projects = await uow.projects.listed(limit=5000)
    names = {pr.project_id: pr.project_name for pr in projects}
    if not status:
        rows = [r for r in rows if r.complaint.status is not complaint_model.Status.CLOSED]
    if office:
        rows = [r for r in rows if escalated(r.complaint, p.now)]
    project_ids = sorted({r.complaint.project_id for r in rows}, key=lambda i: names.get(i, i))
    category_ids = sorted({r.complaint.category for r in rows})
    if category:
        rows = [r for r in rows if r.complaint.category == category]
    if project:
        rows = [r for r in rows if r.complaint.project_id == project]
    items = [item(p, r, names) for r in rows]
    items.sort(  # an office's own decisions (extensions asked) first
        key=lambda i: (
            not (office and i["c"].pending_extension is not None),
            i["clock"] is None,
            i["clock"].deadline if i["clock"] else i["c"].filed_at,
        )
    )
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page_no = min(max(page_no, 1), pages)
    shown = items[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
    return workspace.render(
        env, p, "workspace_desk.html", items=shown, total=len(items), page_no=page_no,
        pages=pages, office=office, limit=LIST_LIMIT, listed=len(rows),
        overdue=sum(1 for i in items if i["overdue"]),
        filters={"status": status, "category": category, "project": project},
        statuses=list(STATUS_ZH), categories=category_ids,
        projects=[(i, names.get(i, i)) for i in project_ids], **view_helpers(p, deps),
    )  # fmt: skip


async def _complaint(
    p: workspace.WorkspacePage, deps: ComplaintsDeps, complaint_id: str
) -> Row | Response:
    """The complaint, or the page saying why this person may not open it."""
    refusal = policy.desk_refusal(p.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    async with deps.units() as uow:
        row = await uow.complaints.get(complaint_id)
    if row is None:
        return workspace.refused(env, p, handling.NOT_FOUND, 404)
    refusal = policy.complaint_refusal(p.principal, row.complaint)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    return row


def timeline(
    p: workspace.WorkspacePage, c: complaint_model.Complaint
) -> list[tuple[Any, str, str]]:
    """(when, what, detail) from filing to now, oldest first."""
    events: list[tuple[Any, str, str]] = [(c.filed_at, p.t("投诉登记", "Filed"), "")]
    if c.accepted_at is not None and c.responsible is not None:
        events.append(
            (c.accepted_at, p.t("签收（首问责任人）", "Accepted (responsible person)"),
             c.responsible.staff_id)
        )  # fmt: skip
    for t in c.transfers:
        events.append((t.at, p.t("转办", "Transferred"), f"{t.from_org} → {t.to_org}:{t.reason}"))
    if c.escalated_at is not None:
        events.append((c.escalated_at, p.t("升级至区县物业办", "Escalated to the district"), ""))
    if c.assignment is not None:
        a = c.assignment
        events.append(
            (a.at, p.t("区县物业办指定办理", "Assigned by the district office"),
             f"→ {a.to_org}：{a.reason}")
        )  # fmt: skip
    for r in c.replies:
        events.append((r.at, p.t("答复", "Replied"), r.text))
    for f in c.feedback:
        verdict = p.t("满意", "satisfied") if f.satisfied else p.t("不满意", "not satisfied")
        events.append((f.at, p.t("业主评价", "Owner's feedback"), f"{verdict} · {f.rating}/5"))
    for e in c.extensions:
        events.append(
            (e.requested_at, p.t("申请延期", "Extension asked"),
             p.t(f"{e.working_days} 个工作日：{e.reason}", f"{e.working_days} working days: {e.reason}"))
        )  # fmt: skip
        if e.decided_at is not None:
            ok = e.decision == "approved"
            events.append(
                (e.decided_at, p.t("延期已批准", "Extension approved") if ok
                 else p.t("延期未批准", "Extension refused"), "")
            )  # fmt: skip
    for clock, zh, en in (
        (c.acceptance, "签收逾期", "Acceptance overdue"),
        (c.completion, "办理逾期", "Completion overdue"),
    ):
        if clock.overdue_at is not None:
            events.append((clock.overdue_at, p.t(zh, en), ""))
    if c.closed_at is not None:
        events.append((c.closed_at, p.t("办结", "Closed"), c.close_reason or ""))
    events.sort(key=lambda e: e[0])
    return events


@router.get(BASE + "c/{complaint_id}", response_class=HTMLResponse)
async def complaint(
    complaint_id: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    p = page(request, session, deps)
    found = await _complaint(p, deps, complaint_id)
    if isinstance(found, Response):
        return found
    c = found.complaint
    async with deps.units() as uow:
        project = await uow.projects.get(c.project_id)
    return workspace.render(
        env, p, "workspace_complaint.html", row=found, c=c, project=project,
        history=timeline(p, c), clock=clock_of(c),
        shows_contact=policy.shows_contact(session.principal, c),
        may_handle=policy.handle_refusal(session.principal) is None,
        may_decide=policy.extension_decision_refusal(session.principal) is None,
        may_assign=policy.assign_refusal(session.principal) is None,
        may_reply=policy.reply_refusal(session.principal, c) is None,
        **view_helpers(p, deps),
    )  # fmt: skip


def _action_form(
    p: workspace.WorkspacePage, deps: ComplaintsDeps, row: Row, action: str, code: int = 200,
    values: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    return workspace.render(
        env, p, "workspace_action.html", code, row=row, c=row.complaint, action=action,
        values=values or {}, max_days=complaint_model.MAX_EXTENSION_DAYS, **view_helpers(p, deps),
    )  # fmt: skip


@router.get(BASE + "c/{complaint_id}/{action}", response_class=HTMLResponse)
async def confirm(
    complaint_id: str, action: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """One action, one page: what it will do, the fields it needs, then the one button."""
    p = page(request, session, deps)
    if action not in (*ACTIONS, *DECISIONS, *SUPERVISION):
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    found = await _complaint(p, deps, complaint_id)
    if isinstance(found, Response):
        return found
    refusal = refusal_for(action, session.principal, found.complaint)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    return _action_form(p, deps, found, action)


def refusal_for(action: str, principal: Principal, c: complaint_model.Complaint) -> Message | None:
    """Why this person may not take this action (None: they may), from `policy`."""
    if action == "reply":
        return policy.reply_refusal(principal, c)
    if action in DECISIONS:
        return policy.extension_decision_refusal(principal)
    if action in SUPERVISION:
        return policy.assign_refusal(principal)
    return policy.handle_refusal(principal)


def _checked(p: workspace.WorkspacePage, action: str, fields: dict[str, str]) -> dict[str, str]:
    """The fields the action needs, trimmed; a missing or too long one noted on the page (the
    same limits as the API's bodies)."""
    needed = {
        "reply": ("text",),
        "transfer": ("to_org", "reason"),
        "assign": ("to_org", "reason"),
        "extension": ("reason",),
        "takeover": ("reason",),
    }
    values = {k: fields.get(k, "").strip() for k in ("text", "to_org", "reason", "working_days")}
    labels = {
        "text": ("答复内容", "the reply"),
        "to_org": (
            ("办理单位", "the organisation")
            if action == "assign"
            else ("转办对象", "whom to transfer to")
        ),
        "reason": ("理由", "the reason"),
    }
    for name in needed.get(action, ()):
        zh, en = labels[name]
        if not values[name]:
            p.add(name, f"请填写{zh}", f"Enter {en}")
        elif len(values[name]) > MAX_TEXT[name]:
            p.add(
                name,
                f"{zh}最多 {MAX_TEXT[name]} 字",
                f"{en} is at most {MAX_TEXT[name]} characters",
            )
    if action == "extension":
        days = values["working_days"]
        if not days.isdigit() or not 1 <= int(days) <= complaint_model.MAX_EXTENSION_DAYS:
            p.add(
                "working_days",
                f"延期天数须为 1 到 {complaint_model.MAX_EXTENSION_DAYS} 个工作日",
                f"Enter 1 to {complaint_model.MAX_EXTENSION_DAYS} working days",
            )
    return values


@router.post(BASE + "c/{complaint_id}/{action}", response_class=HTMLResponse)
async def act(
    complaint_id: str,
    action: str,
    request: Request,
    session: CurrentSession,
    deps: Deps,
    trace: RequestTrace,
) -> Response:
    p = page(request, session, deps)
    if action not in (*ACTIONS, *DECISIONS, *SUPERVISION):
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    fields = await workspace.posted_form(request, session, f"complaint:{complaint_id}:{action}")
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    found = await _complaint(p, deps, complaint_id)
    if isinstance(found, Response):
        return found
    principal = session.principal
    refusal = refusal_for(action, principal, found.complaint)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    values = _checked(p, action, fields)
    if p.errors:
        return _action_form(p, deps, found, action, 422, values)
    try:
        if action == "accept":
            await handling.accept(deps.units(), principal, complaint_id, trace=trace)
        elif action == "reply":
            await handling.reply(
                deps.units(), deps.rules, principal, complaint_id, text=values["text"], trace=trace
            )
        elif action == "transfer":
            await handling.transfer(
                deps.units(), deps.rules, principal, complaint_id,
                to_org=values["to_org"], reason=values["reason"], trace=trace,
            )  # fmt: skip
        elif action == "assign":
            await handling.assign(
                deps.units(), principal, complaint_id,
                to_org=values["to_org"], reason=values["reason"], trace=trace,
            )  # fmt: skip
        elif action == "takeover":
            await handling.take_over(
                deps.units(), principal, complaint_id, reason=values["reason"], trace=trace
            )
        elif action == "extension":
            await handling.request_extension(
                deps.units(), principal, complaint_id,
                working_days=int(values["working_days"]), reason=values["reason"], trace=trace,
            )  # fmt: skip
        else:
            await handling.decide_extension(
                deps.units(), deps.rules, principal, complaint_id,
                approve=action == "approve", trace=trace,
            )  # fmt: skip
    except DomainError as exc:
        if exc.field:
            p.add(exc.field, exc.message.zh, exc.message.en)
            return _action_form(p, deps, found, action, 422, values)
        return workspace.refused(env, p, exc.message, status_of(exc))
    if action == "transfer":  # handed on: the desk says so (the complaint may be out of scope)
        return RedirectResponse(p.url("", done="transfer"), status_code=303)
    return RedirectResponse(p.url(f"c/{complaint_id}", done=action), status_code=303)
