"""The project registry, checklist templates and activity records as pure rules: no I/O.

A registry (the rows of a file, read by `adapters.registry_files`) is checked as a whole: every
problem in every row is collected, and a registry with any problem is refused entirely, so a
half-loaded registry never exists. Who may see and register which project is decided here too
(`can_see`, `may_register_in`); the HTTP policy (`entrypoints.policy`) applies these rules.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date
from typing import Any, Literal, TypeGuard

from services.inspections.domain import policy

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Tianjin: 1201xx, the districts (区); 120100 is the city itself, not a district.
DISTRICT_CODE_PATTERN = r"^1201(0[1-9]|[1-9][0-9])$"
PHOTO_REF_PATTERN = r"^[A-Za-z0-9._/-]{1,200}$"
MAX_LENGTH = {
    "project_id": 64,
    "project_name": 200,
    "address": 500,
    "district_code": 6,
    "district_name": 200,
    "enterprise_id": 64,
    "enterprise_name": 200,
    "service_grade": 16,
}
MAX_ROWS = 20_000  # the whole city is ~5,000 projects
MAX_REPORTED_ERRORS = 100

_ID = re.compile(ID_PATTERN)
_DISTRICT = re.compile(DISTRICT_CODE_PATTERN)
_PHOTO_REF = re.compile(PHOTO_REF_PATTERN)


@dataclass(frozen=True)
class ProjectFacts:
    """Everything the registry knows about a project (the same fields as the registry events)."""

    project_id: str
    project_name: str
    address: str
    district_code: str
    district_name: str
    enterprise_id: str
    enterprise_name: str
    service_grade: str


PROJECT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ProjectFacts))


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


class InvalidRegistryFile(Invalid):
    """A registry file with at least one bad row; nothing of it may be written."""

    code = "registry_file_invalid"
    zh = "项目登记文件有误,整个文件未导入"
    en = "registry file refused; nothing was imported"


class InvalidProject(Invalid):
    code = "project_invalid"
    zh = "项目信息不符合要求"
    en = "project facts refused"


class InvalidTemplate(Invalid):
    code = "template_invalid"
    zh = "检查模板不符合要求"
    en = "checklist template refused"


class InvalidActivity(Invalid):
    code = "activity_invalid"
    zh = "活动记录不符合要求"
    en = "activity record refused"


# ---------------------------------------------------------------------------------------------
# Project values


def _has_control(value: str) -> bool:
    # Cc: control characters; Cs: lone surrogates, which no database or browser accepts.
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in value)


def project_value_problems(name: str, value: object, where: str) -> list[Problem]:
    """Problems with one field's value (already stripped); ``where`` prefixes the field path."""
    path = f"{where}{name}"
    if not isinstance(value, str):
        return [Problem(path, "必须是字符串", "must be a string")]
    if not value:
        return [Problem(path, "必填项不能为空", "must not be empty")]
    limit = MAX_LENGTH[name]
    if len(value) > limit:
        return [Problem(path, f"超过最大长度 {limit}", f"longer than {limit} characters")]
    if _has_control(value):
        return [Problem(path, "不能包含换行或控制字符", "must not contain control characters")]
    if name in ("project_id", "enterprise_id") and not _ID.fullmatch(value):
        return [
            Problem(
                path,
                "编号只能包含字母、数字、点、下划线和连字符,且以字母或数字开头",
                "ids use letters, digits, '.', '_' and '-' and start with a letter or digit",
            )
        ]
    if name == "district_code" and not _DISTRICT.fullmatch(value):
        return [
            Problem(
                path,
                "区划代码必须是天津市的六位区代码(1201xx,如 120101 和平区)",
                "must be a six-digit Tianjin district code (1201xx, e.g. 120101)",
            )
        ]
    return []


def check_project(
    values: Mapping[str, object], where: str = ""
) -> tuple[ProjectFacts | None, list[Problem]]:
    """Check one project's values (text is stripped first); unknown keys are refused."""
    problems: list[Problem] = []
    cleaned: dict[str, str] = {}
    for key in values:
        if key not in PROJECT_FIELDS:
            problems.append(Problem(f"{where}{key}", "不允许的字段", "unknown field"))
    for name in PROJECT_FIELDS:
        if name not in values or values[name] is None:
            problems.append(Problem(f"{where}{name}", "必填项缺失", "field required"))
            continue
        raw = values[name]
        value = raw.strip() if isinstance(raw, str) else raw
        found = project_value_problems(name, value, where)
        problems.extend(found)
        if not found:
            assert isinstance(value, str)
            cleaned[name] = value
    if problems:
        return None, problems
    return ProjectFacts(**cleaned), []


# ---------------------------------------------------------------------------------------------
# A whole registry

Rows = list[tuple[str, Mapping[str, object]]]
"""A registry's rows: the field-path prefix of each (``rows.7.``, ``projects.3.``) and its values."""


