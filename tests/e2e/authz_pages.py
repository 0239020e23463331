"""Who may do what on the staff pages (工作台, ``/workspace/``) and the sign-in routes (``/auth/``).

The API matrix's sibling (tests/e2e/authz_matrix.py imports it): one row per page route of the
four services with the expected answer for each of twelve page principals. The same test module
(tests/e2e/test_authz_matrix.py) checks that these rows are exactly the ``/workspace/`` and
``/auth/`` routes the apps serve, and walks every cell against the running platform.

Principals (``PAGE_PRINCIPALS``). A page is used by a person in a browser: what identifies them is
the service's session cookie (runtime.web_session), never a bearer token (a page ignores the
``Authorization`` header). So the principals are browser sessions, opened straight in each
service's own session store as the identity provider's callback would open them:
    anonymous       no session cookie
    forged          a cookie whose value no session has (guessed or made up)
    expired         a real session whose idle time ran out (opened a day before the service's
                    clock, so its end is past)
    signed_out      a real session closed by signing out (the store deleted it)
      (the broken sessions: ``BROKEN_SESSIONS``)
    owner           a session carrying the owner role. Owners never sign in to the workspace (the
                    realm has no owner accounts; they use the public pages with a follow-up
                    token), but a session is opened for whatever role the provider's token
                    names, so the pages must refuse an owner like any role they are not for
    enterprise_a    E-0001, which runs P-120101-0001 (district X)
    enterprise_b    E-0002, another enterprise in the same district
    district_x      120101 (和平区)
    district_y      120104 (南开区)
    city            the city office
    hotline         the 12345 citizens' hotline (an outside agency; registers complaints for
                    owners on the register page)
    agency          another outside agency (not the hotline): no page is for it

Outcomes (``PageExpect``)
    ALLOWED   the page served the person (200), or did what was asked (303 after a POST), or
              refused only the form's content or the record's state (400/409/413/422): any
              status below 500 except 401, 403, 404, 405 and 429, and never a redirect to sign in
    SIGN_IN   no valid session: a GET is sent to sign in (303 to ``/auth/login?next=<path>``),
              any other method gets 401
    403       the refusal page (bilingual, says why): the role may not use the page, or (as the
              pages choose to explain where the API answers 404) this order, complaint, case or
              draft is another enterprise's or district's
    404       the page answers like a missing record: out of scope where the page does not
              explain (a photo, an inspection, a draw, a facility, a notice)
    an int    that exact status (e.g. 303 where a page sends a person elsewhere, 400 for a
              sign-in callback without its state)
A POST carries the session's own CSRF token for the form it posts (``csrf``, computed with the
session's secret exactly as the page renders it, runtime.web_session.csrf_token) and the same-
origin headers a browser sends, so no cell is refused merely for a missing token; a refusal page
that names the CSRF check fails the cell.

Path values come from the same seed as the API matrix (resources of enterprise A in district X
made through the APIs, an evidence photo among them) and a patrol draft photo district X's
officer saves through the group page before the walk; ``{action}``-like segments take one value
per row (``values``). Within a
row the refused principals are asked first and the allowed ones last. The API walk runs first on
the same platform, so a state it changed (an order verified, a case withdrawn) at worst turns an
ALLOWED page into a 409. The sign-out rows are walked last: signing out closes the session.

Beyond the status: a page given to an outsider (``PAGE_OUTSIDERS``: enterprise B, district Y,
the agencies) must not show any of A's private records (authz_matrix.PRIVATE and the evidence
photo), and nothing served without a session shows them either.

Sign-in without Keycloak: the platform is configured with an identity provider whose discovery
document the test serves itself (``{issuer}``); its authorization endpoint is never visited.
``/auth/login`` sends everyone there (303, with the state/PKCE cookie), ``/auth/callback`` without
the state it started is refused (400), sign-out ends whatever session there is (303 to
``/auth/signed-out``; the provider publishes no end-session endpoint here). The full round trip
through a real provider is tests/browser/test_sign_in.py's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

ALLOWED: Final = "allowed"
SIGN_IN: Final = "sign_in"
PageExpect = Literal["allowed", "sign_in", 303, 400, 403, 404]

BROKEN_SESSIONS: Final = ("anonymous", "forged", "expired", "signed_out")
SIGNED_IN: Final = (
    "owner",
    "enterprise_a",
    "enterprise_b",
    "district_x",
    "district_y",
    "city",
    "hotline",
    "agency",
)
PAGE_PRINCIPALS: Final = BROKEN_SESSIONS + SIGNED_IN
ENTERPRISES = ("enterprise_a", "enterprise_b")
OFFICES = ("district_x", "district_y", "city")
STAFF = ENTERPRISES + OFFICES
PAGE_OUTSIDERS: Final = ("enterprise_b", "district_y", "hotline", "agency")
# Who sees enterprise A's records in district X, and everyone signed in who does not (to whom a
# photo or a document of A's answers like a missing one).
A_SIDE = ("enterprise_a", "district_x", "city")
HIDDEN_FROM_OTHERS: Final[dict[str, PageExpect]] = {
    who: 404 for who in ("enterprise_b", "district_y", "owner", "hotline", "agency")
}
NOBODY_SIGNED_IN: Final[dict[str, PageExpect]] = {who: 404 for who in SIGNED_IN}  # as missing


def _cells(
    default: PageExpect, cells: Mapping[str, PageExpect], broken: PageExpect
) -> dict[str, PageExpect]:
    unknown = set(cells) - set(PAGE_PRINCIPALS)
    if unknown:
        raise ValueError(f"unknown principals {sorted(unknown)}")
    out: dict[str, PageExpect] = dict.fromkeys(BROKEN_SESSIONS, broken)
    out.update(dict.fromkeys(SIGNED_IN, default))
    out.update(cells)
    return out


def anyone(**cells: PageExpect) -> dict[str, PageExpect]:
    """Served the same with or without a session (the stylesheet, the sign-in routes)."""
    return _cells(ALLOWED, cells, ALLOWED)


def everyone(status: PageExpect) -> dict[str, PageExpect]:
    """One answer for everyone, session or not."""
    return _cells(status, {}, status)


def page_for(*who: str, **cells: PageExpect) -> dict[str, PageExpect]:
    """Broken sessions sign in; ``who`` ALLOWED; every other signed-in person the refusal page."""
    return _cells(403, {**dict.fromkeys(who, ALLOWED), **cells}, SIGN_IN)


@dataclass(frozen=True)
class PageRow:
    """One page route. ``form`` is the posted form (``{name}`` placeholders from the seed);
    ``csrf`` names the form whose token the page would render (runtime.web_session.csrf_token);
    ``redirect_to`` (when set) is what every 3xx answer's Location must start with."""

    service: str
    method: str
    path: str
    expect: dict[str, PageExpect]
    form: dict[str, str] | None = None
    csrf: str | None = None
    values: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    redirect_to: str | None = None
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.service, self.method, self.path)


