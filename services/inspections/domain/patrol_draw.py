"""Patrols by random draw (双随机、一公开): which projects a district office patrols and which of
its inspectors go, drawn at random from the registry. Pure and deterministic: the same inputs and
seed always give the same result, so anyone holding the published inputs can re-run the draw.

Algorithm ``sha256-rank-v1`` (written down so it can be re-implemented in any language):

1. A project is excluded when it is in ``recently_inspected`` (patrolled within the exclusion
   window, computed at draw time and recorded as an input). The others are *eligible*.
2. Each eligible project gets the rank ``sha256("{seed}|project|{project_id}")`` (hex digest,
   UTF-8); the ``project_count`` lowest ranks are drawn, in rank order.
3. For each drawn project in that order, an inspector is *available* unless one of their
   conflicts equals the project's id or its enterprise's id. Available inspectors are ordered by
   (assignments so far in this draw, ``sha256("{seed}|inspector|{project_id}|{inspector_id}")``)
   and the first ``inspectors_per_project`` go: the load is spread, ties broken at random.

No ``random`` module is used: its algorithms may change between Python versions; SHA-256 does
not.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

ALGORITHM = "sha256-rank-v1"
MAX_PROJECTS = 200
MAX_INSPECTORS = 200
MAX_PER_PROJECT = 5
MAX_EXCLUSION_DAYS = 365
MAX_CONFLICTS = 200
MAX_NAME = 50
ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
_ID = re.compile(ID_PATTERN)


@dataclass(frozen=True)
class DrawProject:
    project_id: str
    enterprise_id: str


@dataclass(frozen=True)
class Inspector:
    inspector_id: str
    name: str
    conflicts: frozenset[str] = frozenset()
    """Enterprise or project ids this inspector must not inspect (回避)."""


@dataclass(frozen=True)
class DrawInputs:
    district_code: str
    projects: tuple[DrawProject, ...]
    """Every project of the district in the registry, sorted by id."""
    recently_inspected: frozenset[str]
    inspectors: tuple[Inspector, ...]
    project_count: int
    inspectors_per_project: int
    exclusion_days: int
    seed: str
    algorithm: str = ALGORITHM


@dataclass(frozen=True)
class Assignment:
    project_id: str
    enterprise_id: str
    inspector_ids: tuple[str, ...]


@dataclass(frozen=True)
class DrawResult:
    eligible: tuple[str, ...]
    excluded: tuple[str, ...]
    assignments: tuple[Assignment, ...]


class DrawError(ValueError):
    """A draw that cannot be made as asked; ``field`` names the input at fault."""

    def __init__(self, code: str, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code = code
        self.field = field
        self.zh = zh
        self.en = en


def _rank(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()


def _check(inputs: DrawInputs) -> None:
    if inputs.algorithm != ALGORITHM:
        raise DrawError(
            "draw_algorithm_unknown",
            "algorithm",
            f"不支持的抽取算法：{inputs.algorithm}",
            f"unknown draw algorithm: {inputs.algorithm}",
        )
    if not 1 <= inputs.project_count <= MAX_PROJECTS:
        raise DrawError(
            "draw_project_count",
            "project_count",
            f"抽取项目数须在 1 至 {MAX_PROJECTS} 之间",
            f"project_count must lie between 1 and {MAX_PROJECTS}",
        )
    if not 1 <= inputs.inspectors_per_project <= MAX_PER_PROJECT:
        raise DrawError(
            "draw_inspectors_per_project",
            "inspectors_per_project",
            f"每个项目的检查人员数须在 1 至 {MAX_PER_PROJECT} 之间",
            f"inspectors_per_project must lie between 1 and {MAX_PER_PROJECT}",
        )
    if not 0 <= inputs.exclusion_days <= MAX_EXCLUSION_DAYS:
        raise DrawError(
            "draw_exclusion_days",
            "exclusion_days",
            f"排除近期已检查项目的天数须在 0 至 {MAX_EXCLUSION_DAYS} 之间",
            f"exclusion_days must lie between 0 and {MAX_EXCLUSION_DAYS}",
        )
    ids = [i.inspector_id for i in inputs.inspectors]
    if len(set(ids)) != len(ids):
        raise DrawError(
            "draw_inspector_repeated",
            "inspectors",
            "检查人员名单中有重复的编号",
            "an inspector id appears twice in the roster",
        )
    if len(ids) > MAX_INSPECTORS:
        raise DrawError(
            "draw_too_many_inspectors",
            "inspectors",
            f"检查人员最多 {MAX_INSPECTORS} 名",
            f"at most {MAX_INSPECTORS} inspectors",
        )
    if list(inputs.projects) != sorted(inputs.projects, key=lambda p: p.project_id):
        raise DrawError(
            "draw_projects_unsorted",
            "projects",
            "项目须按编号排序",
            "projects must be sorted by id",
        )


def draw(inputs: DrawInputs) -> DrawResult:
    """The draw; raises `DrawError` when it cannot be made (too few projects or inspectors)."""
    _check(inputs)
    eligible = [p for p in inputs.projects if p.project_id not in inputs.recently_inspected]
    excluded = tuple(
        p.project_id for p in inputs.projects if p.project_id in inputs.recently_inspected
    )
    if len(eligible) < inputs.project_count:
        raise DrawError(
            "draw_not_enough_projects",
            "project_count",
            f"可抽取的项目只有 {len(eligible)} 个（{len(excluded)} 个近期已检查被排除），"
            f"不足 {inputs.project_count} 个",
            f"only {len(eligible)} project(s) are eligible ({len(excluded)} recently inspected "
            f"excluded), fewer than {inputs.project_count}",
        )
    seed = inputs.seed
    drawn = sorted(eligible, key=lambda p: _rank(seed, "project", p.project_id))
    drawn = drawn[: inputs.project_count]
    load = {i.inspector_id: 0 for i in inputs.inspectors}
    assignments: list[Assignment] = []
    for project in drawn:
        available = [
            i
            for i in inputs.inspectors
            if project.project_id not in i.conflicts and project.enterprise_id not in i.conflicts
        ]
        if len(available) < inputs.inspectors_per_project:
            raise DrawError(
                "draw_not_enough_inspectors",
                "inspectors",
                f"项目 {project.project_id} 可派的检查人员只有 {len(available)} 名（已排除回避"
                f"人员），每个项目需要 {inputs.inspectors_per_project} 名",
                f"project {project.project_id} has only {len(available)} inspector(s) without "
                f"a conflict; each project needs {inputs.inspectors_per_project}",
            )
        ordered = sorted(
            available,
            key=lambda i: (
                load[i.inspector_id],
                _rank(seed, "inspector", project.project_id, i.inspector_id),
            ),
        )
        chosen = tuple(i.inspector_id for i in ordered[: inputs.inspectors_per_project])
        for inspector_id in chosen:
            load[inspector_id] += 1
        assignments.append(Assignment(project.project_id, project.enterprise_id, chosen))
    return DrawResult(
        eligible=tuple(p.project_id for p in eligible),
        excluded=excluded,
        assignments=tuple(assignments),
    )


def sorted_projects(projects: Sequence[DrawProject]) -> tuple[DrawProject, ...]:
    return tuple(sorted(projects, key=lambda p: p.project_id))


def roster_entry(inspector_id: str, name: str, conflicts: Sequence[str]) -> Inspector:
    """An inspector for a district's roster, checked; raises `DrawError` naming the field."""
    inspector_id, name = inspector_id.strip(), name.strip()
    if not _ID.fullmatch(inspector_id):
        raise DrawError(
            "roster_inspector_id",
            "inspector_id",
            "检查人员编号须为 1 至 64 个字母、数字、点、下划线或连字符",
            "inspector_id: 1 to 64 letters, digits, '.', '_' or '-'",
        )
    if not name or len(name) > MAX_NAME or any(unicodedata.category(c)[0] == "C" for c in name):
        raise DrawError(
            "roster_name",
            "name",
            f"姓名须为 1 至 {MAX_NAME} 个字符，不含控制字符",
            f"name: 1 to {MAX_NAME} characters, no control characters",
        )
    cleaned = sorted({c.strip() for c in conflicts if c.strip()})
    bad = [c for c in cleaned if not _ID.fullmatch(c)]
    if bad or len(cleaned) > MAX_CONFLICTS:
        shown = bad[0][:64] if bad else ""
        raise DrawError(
            "roster_conflicts",
            "conflicts",
            f"回避的企业或项目编号有误：{shown}（最多 {MAX_CONFLICTS} 个，字母、数字、点、下划线或"
            "连字符）"
            if bad
            else f"回避的企业或项目最多 {MAX_CONFLICTS} 个",
            f"conflicts: not an enterprise or project id: {shown}"
            if bad
            else f"conflicts: at most {MAX_CONFLICTS}",
        )
    return Inspector(inspector_id, name, frozenset(cleaned))
