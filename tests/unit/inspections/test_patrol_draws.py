"""The random patrol draws (双随机) and the district offices' rosters, as the service layer runs
them on the in-memory unit of work: what is stored, the event committed with its trace, and the
refusals (an empty roster, too few projects, a project given a patrol meanwhile, another
district's draw). The pure draw itself is `test_patrol_draw.py`'s."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from runtime.errors import DomainError, InvalidInput, NotFound
from runtime.unit_of_work import Trace
from schemas.inspections import v1 as inspections
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork
from services.inspections.domain.patrol_draw import Inspector
from services.inspections.service import patrol_draws
from services.inspections.service.patrol_draws import DrawPatrols
from services.inspections.service.ports import DrawRow
from tests.unit.inspections.conftest import NOW

HEPING = "120101"  # 和平区: P-120101-0001 (E-0001) and P-120101-0002 (E-0002)
NANKAI = "120104"  # 南开区: one project
SEED = "5eed" * 8


def seed() -> str:
    return SEED


async def put_roster(uow: MemoryInspectionsUnitOfWork, district: str, *ids: str) -> None:
    for inspector_id in ids:
        await patrol_draws.add_to_roster(
            uow, district, inspector_id, f"检查员{inspector_id}", [], added_by="office-1"
        )


async def draw(
    uow: MemoryInspectionsUnitOfWork,
    trace: Trace,
    *,
    district: str = HEPING,
    make_seed: Any = seed,
    **changes: Any,
) -> DrawRow:
    cmd = replace(DrawPatrols(district, None, project_count=2), **changes)
    return await patrol_draws.draw_patrols(
        uow, cmd, drawn_by="office-1", trace=trace, make_seed=make_seed
    )


def drawn_patrols(uow: MemoryInspectionsUnitOfWork) -> list[dict[str, Any]]:
    return [p for p in uow.patrols.patrols.values() if p["origin"] == "random_draw"]


# --- drawing --------------------------------------------------------------------------------


async def test_a_draw_from_the_roster_stores_the_draw_schedules_its_patrols_and_tells(
    uow: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    await put_roster(uow, HEPING, "I-1", "I-2", "I-3")
    await put_roster(uow, NANKAI, "I-9")  # another district's roster is not drawn from

    row = await draw(uow, trace)

    assert row.draw_id.startswith(f"D-{HEPING}-20260302-")
    assert (row.seed, row.drawn_by, row.drawn_at) == (SEED, "office-1", NOW)
    assert row.due_by == NOW + timedelta(days=14)
    assert row.inputs["inspectors_from"] == "roster"
    assert [i["inspector_id"] for i in row.inputs["inspectors"]] == ["I-1", "I-2", "I-3"]
    assert [p["project_id"] for p in row.inputs["projects"]] == ["P-120101-0001", "P-120101-0002"]
    assert uow.draws.rows == {row.draw_id: row}
    scheduled = drawn_patrols(uow)
    assert sorted(p["project_id"] for p in scheduled) == ["P-120101-0001", "P-120101-0002"]
    assert {p["draw_id"] for p in scheduled} == {row.draw_id}
    assert all(len(p["inspector_ids"]) == 2 for p in scheduled)
    assert all(p["status"] == "open" and p["due_by"] == row.due_by for p in scheduled)
    [written] = uow.draws_outbox.committed
    assert isinstance(written.event, inspections.PatrolsDrawn)
    assert written.trace == trace
    assert (written.event.draw_id, written.event.seed) == (row.draw_id, SEED)
    assert [p.project_id for p in written.event.patrols] == [p["project_id"] for p in row.result]
    assert written.event == patrol_draws.event_of(row)
    assert uow.outbox.committed == []  # the draws' own source, not the inspections'
    assert patrol_draws.verify(row)
    inputs = patrol_draws.inputs_of(row)  # what a re-run takes: exactly what was drawn from
    assert (inputs.seed, inputs.district_code, inputs.project_count) == (SEED, HEPING, 2)
    assert [i.inspector_id for i in inputs.inspectors] == ["I-1", "I-2", "I-3"]
    status = await uow.draws.patrol_status(row.draw_id)
    assert {s["status"] for s in status.values()} == {"open"}


async def test_inspectors_given_with_the_draw_are_drawn_instead_of_the_roster(
    uow: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    given = (Inspector("X-1", "甲"), Inspector("X-2", "乙"))

    row = await draw(uow, trace, inspectors=given, inspectors_per_project=1)

    assert row.inputs["inspectors_from"] == "request"
    assert {i for p in row.result for i in p["inspector_ids"]} <= {"X-1", "X-2"}


async def test_an_inspector_never_goes_where_they_must_not(
    uow: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    await put_roster(uow, HEPING, "I-1", "I-2")
    await patrol_draws.add_to_roster(uow, HEPING, "I-3", "回避员", ["E-0001"], added_by="office-1")

    row = await draw(uow, trace)

    first = next(p for p in row.result if p["enterprise_id"] == "E-0001")
    assert "I-3" not in first["inspector_ids"]
    assert row.inputs["inspectors"][2]["conflicts"] == ["E-0001"]


async def test_a_rerun_of_the_stored_inputs_verifies_and_a_changed_seed_does_not(
    uow: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    await put_roster(uow, HEPING, "I-1", "I-2", "I-3")
    row = await draw(uow, trace, project_count=1)

    stored = await patrol_draws.get_draw(uow, row.draw_id, HEPING)

    assert patrol_draws.verify(stored)
    tampered = replace(stored, result=[{**stored.result[0], "inspector_ids": ["I-9", "I-8"]}])
    assert not patrol_draws.verify(tampered)
    others = [replace(stored, seed=s) for s in ("a", "b", "c", "d", "e", "f")]
    assert not all(patrol_draws.verify(o) for o in others)


async def test_recent_patrols_and_open_patrols_of_the_district_are_left_out(
    uow: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    await put_roster(uow, HEPING, "I-1", "I-2")
    uow.inspections.rows["i-recent"] = {
        "project_id": "P-120101-0001",
        "kind": "patrol",
        "inspected_at": NOW - timedelta(days=10),
    }
    uow.inspections.rows["i-old"] = {  # before the exclusion window: drawn again
        "project_id": "P-120101-0002",
        "kind": "patrol",
        "inspected_at": NOW - timedelta(days=200),
    }

    row = await draw(uow, trace, project_count=1)

    assert row.inputs["excluded_project_ids"] == ["P-120101-0001"]
    assert [p["project_id"] for p in row.result] == ["P-120101-0002"]
    # the drawn patrol is open now: the next draw finds nothing left to draw
    with pytest.raises(InvalidInput) as refused:
        await draw(uow, trace, project_count=1)
    assert (refused.value.code, refused.value.field) == (
        "draw_not_enough_projects",
        "project_count",
    )
    assert len(uow.draws_outbox.committed) == 1


async def test_the_excluded_projects_are_the_districts_own(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    await uow.patrols.schedule(
        patrol_id="p-1", project_id="P-120104-0001", reason="complaints", complaint_count=3,
        window_days=7, scheduled_at=NOW, due_by=NOW + timedelta(days=7),
    )  # fmt: skip
    uow.inspections.rows["i-1"] = {
        "project_id": "P-120101-0002",
        "kind": "self",  # a self-inspection is no patrol
        "inspected_at": NOW,
    }

    since = NOW - timedelta(days=90)
    assert await uow.draws.excluded_projects(HEPING, since) == set()
    assert await uow.draws.excluded_projects(NANKAI, since) == {"P-120104-0001"}


async def test_an_empty_roster_is_refused_naming_the_inspectors(
    uow: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    await put_roster(uow, HEPING, "I-1")
    await patrol_draws.deactivate(uow, HEPING, "I-1", by="office-1")

    with pytest.raises(InvalidInput) as refused:
        await draw(uow, trace)

    assert (refused.value.code, refused.value.field) == ("draw_roster_empty", "inspectors")
    assert "名单" in refused.value.message.zh
    assert "roster" in refused.value.message.en
    assert uow.draws.rows == {}
    assert drawn_patrols(uow) == []
    assert uow.draws_outbox.committed == []


async def test_a_project_given_a_patrol_meanwhile_refuses_the_whole_draw(
    uow: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    """A complaint opens a patrol on a drawn project between the read and the write: nothing of
    the draw stays (the unit rolls back), and the office is told to draw again."""
    await put_roster(uow, HEPING, "I-1", "I-2", "I-3")

    def seed_while_a_complaint_lands() -> str:
        uow.patrols.patrols["p-complaint"] = {
            "patrol_id": "p-complaint",
            "project_id": "P-120101-0002",
            "status": "open",
            "origin": "complaint",
        }
        return SEED

    with pytest.raises(DomainError) as refused:
        await draw(uow, trace, make_seed=seed_while_a_complaint_lands)

    assert refused.value.code == "draw_project_busy"
    assert "P-120101-0002" in refused.value.message.zh
    assert uow.draws.rows == {}
    assert drawn_patrols(uow) == []
    assert uow.draws_outbox.committed == []


async def test_a_draw_of_another_district_answers_like_a_missing_one(
    uow: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    await put_roster(uow, HEPING, "I-1", "I-2")
    row = await draw(uow, trace, project_count=1)

    assert (await patrol_draws.get_draw(uow, row.draw_id, None)) == row  # the city office
    for district, draw_id in ((NANKAI, row.draw_id), (HEPING, "D-missing")):
        with pytest.raises(NotFound) as missing:
            await patrol_draws.get_draw(uow, draw_id, district)
        assert missing.value.code == "draw_not_found"


# --- the rosters ----------------------------------------------------------------------------


async def test_the_roster_lists_by_district_and_keeps_the_deactivated(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    await put_roster(uow, HEPING, "I-2", "I-1")
    await put_roster(uow, NANKAI, "I-9")
    off = await patrol_draws.deactivate(uow, HEPING, "I-2", by="office-2")

    assert (off.active, off.deactivated_by, off.deactivated_at) == (False, "office-2", NOW)
    heping = await patrol_draws.roster(uow, HEPING)
    assert [(e.inspector_id, e.active) for e in heping] == [("I-1", True), ("I-2", False)]
    assert [e.inspector_id for e in await patrol_draws.roster(uow, HEPING, active_only=True)] == [
        "I-1"
    ]
    everyone = await patrol_draws.roster(uow, None)
    assert [(e.district_code, e.inspector_id) for e in everyone] == [
        (HEPING, "I-1"),
        (HEPING, "I-2"),
        (NANKAI, "I-9"),
    ]
    assert uow.commits == 4
    assert uow.outbox.committed == []


async def test_adding_an_inspector_twice_is_refused_and_a_deactivated_one_comes_back(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    first = await patrol_draws.add_to_roster(
        uow, HEPING, " I-1 ", " 张三 ", ["E-0002", " ", "E-0001"], added_by="office-1"
    )
    assert (first.inspector_id, first.name, first.conflicts) == (
        "I-1",
        "张三",
        ("E-0001", "E-0002"),
    )

    with pytest.raises(DomainError) as twice:
        await patrol_draws.add_to_roster(uow, HEPING, "I-1", "张三", [], added_by="office-1")
    assert (twice.value.code, twice.value.field) == ("roster_inspector_exists", "inspector_id")

    await patrol_draws.deactivate(uow, HEPING, "I-1", by="office-1")
    back = await patrol_draws.add_to_roster(uow, HEPING, "I-1", "张三丰", [], added_by="office-3")
    stored = await uow.rosters.get(HEPING, "I-1")
    assert stored == back
    assert (back.active, back.name, back.added_by, back.deactivated_at) == (
        True,
        "张三丰",
        "office-3",
        None,
    )


@pytest.mark.parametrize(
    ("inspector_id", "name", "conflicts", "field"),
    [
        ("I 1", "张三", [], "inspector_id"),
        ("I-1", "", [], "name"),
        ("I-1", "张\x00三", [], "name"),
        ("I-1", "张三", ["not an id"], "conflicts"),
    ],
)
async def test_a_bad_roster_entry_is_refused_naming_the_field(
    uow: MemoryInspectionsUnitOfWork, inspector_id: str, name: str, conflicts: list[str], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await patrol_draws.add_to_roster(
            uow, HEPING, inspector_id, name, conflicts, added_by="office-1"
        )
    assert refused.value.field == field
    assert refused.value.message.zh
    assert refused.value.message.en
    assert uow.rosters.entries == {}
    assert uow.commits == 0


async def test_deactivating_someone_not_on_the_roster_or_already_off_is_refused(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    with pytest.raises(NotFound) as missing:
        await patrol_draws.deactivate(uow, HEPING, "I-1", by="office-1")
    assert missing.value.code == "roster_inspector_not_found"

    await put_roster(uow, NANKAI, "I-1")  # on another district's roster only
    with pytest.raises(NotFound):
        await patrol_draws.deactivate(uow, HEPING, "I-1", by="office-1")

    await patrol_draws.deactivate(uow, NANKAI, "I-1", by="office-1")
    with pytest.raises(DomainError) as again:
        await patrol_draws.deactivate(uow, NANKAI, "I-1", by="office-1")
    assert again.value.code == "roster_inspector_inactive"
