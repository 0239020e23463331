"""Swagger UI at /docs renders with the network cut off from everything but the service itself
(its assets used to come from a CDN, leaving a blank page offline)."""

from __future__ import annotations

from urllib.parse import urlsplit

from playwright.sync_api import BrowserContext, Route, expect

from tests.browser.conftest import Site


def test_swagger_ui_renders_offline(context: BrowserContext, site: Site) -> None:
    service = urlsplit(site.url).netloc
    elsewhere: list[str] = []

    def only_the_service(route: Route) -> None:
        if urlsplit(route.request.url).netloc == service:
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_service)
    page = context.new_page()
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("complaints", ignore_case=True)
    expect(page.locator(".opblock").first).to_be_visible()
    assert elsewhere == []
