"""The notices pages of the staff workspace (issue 15): the signed-in person's inbox (an
enterprise's, a district office's, the city office's: the same inbox as `GET /api/v1/notices`),
unread first, a notice with its 文号 and issuing office and a link to what it is about in the owning
service's workspace, and marking a notice read (POST with the CSRF token). An issued criticism
opens as its official document (PDF).

Criticism drafts (issue 16): the district office's list of drafts the ladder wrote (oldest
first; the city office reads every district's), a draft with its preview, a sign-off page that
says what signing off does, and withdrawal with a reason. On the shared shell `runtime.workspace`;
every refusal from `policy`, every read and change through `service.inbox` and
`service.criticisms` like the API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import workspace
from runtime.auth import Principal
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound
from runtime.web_session import CurrentSession, Session
from services.notifications.domain.notices import Draft
from services.notifications.entrypoints import policy
from services.notifications.entrypoints.deps import Deps, NotificationsDeps
from services.notifications.entrypoints.http import criticism_pdf
from services.notifications.service import criticisms
from services.notifications.service import inbox as inboxes
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


@dataclass(frozen=True)
class SubjectPage:
    """Where the person acts on a notice's subject: a page of the owning service's workspace
    (its base from WORKSPACE_LINKS), the path built from the notice's ids."""

    service: str
    path: str  # formatted with subject_id and project_id, each URL-quoted
    label: tuple[str, str]


@dataclass(frozen=True)
class SubjectLink:
    href: str | None  # None: no page for this kind of subject
    label: str


# By the rules' subject kind (data/rules.toml; `exposure_case` for notices about a case).
SUBJECT_PAGES = {
    "rectification_order": SubjectPage(
        "inspections", "orders/{subject_id}", ("办理整改单", "Open the rectification order")
    ),
    "complaint": SubjectPage("complaints", "c/{subject_id}", ("办理投诉", "Open the complaint")),
    "exposure_case": SubjectPage(
        "exposure", "cases/{subject_id}", ("查看曝光案件", "Open the exposure case")
    ),
    "inspection": SubjectPage(
        "inspections", "inspections/{subject_id}", ("查看检查结果", "Open the inspection")
    ),
    "patrol": SubjectPage("inspections", "patrol/{project_id}", ("开始巡查", "Start the patrol")),
    "facility": SubjectPage(
        "inspections", "facilities/{subject_id}", ("记录设施维保", "Record the facility's service")
    ),
}
# Kinds whose work has no workspace page (yet): what the person is told instead.
NO_PAGE = {
    "plan": (
        "活动方案通过接口提交，工作台暂无方案页面。",
        "Activity plans are submitted through the API; the workspace has no plan page.",
    ),
    "survey": (
        "满意度调查通过接口发起，工作台暂无发起页面（已发起的调查在投诉工作台的“满意度调查凭证”）。",
        "Surveys are opened through the API; the workspace has no page to open one (opened "
        "surveys are under the complaints workspace's survey tokens).",
    ),
}
NO_PAGE_AT_ALL = ("此类通知没有对应的办理页面。", "This kind of notice has no page to act on.")
NOT_FOUND = Message("通知不存在", "No such notice in your inbox")


def page(
    request: Request, session: Session, deps: NotificationsDeps, unread: int | None = None
) -> workspace.WorkspacePage:
    p = workspace.page_for(
        request,
        session,
        service="notifications",
        links=deps.settings.workspace_links,
        hotline_agency=deps.settings.hotline_agency_id,
        now=deps.clock.now(),
    )
    if unread is not None:
        p.counts["notifications"] = unread
    return p


def kind_label(p: workspace.WorkspacePage, kind: str) -> str:
    zh, en = KINDS.get(kind, (kind, kind))
    return p.t(zh, en)


