"""Owner web pages: file a complaint, follow it up by ticket number + token, answer a satisfaction
survey with a one-time household token. Server-rendered HTML,
zh-CN first (English with ``?lang=en``), no JavaScript, every value escaped (Jinja2 autoescape).
The filing form takes photos (multipart; `runtime.attachments` checks and re-encodes them,
without EXIF) and the status page shows them through short-lived links bound to the browser.

Security: a strict CSP per page (stylesheet from 'self' only, no scripts at all); every POST must
come from our own pages (``Origin`` / ``Sec-Fetch-Site``) and carry a CSRF token signed for this
browser's session cookie (``csrf``); form bodies are parsed strictly, so bytes that are not UTF-8
are refused rather than stored (``forms``); the follow-up token only ever travels in POST bodies,
never in a URL; the public POSTs are rate-limited per client (``runtime.ratelimit``, per replica)
and answer an HTML 429 page (all of that in ``web_pages``). Contact details are never shown.
Translators only: the rules live in the domain and the service handlers.

Kept whole: the three owner flows share one router, the form helpers and the status texts, and
change together with the templates they fill.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import asdict
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from runtime import attachments, idempotency
from runtime.auth import Principal, Role
from runtime.errors import DomainError, InvalidInput, NotFound, Unavailable
from runtime.http import RequestTrace
from services.complaints.domain import categories, owner_input
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain import survey as survey_model
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.entrypoints import web_pages
from services.complaints.entrypoints.deps import ComplaintsDeps, Deps
from services.complaints.service import handling, intake, photos, survey_handling
from services.complaints.service.ports import Row

HERE = Path(__file__).resolve().parents[1]
STYLESHEET = HERE / "static" / "owner.css"
MAX_FOUND = 20  # projects one search of the owners' form shows
MAX_QUERY = 50  # characters of a project search
WEB_OWNER = Principal(subject="owner-web", role=Role.OWNER)  # the public form has no sign-in

STATUS_TEXT = {
    # Nobody has accepted it yet: the enterprise signs for it (签收) first, so nothing is 受理 yet.
    "filed": ("已提交，待物业企业签收", "Submitted, waiting for the property company to accept it"),
    "accepted": ("办理中", "Being handled"),
    "replied": ("已答复，请您评价", "Replied: please rate the handling"),
    "reopened": ("重新办理中", "Reopened, being handled again"),
    "closed": ("已办结", "Closed"),
}

router = APIRouter(include_in_schema=False, tags=["owner web"])


async def _project(deps: ComplaintsDeps, project_id: str) -> dict[str, str] | None:
    if not project_id:
        return None
    async with deps.units() as uow:
        found = await uow.projects.get(project_id[:64])
    return None if found is None else asdict(found)


async def _search(deps: ComplaintsDeps, text: str) -> list[dict[str, str]]:
    """Projects whose name or address contains `text`: one more than shown, to say there are
    more."""
    if not text:
        return []
    async with deps.units() as uow:
        found = await uow.projects.search(text, MAX_FOUND + 1)
    return [asdict(p) for p in found]


# --- filing ------------------------------------------------------------------------------------


@router.get("/static/owner.css")
async def stylesheet() -> Response:
    return Response(
        STYLESHEET.read_bytes(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


def _step1_errors(
    page: web_pages.Page,
    project: dict[str, str] | None,
    rules: ComplaintRules,
    category: str,
) -> None:
    if project is None:
        page.add(
            "project_id",
            "请先搜索并选择所投诉的项目（小区）",
            "Search for the project (estate) and choose it",
        )
    if category not in rules.categories.by_id:
        page.add("category", "请选择投诉类别", "Choose a category")


def _step1(
    page: web_pages.Page,
    rules: ComplaintRules,
    status: int,
    values: dict[str, str],
    chosen: dict[str, str] | None,
    found: list[dict[str, str]],
) -> HTMLResponse:
    shown = found[:MAX_FOUND]
    if chosen is not None and chosen["project_id"] not in {p["project_id"] for p in shown}:
        shown = [chosen, *shown]  # what was chosen stays on the page while searching again
    return web_pages.render(
        page,
        "file_step1.html",
        status,
        found=shown,
        matched=bool(found),
        more=len(found) > MAX_FOUND,
        categories=list(rules.categories.by_id.values()),
        values=values,
    )


@router.get("/", response_class=HTMLResponse)
async def file_form(request: Request, deps: Deps) -> HTMLResponse:
    """Step 1 (search for the project by name or address, choose it and the category: a GET form
    that works without JavaScript) or, once both are chosen, step 2 (details)."""
    page = web_pages.page_for(request, deps)
    rules = deps.rules
    query = request.query_params
    project_id, category = query.get("project_id", ""), query.get("category", "")
    text = " ".join(query.get("q", "").split())[:MAX_QUERY]
    chosen = await _project(deps, project_id)
    values = {"project_id": project_id, "category": category, "q": text}
    chosen_step = query.get("action") == "next" or "project_id" in query or "category" in query
    if query.get("action") != "search" and chosen_step:
        _step1_errors(page, chosen, rules, category)
        if chosen is not None and not page.errors:
            return _details(page, chosen, rules, {"project_id": project_id, "category": category})
    found = await _search(deps, text)
    return _step1(page, rules, 400 if page.errors else 200, values, chosen, found)


def _details(
    page: web_pages.Page,
    project: dict[str, str],
    rules: ComplaintRules,
    values: dict[str, str],
    status: int = 200,
) -> HTMLResponse:
    if _submission_id(values) is None:
        values = {**values, SUBMISSION_FIELD: secrets.token_urlsafe(24)}
    return web_pages.render(
        page,
        "file_step2.html",
        status,
        project=project,
        category=rules.categories.by_id[values["category"]],
        values=values,
        max_description=owner_input.MAX_DESCRIPTION,
    )


# Double-submit protection of the details form: the page carries a one-time submission id, used
# as the Idempotency-Key of the shared web principal. A second click (or a reload that re-posts)
# shows the complaint filed the first time, with a new follow-up token: the browser dropped the
# first answer and only its hash is stored.
SUBMISSION_FIELD = "submission_id"


def _submission_id(values: dict[str, str]) -> str | None:
    sent = values.get(SUBMISSION_FIELD, "")
    ok = 16 <= len(sent) <= 64 and all(c.isascii() and (c.isalnum() or c in "-_") for c in sent)
    return sent if ok else None


def _form_key(page: web_pages.Page, values: dict[str, str]) -> str | None:
    """The Idempotency-Key of a details form: its submission id bound to the browser's session,
    so that the id alone (seen over a shoulder, in a shared page cache) replays nothing in
    another browser: there it files a complaint of its own instead of taking over the first
    one with a new follow-up token."""
    submission = _submission_id(values)
    if submission is None:
        return None
    return hashlib.sha256(f"{page.session_id}:{submission}".encode()).hexdigest()


def _answers(
    page: web_pages.Page, category: categories.Category, form: dict[str, str]
) -> dict[str, str | bool]:
    answers: dict[str, str | bool] = {}
    for q in category.questions:
        raw = form.get(f"answer-{q.id}", "").strip()
        if not raw:
            if q.required:
                page.add(f"answer-{q.id}", f"请回答：{q.label_zh}", f"Please answer: {q.label_en}")
            continue
        answers[q.id] = raw == "yes" if q.kind == "yesno" else raw
    return answers


@router.post("/", response_class=HTMLResponse)
async def file_submit(request: Request, deps: Deps, trace: RequestTrace) -> HTMLResponse:
    page = web_pages.page_for(request, deps)
    posted = await web_pages.posted_with_photos(request, page)
    if isinstance(posted, HTMLResponse):
        return posted
    form, uploads = posted
    rules = deps.rules
    values = {k: v for k, v in form.items() if k not in ("csrf_token", "photo_refs")}
    project_id, category_id = values.get("project_id", ""), values.get("category", "")
    project = await _project(deps, project_id)
    _step1_errors(page, project, rules, category_id)
    if project is None or page.errors:
        return _step1(page, rules, 422, values, project, [])
    category = rules.categories.by_id[category_id]
    description = values.get("description", "")
    if not description.strip():
        page.add("description", "请填写投诉内容", "Describe the problem")
    elif len(description) > owner_input.MAX_DESCRIPTION:
        page.add(
            "description",
            f"投诉内容不能超过 {owner_input.MAX_DESCRIPTION} 字",
            f"The description may have at most {owner_input.MAX_DESCRIPTION} characters",
        )
    answers = _answers(page, category, values)
    anonymous = values.get("anonymous") == "yes"
    name = None if anonymous else values.get("contact_name", "").strip() or None
    phone = None if anonymous else values.get("contact_phone", "").strip() or None
    prepared: tuple[attachments.Prepared, ...] = ()
    try:  # decoding and re-encoding is CPU work: off the event loop
        prepared = await asyncio.to_thread(attachments.prepare_all, uploads, where="photos")
    except InvalidInput as exc:
        page.add_error(exc)
    if page.errors:
        if uploads:  # a browser cannot refill a file input: say so
            page.add(
                "photos",
                "您填写的内容已保留；照片需要重新选择。",
                "What you typed is kept; please choose the photos again.",
            )
        return _details(page, project, rules, values, 422)
    try:
        filed = await intake.file(
            deps.units(),
            rules,
            WEB_OWNER,
            intake.Intake(
                project_id=project_id,
                category=category_id,
                description=description,
                channel="web",
                contact_name=name,
                contact_phone=phone,
                address=values.get("address", "").strip() or None,
                answers=answers,
                photos=prepared,
            ),
            trace=trace,
            idempotency_key=_form_key(page, values),
        )
    except idempotency.KeyReused:  # the form was sent before with other content: a new one
        page.add(
            "",
            "这份表单已经提交过一次。如需再提交一份新的投诉，请核对内容后再次点击提交。",
            "This form was already submitted once. To file another complaint, check the "
            "details and submit again.",
        )
        values = {k: v for k, v in values.items() if k != SUBMISSION_FIELD}
        return _details(page, project, rules, values, 409)
    except Unavailable as exc:  # the platform's gap (a calendar year), not the owner's input
        return web_pages.render(
            page, "unavailable.html", 503, message_zh=exc.message.zh, message_en=exc.message.en
        )
    except DomainError as exc:  # the domain's own checks (length, HTML, phone, photos...)
        page.add_error(exc)
        return _details(page, project, rules, values, 422)
    return web_pages.render(
        page,
        "filed.html",
        201,
        ticket_no=filed.ticket_no,
        token=filed.token,
        status_text=STATUS_TEXT[filed.complaint.status.value],
        complaint=filed.complaint,
        alerts=rules.categories.alerts(filed.complaint),
    )


# --- follow-up ---------------------------------------------------------------------------------


@router.get("/track", response_class=HTMLResponse)
async def track_form(request: Request, deps: Deps) -> HTMLResponse:
    return web_pages.render(web_pages.page_for(request, deps), "track.html", values={})


def _timeline(page: web_pages.Page, c: complaint_model.Complaint) -> list[tuple[str, str, str]]:
    """(time, what, text) in order; no staff names, no contact details."""
    items = [(c.filed_at, page.t("提交投诉", "Complaint filed"), "")]
    if c.accepted_at is not None:
        items.append((c.accepted_at, page.t("企业签收办理", "Accepted for handling"), ""))
    for r in c.replies:
        items.append((r.at, page.t("答复", "Reply"), r.text))
    for f in c.feedback:
        verdict = page.t("满意", "satisfied") if f.satisfied else page.t("不满意", "not satisfied")
        note = f"{verdict} · {f.rating}/5" + (f" · {f.comment}" if f.comment else "")
        items.append((f.at, page.t("您的评价", "Your rating"), note))
    if c.closed_at is not None:
        items.append((c.closed_at, page.t("办结", "Closed"), ""))
    items.sort(key=lambda item: item[0])
    return [(page.when(at), what, text) for at, what, text in items]


async def _status_page(
    page: web_pages.Page, row: Row, token: str, values: dict[str, str], status: int = 200
) -> HTMLResponse:
    c = row.complaint
    refs = await photos.owner_refs(page.deps.units(), token)
    category = page.deps.rules.categories.by_id.get(c.category)
    return web_pages.render(
        page,
        "status.html",
        status,
        ticket_no=row.ticket_no,
        token=token,
        status_text=STATUS_TEXT[c.status.value],
        category=page.t(category.name_zh, category.name_en) if category else c.category,
        description=c.description,
        timeline=_timeline(page, c),
        awaiting_feedback=c.status is complaint_model.Status.REPLIED,
        values=values,
        photos=[
            (
                web_pages.photo_url(page, r.attachment_id, "thumbnail"),
                web_pages.photo_url(page, r.attachment_id, "image"),
            )
            for r in refs
        ],
    )


async def _lookup(deps: ComplaintsDeps, ticket_no: str, token: str) -> Row | None:
    if not token or len(token) > 128 or not ticket_no:
        return None
    try:
        row = await handling.get_by_token(deps.units(), token)
    except NotFound:
        return None
    if not secrets.compare_digest(row.ticket_no.encode(), ticket_no.strip().encode()):
        return None
    return row


@router.post("/track", response_class=HTMLResponse)
async def track_submit(request: Request, deps: Deps, trace: RequestTrace) -> HTMLResponse:
    """Look up (ticket number + token) or, with ``action=feedback``, rate the reply."""
    page = web_pages.page_for(request, deps)
    form = await web_pages.posted(request, page)
    if isinstance(form, HTMLResponse):
        return form
    # a token read out over the phone (代业主登记) is written down in groups: spaces do not count
    ticket_no, token = form.get("ticket_no", "").strip(), "".join(form.get("token", "").split())
    if not ticket_no:
        page.add("ticket_no", "请填写投诉编号", "Enter the ticket number")
    if not token:
        page.add("token", "请填写查询凭证", "Enter the private token")
    if page.errors:
        return web_pages.render(page, "track.html", 422, values={"ticket_no": ticket_no})
    row = await _lookup(deps, ticket_no, token)
    if row is None:
        page.add(
            "ticket_no",
            "投诉编号与查询凭证不匹配，请核对后重试",
            "The ticket number and token do not match; check them and try again",
        )
        return web_pages.render(page, "track.html", 404, values={"ticket_no": ticket_no})
    if form.get("action") != "feedback":
        return await _status_page(page, row, token, {})
    satisfied = form.get("satisfied", "")
    rating = form.get("rating", "")
    if satisfied not in ("yes", "no"):
        page.add("satisfied", "请选择是否满意", "Say whether you are satisfied")
    if rating not in {"1", "2", "3", "4", "5"}:
        page.add("rating", "请选择 1 至 5 分", "Choose a rating from 1 to 5")
    values = {"satisfied": satisfied, "rating": rating, "comment": form.get("comment", "")}
    if page.errors:
        return await _status_page(page, row, token, values, 422)
    try:
        row = await handling.feedback(
            deps.units(),
            deps.rules,
            token,
            satisfied=satisfied == "yes",
            rating=int(rating),
            comment=values["comment"].strip() or None,
            trace=trace,
        )
    except DomainError as exc:
        page.add_error(exc)
        return await _status_page(page, row, token, values, 422)
    return await _status_page(page, row, token, {})


# --- satisfaction survey -----------------------------------------------------------------------

SURVEY_COMMENT_MAX = 500


@router.get("/survey", response_class=HTMLResponse)
async def survey_form(request: Request, deps: Deps) -> HTMLResponse:
    return web_pages.render(web_pages.page_for(request, deps), "survey_token.html")


def _survey_page(
    page: web_pages.Page,
    survey: survey_model.Survey,
    token: str,
    values: dict[str, str],
    code: int = 200,
) -> HTMLResponse:
    return web_pages.render(
        page,
        "survey.html",
        code,
        survey=survey,
        token=token,
        values=values,
        comment_max=SURVEY_COMMENT_MAX,
    )


@router.post("/survey", response_class=HTMLResponse)
async def survey_submit(request: Request, deps: Deps) -> HTMLResponse:
    """The token opens the questions; ``action=answer`` records the one answer of the household."""
    page = web_pages.page_for(request, deps)
    form = await web_pages.posted(request, page)
    if isinstance(form, HTMLResponse):
        return form
    token = form.get("token", "").strip()
    survey = None
    if token and len(token) <= 128:
        try:
            survey = await survey_handling.questions_for_token(deps.units(), token)
        except NotFound:
            survey = None
    if survey is None:
        if token:
            page.add("token", "问卷凭证无效，请核对后重试", "Unknown survey token; check it")
        else:
            page.add("token", "请填写问卷凭证", "Enter the survey token")
        return web_pages.render(page, "survey_token.html", 404 if token else 422)
    if survey.status != "open" or survey_model.token_hash(token) in survey.used:
        return web_pages.render(page, "survey_done.html", 409, already=True)
    if form.get("action") != "answer":
        return _survey_page(page, survey, token, {})
    values = {k: v for k, v in form.items() if k.startswith("score-") or k == "survey_comment"}
    scores: dict[str, int] = {}
    for q in survey.questions:
        raw = values.get(f"score-{q.id}", "")
        if raw in {"1", "2", "3", "4", "5"}:
            scores[q.id] = int(raw)
        else:
            page.add(f"score-{q.id}", f"请为“{q.label_zh}”打分", f"Score: {q.label_en}")
    comment = values.get("survey_comment", "").strip()
    if len(comment) > SURVEY_COMMENT_MAX:
        page.add(
            "survey_comment",
            f"意见不能超过 {SURVEY_COMMENT_MAX} 字",
            f"The comment may have at most {SURVEY_COMMENT_MAX} characters",
        )
    if page.errors:
        return _survey_page(page, survey, token, values, 422)
    try:
        await survey_handling.answer(deps.units(), token, scores, comment or None)
    except DomainError as exc:
        page.add_error(exc)
        return _survey_page(page, survey, token, values, 422)
    return web_pages.render(page, "survey_done.html", already=False)
