"""The rule book's file: TOML (`data/rules.toml`) decoded and handed to the domain to validate."""

from __future__ import annotations

import tomllib
from pathlib import Path

from services.notifications.domain.rules import RuleBook, RuleError


def load(path: Path) -> RuleBook:
    return parse(path.read_text(encoding="utf-8"), source=str(path))


def parse(text: str, source: str = "<rules>") -> RuleBook:
    """The validated rule book; RuleError naming the place when the text or a rule is invalid."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{source}: {exc}") from exc
    return RuleBook.from_data(data, source)
