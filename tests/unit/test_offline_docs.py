"""Every service's Swagger UI (/docs) and ReDoc (/redoc) work offline: the pages reference only
assets the service itself serves (no CDN), and those assets are served."""

from __future__ import annotations

import importlib
import re
from urllib.parse import urlsplit

import httpx
import pytest

from runtime.service import build_app
from runtime.settings import Settings

SERVICES = ("inspections", "complaints", "notifications", "exposure")
_ASSET = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url:\s*["']([^"']+)["']""")


def _app(service: str) -> object:
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    settings_cls = next(
        v
        for v in vars(bootstrap).values()
        if isinstance(v, type) and issubclass(v, Settings) and v is not Settings
    )
    settings = settings_cls(database_url="postgresql://unused/unused")
    return build_app(bootstrap.spec(settings), settings)


@pytest.mark.asyncio
@pytest.mark.parametrize("service", SERVICES)
@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_reference_only_local_assets_that_are_served(service: str, page: str) -> None:
    transport = httpx.ASGITransport(app=_app(service))  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        html = await client.get(page)
        assert html.status_code == 200
        assert re.search(r"https?://", html.text) is None, html.text
        csp = html.headers["Content-Security-Policy"]
        assert "http" not in csp, csp
        urls = [a or b for a, b in _ASSET.findall(html.text)]
        scripts = [u for u in urls if u.endswith(".js")]
        assert scripts, f"{page} loads no script: {html.text[:400]}"
        for url in urls:
            parts = urlsplit(url)
            assert (parts.scheme, parts.netloc) == ("", ""), f"{page} references {url}"
            asset = await client.get(url)
            assert asset.status_code == 200, url
            if url.endswith(".js"):
                assert "javascript" in asset.headers["content-type"]
                assert len(asset.content) > 100_000, url  # the real bundle, not a stub
            elif url.endswith(".css"):
                assert "text/css" in asset.headers["content-type"]
