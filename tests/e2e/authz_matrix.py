"""Who may do what: every route of every service, and what each principal is answered.

Two tables. ``MATRIX`` (this module): one row per API and public route (service, method, path)
with the expected answer for each of twelve token principals. ``PAGE_MATRIX``
(tests/e2e/authz_pages.py, imported here): one row per staff page (``/workspace/``) and sign-in
route (``/auth/``) with the expected answer for each of twelve browser-session principals (a page
knows a person by the session cookie, not by a token: that module says why and which).
tests/e2e/test_authz_matrix.py checks that the two tables together are exactly the routes the
four FastAPI apps serve (a new route without a row fails the suite) and walks every cell of both
against the running services on the real Kafka + PostgreSQL, failing on any difference.
Size (``size()``, ``page_size()``): 150 API routes x 12 principals = 1,800 cells, and 79 page
routes x 12 principals = 948 cells.

Principals (``PRINCIPALS``)
    anonymous       no ``Authorization`` header
    malformed       ``Bearer not-a-jwt``
    expired         signed by the trusted key, expired an hour ago (beyond the 30 s leeway)
    wrong_key       the right claims signed by another key
    wrong_audience  signed by the trusted key for another audience
      (expired, wrong_key and wrong_audience carry the most powerful role, city_office: only the
      token is wrong)
    owner           an owner (业主) signed in
    enterprise_a    E-0001, which runs P-120101-0001 (district X)
    enterprise_b    E-0002, another enterprise in the same district
    district_x      120101 (和平区), the district of P-120101-0001
    district_y      120104 (南开区), another district
    city            the city office (市物业办)
    agency          an outside agency (Role.AGENCY): the 12345 hotline, the one agency that
                    registers complaints (tests/integration/test_complaint_registration.py
                    refuses another agency)

Path parameters name real resources of enterprise A in district X, created by the test's setup
through the APIs (an inspection with its rectification orders, a complaint, surveys, notices, an
endpoint, exposure cases, a campaign), so 403 and 404 mean what they say. Within a row the
refused principals are asked first and the allowed ones last, so a DELETE by its owner cannot turn
the others' answers into "gone"; every other state change (an order verified, a case withdrawn)
leaves the checks before it unchanged and at worst turns an ALLOWED answer into a 409.

Outcomes
    ALLOWED  the request got past authentication and authorization: a 2xx or 3xx, or a 4xx
             caused by the body or the resource's state (400 a bad Open311 form, 409 an order
             already decided, 413/415, 422 a body the route refuses). Precisely: any status below
             500 except 401, 403, 404, 405 (the route would not exist) and 429 (refused for the
             rate, which says nothing of the right; the test turns the intake limit off). Never a
             5xx: a server error fails the cell whoever asks.
    401      not authenticated (missing, malformed, expired, wrongly signed or aimed token)
    403      authenticated, but the role may not use the route (or act for that recipient)
    404      the resource is outside the caller's scope and answers like a missing one, so ids
             cannot be probed
    422      (pinned where it is the policy) e.g. an enterprise filing a complaint for another
             enterprise's project is told the project is unknown, a refusal in the body's terms

Shorthand for the common patterns (each returns the twelve expectations of one row):
    ``public()``                      everyone ALLOWED, whatever token is sent (the token is ignored)
    ``only(*who, **cells)``           the broken tokens 401, ``who`` ALLOWED, everyone else 403
    ``signed_in(**cells)``            the broken tokens 401, every valid principal ALLOWED
    keyword ``cells`` override single principals, e.g. ``enterprise_b=404``.
Groups for ``who``: ``OFFICES`` (district_x, district_y, city), ``ENTERPRISES`` (a and b),
``STAFF`` (enterprises and offices).

Beyond the status: an answer given to an outsider (``OUTSIDERS``: enterprise B, district Y, the
outside agency) on a route that is not public must not mention any of A's private resources
(``PRIVATE``, by their ids): a list that is ALLOWED for B must not list A's records. And no public
answer, to anyone, shows what is never public (``NEVER_PUBLIC``: the case still in review, its
objection, a notice, a notification channel, an order).

Not rows: ``/metrics`` is the scrape endpoint for the cluster, not an API route (it is served on
its own port, or at least not meant for API clients), and HEAD twins of GET routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from tests.e2e.authz_pages import PAGE_MATRIX as PAGE_MATRIX
from tests.e2e.authz_pages import PAGE_PRINCIPALS as PAGE_PRINCIPALS
from tests.e2e.authz_pages import page_size as page_size

ALLOWED: Final = "allowed"
NOT_ALLOWED_STATUSES: Final = frozenset({401, 403, 404, 405, 429})
Expect = Literal["allowed", 401, 403, 404, 422]

BROKEN_TOKENS = ("anonymous", "malformed", "expired", "wrong_key", "wrong_audience")
VALID = (
    "owner",
    "enterprise_a",
    "enterprise_b",
    "district_x",
    "district_y",
    "city",
    "agency",
)
PRINCIPALS: Final = BROKEN_TOKENS + VALID
ENTERPRISES = ("enterprise_a", "enterprise_b")
OFFICES = ("district_x", "district_y", "city")
STAFF = ENTERPRISES + OFFICES
OUTSIDERS: Final = ("enterprise_b", "district_y", "agency")
# Seed values naming enterprise A's records in district X that outsiders must never be shown.
PRIVATE: Final = (
    "inspection_id",
    "order_id",
    "complaint_id",
    "ticket_no",
    "notice_id",
    "criticism_id",
    "endpoint_id",
    "case_id",
    "objection_id",
    "survey_id",
    "open_survey_id",
    "attachment_id",
    "draw_id",
    "facility_id",
)
NEVER_PUBLIC: Final = ("case_id", "objection_id", "notice_id", "endpoint_id", "order_id")
# Routes deliberately outside both tables (the path, any service).
NOT_ROUTES: Final = frozenset({"/metrics"})
# Staff workspace pages and the browser sign-in flow answer a person, not an API client (a page
# redirects to sign in, a refusal is an HTML page): their rows are PAGE_MATRIX's.
PAGE_PREFIXES: Final = ("/workspace/", "/auth/")


def _cells(default_valid: Expect, cells: Mapping[str, Expect], broken: Expect) -> dict[str, Expect]:
    unknown = set(cells) - set(PRINCIPALS)
    if unknown:
        raise ValueError(f"unknown principals {sorted(unknown)}")
    out: dict[str, Expect] = dict.fromkeys(BROKEN_TOKENS, broken)
    out.update(dict.fromkeys(VALID, default_valid))
    out.update(cells)
    return out


def public() -> dict[str, Expect]:
    return _cells(ALLOWED, {}, ALLOWED)


def signed_in(**cells: Expect) -> dict[str, Expect]:
    return _cells(ALLOWED, cells, 401)


def only(*who: str, **cells: Expect) -> dict[str, Expect]:
    return _cells(403, {**dict.fromkeys(who, ALLOWED), **cells}, 401)


@dataclass(frozen=True)
class Row:
    """One route. ``path`` is the route's template; ``{name}`` values come from the setup's seed.
    ``json``/``form`` (strings may hold ``{name}`` too), ``params`` and ``headers`` make the request
    a valid one, so that whoever is ALLOWED reaches the route's own checks."""

    service: str
    method: str
    path: str
    expect: dict[str, Expect]
    json: Any = None
    form: dict[str, str] | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # An owner web page's POST: the page (and query) to fetch first for its CSRF token.
    form_page: str | None = None
    values: dict[str, str] = field(default_factory=dict)  # this row's own path values
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.service, self.method, self.path)


