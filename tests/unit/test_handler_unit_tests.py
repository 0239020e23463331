"""Every public function of a service layer (`services/<service>/service/*.py`) has a unit test in
`tests/unit/<service>/` (issue 14: "unit tests of every service-layer handler", on the fakes, no
database). A function counts as tested when a module there names it through its own module: `from
services.<service>.service.<module> import name`, or `<module>.name` after importing the module.
A function left out says why in `UNTESTED_HERE`; an entry that is tested now, or names nothing,
fails too, so the list only shrinks.

`python -m tests.unit.test_handler_unit_tests [root]` prints the count and the untested ones.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("complaints", "exposure", "inspections", "notifications")

Handler = tuple[str, str, str]  # service, module, function

_THROUGH_RECORD = (
    "a step of record_inspection.record inside its unit of work; its orders, deadlines and "
    "RectificationOrdered events are asserted through it (test_record_inspection.py)"
)
_THROUGH_NOTICES = (
    "a step of issuing.notices_for's batch handler inside its unit of work; asserted through "
    "it (test_issuing.py: notices, drafts and the ladders they end)"
)
UNTESTED_HERE: dict[Handler, str] = {
    ("exposure", "publication", "act_on_next"): (
        "one case's step of publication.act_on_due, asserted through it (test_publication.py)"
    ),
    ("inspections", "rectifications", "deadlines_for"): _THROUGH_RECORD,
    ("inspections", "rectifications", "issue_orders"): _THROUGH_RECORD,
    ("inspections", "statutory_intervals", "interval_text"): (
        "the interval's words in StatutoryIntervalMissed, asserted through sweep_missed "
        "(test_statutory_intervals.py)"
    ),
    ("inspections", "statutory_intervals", "missed_event"): (
        "the event sweep_missed writes, asserted through it (test_statutory_intervals.py)"
    ),
    ("notifications", "delivery", "public_reason"): (
        "a pure rule tested with the rule book in tests/unit/test_notice_rules.py"
    ),
    ("notifications", "issuing", "cancel_ladders"): _THROUGH_NOTICES,
    ("notifications", "issuing", "draft"): _THROUGH_NOTICES,
    ("notifications", "issuing", "issue"): _THROUGH_NOTICES,
}
"""Public service-layer functions without a unit test in tests/unit/<service>/ naming them,
and why."""


def handlers(root: Path) -> set[Handler]:
    """The public top-level functions of each service layer (ports are Protocols: no functions)."""
    found: set[Handler] = set()
    for service in SERVICES:
        for path in sorted((root / "services" / service / "service").glob("*.py")):
            tree = ast.parse(path.read_text("utf-8"))
            for node in tree.body:
                is_function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                if is_function and not node.name.startswith("_"):
                    found.add((service, path.stem, node.name))
    return found


def referenced(root: Path, service: str) -> set[Handler]:
    """The service-layer functions the unit tests of `service` name through their module."""
    package = f"services.{service}.service"
    names: set[Handler] = set()
    for path in sorted((root / "tests" / "unit" / service).rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        modules: dict[str, str] = {}  # local name -> service module
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == package:
                modules.update({a.asname or a.name: a.name for a in node.names})
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + "."):
                module = (node.module or "").removeprefix(package + ".")
                names.update((service, module, a.name) for a in node.names)
            elif isinstance(node, ast.Import):
                for a in node.names:
                    if a.name.startswith(package + ".") and a.asname:
                        modules[a.asname] = a.name.removeprefix(package + ".")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
            ):
                names.add((service, modules[node.value.id], node.attr))
    return names


def untested(root: Path) -> list[Handler]:
    tested = set().union(*(referenced(root, s) for s in SERVICES))
    return sorted(handlers(root) - tested)


def test_every_service_layer_function_has_a_unit_test() -> None:
    missing = [h for h in untested(ROOT) if h not in UNTESTED_HERE]
    assert missing == [], (
        "service-layer functions without a unit test in tests/unit/<service>/ (write one on "
        "the in-memory unit of work, or say why in UNTESTED_HERE): "
        + ", ".join(f"services/{s}/service/{m}.py:{f}" for s, m, f in missing)
    )


def test_the_allow_list_names_only_untested_functions() -> None:
    stale = sorted(set(UNTESTED_HERE) - set(untested(ROOT)))
    assert stale == [], f"tested now or gone, take them off UNTESTED_HERE: {stale}"


def test_the_check_sees_a_function_named_through_its_module(tmp_path: Path) -> None:
    """The check itself: a handler named by `module.name` or imported by name counts, one only
    defined does not, and neither does a private helper."""
    layer = tmp_path / "services" / "complaints" / "service"
    layer.mkdir(parents=True)
    (layer / "things.py").write_text(
        "async def made(): ...\ndef seen(): ...\ndef alone(): ...\ndef _helper(): ...\n"
    )
    tests = tmp_path / "tests" / "unit" / "complaints"
    tests.mkdir(parents=True)
    (tests / "test_a.py").write_text(
        "from services.complaints.service import things as t\n"
        "from services.complaints.service.things import seen\n"
        "def test(): t.made(); seen()\n"
    )
    for service in SERVICES[1:]:
        (tmp_path / "services" / service / "service").mkdir(parents=True)
    assert untested(tmp_path) == [("complaints", "things", "alone")]


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT
    every, left = handlers(root), untested(root)
    print(f"{len(every)} public service-layer functions, {len(every) - len(left)} unit-tested")
    for service, module, name in left:
        print(f"  untested: services/{service}/service/{module}.py:{name}")
