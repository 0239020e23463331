"""What every owner page shares: the page context (language, CSRF token, error summary), the
strict rendering (CSP, cookies, headers) and the checks on every POST (rate limit, origin, form
body, CSRF token). The pages themselves are in `web`."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import structlog
from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from runtime import attachments
from runtime.attachments import Upload
from runtime.calendar import CHINA
from runtime.errors import DomainError
from runtime.ratelimit import limiters, retry_after_header
from services.complaints.entrypoints import csrf, forms
from services.complaints.entrypoints.deps import ComplaintsDeps

HERE = Path(__file__).resolve().parents[1]
log = structlog.get_logger(__name__)
MAX_FORM_BYTES = 64 * 1024
PHOTOS_FIELD = "photos"
# the complaint form with photos: every photo at its cap, and the text fields
_LIMITS = attachments.DEFAULT_LIMITS
MAX_UPLOAD_BYTES = _LIMITS.max_count * _LIMITS.max_bytes + MAX_FORM_BYTES
# Only our stylesheet; no script source at all; forms post back to us only.
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# Domain field names -> the form control that shows the error.
FIELD_IDS = {
    "project_id": "project_id",
    "category": "category",
    "description": "description",
    "address": "address",
    "contact.name": "contact_name",
    "contact.phone": "contact_phone",
    "photo_refs": "photos",
    "satisfied": "satisfied",
    "rating": "rating",
    "comment": "comment",
    "ticket_no": "ticket_no",
    "token": "token",
    "survey_comment": "survey_comment",
}

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Page:
    """What every template gets: language, CSRF token and the error summary."""

    request: Request
    deps: ComplaintsDeps
    lang: str
    session_id: str  # the browser's (csrf.cookie_name), set again with every page
    csrf: str  # the token signed for that session, in each form's hidden field
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field id, text)

    def t(self, zh: str, en: str) -> str:
        return en if self.lang == "en" else zh

    def url(self, path: str, **params: str) -> str:
        query = dict(params)
        if self.lang == "en":
            query["lang"] = "en"
        return path + ("?" + urlencode(query) if query else "")

    def switch_url(self) -> str:
        path = self.request.url.path
        return path if self.lang == "en" else path + "?lang=en"

    def error_for(self, field_id: str) -> str | None:
        return next((text for f, text in self.errors if f == field_id), None)

    def add(self, field_id: str, zh: str, en: str) -> None:
        self.errors.append((field_id, self.t(zh, en)))

    def add_error(self, exc: DomainError) -> None:
        self.errors.append((_field_id(exc.field), self.t(exc.message.zh, exc.message.en)))

    def when(self, moment: datetime | None) -> str:
        return "" if moment is None else f"{moment.astimezone(CHINA):%Y-%m-%d %H:%M}"


def _field_id(name: str | None) -> str:
    if name is None:
        return ""
    if name.startswith("answers."):
        return "answer-" + name.split(".", 1)[1]
    if name.startswith("scores."):
        return "score-" + name.split(".", 1)[1]
    if name.startswith(("photo_refs", "photos")):
        return "photos"
    return FIELD_IDS.get(name, "")


def _secure(request: Request, deps: ComplaintsDeps) -> bool:
    return request.url.scheme == "https" or deps.settings.public_https


def _session_id(request: Request, deps: ComplaintsDeps) -> str:
    return request.cookies.get(csrf.cookie_name(_secure(request, deps)), "")


def page_for(request: Request, deps: ComplaintsDeps) -> Page:
    lang = "en" if request.query_params.get("lang") == "en" else "zh"
    session_id = _session_id(request, deps)
    if not csrf.valid_session_id(session_id):
        session_id = csrf.new_session_id()
    token = csrf.issue(deps.session_key, session_id, time.time())
    return Page(request, deps, lang, session_id, token)


def render(page: Page, template: str, code: int = 200, **context: Any) -> HTMLResponse:
    html = templates.get_template(template).render(page=page, t=page.t, **context)
    response = HTMLResponse(html, status_code=code)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    # Our forms then carry their real Origin (csrf.cross_site); other sites still get no Referer.
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Language"] = "en" if page.lang == "en" else "zh-CN"
    secure = _secure(page.request, page.deps)
    response.set_cookie(
        csrf.cookie_name(secure),
        page.session_id,
        httponly=True,
        samesite="strict",
        secure=secure,
        path="/",
    )
    return response


async def _body(request: Request) -> bytes | None:
    """The urlencoded body, None when too big or not a form."""
    if not request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    return body


async def posted(request: Request, page: Page) -> dict[str, str] | HTMLResponse:
    """The form of a POST (first value of each name), or the page to show instead: 429 past the
    rate limit, 403 from another site or without a valid token, 400 for a body that is not UTF-8."""
    refused = _refused(request, page)
    if refused is not None:
        return refused
    body = await _body(request)
    if body is None:
        return render(page, "expired.html", 403)
    try:
        form = forms.parse(body)
    except forms.InvalidForm as exc:
        return render(page, "bad_form.html", 400, reason=exc.message)
    return _checked_token(request, page, form)


async def posted_with_photos(
    request: Request, page: Page
) -> tuple[dict[str, str], list[Upload]] | HTMLResponse:
    """`posted` for the complaint form, which may come as `multipart/form-data` with photos (field
    `photos`); the same checks, and 413 for a body over the photos' total."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await posted(request, page)
        return form if isinstance(form, HTMLResponse) else (form, [])
    refused = _refused(request, page)
    if refused is not None:
        return refused
    try:
        fields, uploads = await forms.parse_multipart(
            request.headers,
            request.stream(),
            file_field=PHOTOS_FIELD,
            max_bytes=MAX_UPLOAD_BYTES,
            max_files=attachments.DEFAULT_LIMITS.max_count,
        )
    except forms.InvalidForm as exc:
        code = 413 if exc.message is forms.TOO_BIG else 400
        return render(page, "bad_form.html", code, reason=exc.message)
    checked = _checked_token(request, page, fields)
    return checked if isinstance(checked, HTMLResponse) else (checked, uploads)