SERVICES: Final = ("inspections", "complaints", "notifications", "exposure")

# Every service serves these the same way: public.
_COMMON = (
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/asyncapi.json"),
    ("GET", "/openapi.json"),
    ("GET", "/docs"),
    ("GET", "/docs/oauth2-redirect"),
    ("GET", "/redoc"),
)
COMMON_ROWS = tuple(Row(s, m, p, public()) for s in SERVICES for m, p in _COMMON)

PROJECT_A = {
    "project_name": "和平区·海河花园",
    "address": "天津市和平区南京路 101 号",
    "district_code": "120101",
    "district_name": "和平区",
    "enterprise_id": "E-0001",
    "enterprise_name": "津城物业服务有限公司",
    "service_grade": "一级",
}
NEW_PROJECT_IN_X = {
    **PROJECT_A,
    "project_id": "P-120101-0777",
    "project_name": "和平区·矩阵花园",
    "enterprise_id": "E-0003",
    "enterprise_name": "矩阵物业",
}
PASSING_PATROL = {
    "project_id": "{project_id}",
    "kind": "patrol",
    "template_id": "contract-self-inspection",
    "inspected_at": "2011-08-20T09:00:00+08:00",
    "results": "{all_pass}",  # replaced by the template's items, all passing
}
CAMPAIGN = {
    "campaign_id": "matrix-2012",
    "title_zh": "矩阵检查活动",
    "activity_window": {"starts_on": "2012-08-01", "ends_on": "2012-10-31"},
    "phases": [
        {"kind": "mobilisation", "starts_on": "2012-07-26", "ends_on": "2012-08-05"},
        {"kind": "planning", "starts_on": "2012-08-06", "ends_on": "2012-08-13"},
        {"kind": "implementation", "starts_on": "2012-08-14", "ends_on": "2012-10-31"},
    ],
}
FACILITY = {
    "project_id": "P-120101-0001",
    "kind": "lift",
    "name": "矩阵测试电梯",
    "last_serviced_on": "2011-01-01",
}
SERVICE = {"serviced_on": "2011-01-02", "serviced_by": "矩阵电梯维保公司"}
DRAW = {
    "inspectors": [
        {"inspector_id": "I-matrix-1", "name": "矩阵检查员甲"},
        {"inspector_id": "I-matrix-2", "name": "矩阵检查员乙"},
    ],
    "project_count": 1,
}
ROSTER_ENTRY = {"inspector_id": "I-matrix-roster", "name": "矩阵名单检查员"}
PLAN = {
    "departments": ["综合科"],
    "staff": [{"name": "张三", "role": "联络员"}],
    "schedule": [{"date": "2012-08-20", "activity_zh": "宣传"}],
}

