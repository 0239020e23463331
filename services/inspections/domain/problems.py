"""A refusal that lists every problem found (the registry, templates and activity records
check input as a whole and refuse it with all its problems, each on its field). Pure."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

MAX_REPORTED_ERRORS = 100


@dataclass(frozen=True)
class Problem:
    """One refused value: ``field`` is a path such as ``rows.7.district_code`` (CSV, the row
    number Excel shows, header = 1) or ``projects.3.address`` (JSON, 0-based index)."""

    field: str
    zh: str
    en: str


class Invalid(ValueError):
    """Input refused with every problem found (at most ``MAX_REPORTED_ERRORS`` are kept)."""

    code = "invalid"
    zh = "提交的内容不符合要求"
    en = "the input does not fit the rules"

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.total = len(problems)
        self.problems = tuple(problems[:MAX_REPORTED_ERRORS])
        shown = "; ".join(f"{p.field}: {p.en}" for p in self.problems[:10])
        super().__init__(f"{self.en}; {self.total} problem(s): {shown}")


def has_control(value: str) -> bool:
    # Cc: control characters; Cs: lone surrogates, which no database or browser accepts.
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in value)
