"""URLs as the webhook rules see them: scheme, host (IDNA-decoded), credentials, port.

httpx parses them, so a URL is read here exactly as the sender will read it when it delivers."""

from __future__ import annotations

from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class ParsedUrl:
    text: str  # the URL as recorded
    scheme: str
    host: str
    userinfo: str
    port: int  # the URL's, or the scheme's default


def parse_url(address: str) -> ParsedUrl | None:
    """A URL's parts, or None when it is not a URL (IDNA decoding of the host may fail too)."""
    try:
        url = httpx.URL(address)
        host = url.host
    except (httpx.InvalidURL, UnicodeError):
        return None
    return ParsedUrl(
        text=str(url),
        scheme=url.scheme,
        host=host,
        userinfo=url.userinfo.decode("ascii", "replace"),
        port=url.port or (443 if url.scheme == "https" else 80),
    )