_NOT_PUBLISHED = (
    "public photo routes: only a photo a published exposure case names (re-encoded, no EXIF); "
    "the seeded photo is an owner's complaint photo, which the inspections service never holds "
    "and never serves, whatever token is sent"
)

INSPECTIONS = (
    Row(
        "inspections",
        "GET",
        "/public/photos/{attachment_id}",
        _cells(404, {}, 404),
        note=_NOT_PUBLISHED,
    ),
    Row(
        "inspections",
        "GET",
        "/public/photos/{attachment_id}/thumbnail",
        _cells(404, {}, 404),
        note=_NOT_PUBLISHED,
    ),
    Row(
        "inspections",
        "POST",
        "/api/v1/inspections",
        only("district_x", "city", district_y=404),
        json=PASSING_PATROL,
        note="a patrol: offices only, a district only in its own district; enterprises self-"
        "inspect (kind self), so a patrol body is 403 for them",
    ),
    Row(
        "inspections",
        "GET",
        "/api/v1/inspections/{inspection_id}",
        only(*STAFF, enterprise_b=404, district_y=404),
    ),
    Row("inspections", "GET", "/api/v1/projects", only(*STAFF)),
    Row(
        "inspections",
        "POST",
        "/api/v1/projects",
        only("district_x", "city"),
        json=NEW_PROJECT_IN_X,
        note="district Y may register only in its own district: 403 out_of_scope",
    ),
    Row(
        "inspections",
        "GET",
        "/api/v1/projects/{project_id}",
        signed_in(enterprise_b=404, district_y=404, owner=404, agency=404),
        note="any signed-in role reaches the route; out of scope answers like a missing project",
    ),
    Row(
        "inspections",
        "PUT",
        "/api/v1/projects/{project_id}",
        only("district_x", "city", district_y=404),
        json=PROJECT_A,
    ),
    Row(
        "inspections",
        "POST",
        "/api/v1/registry/import",
        only("city"),
        json={"projects": [{**PROJECT_A, "project_id": "P-120101-0001"}]},
    ),
    Row("inspections", "GET", "/api/v1/districts", signed_in()),
    Row("inspections", "GET", "/api/v1/enterprises", signed_in()),
    Row("inspections", "GET", "/api/v1/templates", signed_in()),
    Row(
        "inspections",
        "GET",
        "/api/v1/templates/{template_id}/versions/{version}",
        signed_in(),
    ),
    Row("inspections", "POST", "/api/v1/templates", only("city"), json="{template_body}"),
    Row(
        "inspections",
        "POST",
        "/api/v1/projects/{project_id}/activities",
        only("enterprise_a", enterprise_b=404),
        json={
            "kind": "cultural",
            "title": "中秋联欢",
            "held_on": "2011-08-19",
            "participants": 40,
        },
    ),
    Row(
        "inspections",
        "GET",
        "/api/v1/projects/{project_id}/activities",
        signed_in(enterprise_b=404, district_y=404, owner=404, agency=404),
    ),
    Row("inspections", "GET", "/api/v1/rectifications", only(*STAFF)),
    Row(
        "inspections",
        "GET",
        "/api/v1/rectifications/{order_id}",
        only(*STAFF, enterprise_b=404, district_y=404),
    ),
    Row(
        "inspections",
        "GET",
        "/api/v1/rectifications/{order_id}/document.pdf",
        only(*STAFF, enterprise_b=404, district_y=404),
        note="the order as its official document (整改通知书): whoever may see the order",
    ),
    Row(
        "inspections",
        "POST",
        "/api/v1/rectifications/{order_id}/submissions",
        only("enterprise_a", enterprise_b=404),
        json={"evidence_text": "已整改", "photo_refs": ["fix/a.jpg"]},
    ),
    Row(
        "inspections",
        "POST",
        "/api/v1/rectifications/{order_id}/submissions/with-photos",
        only("enterprise_a", enterprise_b=422),
        form={"submission": "{}"},
        note="multipart in real use: a body that is not multipart is refused (422) before the "
        "order is looked up, the same answer for any id, so another enterprise learns nothing",
    ),
    Row(
        "inspections",
        "POST",
        "/api/v1/rectifications/{order_id}/decision",
        only("district_x", "city", district_y=404),
        json={"decision": "verify"},
    ),
    Row("inspections", "GET", "/api/v1/patrols/scheduled", only(*OFFICES)),
    Row(
        "inspections",
        "POST",
        "/api/v1/patrol-draws",
        only("district_x", "district_y"),  # each in its own district; the city draws nothing
        json=DRAW,
    ),
    Row("inspections", "GET", "/api/v1/patrol-draws", only(*OFFICES)),
    # the draws' rosters: a district office keeps its own; the city office reads them all
    Row("inspections", "GET", "/api/v1/draw-roster", only(*OFFICES)),
    Row(
        "inspections",
        "POST",
        "/api/v1/draw-roster",
        only("district_x", "district_y"),  # each onto its own district's roster
        json=ROSTER_ENTRY,
    ),
    Row(
        "inspections",
        "POST",
        "/api/v1/draw-roster/{inspector_id}/deactivate",
        only("district_x", district_y=404),  # not on district Y's roster
    ),
    # Statutory intervals: an enterprise registers and records for its own projects (another
    # enterprise is told the project is unknown); the offices read their scope; owners and
    # agencies nothing.
    Row(
        "inspections",
        "POST",
        "/api/v1/facilities",
        only(*ENTERPRISES, enterprise_b=422),
        json=FACILITY,
    ),
    Row("inspections", "GET", "/api/v1/facilities", only(*STAFF)),
    Row(
        "inspections",
        "GET",
        "/api/v1/facilities/{facility_id}",
        only("enterprise_a", "district_x", "city", enterprise_b=404, district_y=404),
    ),
    Row(
        "inspections",
        "POST",
        "/api/v1/facilities/{facility_id}/services",
        only("enterprise_a", enterprise_b=404, district_y=404),
        json=SERVICE,
    ),
    Row("inspections", "GET", "/api/v1/facility-misses", only(*STAFF)),
    Row(
        "inspections",
        "GET",
        "/api/v1/patrol-draws/{draw_id}",
        only("district_x", "city", district_y=404),
    ),
    Row("inspections", "POST", "/api/v1/campaigns", only("city"), json=CAMPAIGN),
    Row(
        "inspections",
        "POST",
        "/api/v1/campaigns/from-template",
        only("city"),
        json={"template": "quality-month-2011", "year": 2013},
    ),
    Row("inspections", "GET", "/api/v1/campaigns", signed_in()),
    Row("inspections", "GET", "/api/v1/campaigns/{campaign_id}", signed_in()),
    Row(
        "inspections",
        "POST",
        "/api/v1/campaigns/{campaign_id}/plans",
        only(*ENTERPRISES, "district_x", "district_y"),
        json=PLAN,
        note="each submits its own plan; the city office submits none",
    ),
    Row("inspections", "GET", "/api/v1/campaigns/{campaign_id}/plans", only(*STAFF)),
    Row(
        "inspections",
        "GET",
        "/api/v1/campaigns/{campaign_id}/plans/missing",
        only(*OFFICES),
    ),
)

