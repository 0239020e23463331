"""Cross-site request forgery defence of the owners' pages (no sign-in, so no other session).

Two independent checks on every POST:

1. Where it comes from. A browser says so: `Sec-Fetch-Site` must be `same-origin` (or `none`, a
   request the person made themselves), and `Origin`, when sent, must be this site's own origin
   (scheme and host as the browser reached us). Anything cross-site is refused, and so is
   `Origin: null` unless `Sec-Fetch-Site` says same-origin. Old browsers that send neither fall
   back to check 2 alone. The pages say `Referrer-Policy: same-origin` so that browsers send
   their real origin with our own forms (under `no-referrer` they send `null`).
2. A token bound to the browser. Each browser gets a random session id in an HttpOnly,
   SameSite=Strict cookie (`__Host-` prefixed over https); the form's hidden token is `<issued>.<HMAC-SHA256(key, session id,
   issued)>` with a server key (`WEB_SESSION_KEY`, a Secret), valid for `TOKEN_MAX_AGE_S`. An
   attacker who can plant a cookie and a field of their choosing still cannot make a token that
   matches them without the key (the old double-submit check compared the two and nothing else).

Standard library HMAC, not a new dependency: the whole scheme is the two functions below.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from starlette.requests import Request

SESSION_COOKIE = "complaints_session"
# Over https the cookie takes the __Host- prefix: browsers then accept it only with Secure, Path=/
# and no Domain, so a sibling subdomain or a plain-http page cannot plant one (cookie tossing).
SECURE_SESSION_COOKIE = "__Host-" + SESSION_COOKIE
TOKEN_MAX_AGE_S = 4 * 3600  # a form left open longer asks to be opened again
CLOCK_SKEW_S = 60
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{32,64}")
_ALLOWED_FETCH_SITES = frozenset({"same-origin", "none"})


def cookie_name(secure: bool) -> str:
    return SECURE_SESSION_COOKIE if secure else SESSION_COOKIE


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def valid_session_id(value: str) -> bool:
    return _SESSION_ID.fullmatch(value) is not None


def _mac(key: bytes, session_id: str, issued: int) -> str:
    digest = hmac.new(key, f"wuye-csrf|{session_id}|{issued}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(key: bytes, session_id: str, now: float) -> str:
    issued = int(now)
    return f"{issued}.{_mac(key, session_id, issued)}"


def verify(key: bytes, session_id: str, token: str, now: float) -> bool:
    """The token was issued by us, for this browser's session, within TOKEN_MAX_AGE_S."""
    issued_text, _, mac = token.partition(".")
    if not (issued_text.isascii() and issued_text.isdigit()) or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    if not -CLOCK_SKEW_S <= now - issued <= TOKEN_MAX_AGE_S:
        return False
    return hmac.compare_digest(mac.encode(), _mac(key, session_id, issued).encode())


def cross_site(request: Request, *, public_https: bool) -> str | None:
    """Why the browser says this POST is not from our own pages, or None when it does not."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site.strip().lower() not in _ALLOWED_FETCH_SITES:
        return f"sec-fetch-site {fetch_site[:20]}"
    origin = request.headers.get("origin")
    if origin is None:
        return None  # an old browser: the signed token decides
    if origin.strip() == "null" and fetch_site is not None:
        # An opaque origin (a page under Referrer-Policy: no-referrer posts "null"), but the
        # browser itself says same-origin; a sandboxed cross-site frame would say cross-site.
        return None
    scheme = "https" if public_https or request.url.scheme == "https" else "http"
    host = request.headers.get("host", "").strip().lower()
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return "origin malformed"
    if parts.scheme.lower() != scheme or not host or parts.netloc.lower() != host:
        return "origin foreign"  # also "null": sandboxed frames, privacy-sensitive redirects
    return None


# --- the owner's photos on the status page --------------------------------------------------------
# The follow-up token never travels in a URL, so an <img> cannot carry it. Having checked the
# token, the status page links each photo with a short-lived signature bound to this browser's
# session cookie and to the photo: the link is useless in another browser and after PHOTO_URL_S.
PHOTO_URL_S = 15 * 60


def _photo_mac(key: bytes, session_id: str, attachment_id: str, variant: str, until: int) -> str:
    text = f"wuye-photo|{session_id}|{attachment_id}|{variant}|{until}"
    digest = hmac.new(key, text.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def photo_signature(
    key: bytes, session_id: str, attachment_id: str, variant: str, now: float
) -> tuple[int, str]:
    until = int(now) + PHOTO_URL_S
    return until, _photo_mac(key, session_id, attachment_id, variant, until)


def photo_signature_ok(
    key: bytes, session_id: str, attachment_id: str, variant: str, until: str, sig: str, now: float
) -> bool:
    if not (until.isascii() and until.isdigit()) or len(until) > 12 or int(until) < now:
        return False
    expected = _photo_mac(key, session_id, attachment_id, variant, int(until))
    return hmac.compare_digest(sig.encode(), expected.encode())