SERVICES: Final = ("inspections", "complaints", "notifications", "exposure")


def _w(service: str, rest: str) -> str:
    return f"/workspace/{service}/{rest}"


STYLESHEETS = tuple(PageRow(s, "GET", _w(s, "static/workspace.css"), anyone()) for s in SERVICES)

# The sign-in routes, the same in every service (runtime.oidc). Signing out closes the session,
# so these rows come last in PAGE_MATRIX (GET before POST).
SIGN_IN_ROWS = tuple(
    row
    for s in SERVICES
    for row in (
        PageRow(
            s,
            "GET",
            "/auth/login",
            everyone(303),
            redirect_to="{issuer}/protocol/openid-connect/auth?",
            note="to the provider's authorization endpoint, whoever asks",
        ),
        PageRow(
            s,
            "GET",
            "/auth/callback",
            everyone(400),
            params={"state": "forged-state", "code": "forged-code"},
            note="a callback without the state its own login started: the sign-in page refuses",
        ),
        PageRow(s, "GET", "/auth/signed-out", anyone()),
    )
)
SIGN_OUT_ROWS = tuple(
    PageRow(s, method, "/auth/logout", everyone(303), redirect_to="/auth/signed-out")
    for method in ("GET", "POST")
    for s in SERVICES
)