def _refused(request: Request, page: Page) -> HTMLResponse | None:
    wait = limiters(request).check(request, "owner-web")
    if wait is not None:
        response = render(page, "too_many.html", 429, retry_after=retry_after_header(wait))
        response.headers["Retry-After"] = retry_after_header(wait)
        return response
    foreign = csrf.cross_site(request, public_https=page.deps.settings.public_https)
    if foreign is not None:
        log.warning(
            "web_post_refused",
            reason=foreign,
            path=request.url.path,
            origin=request.headers.get("origin", "")[:100],
            host=request.headers.get("host", "")[:100],
        )
        return render(page, "expired.html", 403)
    return None


def _checked_token(
    request: Request, page: Page, form: dict[str, str]
) -> dict[str, str] | HTMLResponse:
    session_id = _session_id(request, page.deps)
    token = form.get("csrf_token", "")
    if not csrf.valid_session_id(session_id) or not csrf.verify(
        page.deps.session_key, session_id, token, time.time()
    ):
        log.warning("web_post_refused", reason="csrf token", path=request.url.path)
        return render(page, "expired.html", 403)
    return form


def photo_url(page: Page, attachment_id: str, variant: str) -> str:
    """A link to one of the owner's photos, for this browser only and for a short while
    (`csrf.photo_signature`); served by `photos_http.owner_photo`."""
    until, sig = csrf.photo_signature(
        page.deps.session_key, page.session_id, attachment_id, variant, time.time()
    )
    return f"/photos/{attachment_id}/{variant}?{urlencode({'until': until, 'sig': sig})}"


def photo_link_ok(request: Request, deps: ComplaintsDeps, attachment_id: str, variant: str) -> bool:
    session_id = _session_id(request, deps)
    return csrf.valid_session_id(session_id) and csrf.photo_signature_ok(
        deps.session_key,
        session_id,
        attachment_id,
        variant,
        request.query_params.get("until", ""),
        request.query_params.get("sig", ""),
        time.time(),
    )
