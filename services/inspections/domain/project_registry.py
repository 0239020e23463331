"""The project registry as pure rules: no I/O.

A registry (the rows of a file, read by `adapters.registry_files`) is checked as a whole: every
problem in every row is collected, and a registry with any problem is refused entirely, so a
half-loaded registry never exists. Who may see and register which project is decided here too
(`can_see`, `may_register_in`); the HTTP policy (`entrypoints.policy`) applies these rules.
Checklist templates (`templates`) and activity records (`activities`) have their own rules.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from services.inspections.domain import actors
from services.inspections.domain.problems import Invalid, Problem, has_control

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
# Tianjin: 1201xx, the districts (区); 120100 is the city itself, not a district.
DISTRICT_CODE_PATTERN = r"^1201(0[1-9]|[1-9][0-9])$"
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

_ID = re.compile(ID_PATTERN)
_DISTRICT = re.compile(DISTRICT_CODE_PATTERN)


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
    # Where the project is (its main gate), WGS-84 degrees as GPS gives them (never GCJ-02 from a
    # Chinese map app): optional, both or neither. Complaints finds a project by place with it.
    latitude: float | None = None
    longitude: float | None = None


PROJECT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ProjectFacts))
LOCATION_FIELDS: tuple[str, ...] = ("latitude", "longitude")
TEXT_FIELDS: tuple[str, ...] = tuple(f for f in PROJECT_FIELDS if f not in LOCATION_FIELDS)
DEGREES = {"latitude": 90.0, "longitude": 180.0}


class InvalidRegistryFile(Invalid):
    """A registry file with at least one bad row; nothing of it may be written."""

    code = "registry_file_invalid"
    zh = "项目登记文件有误，整个文件未导入"
    en = "registry file refused; nothing was imported"


class InvalidProject(Invalid):
    code = "project_invalid"
    zh = "项目信息不符合要求"
    en = "project facts refused"


# ---------------------------------------------------------------------------------------------
# Project values


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
    if has_control(value):
        return [Problem(path, "不能包含换行或控制字符", "must not contain control characters")]
    if name in ("project_id", "enterprise_id") and not _ID.fullmatch(value):
        return [
            Problem(
                path,
                "编号只能包含字母、数字、点、下划线和连字符，且以字母或数字开头",
                "ids use letters, digits, '.', '_' and '-' and start with a letter or digit",
            )
        ]
    if name == "district_code" and not _DISTRICT.fullmatch(value):
        return [
            Problem(
                path,
                "区划代码必须是天津市的六位区代码（1201xx，如 120101 和平区）",
                "must be a six-digit Tianjin district code (1201xx, e.g. 120101)",
            )
        ]
    return []


def _degrees(name: str, raw: object, where: str) -> tuple[float | None, list[Problem]]:
    """An optional coordinate: a number, a numeric string (CSV), or empty/None for none."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None, []
    limit = DEGREES[name]
    value: float | None = None
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        value = float(raw)
    elif isinstance(raw, str):
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if value is None or not math.isfinite(value) or not -limit <= value <= limit:
        return None, [
            Problem(
                f"{where}{name}",
                f"须为 -{limit:g} 至 {limit:g} 之间的 WGS-84 十进制度数",
                f"must be WGS-84 decimal degrees between -{limit:g} and {limit:g}",
            )
        ]
    return value, []


def check_project(
    values: Mapping[str, object], where: str = ""
) -> tuple[ProjectFacts | None, list[Problem]]:
    """Check one project's values (text is stripped first); unknown keys are refused."""
    problems: list[Problem] = []
    cleaned: dict[str, str] = {}
    for key in values:
        if key not in PROJECT_FIELDS:
            problems.append(Problem(f"{where}{key}", "不允许的字段", "unknown field"))
    located: dict[str, float | None] = {}
    for name in LOCATION_FIELDS:
        located[name], found = _degrees(name, values.get(name), where)
        problems.extend(found)
    if not problems and (located["latitude"] is None) != (located["longitude"] is None):
        problems.append(
            Problem(
                f"{where}latitude",
                "纬度与经度须同时填写或同时留空",
                "latitude and longitude come together (both or neither)",
            )
        )
    for name in TEXT_FIELDS:
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
    checked: dict[str, Any] = {**cleaned, **located}
    return ProjectFacts(**checked), []


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


def can_see(actor: actors.Actor, district_code: str, enterprise_id: str) -> bool:
    """City office: all; district office: its district; enterprise: its own projects."""
    if actors.is_city_office(actor):
        return True
    if actor.role == actors.DISTRICT_OFFICE:
        return actor.district_code == district_code
    return actors.runs(actor, enterprise_id)


def may_register_in(actor: actors.Actor, district_code: str) -> bool:
    """City office anywhere; a district office only in its own district."""
    if actors.is_city_office(actor):
        return True
    return actor.role == actors.DISTRICT_OFFICE and actor.district_code == district_code
