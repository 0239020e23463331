"""The enterprise's survey tokens on the complaints workspace (issue 15): its projects' surveys,
and one-time tokens handed out on a printable page (shown once: only their hashes are stored).
Tokens are issued by the same handler as the API (`survey_handling.issue_tokens`); who may run
surveys is `policy.survey_refusal`. And the owners' comments of closed surveys (issue 16) for the
enterprise, the district office and the city office, each in their scope, masked as the API
gives them (`survey_handling.comments_in_scope`)."""

from __future__ import annotations

import segno
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from runtime import workspace
from runtime.errors import DomainError, Message
from runtime.web_session import CurrentSession
from services.complaints.entrypoints import policy
from services.complaints.entrypoints.deps import Deps
from services.complaints.entrypoints.workspace_pages import BASE, env, page, status_of
from services.complaints.service import survey_handling

router = APIRouter(include_in_schema=False)
MAX_TOKENS = 200  # one printed batch


def qr_code(url: str) -> Markup:
    """The survey address as an inline SVG QR code (segno; error correction M survives a
    smudged print). The address only: a token never goes into a URL (access logs keep URLs)."""
    svg: str = segno.make(url, error="m").svg_inline(scale=4, border=2, omitsize=True)
    return Markup(svg)  # noqa: S704 (segno's SVG: a path of the modules, no text of ours)


@router.get(BASE + "surveys", response_class=HTMLResponse)
async def surveys(request: Request, session: CurrentSession, deps: Deps) -> Response:
    p = page(request, session, deps)
    refusal = policy.survey_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    async with deps.units() as uow:
        rows = await uow.surveys.listed(
            enterprise_id=session.principal.enterprise_id, district_code=None, campaign_id=None
        )
        issued = {r.survey.survey_id: len(await uow.surveys.token_hashes(r.survey.survey_id))
                  for r in rows}  # fmt: skip
    return workspace.render(
        env, p, "workspace_surveys.html", rows=rows, issued=issued, max_tokens=MAX_TOKENS
    )


COMMENTS_PAGE = 10  # surveys per page


@router.get(BASE + "survey-comments", response_class=HTMLResponse)
async def survey_comments(
    request: Request, session: CurrentSession, deps: Deps, page_no: int = 1
) -> Response:
    """调查留言: closed surveys in scope, those with comments first, each with its comments."""
    p = page(request, session, deps)
    refusal = policy.desk_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    try:
        found, still_open = await survey_handling.comments_in_scope(deps.units(), session.principal)
    except DomainError as exc:
        return workspace.refused(env, p, exc.message, status_of(exc))
    async with deps.units() as uow:
        projects = await uow.projects.listed(limit=5000)
    names = {pr.project_id: pr.project_name for pr in projects}
    found.sort(
        key=lambda f: (
            not f.comments,
            -(f.row.survey.closed_at or f.row.survey.closes_at).timestamp(),
        )
    )
    pages = max(1, -(-len(found) // COMMENTS_PAGE))
    page_no = min(max(page_no, 1), pages)
    shown = found[(page_no - 1) * COMMENTS_PAGE : page_no * COMMENTS_PAGE]
    return workspace.render(
        env, p, "workspace_survey_comments.html", items=shown, names=names, page_no=page_no,
        pages=pages, still_open=still_open, total=len(found),
        with_comments=sum(1 for f in found if f.comments),
    )  # fmt: skip


@router.post(BASE + "surveys/{survey_id}/tokens", response_class=HTMLResponse)
async def tokens(survey_id: str, request: Request, session: CurrentSession, deps: Deps) -> Response:
    """Issue a batch and show it once, ready to print and cut into slips."""
    p = page(request, session, deps)
    fields = await workspace.posted_form(request, session, f"survey-tokens:{survey_id}")
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    refusal = policy.survey_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    count = fields.get("count", "").strip()
    if not count.isdigit() or not 1 <= int(count) <= MAX_TOKENS:
        return workspace.refused(
            env, p,
            Message(f"份数须为 1 到 {MAX_TOKENS}", f"Enter 1 to {MAX_TOKENS} tokens"), 422,
        )  # fmt: skip
    try:
        issued = await survey_handling.issue_tokens(
            deps.units(), session.principal, survey_id, int(count)
        )
    except DomainError as exc:
        return workspace.refused(env, p, exc.message, status_of(exc))
    async with deps.units() as uow:
        row = await uow.surveys.get(survey_id)
        project = await uow.projects.get(row.survey.project_id) if row else None
    project_name = project.project_name if project else (row.survey.project_id if row else "")
    survey_url = str(request.base_url).rstrip("/") + "/survey"
    response = workspace.render(
        env, p, "workspace_tokens.html", tokens=issued, survey_url=survey_url,
        project_name=project_name, qr=qr_code(survey_url),
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"  # shown once
    return response
