"""One shape for every service (issue 14), checked on the source so it cannot drift:

- routes reach their dependencies through FastAPI `Depends` (`runtime.http.provided`): no
  `app.state` anywhere in services/ (bare `app.state`, `request.app.state`, `x.app.state`);
  settings are typed: no `getattr(<anything naming settings>, ...)`, no `model_construct`;
- SQL lives in `adapters/` (and migrations): no asyncpg call or import elsewhere in a service
  (the composition root aside; annotations under TYPE_CHECKING are not imports that run), and
  no SQL text (SELECT … FROM, INSERT INTO, UPDATE … SET, DELETE FROM, in capitals as all the SQL
  here is written; docstrings are prose, not queries) in a string literal outside them;
- events are written through the unit of work's outbox with an explicit trace, never
  `outbox.enqueue` (which would read correlation from the logging context), and nothing reads
  structlog's context variables (`get_contextvars`): logs bind data, they never decide anything;
- topic names are `schemas.topics` constants: no "wuye.<x>.<y>" literal (nor an f-string that
  builds one) in services/, libs/runtime, schemas/ (but schemas/topics.py, where they are
  defined), deploy/ or bench/ — examples/ is exempt on purpose: it shows an outside agency's
  consumer, which uses nothing of the platform's code;
- each service lists what it subscribes to in one module, importing `schemas.topics`;
- every service has the same parts (settings, ports, memory fakes, deps, policy, subscriptions);
- routes and handlers decide access through the service's policy and its rules: no role is
  compared, and no route gated, outside `entrypoints/policy.py` and `service/access.py`;
- one import name means one module across services/ and libs/runtime: every name an import binds
  to a module (`import a.b as x`, `from a import b` where b is a module, `from a import b as x`)
  is resolved to the module's dotted path, and one name bound to two modules fails. The same
  module path in another service (`services.<service>.service.ports`) counts as the same module:
  `ports` means "this service's ports" everywhere;
- a module over 400 lines says in its docstring why it stays whole (not how long it is: a line
  count in prose goes stale, so none is allowed).

Every check is a function of a module's source (or AST), and each is shown to fail on a bad
snippet below, not only to pass on the code base.
"""

from __future__ import annotations

import ast
import importlib.util
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from functools import cache
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
# Where our own top-level packages live (`runtime` is libs/runtime).
FIRST_PARTY = {
    "services": REPO / "services",
    "schemas": REPO / "schemas",
    "runtime": REPO / "libs" / "runtime",
}
TOPIC_NAME = re.compile(r"wuye(\.[a-z0-9_-]+){2}")
TOPIC_PREFIX = re.compile(r"wuye\.[a-z0-9_-]+\.")
SQL_TEXT = re.compile(
    r"\bSELECT\b[\s\S]*?\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\s+\S+\s+SET\b|\bDELETE\s+FROM\b"
)
LINE_COUNT = re.compile(r"\b\d{3,}\s+lines\b", re.I)
STAYS_WHOLE = ("stays whole", "kept whole")


# --- walking the code base ------------------------------------------------------------------


