"""The notices pages of the staff workspace (issue 15): the signed-in person's inbox (an
enterprise's, a district office's, the city office's: the same inbox as `GET /api/v1/notices`),
unread first, a notice with its 文号 and issuing office and a link to what it is about in the owning
service's workspace, and marking a notice read (POST with the CSRF token). On the shared shell
`runtime.workspace`; every refusal from `policy`, every read and change through `service.inbox`
like the API."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import workspace
from runtime.errors import DomainError, Message
from runtime.web_session import CurrentSession, Session
from services.notifications.entrypoints import policy
from services.notifications.entrypoints.deps import Deps, NotificationsDeps
from services.notifications.service import inbox
from services.notifications.service.ports import Row

BASE = "/workspace/notifications/"
env = workspace.environment(Path(__file__).resolve().parents[1] / "templates")
router = APIRouter(include_in_schema=False)
workspace.add_static_route(router, BASE + "static/workspace.css")
INBOX_LIMIT = 200  # the API's own maximum
KINDS = {
    "notice": ("通知", "Notice"),
    "reminder": ("催办", "Reminder"),
    "criticism": ("通报批评", "Criticism"),
}
# Where a notice's subject has a page in its owning service's workspace: (service, path).
SUBJECT_PAGES = {
    "rectification_order": ("inspections", "orders/{id}"),
}
NOT_FOUND = Message("通知不存在", "No such notice in your inbox")


def page(
    request: Request, session: Session, deps: NotificationsDeps, unread: int | None = None
) -> workspace.WorkspacePage:
    p = workspace.page_for(
        request,
        session,
        service="notifications",
        links=deps.settings.workspace_links,
        now=deps.clock.now(),
    )
    if unread is not None:
        p.counts["notifications"] = unread
    return p


def kind_label(p: workspace.WorkspacePage, kind: str) -> str:
    zh, en = KINDS.get(kind, (kind, kind))
    return p.t(zh, en)


def subject_link(p: workspace.WorkspacePage, notice: Row) -> str | None:
    found = SUBJECT_PAGES.get(notice["subject_kind"])
    if found is None:
        return None
    service, path = found
    return p.base(service) + path.format(id=notice["subject_id"])


def issuing_office(p: workspace.WorkspacePage, notice: Row, district_name: str | None) -> str:
    """Criticisms and district notices are the district office's; without a district, the city's."""
    if notice["district_code"]:
        name = district_name or notice["district_code"]
        return p.t(f"{name}物业管理办公室", f"{name} property management office")
    return p.t("天津市物业管理办公室", "Tianjin city property management office")


async def unread_count(deps: NotificationsDeps, recipient: tuple[str, str]) -> int:
    rows = await inbox.copies(
        deps.units(), recipient, kind=None, unread=True, project_id=None, limit=INBOX_LIMIT
    )
    return len(rows)


@router.get(BASE, response_class=HTMLResponse)
async def notices(request: Request, session: CurrentSession, deps: Deps) -> Response:
    """我的通知: unread first, each group newest first."""
    refusal = policy.inbox_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, page(request, session, deps), refusal)
    recipient = policy.inbox_of(session.principal)
    rows = await inbox.copies(
        deps.units(), recipient, kind=None, unread=False, project_id=None, limit=INBOX_LIMIT
    )
    rows.sort(key=lambda r: r["issued_at"], reverse=True)
    rows.sort(key=lambda r: r["read_at"] is not None)  # stable: unread first, newest first
    unread = sum(1 for r in rows if r["read_at"] is None)
    p = page(request, session, deps, unread)
    return workspace.render(
        env, p, "notices.html", rows=rows, unread=unread, limit=INBOX_LIMIT,
        kind_label=kind_label,
    )  # fmt: skip


async def _shown(
    request: Request, session: Session, deps: NotificationsDeps, notice_id: str, code: int = 200
) -> Response:
    refusal = policy.inbox_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, page(request, session, deps), refusal)
    recipient = policy.inbox_of(session.principal)
    found = await inbox.inbox_notice(deps.units(), notice_id[:64], recipient)
    p = page(request, session, deps, await unread_count(deps, recipient))
    if found is None:  # not in this person's inbox: as if it did not exist
        return workspace.refused(env, p, NOT_FOUND, 404)
    n = found.notice
    return workspace.render(
        env, p, "notice.html", code, notice=n, copy=found.copy, project_name=found.project_name,
        office=issuing_office(p, n, found.district_name), link=subject_link(p, n),
        kind_label=kind_label,
    )  # fmt: skip


@router.get(BASE + "notices/{notice_id}", response_class=HTMLResponse)
async def notice(notice_id: str, request: Request, session: CurrentSession, deps: Deps) -> Response:
    return await _shown(request, session, deps, notice_id)


@router.post(BASE + "notices/{notice_id}/read", response_class=HTMLResponse)
async def mark_read(
    notice_id: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """标记已读, through the same service function as `POST /api/v1/notices/{id}/read`."""
    p = page(request, session, deps)
    refusal = policy.inbox_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    posted = await workspace.posted_form(request, session, f"read:{notice_id}", max_bytes=8 * 1024)
    if isinstance(posted, Message):
        return workspace.refused(env, p, posted)
    try:
        await inbox.mark_read(deps.units(), notice_id[:64], policy.inbox_of(session.principal))
    except DomainError:
        return workspace.refused(env, p, NOT_FOUND, 404)
    back = "notices/" + notice_id if request.query_params.get("from") == "notice" else ""
    return RedirectResponse(p.url(back, done="read"), status_code=303)