_ORDER = "orders/{order_id}"
INSPECTIONS = (
    PageRow(
        "inspections",
        "GET",
        _w("inspections", ""),
        page_for(*OFFICES, enterprise_a=303, enterprise_b=303),
        redirect_to="/workspace/inspections/orders",
        note="today's queue is the offices'; an enterprise is sent to its orders, whom no page "
        "of this service is for gets the refusal page",
    ),
    PageRow("inspections", "GET", _w("inspections", "orders"), page_for(*STAFF)),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", _ORDER),
        page_for("enterprise_a", "district_x", "city"),
        note="another enterprise's or district's order: the page says whose it is (403)",
    ),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", _ORDER + "/document.pdf"),
        page_for(*A_SIDE, **HIDDEN_FROM_OTHERS),
        note="the API's handler and answer: whom the order is hidden from, it does not exist",
    ),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", _ORDER + "/{decision}"),
        page_for("district_x", "city"),
        values={"decision": "reject"},
    ),
    PageRow(
        "inspections",
        "POST",
        _w("inspections", _ORDER + "/{decision}"),
        page_for("district_x", "city"),
        values={"decision": "reject"},
        csrf="decide:{order_id}:reject",
        form={"reason": "矩阵测试：消防栓水压仍未达标"},
    ),
    PageRow(
        "inspections",
        "POST",
        _w("inspections", _ORDER + "/evidence/submit"),
        page_for("enterprise_a"),
        csrf="evidence:{order_id}",
        form={"evidence_text": "矩阵测试：已整改"},
    ),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", "photos/{attachment_id}/{variant}"),
        page_for(*A_SIDE, **HIDDEN_FROM_OTHERS),
        values={"attachment_id": "{evidence_photo_id}", "variant": "thumbnail"},
        note="enterprise A's evidence photo: whoever may see the order; nobody else learns of it",
    ),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", "patrol/{project_id}/photos/{attachment_id}/{variant}"),
        page_for("district_x", **{**NOBODY_SIGNED_IN, "district_x": ALLOWED}),
        values={"attachment_id": "{draft_photo_id}", "variant": "thumbnail"},
        note="a photo of district X's officer's patrol draft (saved before the walk): only the "
        "one whose draft it is, not even the city office",
    ),
    PageRow("inspections", "GET", _w("inspections", "patrol"), page_for(*OFFICES)),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", "patrol/{project_id}"),
        page_for("district_x", "city"),
        note="district Y may not patrol district X's project: the page says so",
    ),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", "patrol/{project_id}/groups/{n}"),
        page_for("district_x", "city"),
        values={"n": "1"},
    ),
    PageRow(
        "inspections",
        "POST",
        _w("inspections", "patrol/{project_id}/groups/{n}"),
        page_for("district_x", "city"),
        values={"n": "1"},
        csrf="patrol:{project_id}",
        form={},
        note="no answers given: the group's page says what is missing (422) to those allowed",
    ),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", "patrol/{project_id}/check"),
        page_for("district_x", "city"),
    ),
    PageRow(
        "inspections",
        "POST",
        _w("inspections", "patrol/{project_id}/submit"),
        page_for("district_x", "city"),
        csrf="patrol:{project_id}",
        form={},
    ),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", "inspections/{inspection_id}"),
        page_for(*A_SIDE, **HIDDEN_FROM_OTHERS),
        note="the filed inspection, as the API's GET: whoever may see the project's records",
    ),
    PageRow("inspections", "GET", _w("inspections", "draws"), page_for(*OFFICES)),
    PageRow(
        "inspections",
        "POST",
        _w("inspections", "draws"),
        page_for("district_x", "district_y"),
        csrf="patrol-draw",
        form={"project_count": "1", "inspectors_per_project": "1", "exclusion_days": "0"},
        note="each district office draws in its own district; the city office draws nothing",
    ),
    PageRow("inspections", "GET", _w("inspections", "draws/roster"), page_for(*OFFICES)),
    PageRow(
        "inspections",
        "POST",
        _w("inspections", "draws/roster"),
        page_for("district_x", "district_y"),
        csrf="draw-roster",
        form={"inspector_id": "I-page-roster", "name": "矩阵页面名单检查员"},
    ),
    PageRow(
        "inspections",
        "POST",
        _w("inspections", "draws/roster/{inspector_id}/deactivate"),
        page_for("district_x", district_y=404),
        csrf="draw-roster",
        form={},
        note="not on district Y's roster: like a missing inspector",
    ),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", "draws/{draw_id}"),
        page_for("district_x", "city", district_y=404),
    ),
    PageRow("inspections", "GET", _w("inspections", "facilities"), page_for(*STAFF)),
    PageRow(
        "inspections",
        "POST",
        _w("inspections", "facilities"),
        page_for(*ENTERPRISES),
        csrf="facility-register",
        form={
            "project_id": "{project_id}",
            "kind": "lift",
            "name": "矩阵页面电梯",
            "last_serviced_on": "2011-01-01",
        },
        note="enterprise B names A's project: the form says the project is unknown (422)",
    ),
    PageRow(
        "inspections",
        "GET",
        _w("inspections", "facilities/{facility_id}"),
        page_for("enterprise_a", "district_x", "city", enterprise_b=404, district_y=404),
    ),
    PageRow(
        "inspections",
        "POST",
        _w("inspections", "facilities/{facility_id}/services"),
        page_for("enterprise_a", enterprise_b=404),
        csrf="facility-service",
        form={"serviced_on": "2011-01-02", "serviced_by": "矩阵电梯维保公司"},
        note="the offices read facilities, only the enterprise records a service",
    ),
)

