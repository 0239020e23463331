"""Checklist templates and scoring: pure rules, no I/O.

A template lists weighted items in groups and states its pass mark. The service computes the score
from the item results; a client never sends a score. N/A items do not count either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Severity = Literal["general", "serious", "urgent"]


class Result(StrEnum):
    PASS = "pass"  # noqa: S105 - an inspection result, not a password
    FAIL = "fail"
    NOT_APPLICABLE = "na"


@dataclass(frozen=True)
class Item:
    item_id: str
    group: str
    title_zh: str
    title_en: str
    weight: float
    severity: Severity
    # what passing means at the template's service grade (e.g. 一级: waste removed twice a day);
    # empty in templates for every grade
    criterion_zh: str = ""
    criterion_en: str = ""


@dataclass(frozen=True)
class Template:
    template_id: str
    version: int
    title_zh: str
    title_en: str
    pass_mark: float
    items: tuple[Item, ...]
    service_grade: str | None = None  # the contracted grade (一级/二级/三级) it judges against

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.item_id == item_id), None)


@dataclass(frozen=True)
class ItemResult:
    item_id: str
    result: Result
    note: str = ""


@dataclass(frozen=True)
class FailedItem:
    item: Item
    note: str


@dataclass(frozen=True)
class Outcome:
    score: float
    passed: bool
    failed: tuple[FailedItem, ...]


class ChecklistError(ValueError):
    """A set of results that does not fit the template; `field` names the offending input."""

    def __init__(self, code: str, zh: str, en: str, field: str) -> None:
        super().__init__(en)
        self.code, self.zh, self.en, self.field = code, zh, en, field


def score(template: Template, results: tuple[ItemResult, ...]) -> Outcome:
    by_id: dict[str, ItemResult] = {}
    for index, r in enumerate(results):
        if template.item(r.item_id) is None:
            raise ChecklistError(
                "unknown_item",
                f"检查项 {r.item_id} 不属于模板 {template.template_id} 第 {template.version} 版",
                f"item {r.item_id} is not in template {template.template_id} v{template.version}",
                f"results.{index}.item_id",
            )
        if r.item_id in by_id:
            raise ChecklistError(
                "duplicate_item",
                f"检查项 {r.item_id} 重复填写",
                f"item {r.item_id} appears more than once",
                f"results.{index}.item_id",
            )
        if r.result is Result.FAIL and not r.note.strip():
            raise ChecklistError(
                "note_required",
                "不合格项必须填写问题说明",
                "a failed item needs a note describing the problem",
                f"results.{index}.note",
            )
        by_id[r.item_id] = r
    missing = [i.item_id for i in template.items if i.item_id not in by_id]
    if missing:
        raise ChecklistError(
            "incomplete",
            f"以下检查项未填写结果：{', '.join(missing)}",
            f"no result for items: {', '.join(missing)}",
            "results",
        )
    counted = [i for i in template.items if by_id[i.item_id].result is not Result.NOT_APPLICABLE]
    total = sum(i.weight for i in counted)
    if total <= 0:
        raise ChecklistError(
            "nothing_applicable",
            "所有检查项均为不适用，无法评分",
            "every item is N/A; nothing to score",
            "results",
        )
    earned = sum(i.weight for i in counted if by_id[i.item_id].result is Result.PASS)
    value = round(100.0 * earned / total, 2)
    failed = tuple(
        FailedItem(i, by_id[i.item_id].note.strip())
        for i in template.items
        if by_id[i.item_id].result is Result.FAIL
    )
    # Any urgent failure (e.g. a roof leak in flood season) fails the inspection whatever the score.
    passed = value >= template.pass_mark and not any(f.item.severity == "urgent" for f in failed)
    return Outcome(score=value, passed=passed, failed=failed)
