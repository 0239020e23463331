"""Webhook signature scheme v1 (docs/webhooks.md): sign/verify round trip and every rejection."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.notifications.domain import signing

SECRET = b"agency-shared-secret"
BODY = '{"notice":"通报批评","id":"津和平2025-001"}'.encode()
NOW = datetime(2025, 6, 1, 9, 30, tzinfo=UTC)
TS = int(NOW.timestamp())


def test_round_trip() -> None:
    header = signing.sign(SECRET, TS, BODY)
    assert signing.verify(SECRET, header, str(TS), BODY, NOW)


def test_signature_is_hmac_sha256_over_timestamp_dot_body_as_documented() -> None:
    by_hand = hmac.new(SECRET, f"{TS}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signing.sign(SECRET, TS, BODY) == f"v1={by_hand}"


def test_tampered_body_is_rejected() -> None:
    header = signing.sign(SECRET, TS, BODY)
    assert not signing.verify(SECRET, header, str(TS), BODY.replace(b"001", b"002"), NOW)
    assert not signing.verify(SECRET, header, str(TS), BODY + b" ", NOW)


def test_wrong_secret_is_rejected() -> None:
    header = signing.sign(b"someone-else", TS, BODY)
    assert not signing.verify(SECRET, header, str(TS), BODY, NOW)


def test_timestamp_is_covered_by_the_signature() -> None:
    header = signing.sign(SECRET, TS, BODY)
    assert not signing.verify(SECRET, header, str(TS + 1), BODY, NOW)


@pytest.mark.parametrize(
    ("offset_s", "accepted"),
    [(0, True), (300, True), (-300, True), (301, False), (-301, False), (86_400, False)],
)
def test_stale_and_future_timestamps(offset_s: int, accepted: bool) -> None:
    """Signed at TS, checked at TS + offset: outside ±300 s it is a replay (or a skewed clock)."""
    header = signing.sign(SECRET, TS, BODY)
    checked_at = NOW + timedelta(seconds=offset_s)
    assert signing.verify(SECRET, header, str(TS), BODY, checked_at) is accepted


def test_tolerance_is_configurable() -> None:
    header = signing.sign(SECRET, TS, BODY)
    later = NOW + timedelta(seconds=60)
    assert signing.verify(SECRET, header, str(TS), BODY, later, tolerance_s=60)
    assert not signing.verify(SECRET, header, str(TS), BODY, later, tolerance_s=59)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda h: h.removeprefix("v1="),  # no scheme
        lambda h: h.replace("v1=", "v2="),  # unknown scheme
        lambda h: h.upper().replace("V1=", "v1="),  # hex must be lowercase
        lambda h: h[:-1],  # too short
        lambda h: h + "0",  # too long
        lambda h: h[:-1] + "g",  # not hex
        lambda h: " " + h,  # stray whitespace
        lambda h: h + "," + h,  # lists are not part of v1
        lambda _h: "",
    ],
)
def test_malformed_signature_header_is_rejected(mangle: Callable[[str], str]) -> None:
    header = mangle(signing.sign(SECRET, TS, BODY))
    assert not signing.verify(SECRET, header, str(TS), BODY, NOW)


@pytest.mark.parametrize(
    "timestamp_header",
    ["", " " + str(TS), str(TS) + ".0", "+" + str(TS), "-1", "1e9", "١٧٤٨٧٧", "9" * 40],
)
def test_malformed_timestamp_header_is_rejected(timestamp_header: str) -> None:
    header = signing.sign(SECRET, TS, BODY)
    assert not signing.verify(SECRET, header, timestamp_header, BODY, NOW)


def test_missing_headers_and_empty_secret_are_rejected() -> None:
    header = signing.sign(SECRET, TS, BODY)
    assert not signing.verify(SECRET, None, str(TS), BODY, NOW)
    assert not signing.verify(SECRET, header, None, BODY, NOW)
    assert not signing.verify(b"", header, str(TS), BODY, NOW)


def test_signing_refuses_empty_secret_and_naive_time() -> None:
    with pytest.raises(ValueError, match="secret"):
        signing.sign(b"", TS, BODY)
    header = signing.sign(SECRET, TS, BODY)
    with pytest.raises(ValueError, match="timezone-aware"):
        signing.verify(SECRET, header, str(TS), BODY, NOW.replace(tzinfo=None))