def modules(*roots: Path) -> list[Path]:
    return sorted(p for root in roots for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def service_modules(name: str) -> list[Path]:
    return modules(REPO / "services" / name)


def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def relative(path: Path) -> str:
    return str(path.relative_to(REPO))


def where(path: Path, node: ast.AST) -> str:
    return f"{relative(path)}:{getattr(node, 'lineno', 0)}"


def in_adapters(path: Path) -> bool:
    parts = path.relative_to(REPO).parts
    return "adapters" in parts or "migrations" in parts


def dotted_name(path: Path) -> str:
    """The module a file is imported as (`libs/runtime/x.py` is `runtime.x`)."""
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[0] == "libs":
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def found_in(paths: Iterable[Path], check: Callable[[ast.Module], list[str]]) -> list[str]:
    return [f"{relative(path)}:{finding}" for path in paths for finding in check(parsed(path))]


# --- the checks: each takes a parsed module and returns "line: what" for every offence ----------


def runtime_nodes(tree: ast.Module) -> list[ast.AST]:
    """Every node except those under `if TYPE_CHECKING:` (annotations only, never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(n) for child in node.body for n in ast.walk(child))
    return [n for n in ast.walk(tree) if id(n) not in skipped]


def docstring_nodes(tree: ast.Module) -> set[int]:
    """The string constants that are docstrings (of the module, a class or a function)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                found.add(id(body[0].value))
    return found


def string_literals(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    """Every string the code writes: constants (docstrings left out) and f-strings, the latter
    with `{}` for each interpolated part; the constant pieces of an f-string are not repeated."""
    docstrings = docstring_nodes(tree)
    pieces: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            pieces.update(id(v) for v in node.values)
            yield (
                node,
                "".join(
                    v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else "{}"
                    for v in node.values
                ),
            )
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and id(node) not in pieces
        ):
            yield node, node.value


def app_state_lookups(tree: ast.Module) -> list[str]:
    """`app.state`, `request.app.state`, `anything.app.state`."""
    return [
        f"{node.lineno} {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr == "state"
        and (
            (isinstance(node.value, ast.Name) and node.value.id == "app")
            or (isinstance(node.value, ast.Attribute) and node.value.attr == "app")
        )
    ]


def untyped_settings(tree: ast.Module) -> list[str]:
    """`getattr(<anything naming settings>, ...)` and `model_construct()` (which skips reading
    the environment)."""
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr == "model_construct":
            found.append(f"{node.lineno} model_construct()")
        if (
            isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and node.args
            and "settings" in ast.unparse(node.args[0]).lower()
        ):
            found.append(f"{node.lineno} {ast.unparse(node)}")
    return found


def sql_calls(tree: ast.Module) -> list[str]:
    """asyncpg's query methods called, or asyncpg imported, where it runs."""
    found = []
    for node in runtime_nodes(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in SQL_CALLS
        ):
            found.append(f"{node.lineno} .{node.func.attr}()")
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
            )
            if any(n == "asyncpg" or n.startswith("asyncpg.") for n in names):
                found.append(f"{node.lineno} imports asyncpg")
    return found


def sql_literals(tree: ast.Module) -> list[str]:
    return [
        f"{getattr(node, 'lineno', 0)} {text[:60]!r}"
        for node, text in string_literals(tree)
        if SQL_TEXT.search(text)
    ]


def outbox_enqueues(tree: ast.Module) -> list[str]:
    return [
        f"{node.lineno} .enqueue()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "enqueue"
    ]


def logging_context_reads(tree: ast.Module) -> list[str]:
    """Reading structlog's context variables back: the logging context deciding something."""
    return [
        f"{node.lineno} {ast.unparse(node)}"
        for node in ast.walk(tree)
        if (isinstance(node, ast.Attribute) and node.attr == "get_contextvars")
        or (isinstance(node, ast.alias) and node.name == "get_contextvars")
    ]


def topic_literals(tree: ast.Module) -> list[str]:
    """A topic name spelled out: "wuye.<x>.<y>", or an f-string that starts like one. Other
    "wuye." strings (lifespan-state keys such as "wuye.provided", a host name) are not topics."""
    found = []
    for node, text in string_literals(tree):
        built = isinstance(node, ast.JoinedStr)
        if (built and TOPIC_PREFIX.match(text)) or (not built and TOPIC_NAME.fullmatch(text)):
            found.append(f"{getattr(node, 'lineno', 0)} {text!r}")
    return found


@cache
def is_module(dotted: str) -> bool:
    """Whether `dotted` names a module (or package): ours by their files, others by the import
    system (which imports the parents, as the code under test does anyway)."""
    head, *rest = dotted.split(".")
    root = FIRST_PARTY.get(head)
    if root is not None:
        path = root.joinpath(*rest)
        return (path / "__init__.py").is_file() or path.with_suffix(".py").is_file()
    try:
        return importlib.util.find_spec(dotted) is not None
    except (ImportError, ValueError):
        return False