def check_registry(rows: Rows, problems: Sequence[Problem] = ()) -> tuple[ProjectFacts, ...]:
    """Check a whole registry (every row of a file, ``where`` naming each row's field path), or
    raise ``InvalidRegistryFile`` with every problem, those found reading the file included.

    Within one registry a project id appears once, and a district code or enterprise id always
    comes with the same name.
    """
    problems = list(problems)
    projects: list[ProjectFacts] = []
    first_row: dict[str, str] = {}
    district_names: dict[str, tuple[str, str]] = {}
    enterprise_names: dict[str, tuple[str, str]] = {}
    for where, values in rows:
        project, found = check_project(values, where)
        problems.extend(found)
        if project is None:
            continue
        row = where.rstrip(".")
        if project.project_id in first_row:
            problems.append(
                Problem(
                    f"{where}project_id",
                    f"项目编号 {project.project_id} 与 {first_row[project.project_id]} 重复",
                    f"project id {project.project_id} already appears at "
                    f"{first_row[project.project_id]}",
                )
            )
            continue
        first_row[project.project_id] = row
        problems.extend(
            _same_name(
                district_names, project.district_code, project.district_name, where, "district"
            )
        )
        problems.extend(
            _same_name(
                enterprise_names,
                project.enterprise_id,
                project.enterprise_name,
                where,
                "enterprise",
            )
        )
        projects.append(project)
    if problems:
        raise InvalidRegistryFile(problems)
    return tuple(projects)


def _same_name(
    seen: dict[str, tuple[str, str]], key: str, name: str, where: str, kind: str
) -> list[Problem]:
    if key not in seen:
        seen[key] = (name, where.rstrip("."))
        return []
    first_name, first_row = seen[key]
    if first_name == name:
        return []
    what_zh = "区" if kind == "district" else "企业"
    return [
        Problem(
            f"{where}{kind}_name",
            f"{what_zh} {key} 的名称与 {first_row} 的“{first_name}”不一致",
            f"{kind} {key} is named '{first_name}' at {first_row}",
        )
    ]


# ---------------------------------------------------------------------------------------------
# Who sees and changes which project


def can_see(actor: policy.Actor, district_code: str, enterprise_id: str) -> bool:
    """City office: all; district office: its district; enterprise: its own projects."""
    if actor.role == "city_office":
        return True
    if actor.role == "district_office":
        return actor.district_code == district_code
    return actor.role == "enterprise" and actor.enterprise_id == enterprise_id


def may_register_in(actor: policy.Actor, district_code: str) -> bool:
    """City office anywhere; a district office only in its own district."""
    if actor.role == "city_office":
        return True
    return actor.role == "district_office" and actor.district_code == district_code


# ---------------------------------------------------------------------------------------------
# Checklist templates

SEVERITIES = ("general", "serious", "urgent")
TEMPLATE_ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
ITEM_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
MAX_ITEMS = 500
_TEMPLATE_ID = re.compile(TEMPLATE_ID_PATTERN)
_ITEM_ID = re.compile(ITEM_ID_PATTERN)
_TEMPLATE_KEYS = frozenset({"template_id", "version", "title_zh", "title_en", "pass_mark", "items"})
_ITEM_KEYS = frozenset({"item_id", "group", "weight", "severity", "title_zh", "title_en"})


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
    weight = item.get("weight")
    if not _is_number(weight) or float(weight) <= 0 or float(weight) > 1000:
        problems.append(
            Problem(f"{where}weight", "权重必须大于 0(最大 1000)", "weight must be in (0, 1000]")
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
        elif _has_control(value):
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
        f"新版本号必须是 {expected}(当前最新版本 {latest or '无'})",
        f"the new version must be {expected} (latest: {latest or 'none'})",
    )


# ---------------------------------------------------------------------------------------------
# Activity records (notice 三(一)3 cultural activities, 三(二) publicity)

ActivityKind = Literal["cultural", "publicity"]
MAX_PHOTOS = 9
MAX_DESCRIPTION = 2000


def activity_problems(
    *, title: str, held_on: date, description: str, photo_refs: Sequence[str], today: date
) -> list[Problem]:
    """Rules beyond the field shapes: no future dates, safe and distinct photo references."""
    problems: list[Problem] = []
    if not title.strip() or _has_control(title):
        problems.append(
            Problem(
                "title", "标题不能为空且不能包含控制字符", "title must be plain, non-empty text"
            )
        )
    if held_on > today:
        problems.append(
            Problem(
                "held_on",
                f"活动日期不能晚于今天({today.isoformat()});请在活动举办后记录",
                f"held_on is after today ({today.isoformat()}); record an activity once held",
            )
        )
    if len(description) > MAX_DESCRIPTION:
        problems.append(
            Problem("description", f"超过最大长度 {MAX_DESCRIPTION}", "description too long")
        )
    if len(photo_refs) > MAX_PHOTOS:
        problems.append(Problem("photo_refs", f"最多 {MAX_PHOTOS} 张照片", "at most 9 photos"))
    for index, ref in enumerate(photo_refs):
        segments = ref.split("/")
        if (
            not _PHOTO_REF.fullmatch(ref)
            or ref.startswith("/")
            or any(s in ("", ".", "..") for s in segments)
        ):
            problems.append(
                Problem(
                    f"photo_refs.{index}",
                    "照片引用只能包含字母、数字和 . _ / -,不能以 / 开头或含 .. 路径段",
                    "photo refs use letters, digits and . _ / -, relative, without '..' segments",
                )
            )
        elif ref in photo_refs[:index]:
            problems.append(Problem(f"photo_refs.{index}", "照片引用重复", "duplicate photo ref"))
    return problems
