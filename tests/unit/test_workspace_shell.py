"""The staff workspace's shared shell (runtime.workspace, workspace/base.html), rendered without a
service: the navigation for a role, the phone menu's closed line, and a page's own context left
alone by the shell."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from starlette.requests import Request

from runtime import workspace
from runtime.auth import Principal, Role
from runtime.web_session import Session, Tokens

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def page_at(path: str, principal: Principal, **counts: int) -> workspace.WorkspacePage:
    request = Request(
        {"type": "http", "method": "GET", "path": path, "query_string": b"", "headers": []}
    )
    session = Session(principal, "secret", Tokens(), NOW, NOW, "hash")
    return workspace.WorkspacePage(
        request=request,
        lang="zh",
        session=session,
        service="inspections",
        now=NOW,
        links={},
        counts=dict(counts),
    )


def render(tmp_path: Path, body: str, page: workspace.WorkspacePage, **context: object) -> str:
    (tmp_path / "child.html").write_text(
        '{% extends "workspace/base.html" %}{% block title %}t{% endblock %}'
        "{% block content %}" + body + "{% endblock %}",
        encoding="utf-8",
    )
    env = workspace.environment(tmp_path)
    return env.get_template("child.html").render(page=page, t=page.t, **context)


DISTRICT = Principal("wang", Role.DISTRICT_OFFICE, district_code="120101", name="王科长")


def test_the_shell_does_not_shadow_a_page_variable(tmp_path: Path) -> None:
    # The navigation is computed in the shell; a page's own `entries` (the draw roster's) must
    # reach its block unchanged (a top-level `set` in base.html once replaced them: 500).
    html = render(
        tmp_path, "<p id=mine>{{ entries | join(',') }}</p>", page_at("/workspace/inspections/", DISTRICT),
        entries=["a", "b"],
    )  # fmt: skip
    assert "<p id=mine>a,b</p>" in html


def test_the_phone_menu_says_where_you_are_and_lists_each_entry_once(tmp_path: Path) -> None:
    page = page_at("/workspace/inspections/orders", DISTRICT)
    html = render(tmp_path, "", page)
    entries = page.navigation()
    assert page.menu_summary(entries) == "整改单"
    assert '<span class="ws-menu-here">整改单</span>' in html
    menu = html.split('<details class="ws-menu">')[1].split("</details>")[0]
    row = html.split('<div class="ws-links">')[1].split("</div>")[0]
    for href, label, _ in entries:  # the same entries, once in the menu and once in the row
        assert menu.count(f'href="{href}"') == 1
        assert row.count(f'href="{href}"') == 1
        assert label in menu
    assert menu.count('aria-current="page"') == 1


def test_a_page_outside_every_entry_leaves_the_closed_line_empty(tmp_path: Path) -> None:
    page = page_at("/workspace/inspections/somewhere-else", DISTRICT)
    assert page.menu_summary(page.navigation()) == ""


def test_an_enterprise_sees_only_its_entries(tmp_path: Path) -> None:
    clerk = Principal("li", Role.ENTERPRISE, enterprise_id="E-0001", name="李")
    labels = [label for _, label, _ in page_at("/workspace/inspections/orders", clerk).navigation()]
    assert "整改单" in labels
    assert "双随机抽查" not in labels
    assert "通报批评签发" not in labels