COMPLAINT_TOKEN = {"X-Complaint-Token": "{complaint_token}"}
SURVEY_TOKEN = {"X-Survey-Token": "{survey_token}"}
COMPLAINTS = (
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints",
        only("owner", *ENTERPRISES, "district_x", "agency", enterprise_b=422, district_y=422),
        json={
            "project_id": "{project_id}",
            "category": "other",
            "description": "三号楼楼道灯不亮",
            "channel": "phone",
        },
        note="staff and the district office register by phone for their own projects / "
        "district (B, Y: unknown project, 422); an owner files on the web and the 12345 hotline "
        "(an agency) on its own channel (a phone channel is the body's fault: 422); the city "
        "office files nothing",
    ),
    Row(
        "complaints",
        "GET",
        "/api/v1/complaints/by-token",
        public(),
        headers=COMPLAINT_TOKEN,
        note="the follow-up token is the capability; a bearer token plays no part",
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints/by-token/feedback",
        public(),
        headers=COMPLAINT_TOKEN,
        json={"satisfied": True, "rating": 5},
    ),
    Row("complaints", "GET", "/api/v1/complaints", only(*STAFF)),
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints/with-photos",
        only("owner", *ENTERPRISES, "district_x", "district_y", "agency"),
        form={"complaint": "{}"},
        note="multipart in real use; this form body is the body's fault (422) for those allowed",
    ),
    Row(
        "complaints",
        "GET",
        "/api/v1/complaints/{complaint_id}/photos",
        only(*STAFF, enterprise_b=404, district_y=404),
    ),
    Row(
        "complaints",
        "GET",
        "/api/v1/complaints/{complaint_id}/photos/{attachment_id}/{variant}",
        only(*STAFF, enterprise_b=404, district_y=404),
        values={"variant": "thumbnail"},
    ),
    Row(
        "complaints",
        "GET",
        "/api/v1/complaints/by-token/photos/{attachment_id}/{variant}",
        public(),
        headers=COMPLAINT_TOKEN,
        values={"variant": "thumbnail"},
        note="the follow-up token is the capability",
    ),
    Row(
        "complaints",
        "GET",
        "/api/v1/complaints/{complaint_id}",
        only(*STAFF, enterprise_b=404, district_y=404),
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints/{complaint_id}/accept",
        only("enterprise_a", enterprise_b=404),
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints/{complaint_id}/transfer",
        only("enterprise_a", enterprise_b=404),
        json={"to_org": "E-0003", "reason": "非本单位职责"},
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints/{complaint_id}/reply",
        only("enterprise_a", enterprise_b=404, district_y=404),
        json={"text": "已修复"},
        note="a district office replies only to a complaint it took over (自行办理): 403 on the "
        "seeded one; another district's answers like a missing one",
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints/{complaint_id}/extensions",
        only("enterprise_a", enterprise_b=404),
        json={"working_days": 2, "reason": "需采购配件"},
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints/{complaint_id}/assignment",
        only("district_x", district_y=404),
        json={"to_org": "E-0001", "reason": "多次转办,指定由本企业办理"},
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints/{complaint_id}/takeover",
        only("district_x", district_y=404),
        json={"reason": "多次转办,由区县物业办自行办理"},
        note="the seeded complaint is not escalated: district X is refused by the state (409)",
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/complaints/{complaint_id}/extensions/decision",
        only("district_x", district_y=404),
        json={"approve": True},
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/surveys",
        only("enterprise_a", enterprise_b=404),
        json={"project_id": "{project_id}", "households": 10},
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/surveys/answers",
        public(),
        headers=SURVEY_TOKEN,
        json={"scores": {"overall": 5}},
    ),
    Row("complaints", "GET", "/api/v1/surveys/questions", public(), headers=SURVEY_TOKEN),
    Row(
        "complaints",
        "GET",
        "/api/v1/surveys/results",
        only(*STAFF, enterprise_b=404, district_y=404),
        params={"enterprise_id": "E-0001"},
        note="district Y has no survey of E-0001 in its district: nothing to pool, 404",
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/surveys/{survey_id}/tokens",
        only("enterprise_a", enterprise_b=404),
        json={"count": 1},
        values={"survey_id": "{open_survey_id}"},
    ),
    Row(
        "complaints",
        "POST",
        "/api/v1/surveys/{survey_id}/close",
        only("enterprise_a", enterprise_b=404),
        values={"survey_id": "{open_survey_id}"},
    ),
    Row(
        "complaints",
        "GET",
        "/api/v1/surveys/{survey_id}/results",
        only(*STAFF, enterprise_b=404, district_y=404),
    ),
    Row(
        "complaints",
        "GET",
        "/api/v1/surveys/{survey_id}/comments",
        only(*STAFF, enterprise_b=404, district_y=404),
        note="owners' comments of a closed survey: its enterprise and offices only, never public",
    ),
    # Open311: public reads, filing with the client application's api_key (in the form).
    Row("complaints", "GET", "/open311/v2/services.{fmt}", public()),
    Row("complaints", "GET", "/open311/v2/services/{service_code}.{fmt}", public()),
    Row(
        "complaints",
        "POST",
        "/open311/v2/requests.{fmt}",
        public(),
        form={
            "api_key": "{open311_api_key}",
            "service_code": "other",
            "address_id": "{project_id}",
            "description": "小区东门路灯不亮",
        },
    ),
    Row("complaints", "GET", "/open311/v2/requests.{fmt}", public()),
    Row("complaints", "GET", "/open311/v2/requests/{service_request_id}.{fmt}", public()),
    Row(
        "complaints",
        "GET",
        "/open311/v2/tokens/{token}.{fmt}",
        public(),
        values={"token": "{ticket_no}"},
    ),
    # Any other path under /open311/v2 answers the spec's 404 (or 405) error to everyone.
    *(
        Row(
            "complaints",
            method,
            "/open311/v2/{path:path}",
            _cells(404, {}, 404),
            note="the literal template path is itself an unknown resource",
        )
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    ),
    # The owners' web pages.
    Row("complaints", "GET", "/static/owner.css", public()),
    Row("complaints", "GET", "/", public()),
    Row(
        "complaints",
        "POST",
        "/",
        public(),
        form_page="/?project_id={project_id}&category=other",
        form={"project_id": "{project_id}", "category": "other", "description": "楼道灯不亮了"},
    ),
    Row("complaints", "GET", "/track", public()),
    Row(
        "complaints",
        "GET",
        "/photos/{attachment_id}/{variant}",
        _cells(404, {}, 404),
        values={"variant": "thumbnail"},
        note="the status page's photo links are signed for one browser's session: without the "
        "signature nobody gets the photo, whatever token is sent",
    ),
    Row(
        "complaints",
        "POST",
        "/track",
        public(),
        form_page="/track",
        form={"ticket_no": "{ticket_no}", "token": "{complaint_token}"},
    ),
    Row("complaints", "GET", "/survey", public()),
    Row(
        "complaints",
        "POST",
        "/survey",
        public(),
        form_page="/survey",
        form={"token": "{survey_token}", "overall": "5"},
    ),
)