_COMPLAINT = "c/{complaint_id}"
COMPLAINTS = (
    PageRow("complaints", "GET", _w("complaints", ""), page_for(*STAFF)),
    PageRow(
        "complaints",
        "GET",
        _w("complaints", _COMPLAINT),
        page_for("enterprise_a", "district_x", "city"),
        note="another enterprise's or district's complaint: the page says whose it is (403)",
    ),
    PageRow(
        "complaints",
        "GET",
        _w("complaints", _COMPLAINT + "/{action}"),
        page_for("enterprise_a"),
        values={"action": "accept"},
    ),
    PageRow(
        "complaints",
        "POST",
        _w("complaints", _COMPLAINT + "/{action}"),
        page_for("enterprise_a"),
        values={"action": "accept"},
        csrf="complaint:{complaint_id}:accept",
        form={},
    ),
    PageRow(
        "complaints",
        "GET",
        _w("complaints", _COMPLAINT + "/photos/{attachment_id}/{variant}"),
        page_for(*A_SIDE, **HIDDEN_FROM_OTHERS),
        values={"variant": "thumbnail"},
    ),
    PageRow("complaints", "GET", _w("complaints", "surveys"), page_for(*ENTERPRISES)),
    PageRow(
        "complaints",
        "POST",
        _w("complaints", "surveys/{survey_id}/tokens"),
        page_for("enterprise_a", enterprise_b=404),
        values={"survey_id": "{open_survey_id}"},
        csrf="survey-tokens:{open_survey_id}",
        form={"count": "1"},
    ),
    PageRow("complaints", "GET", _w("complaints", "survey-comments"), page_for(*STAFF)),
    PageRow(
        "complaints",
        "GET",
        _w("complaints", "register"),
        page_for("district_x", "district_y", "hotline"),
        note="the district offices and the 12345 hotline register for an owner by phone",
    ),
    PageRow(
        "complaints",
        "POST",
        _w("complaints", "register"),
        page_for("district_x", "district_y", "hotline"),
        csrf="complaint-register",
        form={
            "project_id": "{project_id}",
            "category": "other",
            "description": "矩阵页面：楼道灯不亮",
            "channel": "phone",
            "contact_phone": "13800000000",
        },
        note="district Y names district X's project: the form says it is unknown (422)",
    ),
)