def module_bindings(
    tree: ast.Module, module: str, *, is_package: bool, is_module: Callable[[str], bool]
) -> list[tuple[str, str, int]]:
    """(name, module's dotted path, line) for every name an import binds to a module.

    `module` is the dotted name of the file parsed (`is_package`: it is an `__init__.py`), so
    relative imports resolve."""
    package = module if is_package else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found.append((alias.asname, alias.name, node.lineno))
                else:  # `import a.b` binds `a`
                    head = alias.name.partition(".")[0]
                    found.append((head, head, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if alias.name != "*" and is_module(target):
                    found.append((alias.asname or alias.name, target, node.lineno))
    return found


def same_role(module: str) -> str:
    """`services.<any service>.x.y` as one module: the same part of each service."""
    parts = module.split(".")
    if len(parts) > 2 and parts[0] == "services" and parts[1] in SERVICES:
        parts[1] = "<service>"
    return ".".join(parts)


def names_with_two_meanings(
    bindings: Iterable[tuple[str, str, str]],
) -> dict[str, dict[str, list[str]]]:
    """From (name, module, where) triples: each name bound to more than one module, with where
    each meaning is bound."""
    meanings: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for name, target, place in bindings:
        meanings[name][same_role(target)].append(place)
    return {
        name: {target: places for target, places in sorted(by_target.items())}
        for name, by_target in sorted(meanings.items())
        if len(by_target) > 1
    }


def length_offence(source: str) -> str | None:
    """Over `MAX_LINES` lines without a docstring that says why it stays whole; or a module
    docstring that gives the module's length in lines (of any module: it goes stale)."""
    lines = source.count("\n")
    doc = (ast.get_docstring(ast.parse(source)) or "").lower()
    stated = LINE_COUNT.search(doc)
    if stated:
        return f"{lines} lines, the docstring says {stated.group(0)!r}: say why, not how long"
    if lines > MAX_LINES and not any(why in doc for why in STAYS_WHOLE):
        return f"{lines} lines, and the docstring does not say why it stays whole"
    return None


# --- the code base meets them ----------------------------------------------------------------


@pytest.mark.parametrize("service", SERVICES)
def test_routes_get_their_dependencies_through_depends_not_app_state(service: str) -> None:
    assert found_in(service_modules(service), app_state_lookups) == []


@pytest.mark.parametrize("service", SERVICES)
def test_settings_are_typed(service: str) -> None:
    assert found_in(service_modules(service), untyped_settings) == []


@pytest.mark.parametrize("service", SERVICES)
def test_sql_runs_only_in_adapters(service: str) -> None:
    outside = [
        p for p in service_modules(service) if not in_adapters(p) and p.name != "bootstrap.py"
    ]
    assert found_in(outside, sql_calls) == []


@pytest.mark.parametrize("service", SERVICES)
def test_sql_is_written_only_in_adapters(service: str) -> None:
    outside = [p for p in service_modules(service) if not in_adapters(p)]
    assert found_in(outside, sql_literals) == []


@pytest.mark.parametrize("service", SERVICES)
def test_events_go_through_the_unit_of_work_outbox_with_a_trace(service: str) -> None:
    assert found_in(service_modules(service), outbox_enqueues) == []


def test_nothing_reads_the_logging_context() -> None:
    code = modules(REPO / "services", REPO / "libs" / "runtime")
    assert found_in(code, logging_context_reads) == []


def test_topics_are_named_by_their_constants() -> None:
    roots = ("services", "libs/runtime", "schemas", "deploy", "bench")
    code = [
        p for p in modules(*(REPO / root for root in roots)) if p != REPO / "schemas" / "topics.py"
    ]
    assert found_in(code, topic_literals) == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_has_the_same_parts(service: str) -> None:
    root = REPO / "services" / service
    assert [part for part in PARTS if not (root / part).is_file()] == []


@pytest.mark.parametrize("service", SERVICES)
def test_subscriptions_name_topics_by_their_constants(service: str) -> None:
    path = REPO / "services" / service / "subscriptions.py"
    assert topic_literals(parsed(path)) == []
    imports = [
        node.module
        for node in ast.walk(parsed(path))
        if isinstance(node, ast.ImportFrom) and node.module
    ]
    assert "schemas.topics" in imports or "schemas" in imports


def test_one_import_name_means_one_module() -> None:
    bindings = [
        (name, target, f"{relative(path)}:{line}")
        for path in modules(REPO / "services", REPO / "libs" / "runtime")
        for name, target, line in module_bindings(
            parsed(path),
            dotted_name(path),
            is_package=path.name == "__init__.py",
            is_module=is_module,
        )
    ]
    assert len(bindings) > 500  # the walk saw the code base
    assert names_with_two_meanings(bindings) == {}


def test_a_long_module_says_why_it_stays_whole() -> None:
    found = []
    for path in modules(REPO / "services", REPO / "libs" / "runtime"):
        offence = length_offence(path.read_text(encoding="utf-8"))
        if offence:
            found.append(f"{relative(path)}: {offence}")
    assert found == []


# --- each check fails on a bad snippet -------------------------------------------------------


def tree(source: str) -> ast.Module:
    return ast.parse(source)


@pytest.mark.parametrize(
    "source", ["app.state.runtime", "request.app.state.deps", "self.request.app.state"]
)
def test_app_state_is_caught_however_it_is_reached(source: str) -> None:
    assert app_state_lookups(tree(source)) != []


def test_other_state_is_not_app_state() -> None:
    assert app_state_lookups(tree("request.state.x\nstate.app\nlifespan.state")) == []


@pytest.mark.parametrize(
    "source",
    [
        "getattr(settings, 'x', 1)",
        "getattr(self.settings, 'x')",
        "getattr(deps.settings, 'x', None)",
        "getattr(get_settings(), 'x')",
        "getattr(self._service_settings, 'x')",
        "Settings.model_construct()",
    ],
)
def test_untyped_settings_are_caught(source: str) -> None:
    assert untyped_settings(tree(source)) != []


def test_getattr_on_other_things_is_not_a_settings_lookup() -> None:
    assert untyped_settings(tree("getattr(row, 'settings_id', None)\nsettings.page_size")) == []


def test_sql_calls_outside_type_checking_are_caught() -> None:
    source = """
import asyncpg
await conn.fetchrow("x")
if TYPE_CHECKING:
    import asyncpg.pool
"""
    assert [f.split()[1] for f in sql_calls(tree(source))] == ["imports", ".fetchrow()"]


@pytest.mark.parametrize(
    "source",
    [
        'Q = "SELECT id FROM complaints WHERE id = $1"',
        'Q = """\n    INSERT INTO notices (id) VALUES ($1)\n"""',
        'Q = "UPDATE outbox SET parked_at = NULL"',
        'Q = "DELETE FROM inbox"',
        'Q = f"SELECT {columns} FROM {table}"',
        'def f():\n    return "SELECT 1 FROM t"',
    ],
)
def test_sql_text_is_caught(source: str) -> None:
    assert sql_literals(tree(source)) != []


def test_prose_and_docstrings_are_not_sql() -> None:
    source = '''
"""The scan must SELECT the rows FROM the same table as the rule."""
def f():
    """DELETE FROM outbox is the relay's job."""
    return "Select a project from the list / 从列表中选择项目"
'''
    assert sql_literals(tree(source)) == []


def test_outbox_enqueue_is_caught() -> None:
    assert outbox_enqueues(tree("await outbox.enqueue(conn, event)")) != []


@pytest.mark.parametrize(
    "source",
    [
        "event_type = structlog.contextvars.get_contextvars().get('event_type')",
        "from structlog.contextvars import get_contextvars",
    ],
)
def test_reading_the_logging_context_is_caught(source: str) -> None:
    assert logging_context_reads(tree(source)) != []


def test_binding_the_logging_context_is_fine() -> None:
    assert logging_context_reads(tree("structlog.contextvars.bind_contextvars(a=1)")) == []


@pytest.mark.parametrize(
    "source",
    [
        'topic: ClassVar[str] = "wuye.inspections.events"',
        'consume("wuye.registry.projects")',
        'DLQ = f"wuye.dlq.{service}"',
    ],
)
def test_topic_literals_are_caught(source: str) -> None:
    assert topic_literals(tree(source)) != []


def test_other_wuye_strings_are_not_topics() -> None:
    source = """
PROVIDED = "wuye.provided"
HOST = "wuye.tj.gov.cn"
GROUP = "exposure.inspections"
'''Reads wuye.inspections.events.'''
"""
    assert topic_literals(tree(source)) == []


def test_import_bindings_resolve_to_modules() -> None:
    source = """
import datetime as dt
import os.path
from . import ports
from ..domain import rules as intervals
from ..domain.rules import RuleBook
from schemas.inspections import v1 as inspections
"""
    known = {"datetime", "os", "services.x.service.ports", "services.x.domain.rules"}
    known.add("schemas.inspections.v1")
    bound = module_bindings(
        tree(source), "services.x.service.handlers", is_package=False, is_module=known.__contains__
    )
    assert [(name, target) for name, target, _ in bound] == [
        ("dt", "datetime"),
        ("os", "os"),
        ("ports", "services.x.service.ports"),
        ("intervals", "services.x.domain.rules"),
        ("inspections", "schemas.inspections.v1"),
    ]


def test_relative_imports_in_a_package_resolve_from_it() -> None:
    bound = module_bindings(
        tree("from . import cases"),
        "services.x.service",
        is_package=True,
        is_module={"services.x.service.cases"}.__contains__,
    )
    assert [(n, t) for n, t, _ in bound] == [("cases", "services.x.service.cases")]


def test_one_name_for_two_modules_is_caught() -> None:
    bindings = [
        ("rules", "services.inspections.domain.statutory_intervals", "a.py:1"),
        ("rules", "services.notifications.domain.rules", "b.py:3"),
        ("cases", "services.exposure.domain.cases", "c.py:2"),
        ("cases", "services.exposure.service.cases", "d.py:2"),
        ("logging", "logging", "e.py:1"),
        ("logging", "runtime.logging", "f.py:1"),
    ]
    assert sorted(names_with_two_meanings(bindings)) == ["cases", "logging", "rules"]


def test_the_same_part_of_each_service_is_one_meaning() -> None:
    bindings = [
        ("ports", "services.complaints.service.ports", "a.py:1"),
        ("ports", "services.exposure.service.ports", "b.py:1"),
        ("dt", "datetime", "c.py:1"),
        ("dt", "datetime", "d.py:1"),
    ]
    assert names_with_two_meanings(bindings) == {}


def long_module(docstring: str, lines: int = MAX_LINES + 1) -> str:
    body = "\n".join(f"x{i} = {i}" for i in range(lines - docstring.count("\n") - 1))
    return f'"""{docstring}"""\n{body}\n'


def test_a_long_module_without_a_reason_is_caught() -> None:
    assert long_module("Helpers.").count("\n") == MAX_LINES + 1
    assert length_offence(long_module("Helpers.")) is not None
    assert length_offence(long_module("Helpers.", lines=MAX_LINES)) is None


def test_a_long_module_giving_its_length_is_caught() -> None:
    for stale in ("Stays whole (about 530 lines): one repository per table.",
                  "A little over 400 lines, kept whole: one state machine."):  # fmt: skip
        assert length_offence(long_module(stale)) is not None
    assert length_offence(long_module("Stays whole: one repository per table.")) is None
    assert length_offence('"""Over 400 lines, kept whole."""\nx = 1\n') is not None


RULE_MODULES = {"policy.py", "access.py"}  # where a service's access rules are written


def _role_compares(tree: ast.Module) -> list[ast.AST]:
    """Comparisons that decide by role: `x.role is ...`, `x.role == "city_office"`,
    `... in (Role.X, ...)`."""

    def is_role(node: ast.AST) -> bool:
        if isinstance(node, ast.Attribute) and node.attr == "role":
            return True
        return (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "Role"
        )

    found: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            if any(is_role(n) for o in operands for n in ast.walk(o)):
                found.append(node)
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_routes_and_handlers_decide_access_through_the_policy_and_its_rules(service: str) -> None:
    """Issue 14: entrypoints authorize through one policy per service, the rules live in the
    domain (or the service's `access` module). No other route or handler compares roles or gates
    a route with `require(...)` of its own."""
    root = REPO / "services" / service
    wrong = []
    for path in modules(root / "entrypoints", root / "service"):
        if path.name in RULE_MODULES:
            continue
        tree = parsed(path)
        wrong += [where(path, n) for n in _role_compares(tree)]
        wrong += [
            where(path, n)
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "require"
        ]
    assert wrong == [], f"decide access in entrypoints/policy.py (or the domain's rules): {wrong}"
