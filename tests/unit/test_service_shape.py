"""One shape for every service (issue 14), checked on the source so it cannot drift:

- routes reach their dependencies through FastAPI `Depends` (`runtime.http.provided`), never
  `request.app.state`, and settings are typed (no `getattr(settings, ...)`, no `model_construct`);
- SQL lives in `adapters/` (and migrations): no asyncpg call or import elsewhere in a service
  (the composition root aside; annotations under TYPE_CHECKING are not imports that run);
- events are written through the unit of work's outbox with an explicit trace, never
  `outbox.enqueue` (which would read correlation from the logging context);
- each service lists what it subscribes to in one module, with `schemas.topics` constants;
- every service has the same parts (settings, ports, memory fakes, deps, policy, subscriptions);
- one import alias means one thing across the code base;
- a module over 400 lines says in its docstring why it stays whole.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("complaints", "inspections", "notifications", "exposure")
SQL_CALLS = {"execute", "executemany", "fetch", "fetchrow", "fetchval", "copy_records_to_table"}
PARTS = (
    "settings.py",
    "subscriptions.py",
    "service/ports.py",
    "adapters/memory.py",
    "entrypoints/deps.py",
    "entrypoints/policy.py",
)
MAX_LINES = 400


def modules(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def service_modules(name: str) -> list[Path]:
    return modules(REPO / "services" / name)


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(REPO)}:{getattr(node, 'lineno', 0)}"


def in_adapters(path: Path) -> bool:
    return "adapters" in path.relative_to(REPO).parts


def runtime_nodes(tree: ast.Module) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (annotations only, never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return [n for n in ast.walk(tree) if id(n) not in skipped]


@pytest.mark.parametrize("service", SERVICES)
def test_routes_get_their_dependencies_through_depends_not_app_state(service: str) -> None:
    found = []
    for path in service_modules(service):
        for node in ast.walk(parsed(path)):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "state"
                and isinstance(node.value, ast.Attribute)
                and node.value.attr == "app"
            ):
                found.append(where(path, node))
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "model_construct"
            ):
                found.append(where(path, node) + " model_construct()")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "getattr"
                and node.args
                and isinstance(node.args[0], ast.Name)
                and "settings" in node.args[0].id
            ):
                found.append(where(path, node) + " getattr(settings, ...)")
    assert found == []


@pytest.mark.parametrize("service", SERVICES)
def test_sql_runs_only_in_adapters(service: str) -> None:
    found = []
    for path in service_modules(service):
        if in_adapters(path) or path.name == "bootstrap.py":
            continue
        for node in runtime_nodes(parsed(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in SQL_CALLS
            ):
                found.append(where(path, node) + f" .{node.func.attr}()")
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                if any(n == "asyncpg" or n.startswith("asyncpg.") for n in names):
                    found.append(where(path, node) + " imports asyncpg")
    assert found == []


@pytest.mark.parametrize("service", SERVICES)
def test_events_go_through_the_unit_of_work_outbox_with_a_trace(service: str) -> None:
    found = []
    for path in service_modules(service):
        for node in ast.walk(parsed(path)):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "enqueue"
            ):
                found.append(where(path, node))
    assert found == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_parts(service: str) -> None:
    root = REPO / "services" / service
    assert [part for part in PARTS if not (root / part).is_file()] == []


@pytest.mark.parametrize("service", SERVICES)
def test_subscriptions_name_topics_by_their_constants(service: str) -> None:
    path = REPO / "services" / service / "subscriptions.py"
    literals = [
        where(path, node) + f" {node.value!r}"
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and node.value.startswith("wuye.")
        and "." in node.value[5:]
        and " " not in node.value
    ]
    # consumer group names ("complaints.registry") are not topics; topic names start "wuye."
    assert literals == []
    imports = [
        node.module
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.ImportFrom) and node.module
    ]
    assert "schemas.topics" in imports or "schemas" in imports


def test_one_import_alias_means_one_thing() -> None:
    meaning: dict[str, set[str]] = defaultdict(set)
    where_used: dict[str, list[str]] = defaultdict(list)
    for path in modules(REPO / "services", REPO / "libs" / "runtime"):
        for node in ast.walk(parsed(path)):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.asname != alias.name:
                        meaning[alias.asname].add(alias.name)
                        where_used[alias.asname].append(where(path, node))
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    if alias.asname and alias.asname != alias.name:
                        target = f"{'.' * node.level}{node.module or ''}.{alias.name}"
                        meaning[alias.asname].add(target)
                        where_used[alias.asname].append(where(path, node))
    ambiguous = {alias: sorted(targets) for alias, targets in meaning.items() if len(targets) > 1}
    assert ambiguous == {}, {a: where_used[a] for a in ambiguous}


def test_a_long_module_says_why_it_stays_whole() -> None:
    long = []
    for path in modules(REPO / "services", REPO / "libs" / "runtime"):
        lines = path.read_text(encoding="utf-8").count("\n")
        if lines <= MAX_LINES:
            continue
        doc = ast.get_docstring(parsed(path)) or ""
        if not any(why in doc.lower() for why in ("stays whole", "kept whole")):
            long.append(f"{path.relative_to(REPO)} ({lines} lines)")
    assert long == []