def subject_link(p: workspace.WorkspacePage, notice: Row) -> SubjectLink:
    """The page where the person acts on the notice, or why there is none."""
    found = SUBJECT_PAGES.get(notice["subject_kind"])
    ids = {"subject_id": notice["subject_id"], "project_id": notice.get("project_id")}
    if found is None or any(f"{{{k}}}" in found.path and not v for k, v in ids.items()):
        return SubjectLink(None, p.t(*NO_PAGE.get(notice["subject_kind"], NO_PAGE_AT_ALL)))
    path = found.path.format(**{k: quote(v or "", safe="") for k, v in ids.items()})
    return SubjectLink(p.base(found.service) + path, p.t(*found.label))


def issuing_office(p: workspace.WorkspacePage, notice: Row, district_name: str | None) -> str:
    """Criticisms and district notices are the district office's; without a district, the city's."""
    if notice["district_code"]:
        name = district_name or notice["district_code"]
        return p.t(f"{name}物业管理办公室", f"{name} property management office")
    return p.t("天津市物业管理办公室", "Tianjin city property management office")


async def unread_count(deps: NotificationsDeps, recipient: tuple[str, str]) -> int:
    rows = await inboxes.copies(
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
    rows = await inboxes.copies(
        deps.units(), recipient, kind=None, unread=False, project_id=None, limit=INBOX_LIMIT
    )
    rows.sort(key=lambda r: r["issued_at"], reverse=True)
    rows.sort(key=lambda r: r["read_at"] is not None)  # stable: unread first, newest first
    unread = sum(1 for r in rows if r["read_at"] is None)
    p = page(request, session, deps, unread)
    return workspace.render(
        env, p, "notices.html", rows=rows, unread=unread, limit=INBOX_LIMIT,
        kind_label=kind_label, subject_link=subject_link,
    )  # fmt: skip


async def _shown(
    request: Request, session: Session, deps: NotificationsDeps, notice_id: str, code: int = 200
) -> Response:
    refusal = policy.inbox_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, page(request, session, deps), refusal)
    recipient = policy.inbox_of(session.principal)
    found = await inboxes.inbox_notice(deps.units(), notice_id[:64], recipient)
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
        await inboxes.mark_read(deps.units(), notice_id[:64], policy.inbox_of(session.principal))
    except DomainError:
        return workspace.refused(env, p, NOT_FOUND, 404)
    back = "notices/" + notice_id if request.query_params.get("from") == "notice" else ""
    return RedirectResponse(p.url(back, done="read"), status_code=303)


