"""Writes the committed artifacts: one JSON Schema per event type, and the AsyncAPI document.

uv run python -m schemas.generate           # regenerate (refuses non-additive changes)
uv run python -m schemas.generate --check   # CI: exit 1 if anything is stale; writes nothing
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from schemas import asyncapi, base, catalog, compat

PACKAGE_DIR = Path(__file__).resolve().parent
JSONSCHEMA_DIR = PACKAGE_DIR / "jsonschema"
ASYNCAPI_PATH = PACKAGE_DIR / "asyncapi.json"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema(cls: type[base.Event]) -> dict[str, Any]:
    """An event's JSON Schema, identified by the URI its CloudEvents ``dataschema`` carries."""
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "$id": base.schema_uri(cls.ce_type),
        **cls.model_json_schema(),
    }


def render(document: Any) -> str:
    return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def expected_files() -> dict[Path, str]:
    """Every generated file and its content."""
    schemas = {ce_type: json_schema(cls) for ce_type, cls in catalog.EVENT_TYPES.items()}
    files = {
        JSONSCHEMA_DIR / f"{ce_type}.json": render(schema) for ce_type, schema in schemas.items()
    }
    files[ASYNCAPI_PATH] = render(asyncapi.document(schemas))
    return files


def stale_files(expected: dict[Path, str]) -> list[Path]:
    """Generated files that are missing or differ, and JSON Schemas no event produces any more."""
    stale = [path for path, text in expected.items() if _read(path) != text]
    stale += sorted(path for path in JSONSCHEMA_DIR.glob("*.json") if path not in expected)
    return stale


def compatibility_problems(expected: dict[Path, str]) -> list[str]:
    """Why the current schemas may not replace the committed ones (a new version is needed)."""
    problems: list[str] = []
    for path in sorted(JSONSCHEMA_DIR.glob("*.json")):
        if path not in expected:
            problems.append(
                f"{_show(path)}: no event class produces {path.stem} any more; a published event "
                "version is never removed (delete the file by hand only if it was never released)"
            )
            continue
        try:
            committed = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as error:
            problems.append(f"{_show(path)}: unreadable committed schema ({error})")
            continue
        current = json.loads(expected[path])
        problems += [
            f"{_show(path)}: {reason}" for reason in compat.breaking_changes(committed, current)
        ]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m schemas.generate",
        description="Write the committed JSON Schema and AsyncAPI files.",
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if any generated file is stale; write nothing"
    )
    args = parser.parse_args(argv)
    expected = expected_files()
    problems = compatibility_problems(expected)
    if problems:
        print(
            "Non-additive change(s) to committed event schemas; add a new version module instead:",
            file=sys.stderr,
        )
        print("\n".join(f"  {p}" for p in problems), file=sys.stderr)
        return 1
    stale = stale_files(expected)
    if args.check:
        if stale:
            print(
                "Stale generated files (run `uv run python -m schemas.generate`):", file=sys.stderr
            )
            print("\n".join(f"  {_show(p)}" for p in stale), file=sys.stderr)
            return 1
        print("schemas: generated files are up to date")
        return 0
    JSONSCHEMA_DIR.mkdir(exist_ok=True)
    for path in stale:
        path.write_text(expected[path], encoding="utf-8")
        print(f"wrote {_show(path)}")
    if not stale:
        print("schemas: generated files are up to date")
    return 0


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _show(path: Path) -> str:
    root = PACKAGE_DIR.parent
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)


if __name__ == "__main__":
    sys.exit(main())
