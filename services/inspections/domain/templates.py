"""Checklist templates as pure rules: what a publishable template body is, and which version may
follow the latest. A stored version is never edited (the service layer enforces it)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from services.inspections.domain.problems import Invalid, Problem, has_control


class InvalidTemplate(Invalid):
    code = "template_invalid"
    zh = "检查模板不符合要求"
    en = "checklist template refused"


SEVERITIES = ("general", "serious", "urgent")
TEMPLATE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
ITEM_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
MAX_ITEMS = 500
_TEMPLATE_ID = re.compile(TEMPLATE_ID_PATTERN)
_ITEM_ID = re.compile(ITEM_ID_PATTERN)
_TEMPLATE_KEYS = frozenset(
    {"template_id", "version", "title_zh", "title_en", "pass_mark", "items", "service_grade"}
)
_ITEM_KEYS = frozenset(
    {
        "item_id",
        "group",
        "weight",
        "severity",
        "title_zh",
        "title_en",
        "criterion_zh",
        "criterion_en",
    }
)
MAX_GRADE = 16  # as the registry's service_grade


def template_problems(body: Mapping[str, Any]) -> list[Problem]:
    """Everything wrong with a template body; the empty list means it may be published."""
    problems: list[Problem] = []
    problems.extend(_unknown_keys(body, _TEMPLATE_KEYS, ""))
    template_id = body.get("template_id")
    if not isinstance(template_id, str) or not _TEMPLATE_ID.fullmatch(template_id):
        problems.append(
            Problem(
                "template_id",
                "模板编号只能包含小写字母、数字和连字符",
                "template_id uses lower-case letters, digits and '-'",
            )
        )
    version = body.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(Problem("version", "版本号必须是正整数", "version must be an integer >= 1"))
    problems.extend(_text_problems(body, ("title_zh", "title_en"), "", 200))
    if "service_grade" in body:  # a checklist for projects of this contracted service grade
        problems.extend(_text_problems(body, ("service_grade",), "", MAX_GRADE))
    pass_mark = body.get("pass_mark")
    if not _is_number(pass_mark) or not 0 <= float(pass_mark) <= 100:
        problems.append(
            Problem("pass_mark", "合格分必须在 0 到 100 之间", "pass_mark must be within 0..100")
        )
    items = body.get("items")
    if not isinstance(items, list) or not items or len(items) > MAX_ITEMS:
        problems.append(
            Problem("items", f"检查项必须有 1 到 {MAX_ITEMS} 项", f"1..{MAX_ITEMS} items needed")
        )
        return problems
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        where = f"items.{index}."
        if not isinstance(item, dict):
            problems.append(Problem(f"items.{index}", "必须是对象", "must be an object"))
            continue
        problems.extend(_item_problems(item, where))
        item_id = item.get("item_id")
        if isinstance(item_id, str):
            if item_id in seen:
                problems.append(
                    Problem(
                        f"{where}item_id",
                        f"检查项编号 {item_id} 与 items.{seen[item_id]} 重复",
                        f"item_id {item_id} repeats items.{seen[item_id]}",
                    )
                )
            else:
                seen[item_id] = index
    return problems


def _item_problems(item: Mapping[str, Any], where: str) -> list[Problem]:
    problems = _unknown_keys(item, _ITEM_KEYS, where)
    item_id = item.get("item_id")
    if not isinstance(item_id, str) or not _ITEM_ID.fullmatch(item_id):
        problems.append(
            Problem(
                f"{where}item_id",
                "检查项编号只能包含小写字母、数字、点、下划线和连字符",
                "item_id uses lower-case letters, digits, '.', '_' and '-'",
            )
        )
    problems.extend(_text_problems(item, ("group",), where, 64))
    problems.extend(_text_problems(item, ("title_zh", "title_en"), where, 200))
    # the pass criterion at the template's service grade: both languages or neither
    criteria = [k for k in ("criterion_zh", "criterion_en") if k in item]
    if criteria:
        problems.extend(_text_problems(item, ("criterion_zh", "criterion_en"), where, 300))
    weight = item.get("weight")
    if not _is_number(weight) or float(weight) <= 0 or float(weight) > 1000:
        problems.append(
            Problem(f"{where}weight", "权重必须大于 0（最大 1000）", "weight must be in (0, 1000]")
        )
    if item.get("severity") not in SEVERITIES:
        problems.append(
            Problem(
                f"{where}severity",
                "严重程度必须是 general、serious、urgent 之一",
                "severity must be one of general, serious, urgent",
            )
        )
    return problems


def _unknown_keys(body: Mapping[str, Any], allowed: frozenset[str], where: str) -> list[Problem]:
    return [
        Problem(f"{where}{k}", "不允许的字段", "unknown field") for k in body if k not in allowed
    ]


def _text_problems(
    body: Mapping[str, Any], names: Iterable[str], where: str, limit: int
) -> list[Problem]:
    problems = []
    for name in names:
        value = body.get(name)
        if not isinstance(value, str) or not value.strip() or len(value) > limit:
            problems.append(
                Problem(
                    f"{where}{name}",
                    f"必须是 1 到 {limit} 个字符的文字",
                    f"must be text of 1..{limit} characters",
                )
            )
        elif has_control(value):
            problems.append(
                Problem(
                    f"{where}{name}",
                    "不能包含换行或控制字符",
                    "must not contain control characters",
                )
            )
    return problems


def _is_number(value: object) -> TypeGuard[float]:
    """A finite int or float (JSON has no NaN, but Python's json module accepts it)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def next_version_refusal(requested: int, latest: int | None) -> Problem | None:
    """A new template version must follow the latest directly (the first version is 1)."""
    expected = (latest or 0) + 1
    if requested == expected:
        return None
    return Problem(
        "version",
        f"新版本号必须是 {expected}（当前最新版本 {latest or '无'}）",
        f"the new version must be {expected} (latest: {latest or 'none'})",
    )
