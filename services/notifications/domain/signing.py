"""Webhook signatures (scheme v1, documented in docs/webhooks.md): pure HMAC-SHA256, no I/O.

The signed message is the ASCII timestamp (unix seconds), a full stop, then the raw body bytes:
``f"{timestamp}.".encode() + body``. The header carries ``v1=<64 lowercase hex digits>``. The
timestamp is signed so a captured request cannot be replayed outside the tolerance window.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import datetime

SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300

_SIGNATURE = re.compile(r"v1=([0-9a-f]{64})")
# Unix seconds: ASCII digits only (no sign, no spaces, no fraction), bounded so int() stays cheap.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signed_message(timestamp: int, body: bytes) -> bytes:
    """The exact bytes the HMAC covers."""
    return f"{timestamp}.".encode("ascii") + body


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    """The `X-Wuye-Signature` header value for `body` sent at `timestamp` (unix seconds)."""
    if not secret:
        raise ValueError("webhook secret must not be empty")
    if timestamp < 0:
        raise ValueError("timestamp must be unix seconds (non-negative)")
    digest = hmac.new(secret, signed_message(timestamp, body), hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def unix_seconds(now: datetime) -> int:
    """Whole unix seconds of an aware datetime (a naive one is ambiguous, so it is refused)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return int(now.timestamp())


def verify(
    secret: bytes,
    header_value: str | None,
    timestamp_header: str | None,
    body: bytes,
    now: datetime,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> bool:
    """True only if the signature matches and the timestamp is within `tolerance_s` of `now`.

    Missing or malformed headers, stale or future timestamps, a wrong secret and an altered body
    all give False. The digest comparison is constant-time.
    """
    if not secret or header_value is None or timestamp_header is None:
        return False
    ts_match = _TIMESTAMP.fullmatch(timestamp_header)
    sig_match = _SIGNATURE.fullmatch(header_value)
    if ts_match is None or sig_match is None:
        return False
    timestamp = int(timestamp_header)
    if abs(unix_seconds(now) - timestamp) > tolerance_s:
        return False
    expected = hmac.new(secret, signed_message(timestamp, body), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, sig_match.group(1))


def endpoint_secret(signing_key: bytes, endpoint_id: str) -> str:
    """The webhook secret of one endpoint: derived from the service's signing key (a Secret in
    settings) and the endpoint id, so no secret is stored in the database. Shown to the endpoint's
    owner once, at registration; rotating the signing key rotates every endpoint's secret."""
    if not signing_key:
        raise ValueError("webhook signing key must not be empty")
    message = f"wuye-webhook-secret|{endpoint_id}".encode()
    return "whsec_" + hmac.new(signing_key, message, hashlib.sha256).hexdigest()
