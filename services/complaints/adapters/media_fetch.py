"""Fetching an Open311 `media_url` (one photo) for the owners' photo pipeline.

Only from the origins the operator configured (`OPEN311_MEDIA_URL_ORIGINS`, e.g. the city app's
image host): a server that fetches any URL a client names can be made to reach internal services
(SSRF), to download without end, or to wait forever. So: exact scheme://host:port allow-list
(empty: media_url is refused, the default), no redirects, no proxy from the environment, a total
time limit and a byte cap read as a stream. What comes back goes through
`runtime.attachments.prepare` like any uploaded photo (type sniffed, size, pixels, EXIF removed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx

from runtime.errors import Message

DEFAULT_PORTS = {"http": 80, "https": 443}


class MediaRefused(Exception):
    def __init__(self, message: Message) -> None:
        super().__init__(message.en)
        self.message = message


def origin(url: str) -> str | None:
    """scheme://host:port of an http(s) URL, lower-cased with the default port made explicit."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username or parts.password:
        return None
    return f"{scheme}://{parts.hostname.lower()}:{port or DEFAULT_PORTS[scheme]}"


async def download(url: str, *, allowed: Iterable[str], max_bytes: int, timeout_s: float) -> bytes:
    """The body of `url` (HTTP 200), at most `max_bytes`, within `timeout_s` seconds in all."""
    allowed_origins = {o for o in (origin(a) for a in allowed) if o is not None}
    if not allowed_origins:
        raise MediaRefused(
            Message(
                "本平台不下载 media_url 照片链接；请以 multipart/form-data 的 media 字段上传照片",
                "media_url is not fetched here (not configured); upload the photo as the "
                "multipart/form-data field media",
            )
        )
    if origin(url) not in allowed_origins:
        raise MediaRefused(
            Message(
                "media_url 须来自已登记的图片地址；请改用 media 字段上传照片",
                "media_url must come from a registered image origin; upload the photo as media",
            )
        )
    data = bytearray()
    try:
        async with (
            asyncio.timeout(timeout_s),
            httpx.AsyncClient(timeout=timeout_s, follow_redirects=False, trust_env=False) as client,
            client.stream("GET", url, headers={"Accept": "image/*"}) as response,
        ):
            if response.status_code != 200:
                raise MediaRefused(
                    Message(
                        f"media_url 无法获取(HTTP {response.status_code})",
                        f"media_url could not be fetched (HTTP {response.status_code})",
                    )
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_big(max_bytes)
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > max_bytes:
                    raise _too_big(max_bytes)
    except TimeoutError as exc:
        raise MediaRefused(
            Message(
                f"media_url 在 {timeout_s:g} 秒内未下载完成",
                f"media_url did not download within {timeout_s:g} s",
            )
        ) from exc
    except httpx.HTTPError as exc:
        raise MediaRefused(
            Message("media_url 无法获取", f"media_url could not be fetched ({type(exc).__name__})")
        ) from exc
    return bytes(data)


def _too_big(max_bytes: int) -> MediaRefused:
    mb = max_bytes // (1024 * 1024)
    return MediaRefused(
        Message(f"media_url 照片超过 {mb} MB", f"the media_url photo is larger than {mb} MB")
    )
