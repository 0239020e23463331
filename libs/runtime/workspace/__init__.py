"""The staff workspace's shared shell: one look, one navigation, one language switch for the
pages every service serves for its own work (issue 15).

A service builds its Jinja environment with `environment(<its template folder>)` (its own
templates first, then the shared `workspace/` ones: `workspace/base.html`, `workspace/macros.html`,
`workspace/refused.html`), builds a `WorkspacePage` per request with `page_for` and answers with
`render` (strict CSP: our stylesheet only, no script at all). `add_static_route` serves the shared
stylesheet under the service's own workspace path, so an ingress routing by path needs nothing else.

Navigation across services: each service's workspace base URL comes from the `WORKSPACE_LINKS`
setting (`inspections=http://127.0.0.1:8002/workspace/inspections/,complaints=...`); without it
the links are the paths one host routes (Kubernetes ingress). Language: zh-CN first; `?lang=en`
(or `?lang=zh`) switches and is remembered in a cookie.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.errors import DomainError, Message
from runtime.web_session import Session, check_csrf, csrf_token

HERE = Path(__file__).resolve().parent
STYLESHEET = HERE / "static" / "workspace.css"
LANG_COOKIE = "wuye_lang"
PAGE_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
ROLE_NAMES = {
    Role.DISTRICT_OFFICE: ("区县物业办", "District office"),
    Role.ENTERPRISE: ("物业企业", "Property enterprise"),
    Role.CITY_OFFICE: ("市物业办", "City office"),
    Role.AGENCY: ("外部机构", "Outside agency"),
    Role.OWNER: ("业主", "Owner"),
}


@dataclass(frozen=True)
class NavEntry:
    service: str
    path: str  # under the service's workspace base
    zh: str
    en: str
    roles: frozenset[Role]
    # for an outside agency: only the 12345 hotline (`WorkspacePage.hotline_agency`)
    hotline_only: bool = False


OFFICES = frozenset({Role.DISTRICT_OFFICE, Role.CITY_OFFICE})
# One navigation across the services' workspace pages (each service serves its own).
NAVIGATION = (
    NavEntry("inspections", "", "今日待办", "Today", OFFICES),
    NavEntry("inspections", "patrol", "巡查", "Patrol", OFFICES),
    NavEntry("inspections", "orders", "整改单", "Orders", OFFICES | {Role.ENTERPRISE}),
    NavEntry("inspections", "draws", "双随机抽查", "Random patrols", OFFICES),
    NavEntry(
        "inspections", "facilities", "设施维保", "Facility servicing", OFFICES | {Role.ENTERPRISE}
    ),
    NavEntry("complaints", "", "投诉（升级）", "Complaints (escalated)", OFFICES),
    NavEntry("complaints", "", "投诉办理", "Complaints", frozenset({Role.ENTERPRISE})),
    NavEntry(
        "complaints",
        "register",
        "代业主登记",
        "Register for an owner",
        frozenset({Role.DISTRICT_OFFICE, Role.AGENCY}),
        hotline_only=True,
    ),
    NavEntry(
        "complaints",
        "survey-comments",
        "调查留言",
        "Survey comments",
        OFFICES | {Role.ENTERPRISE},
    ),
    NavEntry("exposure", "", "曝光案件待审", "Cases in review", OFFICES),
    NavEntry("exposure", "", "本企业曝光案件", "Our exposure cases", frozenset({Role.ENTERPRISE})),
    NavEntry(
        "exposure", "campaign", "全市总览", "Campaign overview", frozenset({Role.CITY_OFFICE})
    ),
    NavEntry("exposure", "figures", "专项行动数据", "Campaign figures", OFFICES),
    NavEntry("notifications", "", "通知", "Notices", OFFICES | {Role.ENTERPRISE}),
    NavEntry("notifications", "drafts", "通报批评签发", "Criticisms to sign off", OFFICES),
)


def default_base(service: str) -> str:
    return f"/workspace/{service}/"


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an absolute http(s) URL (for a CSP source), else None."""
    parts = urlsplit(url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def parse_links(raw: str) -> dict[str, str]:
    """`WORKSPACE_LINKS`: `service=base-url` pairs separated by commas."""
    links: dict[str, str] = {}
    for part in raw.split(","):
        name, sep, url = part.strip().partition("=")
        if sep and name.strip() and url.strip():
            base = url.strip()
            links[name.strip()] = base if base.endswith("/") else base + "/"
    return links


def environment(service_templates: Path) -> Environment:
    """The service's templates first, then the shared shell; everything escaped."""
    env = Environment(
        loader=ChoiceLoader(
            [FileSystemLoader(service_templates), FileSystemLoader(HERE / "templates")]
        ),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["mask"] = mask_phone
    return env


@dataclass(frozen=True)
class Deadline:
    at: str  # absolute, China time
    left: str  # time left, or how long overdue
    overdue: bool


@dataclass
class WorkspacePage:
    """What every workspace template gets."""

    request: Request
    lang: str
    session: Session
    service: str
    now: datetime
    links: dict[str, str]
    errors: list[tuple[str, str]] = field(default_factory=list)  # (field id, text)
    lang_from_query: str | None = None
    # Counts shown beside a navigation entry, by service (the notifications service's pages set
    # their unread count: a service knows only its own data).
    counts: dict[str, int] = field(default_factory=dict)
    hotline_agency: str = ""  # Settings.hotline_agency_id: the agency that registers complaints

    @property
    def principal(self) -> Principal:
        return self.session.principal

    def t(self, zh: str, en: str) -> str:
        return en if self.lang == "en" else zh

    def msg(self, message: Message) -> str:
        return self.t(message.zh, message.en)

    def base(self, service: str | None = None) -> str:
        name = service or self.service
        if name == self.service:  # this service's own pages: on this host, by path
            return default_base(name)
        return self.links.get(name, default_base(name))

    def url(self, path: str = "", **params: str) -> str:
        """A path under this service's workspace base."""
        query = {k: v for k, v in params.items() if v}
        return self.base() + path + ("?" + urlencode(query) if query else "")

    def switch_url(self) -> str:
        other = "zh" if self.lang == "en" else "en"
        query = dict(self.request.query_params)
        query["lang"] = other
        return self.request.url.path + "?" + urlencode(query)

    def navigation(self) -> list[tuple[str, str, bool]]:
        """(href, label, current) for the entries this person's role may use."""
        here = self.request.url.path
        entries = []
        for entry in NAVIGATION:
            if self.principal.role not in entry.roles:
                continue
            if (
                entry.hotline_only
                and self.principal.role is Role.AGENCY
                and self.principal.agency_id != self.hotline_agency
            ):
                continue  # another outside agency: the page would only refuse it
            href = self.base(entry.service) + entry.path
            current = entry.service == self.service and (
                here.rstrip("/") == href.rstrip("/") if not entry.path else entry.path in here
            )
            label = self.t(entry.zh, entry.en)
            count = self.counts.get(entry.service) if not entry.path else None
            if count:
                label += self.t(f"（{count} 条未读）", f" ({count} unread)")
            entries.append((href, label, current))
        return entries

    @staticmethod
    def menu_summary(entries: list[tuple[str, str, bool]]) -> str:
        """The phone menu's closed line: the entry this page belongs to (with its unread count)."""
        return next((label for _, label, current in entries if current), "")

    def who(self) -> str:
        p = self.principal
        zh, en = ROLE_NAMES.get(p.role, (p.role.value, p.role.value))
        scope = p.district_code or p.enterprise_id or ""
        role = self.t(zh, en)
        return f"{p.name or p.subject} · {role}" + (f"({scope})" if scope else "")

    def csrf(self, form: str) -> str:
        return csrf_token(self.session, form)

    def add(self, field_id: str, zh: str, en: str) -> None:
        self.errors.append((field_id, self.t(zh, en)))

    def error_for(self, field_id: str) -> str | None:
        return next((text for f, text in self.errors if f == field_id), None)

    def when(self, moment: datetime | None) -> str:
        return "" if moment is None else f"{moment.astimezone(CHINA):%Y-%m-%d %H:%M}"

    def deadline(self, moment: datetime) -> Deadline:
        delta = moment - self.now
        overdue = delta.total_seconds() < 0
        minutes = int(abs(delta.total_seconds()) // 60)
        days, rest = divmod(minutes, 24 * 60)
        hours, mins = divmod(rest, 60)
        if days:
            span = self.t(f"{days} 天 {hours} 小时", f"{days} d {hours} h")
        elif hours:
            span = self.t(f"{hours} 小时 {mins} 分", f"{hours} h {mins} min")
        else:
            span = self.t(f"{mins} 分钟", f"{mins} min")
        left = (
            self.t(f"逾期 {span}", f"overdue by {span}")
            if overdue
            else self.t(f"剩余 {span}", f"{span} left")
        )
        return Deadline(self.when(moment), left, overdue)


def mask_phone(phone: str | None) -> str:
    """138****1234: a phone number where the full one is not needed."""
    if not phone:
        return ""
    digits = phone.strip()
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def page_for(
    request: Request,
    session: Session,
    *,
    service: str,
    links: str,
    now: datetime,
    hotline_agency: str,
) -> WorkspacePage:
    asked = request.query_params.get("lang")
    chosen = asked if asked in ("zh", "en") else request.cookies.get(LANG_COOKIE)
    lang = "en" if chosen == "en" else "zh"
    return WorkspacePage(
        request=request,
        lang=lang,
        session=session,
        service=service,
        now=now,
        links=parse_links(links),
        lang_from_query=asked if asked in ("zh", "en") else None,
        hotline_agency=hotline_agency,
    )


def render(
    env: Environment, page: WorkspacePage, template: str, code: int = 200, **context: Any
) -> HTMLResponse:
    html = env.get_template(template).render(page=page, t=page.t, **context)
    response = HTMLResponse(html, status_code=code)
    # Photos a page shows may come from another service's workspace (an inspection's photos on
    # the exposure case page): its configured origin, when it is not this host, may serve images.
    others = sorted({o for o in map(origin_of, page.links.values()) if o})
    response.headers["Content-Security-Policy"] = (
        PAGE_CSP.replace("img-src 'self'", "img-src 'self' " + " ".join(others))
        if others
        else PAGE_CSP
    )
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Content-Language"] = "en" if page.lang == "en" else "zh-CN"
    if page.lang_from_query:
        response.set_cookie(
            LANG_COOKIE, page.lang_from_query, samesite="lax", path="/", max_age=365 * 86400
        )
    return response


def refused(
    env: Environment, page: WorkspacePage, message: Message, code: int = 403
) -> HTMLResponse:
    """The refusal page: what the person may not do, and why (from the service's policy)."""
    return render(env, page, "workspace/refused.html", code, reason=page.msg(message))


def add_static_route(router: APIRouter, path: str) -> None:
    """Serve the shared stylesheet at `path` (e.g. "/workspace/inspections/static/workspace.css")."""

    async def stylesheet() -> Response:
        return Response(
            STYLESHEET.read_bytes(),
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    router.add_api_route(path, stylesheet, methods=["GET"], include_in_schema=False)


MAX_FORM_BYTES = 32 * 1024  # a page's plain form (photos come as multipart, checked elsewhere)


async def posted_form(
    request: Request, session: Session, form: str, *, max_bytes: int = MAX_FORM_BYTES
) -> dict[str, str] | Message:
    """A page's posted form (the first value of each name) once its CSRF token checks out for
    `form` (`runtime.web_session.check_csrf`), or why not: too large, not UTF-8, or not this
    session's form. Nothing is parsed beyond `max_bytes`."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            return Message("提交的内容过大", "The form is too large")
    try:
        fields = {
            k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()
        }
    except UnicodeDecodeError:
        return Message("表单编码无效", "The form is not valid UTF-8")
    try:
        check_csrf(request, session, form, fields.get("csrf_token", ""))
    except DomainError as exc:
        return exc.message
    return fields
