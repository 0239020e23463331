"""The committed contract (JSON Schemas + AsyncAPI) matches the code and only ever grows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from schemas import catalog, compat, generate, topics

EXPECTED = generate.expected_files()
COMMITTED_SCHEMAS = sorted(generate.JSONSCHEMA_DIR.glob("*.json"))


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _asyncapi() -> dict[str, Any]:
    document: dict[str, Any] = _load(generate.ASYNCAPI_PATH)
    return document


def test_generated_files_are_fresh() -> None:
    stale = generate.stale_files(EXPECTED)
    assert stale == [], f"stale: {stale}; run `uv run python -m schemas.generate`"


def test_generate_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert generate.main(["--check"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("path", COMMITTED_SCHEMAS, ids=lambda p: p.stem)
def test_committed_schema_is_not_broken_by_current_model(path: Path) -> None:
    cls = catalog.EVENT_TYPES.get(path.stem)
    assert cls is not None, f"{path.name}: no event class; published versions are never removed"
    current = generate.json_schema(cls)
    assert compat.breaking_changes(_load(path), current) == []


def test_every_event_type_has_a_committed_schema_and_vice_versa() -> None:
    committed = {path.stem for path in COMMITTED_SCHEMAS}
    assert committed == set(catalog.EVENT_TYPES)


def test_committed_schema_id_is_the_cloudevents_dataschema() -> None:
    for path in COMMITTED_SCHEMAS:
        assert _load(path)["$id"] == f"urn:wuye:schema:{path.stem}"


def test_asyncapi_document_is_version_3() -> None:
    document = _asyncapi()
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["title"]
    assert document["info"]["version"]
    assert document["servers"]["production"]["protocol"] == "kafka"


def test_asyncapi_has_a_channel_for_every_topic_and_dead_letter_topic() -> None:
    channels = _asyncapi()["channels"]
    for spec in topics.TOPICS + topics.DEAD_LETTER_TOPICS:
        channel = channels[spec.name]
        assert channel["address"] == spec.name
        kafka = channel["bindings"]["kafka"]
        assert kafka["partitions"] == spec.partitions
        assert kafka["topicConfiguration"]["cleanup.policy"] == [spec.config["cleanup.policy"]]
    assert set(channels) == {spec.name for spec in topics.TOPICS + topics.DEAD_LETTER_TOPICS}


def test_asyncapi_has_a_message_for_every_event_on_its_channel() -> None:
    document = _asyncapi()
    for ce_type, cls in catalog.EVENT_TYPES.items():
        message = document["components"]["messages"][ce_type]
        assert message["contentType"] == "application/json"
        assert message["headers"]["properties"]["ce_type"]["const"] == ce_type
        assert message["payload"] == {"$ref": f"#/components/schemas/{ce_type}"}
        assert ce_type in document["channels"][cls.topic]["messages"]
        operation = document["operations"][f"{catalog.PRODUCERS[ce_type]}.send.{cls.topic}"]
        assert operation["action"] == "send"
        assert {"$ref": f"#/channels/{cls.topic}/messages/{ce_type}"} in operation["messages"]


def test_dead_letter_channels_describe_the_dlq_headers() -> None:
    document = _asyncapi()
    for spec in topics.DEAD_LETTER_TOPICS:
        (ref,) = document["channels"][spec.name]["messages"].values()
        message = _resolve(document, ref["$ref"])
        headers = message["headers"]
        assert set(topics.DEAD_LETTER_HEADERS) <= set(headers["required"])
        assert {"ce_id", "ce_type", "ce_correlationid"} <= set(headers["properties"])


def test_every_reference_in_asyncapi_resolves() -> None:
    document = _asyncapi()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    _resolve(document, value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"non-local $ref {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        assert part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def test_the_readme_catalog_names_every_topic_and_event() -> None:
    """schemas/README.md is what other agencies read first: it must not fall behind the code."""
    from pathlib import Path

    from schemas import catalog, topics

    readme = (Path(__file__).resolve().parents[2] / "schemas" / "README.md").read_text("utf-8")
    for spec in topics.TOPICS:
        assert f"`{spec.name}`" in readme, spec.name
    for cls in catalog.EVENT_TYPES.values():
        assert f"{cls.__name__}.v1" in readme, cls.__name__
