"""Is a new JSON Schema of an event version still compatible with the committed one?

Within a major version, changes are additive only: a new optional property, a new description,
a clearly widened constraint. Everything else is breaking and needs a new version module.
Comparison is structural and follows local ``$ref``s, so ``$defs`` are compared wherever they
are used (renaming a nested model is not a break; changing it is).
"""

from __future__ import annotations

import json
from typing import Any

Schema = dict[str, Any]

_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
    }
)
_STRUCTURAL = frozenset(
    {"properties", "required", "items", "additionalProperties", "anyOf", "oneOf", "$defs"}
)
_LOWER_BOUNDS = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"})
_UPPER_BOUNDS = frozenset({"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties"})


def breaking_changes(old: Schema, new: Schema) -> list[str]:
    """Why ``new`` would break producers or consumers of ``old``, human-readable; [] if none."""
    return _Comparison(old, new).run(str(old.get("title", "(root)")))


class _Comparison:
    def __init__(self, old_root: Schema, new_root: Schema) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.active: set[tuple[str, str]] = set()
        self.reasons: list[str] = []

    def run(self, root_name: str) -> list[str]:
        self.compare(self.old_root, self.new_root, root_name)
        return list(dict.fromkeys(self.reasons))

    def compare(self, old: Schema, new: Schema, path: str) -> None:
        refs = (str(old.get("$ref", "")), str(new.get("$ref", "")))
        if refs in self.active:
            return  # a recursive model: this pair is already being compared further up
        if any(refs):
            self.active.add(refs)
        try:
            self._compare_resolved(_resolve(old, self.old_root), _resolve(new, self.new_root), path)
        finally:
            self.active.discard(refs)

    def _compare_resolved(self, old: Schema, new: Schema, path: str) -> None:
        if "default" in old and "default" in new and old["default"] != new["default"]:
            self.reasons.append(
                f"{path}: default changed from {old['default']!r} to {new['default']!r}"
            )
        if _alternatives(old) is not None or _alternatives(new) is not None:
            self._compare_alternatives(old, new, path)
            return
        self._compare_keywords(old, new, path)
        self._compare_object(old, new, path)
        for keyword, suffix in (("items", "[]"), ("additionalProperties", ".*")):
            if isinstance(old.get(keyword), dict) and isinstance(new.get(keyword), dict):
                self.compare(old[keyword], new[keyword], path + suffix)
            elif old.get(keyword) != new.get(keyword) and not _widened_structure(keyword, old, new):
                self.reasons.append(f"{path}: {keyword} changed")

    def _compare_alternatives(self, old: Schema, new: Schema, path: str) -> None:
        old_alts = _alternatives(old) or [_strip(old)]
        new_alts = _alternatives(new) or [_strip(new)]
        for alternative in old_alts:
            if not any(not self._probe(alternative, candidate, path) for candidate in new_alts):
                self.reasons.append(f"{path}: no longer accepts {_brief(alternative)}")

    def _probe(self, old: Schema, new: Schema, path: str) -> list[str]:
        probe = _Comparison(self.old_root, self.new_root)
        probe.active = set(self.active)
        probe.compare(old, new, path)
        return probe.reasons

    def _compare_keywords(self, old: Schema, new: Schema, path: str) -> None:
        old_kw, new_kw = _constraints(old), _constraints(new)
        for keyword in sorted(old_kw.keys() | new_kw.keys()):
            before: Any = old_kw.get(keyword)
            after: Any = new_kw.get(keyword)
            if before == after or keyword not in new_kw:
                continue  # unchanged, or a constraint removed (widening)
            if keyword not in old_kw:
                self.reasons.append(f"{path}: new constraint {keyword}={after!r}")
            elif _widens(keyword, before, after):
                continue
            elif keyword == "enum":
                removed = sorted(_values(before) - _values(after))
                self.reasons.append(
                    f"{path}: allowed values narrowed, removed {', '.join(removed)}"
                )
            else:
                self.reasons.append(f"{path}: {keyword} changed from {before!r} to {after!r}")

    def _compare_object(self, old: Schema, new: Schema, path: str) -> None:
        old_props: dict[str, Schema] = old.get("properties", {})
        new_props: dict[str, Schema] = new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        for name in sorted(old_props.keys() - new_props.keys()):
            self.reasons.append(f"{path}: property {name!r} removed")
        for name in sorted(new_required - old_props.keys()):
            self.reasons.append(f"{path}: new required property {name!r}")
        for name in sorted(old_props.keys() & new_props.keys()):
            if name in new_required and name not in old_required:
                self.reasons.append(f"{path}: property {name!r} became required")
            if name in old_required and name not in new_required:
                self.reasons.append(
                    f"{path}: property {name!r} is no longer required (old consumers need it)"
                )
            self.compare(old_props[name], new_props[name], f"{path}.{name}")


def _resolve(schema: Schema, root: Schema) -> Schema:
    """Follow a local ``$ref`` (keeping sibling keywords); other schemas unchanged."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#"):
        return schema
    target: Any = root
    for part in ref[1:].split("/")[1:] if ref != "#" else []:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(target, dict) or part not in target:
            return schema  # dangling: compared as-is, so a changed ref string still shows
        target = target[part]
    siblings = {k: v for k, v in schema.items() if k != "$ref"}
    return {**target, **siblings} if isinstance(target, dict) else schema


def _alternatives(schema: Schema) -> list[Schema] | None:
    for keyword in ("anyOf", "oneOf"):
        if isinstance(schema.get(keyword), list):
            return list(schema[keyword])
    return None


def _strip(schema: Schema) -> Schema:
    return {k: v for k, v in schema.items() if k not in _ANNOTATIONS and k != "default"}


def _constraints(schema: Schema) -> dict[str, Any]:
    keywords = {
        k: v
        for k, v in schema.items()
        if k not in _ANNOTATIONS | _STRUCTURAL
        and k not in {"default", "$ref"}
        and not k.startswith("x-")  # extensions (e.g. x-personal-data) annotate, never constrain
    }
    if "const" in keywords and "enum" not in keywords:
        keywords["enum"] = [keywords.pop("const")]
    return keywords


def _widens(keyword: str, before: Any, after: Any) -> bool:
    """Whether changing ``keyword`` from ``before`` to ``after`` only accepts more values."""
    if keyword in _LOWER_BOUNDS:
        return bool(after <= before)
    if keyword in _UPPER_BOUNDS:
        return bool(after >= before)
    if keyword == "enum":
        return _values(before) <= _values(after)
    if keyword == "type":
        return _types(before) <= _types(after)
    return False


def _values(enum: Any) -> set[str]:
    return {json.dumps(v, sort_keys=True, ensure_ascii=False) for v in enum}


def _types(value: Any) -> set[str]:
    names = {value} if isinstance(value, str) else set(value)
    return names | {"integer"} if "number" in names else names


def _widened_structure(keyword: str, old: Schema, new: Schema) -> bool:
    """``additionalProperties`` relaxed from false; ``items`` dropped: both accept more."""
    if keyword not in new:
        return True
    return (
        keyword == "additionalProperties"
        and old.get(keyword) is False
        and new[keyword] is not False
    )


def _brief(schema: Schema) -> str:
    return json.dumps(_strip(schema), sort_keys=True, ensure_ascii=False)[:120]