@router.get(BASE + "criticisms/{notice_id}/document.pdf")
async def criticism_document(
    notice_id: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """The issued criticism as its official document: the API's handler, the same policy."""
    try:
        return await criticism_pdf(deps, session.principal, notice_id[:64])
    except DomainError as exc:
        return workspace.refused(env, page(request, session, deps), exc.message, status_of(exc))


# -- criticism drafts -----------------------------------------------------------------------------

REASONS = {
    "rectification_overdue": ("整改不及时", "Late rectification"),
    "rectification_inadequate": ("整改不到位", "Inadequate rectification"),
    "complaint_overdue": ("投诉办理超期", "Complaint handling overdue"),
}
DRAFT_ACTIONS = ("sign-off", "withdraw")


def status_of(exc: DomainError) -> int:
    for kind, code in ((Forbidden, 403), (NotFound, 404), (InvalidInput, 422)):
        if isinstance(exc, kind):
            return code
    return 409


def reason_label(p: workspace.WorkspacePage, reason: str) -> str:
    zh, en = REASONS.get(reason, (reason, reason))
    return p.t(zh, en)


def _may_decide(principal: Principal) -> bool:
    try:
        policy.signing_district(principal)
    except Forbidden:
        return False
    return True


@router.get(BASE + "drafts", response_class=HTMLResponse)
async def drafts(request: Request, session: CurrentSession, deps: Deps) -> Response:
    """通报批评待签发: the drafts waiting for the office, the one waiting longest first."""
    p = page(request, session, deps)
    try:
        scope = policy.drafts_scope(session.principal)
    except Forbidden as exc:
        return workspace.refused(env, p, exc.message)
    rows = await criticisms.drafts(deps.units(), scope, status="draft", limit=INBOX_LIMIT)
    names = await _project_names(deps, [d.project_id for d in rows])
    return workspace.render(
        env, p, "drafts.html", drafts=rows, names=names, reason_label=reason_label,
        may_decide=_may_decide(session.principal), limit=INBOX_LIMIT,
    )  # fmt: skip


async def _project_names(deps: NotificationsDeps, ids: list[str | None]) -> dict[str, str]:
    return await inboxes.project_names(deps.units(), [i for i in ids if i])


async def _draft(
    p: workspace.WorkspacePage, deps: NotificationsDeps, draft_id: str
) -> Draft | Response:
    try:
        scope = policy.drafts_scope(p.principal)
        return await criticisms.get_draft(deps.units(), draft_id[:64], scope)
    except DomainError as exc:
        return workspace.refused(env, p, exc.message, status_of(exc))


@router.get(BASE + "drafts/{draft_id}", response_class=HTMLResponse)
async def draft(draft_id: str, request: Request, session: CurrentSession, deps: Deps) -> Response:
    p = page(request, session, deps)
    found = await _draft(p, deps, draft_id)
    if isinstance(found, Response):
        return found
    names = await _project_names(deps, [found.project_id])
    return workspace.render(
        env, p, "draft.html", draft=found, names=names, reason_label=reason_label,
        may_decide=_may_decide(session.principal), action=None, reason="",
    )  # fmt: skip


@router.get(BASE + "drafts/{draft_id}/{action}", response_class=HTMLResponse)
async def draft_action(
    draft_id: str, action: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """One action, one page: what signing off does, or why the draft is withdrawn."""
    p = page(request, session, deps)
    if action not in DRAFT_ACTIONS:
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    found = await _draft(p, deps, draft_id)
    if isinstance(found, Response):
        return found
    try:
        policy.signing_district(session.principal)
    except Forbidden as exc:
        return workspace.refused(env, p, exc.message)
    names = await _project_names(deps, [found.project_id])
    return workspace.render(
        env, p, "draft.html", draft=found, names=names, reason_label=reason_label,
        may_decide=True, action=action, reason="",
    )  # fmt: skip


@router.post(BASE + "drafts/{draft_id}/{action}", response_class=HTMLResponse)
async def decide_draft(
    draft_id: str, action: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """签发 or 撤回, through the same service functions as the API."""
    p = page(request, session, deps)
    if action not in DRAFT_ACTIONS:
        return workspace.refused(env, p, Message("没有这个操作", "No such action"), 404)
    fields = await workspace.posted_form(request, session, f"draft:{draft_id}:{action}")
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    found = await _draft(p, deps, draft_id)
    if isinstance(found, Response):
        return found
    try:
        district = policy.signing_district(session.principal)
    except Forbidden as exc:
        return workspace.refused(env, p, exc.message)
    reason = fields.get("reason", "").strip()[:500]
    try:
        if action == "sign-off":
            notice = await criticisms.sign_off(
                deps.units(), deps.book, found.draft_id, district_code=district,
                by=session.principal.subject,
            )  # fmt: skip
            return RedirectResponse(
                p.url("notices/" + notice.notice_id, done="signed"), status_code=303
            )
        await criticisms.withdraw(
            deps.units(), found.draft_id, district_code=district,
            by=session.principal.subject, reason=reason,
        )  # fmt: skip
    except DomainError as exc:
        if exc.field == "reason":
            p.add("reason", exc.message.zh, exc.message.en)
            names = await _project_names(deps, [found.project_id])
            return workspace.render(
                env, p, "draft.html", 422, draft=found, names=names, reason_label=reason_label,
                may_decide=True, action=action, reason=reason,
            )  # fmt: skip
        return workspace.refused(env, p, exc.message, status_of(exc))
    return RedirectResponse(p.url("drafts", done="withdrawn"), status_code=303)
