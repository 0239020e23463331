"""Pins the public surface of ``schemas`` that services and outside agencies code against."""

from __future__ import annotations

import ast
from pathlib import Path

import schemas
from schemas import base, catalog, cloudevents, compat, fields, generate, privacy, topics

PUBLIC = {
    base: {"Event", "schema_uri"},
    topics: {
        "TopicSpec",
        "TOPICS",
        "topic",
        "dead_letter_topic",
        "DEAD_LETTER_SERVICES",
        "DEAD_LETTER_TOPICS",
        "DEAD_LETTER_HEADERS",
    },
    catalog: {
        "EVENT_TYPES",
        "PRODUCERS",
        "events_on",
        "scrubbed_fields",
        "personal_data_note",
    },
    privacy: {"scrub", "PersonalData", "PUBLIC_LEVELS", "MARK"},
    fields: {"Id", "DistrictCode", "Name", "Score", "PublicText"},
    cloudevents: {
        "SPECVERSION",
        "MalformedEvent",
        "UnknownEventType",
        "CloudEvent",
        "from_event",
        "to_kafka_headers",
        "from_kafka",
        "decode",
    },
    compat: {"breaking_changes"},
    generate: {"main", "expected_files", "stale_files", "json_schema"},
}


def test_public_names_exist() -> None:
    for module, names in PUBLIC.items():
        missing = {name for name in names if not hasattr(module, name)}
        assert not missing, f"{module.__name__} lost {missing}"


def test_event_base_contract() -> None:
    assert base.Event.model_config.get("frozen") is True
    assert base.Event.model_config.get("extra") == "ignore"
    assert {"ce_type", "topic", "key_field"} <= set(base.Event.__class_vars__)


def test_schemas_imports_only_stdlib_pydantic_and_itself() -> None:
    allowed = {"pydantic", "schemas", "__future__"}
    root = Path(schemas.__file__).parent
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in allowed or top in _stdlib(), f"{path.name} imports {name}"


def _stdlib() -> frozenset[str]:
    import sys

    return frozenset(sys.stdlib_module_names)