NOTIFICATIONS = (
    Row("notifications", "GET", "/api/v1/notices", signed_in(agency=403)),
    Row(
        "notifications",
        "POST",
        "/api/v1/notices/{notice_id}/read",
        signed_in(enterprise_b=404, district_y=404, city=404, owner=404, agency=403),
        note="only a copy in the caller's own inbox; district X holds the cc copy",
    ),
    Row(
        "notifications",
        "GET",
        "/api/v1/notices/{notice_id}",
        signed_in(enterprise_b=404, district_y=404, owner=404, agency=404),
    ),
    Row("notifications", "GET", "/api/v1/criticisms", only(*STAFF)),
    Row(
        "notifications",
        "GET",
        "/api/v1/criticisms/{notice_id}/document.pdf",
        signed_in(enterprise_b=404, district_y=404, owner=404, agency=404),
        values={"notice_id": "{criticism_id}"},
        note="an issued criticism's official document: its recipients, its district, the city",
    ),
    Row("notifications", "GET", "/api/v1/criticism-drafts", only(*OFFICES)),
    Row(
        "notifications",
        "GET",
        "/api/v1/criticism-drafts/{draft_id}",
        only("district_x", "city", district_y=404),
    ),
    Row(
        "notifications",
        "POST",
        "/api/v1/criticism-drafts/{draft_id}/sign-off",
        only("district_x", district_y=404),
        note="the seed's draft is signed off already: district X is told so (409); only the "
        "district office of the draft's district decides, the city reads",
    ),
    Row(
        "notifications",
        "POST",
        "/api/v1/criticism-drafts/{draft_id}/withdraw",
        only("district_x", district_y=404),
        json={"reason": "矩阵测试"},
        note="as sign-off: decided already, 409 for district X",
    ),
    Row(
        "notifications",
        "POST",
        "/api/v1/endpoints",
        only("enterprise_a"),
        json={
            "recipient_kind": "enterprise",
            "recipient_id": "E-0001",
            "channel": "email",
            "address": "matrix@e-0001.example.cn",
        },
        note="each registers channels only for itself: 403 not_your_recipient",
    ),
    Row("notifications", "GET", "/api/v1/endpoints", only(*STAFF)),
    Row(
        "notifications",
        "DELETE",
        "/api/v1/endpoints/{endpoint_id}",
        only("enterprise_a", enterprise_b=404, district_x=404, district_y=404, city=404),
    ),
)

