"""The Open311 media_url fetcher's allow-list (services/complaints/adapters/media_fetch.py); the
fetching itself, with its limits, is tested against a real HTTP server in
tests/integration/test_open311.py."""

from __future__ import annotations

import pytest

from services.complaints.adapters import media_fetch


def test_origin_is_scheme_host_and_explicit_port() -> None:
    assert media_fetch.origin("https://IMG.Example.cn/a.jpg") == "https://img.example.cn:443"
    assert media_fetch.origin("http://img.example.cn:8080/a") == "http://img.example.cn:8080"
    for bad in ("ftp://x/a", "file:///etc/passwd", "https://u:p@img.example.cn/a", "//x/a", "x"):
        assert media_fetch.origin(bad) is None
    assert media_fetch.origin("http://[::1]:99999/") is None  # a port out of range


async def test_without_configured_origins_media_url_is_refused() -> None:
    with pytest.raises(media_fetch.MediaRefused) as refused:
        await media_fetch.download(
            "https://img.example.cn/a.jpg", allowed=(), max_bytes=1, timeout_s=1
        )
    assert "multipart/form-data" in refused.value.message.en
    assert "media" in refused.value.message.zh


async def test_an_other_origin_is_refused_before_any_request() -> None:
    with pytest.raises(media_fetch.MediaRefused) as refused:
        await media_fetch.download(
            "https://img.example.cn.evil.example/a.jpg",
            allowed=("https://img.example.cn",),
            max_bytes=1,
            timeout_s=1,
        )
    assert "registered image origin" in refused.value.message.en
