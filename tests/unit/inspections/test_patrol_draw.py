"""The random draw of patrols (双随机): deterministic for given inputs and seed, conflicts and
recently inspected projects excluded, a clear error when the draw cannot be made."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from services.inspections.domain.patrol_draw import (
    ALGORITHM,
    DrawError,
    DrawInputs,
    DrawProject,
    Inspector,
    draw,
)

PROJECTS = tuple(DrawProject(f"P-120101-{n:04d}", f"E-{n % 4:04d}") for n in range(1, 21))
INSPECTORS = tuple(Inspector(f"I-{n}", f"检查员{n}") for n in range(1, 7))


def inputs(**changes: object) -> DrawInputs:
    base = DrawInputs(
        district_code="120101",
        projects=PROJECTS,
        recently_inspected=frozenset(),
        inspectors=INSPECTORS,
        project_count=5,
        inspectors_per_project=2,
        exclusion_days=90,
        seed="a3f1c2",
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_same_inputs_and_seed_give_the_same_result() -> None:
    first = draw(inputs())
    assert draw(inputs()) == first
    assert len(first.assignments) == 5
    assert all(len(a.inspector_ids) == 2 for a in first.assignments)
    assert all(len(set(a.inspector_ids)) == 2 for a in first.assignments)


def test_the_documented_algorithm_is_what_runs() -> None:
    """Re-implemented from the module's description alone: the lowest SHA-256 ranks."""
    result = draw(inputs())

    def rank(pid: str) -> str:
        return hashlib.sha256(f"a3f1c2|project|{pid}".encode()).hexdigest()

    expected = sorted((p.project_id for p in PROJECTS), key=rank)[:5]
    assert [a.project_id for a in result.assignments] == expected
    assert ALGORITHM == "sha256-rank-v1"


def test_another_seed_draws_otherwise() -> None:
    drawn = {tuple(a.project_id for a in draw(inputs(seed=s)).assignments) for s in "abcdef"}
    assert len(drawn) > 1


def test_recently_inspected_projects_are_excluded() -> None:
    recent = frozenset(p.project_id for p in PROJECTS[:15])
    result = draw(inputs(recently_inspected=recent))
    assert {a.project_id for a in result.assignments} == {p.project_id for p in PROJECTS[15:]}
    assert set(result.excluded) == recent


def test_an_inspector_never_goes_to_a_project_of_a_conflicting_enterprise() -> None:
    conflicted = (
        Inspector("I-1", "检查员1", frozenset({"E-0001", "E-0002"})),
        Inspector("I-2", "检查员2", frozenset({"P-120101-0004"})),
        *INSPECTORS[2:],
    )
    for seed in ("s1", "s2", "s3", "s4"):
        result = draw(inputs(inspectors=conflicted, project_count=20, seed=seed))
        for a in result.assignments:
            if a.enterprise_id in {"E-0001", "E-0002"}:
                assert "I-1" not in a.inspector_ids
            if a.project_id == "P-120101-0004":
                assert "I-2" not in a.inspector_ids


def test_the_load_is_spread_over_the_inspectors() -> None:
    result = draw(inputs(project_count=6))
    counts: dict[str, int] = {}
    for a in result.assignments:
        for i in a.inspector_ids:
            counts[i] = counts.get(i, 0) + 1
    assert sorted(counts.values()) == [2] * 6


def test_not_enough_inspectors_is_a_clear_error() -> None:
    everyone_conflicted = (
        *(Inspector(i.inspector_id, i.name, frozenset({"E-0001"})) for i in INSPECTORS[:5]),
        INSPECTORS[5],
    )
    with pytest.raises(DrawError) as caught:
        draw(inputs(inspectors=everyone_conflicted, project_count=20))
    assert caught.value.code == "draw_not_enough_inspectors"
    assert caught.value.field == "inspectors"
    assert "回避" in caught.value.zh


def test_not_enough_projects_is_a_clear_error() -> None:
    recent = frozenset(p.project_id for p in PROJECTS[:18])
    with pytest.raises(DrawError) as caught:
        draw(inputs(recently_inspected=recent, project_count=3))
    assert caught.value.code == "draw_not_enough_projects"
    assert "18" in caught.value.en


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"project_count": 0}, "project_count"),
        ({"inspectors_per_project": 0}, "inspectors_per_project"),
        ({"exclusion_days": -1}, "exclusion_days"),
        ({"algorithm": "random-v0"}, "algorithm"),
        ({"inspectors": (INSPECTORS[0], INSPECTORS[0])}, "inspectors"),
        ({"projects": tuple(reversed(PROJECTS))}, "projects"),
    ],
)
def test_bad_inputs_name_their_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(DrawError) as caught:
        draw(inputs(**changes))
    assert caught.value.field == field