EXPOSURE = (
    # The public board (HTML and JSON): the published case of enterprise A.
    Row("exposure", "GET", "/static/board.css", public()),
    Row("exposure", "GET", "/", public()),
    Row("exposure", "GET", "/cases/{case_id}", public(), values={"case_id": "{published_case_id}"}),
    Row("exposure", "GET", "/enterprises/{enterprise_id}", public()),
    Row("exposure", "GET", "/grades", public()),
    Row("exposure", "GET", "/draws", public()),
    Row("exposure", "GET", "/stats", public()),
    Row("exposure", "GET", "/stats.csv", public()),
    Row("exposure", "GET", "/figures", public()),
    Row("exposure", "GET", "/figures.csv", public()),
    Row("exposure", "GET", "/feed.atom", public()),
    Row("exposure", "GET", "/api/v1/board/cases", public()),
    Row(
        "exposure",
        "GET",
        "/api/v1/board/cases/{case_id}",
        public(),
        values={"case_id": "{published_case_id}"},
    ),
    Row("exposure", "GET", "/api/v1/board/enterprises/{enterprise_id}", public()),
    Row("exposure", "GET", "/api/v1/board/grades", public()),
    Row("exposure", "GET", "/api/v1/board/stats", public()),
    Row("exposure", "GET", "/api/v1/board/draws", public()),
    Row("exposure", "GET", "/api/v1/board/figures", public(), params={"campaign": "all"}),
    # Case handling: a case of enterprise A in review, with a pending objection.
    Row("exposure", "GET", "/api/v1/cases", only(*STAFF)),
    Row(
        "exposure",
        "GET",
        "/api/v1/cases/{case_id}",
        only(*STAFF, enterprise_b=404, district_y=404),
    ),
    Row(
        "exposure",
        "POST",
        "/api/v1/cases/{case_id}/review",
        only("district_x", "city", district_y=404),
        json={"decision": "hold", "note": "核实中"},
    ),
    Row(
        "exposure",
        "POST",
        "/api/v1/cases/{case_id}/objections",
        only("enterprise_a", enterprise_b=404),
        json={"grounds": "已整改完毕"},
    ),
    Row(
        "exposure",
        "POST",
        "/api/v1/cases/{case_id}/objections/{objection_id}/decision",
        only("district_x", "city", district_y=404),
        json={"upheld": False, "reason": "理由不成立"},
    ),
    Row(
        "exposure",
        "POST",
        "/api/v1/cases/{case_id}/withdraw",
        only("district_x", "city", district_y=404),
    ),
    Row("exposure", "GET", "/api/v1/evidence", only(*OFFICES)),
    # The campaign figures in full: district X's enterprises, for the city office and district X
    # (district Y sees its own district's only, as on the workspace page).
    Row(
        "exposure",
        "GET",
        "/api/v1/figures",
        only("district_x", "city"),
        params={"campaign": "all", "district": "120101"},
    ),
)

MATRIX: Final[tuple[Row, ...]] = COMMON_ROWS + INSPECTIONS + COMPLAINTS + NOTIFICATIONS + EXPOSURE


def size() -> tuple[int, int]:
    """(routes, principals): the matrix has routes x principals cells."""
    return len(MATRIX), len(PRINCIPALS)
