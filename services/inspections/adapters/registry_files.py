"""Registry and checklist template files: the wire mapping.

A registry file (CSV from Excel, or the JSON the service ships with) is read into rows, which the
domain checks as a whole (`project_registry.check_registry`): a file with any problem is refused
entirely, so a half-loaded registry never exists. The HTTP import and the startup loader share
this code."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Literal

from services.inspections.domain import project_registry
from services.inspections.domain.problems import Problem
from services.inspections.domain.project_registry import InvalidRegistryFile, Rows

FileFormat = Literal["json", "csv"]
FORMATS: dict[str, FileFormat] = {".json": "json", ".csv": "csv"}


def parse_projects(data: bytes | str, fmt: FileFormat) -> tuple[project_registry.ProjectFacts, ...]:
    """Parse and check a whole registry file, or raise ``InvalidRegistryFile`` with every problem.

    JSON: ``{"projects": [{...}, ...]}`` (other top-level keys such as ``_comment`` are ignored).
    CSV: UTF-8 (a byte-order mark, as Excel writes it, is tolerated), a header row naming the
    fields in any order, one project per row.
    """
    text = _decode(data)
    rows, problems = _json_rows(text) if fmt == "json" else _csv_rows(text)
    return project_registry.check_registry(rows, problems)


def _file_error(zh: str, en: str, field: str = "file") -> InvalidRegistryFile:
    return InvalidRegistryFile([Problem(field, zh, en)])


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _file_error(
            f"文件不是 UTF-8 编码（第 {exc.start} 字节）；请在 Excel 中另存为“CSV UTF-8”",
            f"file is not UTF-8 (byte {exc.start}); save it as 'CSV UTF-8' in Excel",
        ) from None


def _json_rows(text: str) -> tuple[Rows, list[Problem]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _file_error(
            f"不是合法的 JSON（第 {exc.lineno} 行第 {exc.colno} 列）",
            f"not valid JSON (line {exc.lineno}, column {exc.colno})",
        ) from None
    except (RecursionError, ValueError):  # absurd nesting, integers of thousands of digits
        raise _file_error(
            "JSON 结构过深或数值过大", "JSON nested too deeply or a number too large"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("projects"), list):
        raise _file_error(
            "JSON 必须是含有 projects 数组的对象", 'JSON must be an object with a "projects" array'
        )
    entries: list[Any] = document["projects"]
    _check_row_count(len(entries), "projects")
    rows: Rows = []
    problems: list[Problem] = []
    for index, entry in enumerate(entries):
        if isinstance(entry, dict):
            rows.append((f"projects.{index}.", entry))
        else:
            problems.append(Problem(f"projects.{index}", "必须是对象", "must be an object"))
    return rows, problems


def _csv_rows(text: str) -> tuple[Rows, list[Problem]]:
    try:
        records = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise _file_error(f"CSV 格式错误：{exc}", f"malformed CSV: {exc}") from None
    # Excel writes empty lines and rows of empty cells at the end; they are not projects.
    while records and not any(cell.strip() for cell in records[-1]):
        records.pop()
    if not records:
        raise _file_error("文件为空", "the file is empty")
    header = [h.strip() for h in records[0]]
    problems = [
        Problem("rows.1", f"缺少列 {name}", f"missing column {name}")
        for name in project_registry.TEXT_FIELDS
        if name not in header
    ]
    problems.extend(
        Problem("rows.1", f"未知的列 {name or '(空)'}", f"unknown column {name or '(empty)'}")
        for name in header
        if name not in project_registry.PROJECT_FIELDS
    )
    duplicated = sorted({h for h in header if header.count(h) > 1})
    problems.extend(
        Problem("rows.1", f"列 {name} 重复", f"column {name} appears twice") for name in duplicated
    )
    if problems:
        raise InvalidRegistryFile(problems)
    _check_row_count(len(records) - 1, "rows")
    rows: Rows = []
    for number, record in enumerate(records[1:], start=2):
        where = f"rows.{number}."
        if len(record) != len(header):
            problems.append(
                Problem(
                    f"rows.{number}",
                    f"该行有 {len(record)} 列，表头有 {len(header)} 列",
                    f"row has {len(record)} cells, the header {len(header)}",
                )
            )
            continue
        rows.append((where, dict(zip(header, record, strict=True))))
    return rows, problems


def _check_row_count(count: int, field: str) -> None:
    if count == 0:
        raise _file_error("文件中没有项目", "the file lists no projects", field)
    if count > project_registry.MAX_ROWS:
        raise _file_error(
            f"一个文件最多 {project_registry.MAX_ROWS} 个项目",
            f"at most {project_registry.MAX_ROWS} projects per file",
            field,
        )


def read_templates(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The checklist template files of `directory` (``*.json``, by name), each a JSON object."""
    found = []
    for path in sorted(directory.glob("*.json")):
        body = json.loads(path.read_text("utf-8"))
        if not isinstance(body, dict):
            raise ValueError(f"template file {path} must hold a JSON object")
        found.append((path, body))
    return found
