"""`data/sla.json` parsed into the domain's SLA policy (`domain.sla.SlaPolicy`), refusing data
that does not make sense with `SlaError`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.complaints.domain.sla import (
    CLOCKS,
    URGENCIES,
    Limit,
    Rules,
    SlaError,
    SlaPolicy,
    Urgency,
)


def parse(data: Mapping[str, Any], categories: Iterable[str]) -> SlaPolicy:
    """Build from parsed `data/sla.json`; `categories` are the ids of `data/categories.json`.

    `default` gives both clocks for both urgencies; `by_category.<id>.<urgency>` may override
    either clock. A category the list does not know is refused, so a typo cannot silently
    fall back to the default."""
    known = frozenset(categories)
    default_raw = _object(data.get("default"), "default")
    default: dict[Urgency, Rules] = {}
    for urgency in URGENCIES:
        spec = _object(default_raw.get(urgency), f"default.{urgency}")
        default[urgency] = Rules(*(_limit(spec.get(c), f"default.{urgency}.{c}") for c in CLOCKS))
    _only(default_raw, URGENCIES, "default")
    by_category: dict[tuple[str, Urgency], Rules] = {}
    for category, per_urgency in _object(data.get("by_category", {}), "by_category").items():
        if category not in known:
            raise SlaError(f"by_category.{category}: not a category of categories.json")
        per_urgency = _object(per_urgency, f"by_category.{category}")
        _only(per_urgency, URGENCIES, f"by_category.{category}")
        for urgency in URGENCIES:
            if urgency not in per_urgency:
                continue
            where = f"by_category.{category}.{urgency}"
            spec = _object(per_urgency[urgency], where)
            _only(spec, CLOCKS, where)
            base = default[urgency]
            by_category[(category, urgency)] = Rules(
                *(_limit(spec[c], f"{where}.{c}") if c in spec else base.limit(c) for c in CLOCKS)
            )
    return SlaPolicy(
        default,
        by_category,
        known,
        _whole(data.get("warning_percent", 80), "warning_percent", 1, 99),
        _whole(data.get("auto_close_days", 7), "auto_close_days", 1, 365),
        _whole(data.get("max_transfers", 2), "max_transfers", 0, 100),
    )


def _object(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise SlaError(f"{where} must be an object")
    return raw


def _only(spec: Mapping[str, Any], allowed: tuple[str, ...], where: str) -> None:
    unknown = sorted(set(spec) - set(allowed))
    if unknown:
        raise SlaError(f"{where}: unknown keys {unknown}; allowed {list(allowed)}")


def _limit(raw: object, where: str) -> Limit:
    spec = _object(raw, where)
    _only(spec, ("minutes", "working_days", "note_zh", "note_en"), where)
    minutes, days = spec.get("minutes"), spec.get("working_days")
    if (minutes is None) == (days is None):
        raise SlaError(f"{where} needs exactly one of minutes and working_days")
    return Limit(
        minutes=None if minutes is None else _whole(minutes, f"{where}.minutes", 1, 60 * 24 * 30),
        working_days=None if days is None else _whole(days, f"{where}.working_days", 1, 100),
    )


def _whole(raw: object, where: str, low: int, high: int) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or not low <= raw <= high:
        raise SlaError(f"{where}: {raw!r} is not a whole number from {low} to {high}")
    return raw