_CASE = "cases/{case_id}"
EXPOSURE = (
    PageRow("exposure", "GET", _w("exposure", ""), page_for(*STAFF)),
    PageRow(
        "exposure",
        "GET",
        _w("exposure", _CASE),
        page_for("enterprise_a", "district_x", "city"),
    ),
    PageRow(
        "exposure",
        "GET",
        _w("exposure", _CASE + "/{action}"),
        page_for("district_x", "city"),
        values={"action": "hold"},
    ),
    PageRow(
        "exposure",
        "POST",
        _w("exposure", _CASE + "/{action}"),
        page_for("district_x", "city"),
        values={"action": "hold"},
        csrf="case:{case_id}:hold",
        form={"text": "矩阵测试：核实中"},
    ),
    PageRow(
        "exposure",
        "GET",
        _w("exposure", _CASE + "/objections/{objection_id}/{decision}"),
        page_for("district_x", "city"),
        values={"decision": "dismiss"},
    ),
    PageRow(
        "exposure",
        "POST",
        _w("exposure", _CASE + "/objections/{objection_id}/{decision}"),
        page_for("district_x", "city"),
        values={"decision": "dismiss"},
        csrf="objection:{objection_id}:dismiss",
        form={"reason": "矩阵测试：理由不成立"},
    ),
    PageRow("exposure", "GET", _w("exposure", "campaign"), page_for("city")),
    PageRow("exposure", "GET", _w("exposure", "campaign.csv"), page_for("city")),
    PageRow(
        "exposure",
        "GET",
        _w("exposure", "campaign/{district_code}/overdue"),
        page_for("city"),
        values={"district_code": "120101"},
    ),
    PageRow(
        "exposure",
        "GET",
        _w("exposure", "figures"),
        page_for("district_x", "city"),
        params={"district": "120101"},
        note="district X's figures: its own office and the city office",
    ),
    PageRow(
        "exposure",
        "GET",
        _w("exposure", "figures.csv"),
        page_for("district_x", "city"),
        params={"district": "120101"},
    ),
)

NOTIFICATIONS = (
    PageRow("notifications", "GET", _w("notifications", ""), page_for(*STAFF)),
    PageRow(
        "notifications",
        "GET",
        _w("notifications", "notices/{notice_id}"),
        page_for("enterprise_a", "district_x", enterprise_b=404, district_y=404, city=404),
        note="a notice in the person's own inbox (district X holds the cc copy); the city office "
        "reads every notice's delivery history through the API, its inbox holds none of this one",
    ),
    PageRow(
        "notifications",
        "POST",
        _w("notifications", "notices/{notice_id}/read"),
        page_for("enterprise_a", "district_x", enterprise_b=404, district_y=404, city=404),
        csrf="read:{notice_id}",
        form={},
        note="only a copy in the person's own inbox; district X holds the cc copy",
    ),
    PageRow(
        "notifications",
        "GET",
        _w("notifications", "criticisms/{notice_id}/document.pdf"),
        page_for(*A_SIDE, **HIDDEN_FROM_OTHERS),
        values={"notice_id": "{criticism_id}"},
    ),
    PageRow("notifications", "GET", _w("notifications", "drafts"), page_for(*OFFICES)),
    PageRow(
        "notifications",
        "GET",
        _w("notifications", "drafts/{draft_id}"),
        page_for("district_x", "city", district_y=404),
    ),
    PageRow(
        "notifications",
        "GET",
        _w("notifications", "drafts/{draft_id}/{action}"),
        page_for("district_x", district_y=404),
        values={"action": "sign-off"},
    ),
    PageRow(
        "notifications",
        "POST",
        _w("notifications", "drafts/{draft_id}/{action}"),
        page_for("district_x", district_y=404),
        values={"action": "sign-off"},
        csrf="draft:{draft_id}:sign-off",
        form={},
        note="the seed's draft is signed off already: district X is told so (409)",
    ),
)

PAGE_MATRIX: Final[tuple[PageRow, ...]] = (
    STYLESHEETS + INSPECTIONS + COMPLAINTS + NOTIFICATIONS + EXPOSURE + SIGN_IN_ROWS + SIGN_OUT_ROWS
)


def page_size() -> tuple[int, int]:
    """(page routes, page principals): the page matrix has routes x principals cells."""
    return len(PAGE_MATRIX), len(PAGE_PRINCIPALS)
