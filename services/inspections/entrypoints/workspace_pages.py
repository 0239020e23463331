"""The district office's workspace pages of the inspections service (issue 15): today's queue,
the orders (a district office verifies or rejects, an enterprise reads its own), on the shared
shell `runtime.workspace`. Translators only: reads through the unit of work, every refusal from
`policy`, every change through the same service functions as the API. The patrol is in
`workspace_patrol`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import attachments, workspace
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound
from runtime.http import RequestTrace
from runtime.web_session import CurrentSession, Session
from services.inspections.domain import statutory_intervals as intervals
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps, InspectionsDeps
from services.inspections.entrypoints.rectifications_http import STATUS_ZH, order_pdf
from services.inspections.service import rectifications
from services.inspections.service.ports import OrderRow
from services.inspections.service.record_inspection import ITEM_KIND, photo_owner

BASE = "/workspace/inspections/"
env = workspace.environment(Path(__file__).resolve().parents[1] / "templates")
router = APIRouter(include_in_schema=False)
workspace.add_static_route(router, BASE + "static/workspace.css")
QUEUE_LIMIT = 200
PAGE_SIZE = 15  # a phone screen or two of cards
STATUS_EN = {
    "ordered": "To rectify",
    "submitted": "Awaiting verification",
    "verified": "Verified",
    "rejected": "Sent back",
    "inadequate": "Inadequate",
}


def page(request: Request, session: Session, deps: InspectionsDeps) -> workspace.WorkspacePage:
    return workspace.page_for(
        request,
        session,
        service="inspections",
        links=deps.settings.workspace_links,
        hotline_agency=deps.settings.hotline_agency_id,
        now=deps.clock.now(),
    )


def status_label(p: workspace.WorkspacePage, status: str) -> str:
    return p.t(STATUS_ZH[status], STATUS_EN[status])


def photo_links(base: str, refs: list[attachments.Ref]) -> list[dict[str, Any]]:
    """What a template needs to show thumbnails linking to the image (the original, with the
    location only for whom the photo route allows it)."""
    return [
        {
            "id": r.attachment_id,
            "thumbnail": f"{base}photos/{r.attachment_id}/thumbnail",
            "image": f"{base}photos/{r.attachment_id}/{'original' if r.has_original else 'image'}",
        }
        for r in refs
    ]


def status_of(exc: DomainError) -> int:
    for kind, code in ((Forbidden, 403), (NotFound, 404), (InvalidInput, 422)):
        if isinstance(exc, kind):
            return code
    return 409


def queue_item(p: workspace.WorkspacePage, row: OrderRow, kind: str) -> dict[str, Any]:
    return {
        "kind": kind,
        "row": row,
        "deadline": row.order.deadline,
        "overdue": row.order.deadline < p.now,
        "status": row.order.status.value,
    }


@router.get(BASE, response_class=HTMLResponse)
async def today(request: Request, session: CurrentSession, deps: Deps) -> Response:
    """今日待办: submissions waiting for verification, orders running overdue, patrols due,
    facilities past their statutory service interval."""
    p = page(request, session, deps)
    refusal = policy.workspace_refusal(session.principal)
    if refusal is not None:
        if policy.orders_refusal(session.principal) is not None:  # an owner, an outside agency
            return workspace.refused(env, p, refusal)
        return RedirectResponse(p.url("orders"), status_code=303)  # an enterprise: its orders
    district = policy.district_scope(session.principal)
    async with deps.units() as uow:
        waiting = await uow.orders.search(
            district_code=district, enterprise_id=None, project_id=None,
            status="submitted", overdue=None, limit=QUEUE_LIMIT,
        )  # fmt: skip
        late = await uow.orders.search(
            district_code=district, enterprise_id=None, project_id=None,
            status=None, overdue=True, limit=QUEUE_LIMIT,
        )  # fmt: skip
        patrols = await uow.patrols.search(district_code=district, status="open")
        misses = await uow.facilities.misses(
            district_code=district, enterprise_id=None, open_only=True, limit=QUEUE_LIMIT
        )
    today_cn = intervals.today_in_china(p.now)
    missed = [
        {
            "miss": m,
            "kind": intervals.KINDS[m.facility.kind],
            "days": intervals.days_overdue(m.due_on, today_cn),
        }
        for m in misses
    ]
    late = [r for r in late if not r.order.closed and r.order.status.value != "submitted"]
    items = [queue_item(p, r, "verify") for r in waiting] + [queue_item(p, r, "late") for r in late]
    items.sort(key=lambda i: (not i["overdue"], i["deadline"]))
    patrols.sort(key=lambda s: s["due_by"])
    return workspace.render(
        env, p, "workspace_today.html", items=items, patrols=patrols,
        counts={
            "verify": len(waiting), "late": len(late), "patrols": len(patrols),
            "missed": len(missed),
        },
        missed=missed,
        limit=QUEUE_LIMIT, status_label=status_label,
    )  # fmt: skip


@router.get(BASE + "orders", response_class=HTMLResponse)
async def orders(
    request: Request, session: CurrentSession, deps: Deps, page_no: int = 1
) -> Response:
    """The open orders in the person's scope, overdue first, then by deadline, a page at a time
    (an enterprise: its own, read-only); the refusal page for anyone else."""
    p = page(request, session, deps)
    refusal = policy.orders_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    async with deps.units() as uow:
        rows = await uow.orders.search(
            district_code=policy.district_scope(session.principal),
            enterprise_id=policy.enterprise_scope(session.principal),
            project_id=None, status=None, overdue=None, limit=QUEUE_LIMIT,
        )  # fmt: skip
    items = [queue_item(p, r, "order") for r in rows if not r.order.closed]
    items.sort(key=lambda i: (not i["overdue"], i["deadline"]))
    pages = max(1, -(-len(items) // PAGE_SIZE))
    page_no = min(max(page_no, 1), pages)
    shown = items[(page_no - 1) * PAGE_SIZE : page_no * PAGE_SIZE]
    return workspace.render(
        env, p, "workspace_orders.html", items=shown, total=len(items), page_no=page_no,
        pages=pages, limit=QUEUE_LIMIT, status_label=status_label,
    )  # fmt: skip


async def _order(
    p: workspace.WorkspacePage, deps: InspectionsDeps, order_id: str
) -> tuple[OrderRow, list[dict[str, Any]], dict[str, Any]] | Response:
    """The order, its history and photos (the inspector's, the latest evidence), or the page saying why this person may not open it."""
    async with deps.units() as uow:
        row = await uow.orders.get(order_id)
        if row is None:
            return workspace.refused(
                env, p, Message("整改单不存在", "rectification order not found"), 404
            )
        names = {d["district_code"]: d["district_name"] for d in await uow.projects.districts()}
        mine = p.principal.district_code or ""
        refusal = policy.order_refusal(
            p.principal,
            row.district_code,
            names.get(row.district_code, row.district_code),
            row.enterprise_id,
            names.get(mine, mine),
        )
        if refusal is not None:
            return workspace.refused(env, p, refusal)
        history = await uow.orders.history(order_id)
        base = p.url("")
        evidence = photo_links(
            base,
            await uow.attachments.listed(
                rectifications.EVIDENCE_KIND,
                rectifications.evidence_owner(order_id, row.order.submissions),
            ),
        )
        found = []
        for item in row.items:
            found += await uow.attachments.listed(
                ITEM_KIND, photo_owner(row.inspection_id, item["item_id"])
            )
    return row, history, {"evidence": evidence, "found": photo_links(base, found)}


@router.get(BASE + "orders/{order_id}", response_class=HTMLResponse)
async def order(order_id: str, request: Request, session: CurrentSession, deps: Deps) -> Response:
    p = page(request, session, deps)
    found = await _order(p, deps, order_id)
    if isinstance(found, Response):
        return found
    row, history, photos = found
    may_decide = policy.decide_refusal(session.principal) is None
    may_submit = policy.submit_refusal(session.principal, row.enterprise_id) is None
    return workspace.render(
        env, p, "workspace_order.html", row=row, history=history, may_decide=may_decide,
        may_submit=may_submit, status_label=status_label, photos=photos, note="",
    )  # fmt: skip


@router.get(BASE + "orders/{order_id}/document.pdf")
async def order_document(
    order_id: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """The order as its official document (整改通知书): the API's handler, the same policy."""
    try:
        return await order_pdf(deps, session.principal, order_id)
    except DomainError as exc:
        return workspace.refused(env, page(request, session, deps), exc.message, 404)


@router.get(BASE + "orders/{order_id}/{decision}", response_class=HTMLResponse)
async def confirm(
    order_id: str, decision: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """One action, one page: what verifying (or rejecting) will do, then the one button."""
    p = page(request, session, deps)
    if decision not in ("verify", "reject"):
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    found = await _order(p, deps, order_id)
    if isinstance(found, Response):
        return found
    refusal = policy.decide_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    return workspace.render(
        env, p, "workspace_decide.html", row=found[0], decision=decision, reason="",
        history=found[1], photos=found[2],
    )  # fmt: skip


@router.post(BASE + "orders/{order_id}/{decision}", response_class=HTMLResponse)
async def decide(
    order_id: str,
    decision: str,
    request: Request,
    session: CurrentSession,
    deps: Deps,
    trace: RequestTrace,
) -> Response:
    p = page(request, session, deps)
    if decision not in ("verify", "reject"):
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    fields = await workspace.posted_form(request, session, f"decide:{order_id}:{decision}")
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    found = await _order(p, deps, order_id)
    if isinstance(found, Response):
        return found
    refusal = policy.decide_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    reason = fields.get("reason", "")[:1000]
    try:
        await rectifications.decide(
            deps.units(), order_id, policy.actor_of(session.principal), session.principal.subject,
            decision=decision, reason=reason, trace=trace,
        )  # fmt: skip
    except DomainError as exc:
        if exc.field:
            p.add("reason", exc.message.zh, exc.message.en)
            return workspace.render(
                env, p, "workspace_decide.html", 422, row=found[0], decision=decision,
                reason=reason, history=found[1], photos=found[2],
            )  # fmt: skip
        return workspace.refused(env, p, exc.message, status_of(exc))
    return RedirectResponse(p.url(f"orders/{order_id}", done=decision), status_code=303)
