"""The compatibility checker catches every kind of break and lets additive changes through."""

from __future__ import annotations

import copy
from typing import Any, Literal

import pydantic
import pytest
from pydantic import Field

from schemas.compat import breaking_changes

Schema = dict[str, Any]

OLD: Schema = {
    "title": "Thing",
    "type": "object",
    "properties": {
        "thing_id": {"type": "string", "minLength": 1, "maxLength": 64},
        "count": {"type": "integer", "minimum": 0},
        "kind": {"type": "string", "enum": ["a", "b"]},
        "note": {"type": "string", "default": ""},
        "part": {"$ref": "#/$defs/Part"},
    },
    "required": ["thing_id", "count", "kind", "part"],
    "$defs": {
        "Part": {
            "type": "object",
            "properties": {"size": {"type": "number"}},
            "required": ["size"],
        }
    },
}


def changed(edit: Any) -> Schema:
    new = copy.deepcopy(OLD)
    edit(new)
    return new


def test_identical_schemas_are_compatible() -> None:
    assert breaking_changes(OLD, copy.deepcopy(OLD)) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda s: s["properties"].pop("count"), "property 'count' removed", id="removed"
        ),
        pytest.param(
            lambda s: s["properties"]["count"].update(type="string"),
            "Thing.count: type changed",
            id="type-change",
        ),
        pytest.param(
            lambda s: (
                s["properties"].update(extra={"type": "string"}),
                s["required"].append("extra"),
            ),
            "new required property 'extra'",
            id="new-required",
        ),
        pytest.param(
            lambda s: s["required"].append("note"),
            "property 'note' became required",
            id="now-required",
        ),
        pytest.param(
            lambda s: s["required"].remove("count"),
            "property 'count' is no longer required",
            id="now-optional",
        ),
        pytest.param(
            lambda s: s["properties"]["kind"].update(enum=["a"]),
            'Thing.kind: allowed values narrowed, removed "b"',
            id="enum-narrowed",
        ),
        pytest.param(
            lambda s: s["properties"]["thing_id"].update(maxLength=32),
            "Thing.thing_id: maxLength changed from 64 to 32",
            id="max-narrowed",
        ),
        pytest.param(
            lambda s: s["properties"]["thing_id"].update(format="uuid"),
            "Thing.thing_id: new constraint format='uuid'",
            id="format-added",
        ),
        pytest.param(
            lambda s: s["properties"]["note"].update(default="-"),
            "Thing.note: default changed",
            id="default-changed",
        ),
        pytest.param(
            lambda s: s["$defs"]["Part"]["properties"]["size"].update(type="string"),
            "Thing.part.size: type changed",
            id="nested-def",
        ),
        pytest.param(
            lambda s: s["$defs"]["Part"]["properties"].pop("size"),
            "Thing.part: property 'size' removed",
            id="nested-removed",
        ),
        pytest.param(
            lambda s: s["properties"].update(
                part={"anyOf": [{"type": "string"}, {"type": "null"}]}
            ),
            "Thing.part: no longer accepts",
            id="alternative-lost",
        ),
    ],
)
def test_each_kind_of_break_is_reported(edit: Any, expected: str) -> None:
    reasons = breaking_changes(OLD, changed(edit))
    assert any(expected in reason for reason in reasons), reasons


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(
            lambda s: s["properties"].update(extra={"type": "string", "default": ""}), id="optional"
        ),
        pytest.param(lambda s: s["properties"]["count"].update(description="How many."), id="doc"),
        pytest.param(lambda s: s.update(title="Renamed", description="Doc."), id="title"),
        pytest.param(
            lambda s: s["properties"]["kind"].update(enum=["a", "b", "c"]), id="enum-wider"
        ),
        pytest.param(lambda s: s["properties"]["thing_id"].update(maxLength=128), id="max-wider"),
        pytest.param(lambda s: s["properties"]["count"].pop("minimum"), id="bound-dropped"),
        pytest.param(lambda s: s["properties"]["count"].update(type="number"), id="int-to-number"),
        pytest.param(
            lambda s: s["properties"].update(
                kind={"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]}
            ),
            id="nullable",
        ),
        pytest.param(
            lambda s: (
                s["$defs"].update(Piece=s["$defs"].pop("Part")),
                s["properties"]["part"].update({"$ref": "#/$defs/Piece"}),
            ),
            id="def-renamed",
        ),
        pytest.param(
            lambda s: s["properties"]["thing_id"].update({"x-personal-data": "scrubbed"}),
            id="extension-keyword",
        ),
    ],
)
def test_additive_and_widening_changes_are_accepted(edit: Any) -> None:
    assert breaking_changes(OLD, changed(edit)) == []


def test_recursive_schemas_terminate() -> None:
    tree: Schema = {
        "type": "object",
        "properties": {"children": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {"kids": {"type": "array", "items": {"$ref": "#/$defs/Node"}}},
            }
        },
    }
    assert breaking_changes(tree, copy.deepcopy(tree)) == []


# A real pydantic model pair: v1 as committed, and candidate edits of "the same version".


class FailedItem(pydantic.BaseModel):
    item_id: str = Field(min_length=1, max_length=64)
    severity: Literal["general", "serious", "urgent"]


class InspectionV1(pydantic.BaseModel):
    inspection_id: str = Field(min_length=1, max_length=64)
    score: float = Field(ge=0, le=100)
    items: tuple[FailedItem, ...] = Field(min_length=1)


class InspectionAdditive(InspectionV1):
    remark: str | None = Field(default=None, description="A new optional field.")


class FailedItemNarrowed(pydantic.BaseModel):
    item_id: str = Field(min_length=1, max_length=64)
    severity: Literal["general", "serious"]


class InspectionBroken(pydantic.BaseModel):
    inspection_id: int
    items: tuple[FailedItemNarrowed, ...] = Field(min_length=1)
    inspector: str


def test_real_models_additive_optional_field_is_compatible() -> None:
    old = InspectionV1.model_json_schema()
    assert breaking_changes(old, InspectionAdditive.model_json_schema()) == []


def test_real_models_breaks_are_all_reported() -> None:
    reasons = breaking_changes(
        InspectionV1.model_json_schema(), InspectionBroken.model_json_schema()
    )
    text = "\n".join(reasons)
    assert "property 'score' removed" in text
    assert "inspection_id: type changed" in text
    assert "new required property 'inspector'" in text
    assert 'items[].severity: allowed values narrowed, removed "urgent"' in text
