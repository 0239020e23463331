"""The random patrol draws' stores (draws, the patrols they schedule, the district rosters), one
suite run against both implementations: the asyncpg adapters on real PostgreSQL and the in-memory
fakes the unit tests use (`tests/unit/inspections/test_patrol_draws.py`). What the fakes answer
is what the database answers — including which projects a draw leaves out and that a unit left
without committing keeps nothing."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from runtime import db
from runtime.scheduler import FixedClock
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork, template_body
from services.inspections.adapters.postgres import SOURCE, PgInspectionsUnitOfWork
from services.inspections.adapters.registry_tables import template_from_json
from services.inspections.domain import checklist
from services.inspections.domain.project_registry import ProjectFacts
from services.inspections.service.ports import DrawRow, InspectionsUnitOfWork, RosterEntry

pytestmark = pytest.mark.integration
SERVICE = Path(__file__).resolve().parents[2] / "services" / "inspections"
NOW = datetime.fromisoformat("2026-03-02T09:00:00+08:00")
TEMPLATE = template_from_json(
    json.loads(
        (SERVICE / "data" / "templates" / "contract-self-inspection.v2.json").read_text("utf-8")
    )
)
Units = Callable[[], InspectionsUnitOfWork]


def project(project_id: str, district: str) -> ProjectFacts:
    return ProjectFacts(
        project_id=project_id,
        project_name=f"小区{project_id}",
        address=f"测试路{project_id}号",
        district_code=district,
        district_name="和平区" if district == "120101" else "南开区",
        enterprise_id="E-0001",
        enterprise_name="津城物业",
        service_grade="二级",
    )


PROJECTS = (
    project("P-1", "120101"),
    project("P-2", "120101"),
    project("P-3", "120101"),
    project("P-9", "120104"),
)


@pytest.fixture(params=["memory", "postgres"])
async def units(request: pytest.FixtureRequest) -> AsyncIterator[Units]:
    if request.param == "memory":
        memory = MemoryInspectionsUnitOfWork(FixedClock(NOW))
        yield lambda: memory
        return
    dsn = request.getfixturevalue("fresh_db")
    await db.prepare_database(dsn, SERVICE / "migrations", "inspections")
    pool = await db.create_pool(dsn, max_size=4)
    try:
        yield lambda: PgInspectionsUnitOfWork(pool, source=SOURCE, clock=FixedClock(NOW))
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def committed(units: Units) -> AsyncIterator[InspectionsUnitOfWork]:
    async with units() as uow:
        yield uow
        await uow.commit()


async def seeded(units: Units) -> None:
    async with committed(units) as uow:
        for p in PROJECTS:
            await uow.projects.upsert(p)
        await uow.templates.insert(template_body(TEMPLATE))


def draw(draw_id: str, district: str = "120101", at: datetime = NOW) -> DrawRow:
    return DrawRow(
        draw_id=draw_id,
        district_code=district,
        drawn_by="office-1",
        drawn_at=at,
        algorithm="sha256-rank-v1",
        seed="ab" * 16,
        project_count=1,
        inspectors_per_project=1,
        exclusion_days=90,
        inputs={"projects": [], "excluded_project_ids": [], "inspectors": []},
        result=[{"project_id": "P-1", "inspector_ids": ["I-1"]}],
        due_by=at + timedelta(days=14),
    )


def entry(inspector_id: str, district: str = "120101", **changes: object) -> RosterEntry:
    fields: dict[str, object] = {
        "district_code": district,
        "inspector_id": inspector_id,
        "name": f"检查员{inspector_id}",
        "conflicts": ("E-0002",),
        "active": True,
        "added_by": "office-1",
        "added_at": NOW,
    } | changes
    return RosterEntry(**fields)  # type: ignore[arg-type]


async def patrol_inspection(
    uow: InspectionsUnitOfWork, inspection_id: str, project_id: str, at: datetime, kind: str
) -> None:
    results = tuple(
        checklist.ItemResult(i.item_id, checklist.Result.PASS, "") for i in TEMPLATE.items
    )
    await uow.inspections.add(
        inspection_id=inspection_id,
        project_id=project_id,
        kind=kind,
        template=TEMPLATE,
        outcome=checklist.score(TEMPLATE, results),
        results=results,
        recorded_by="officer-1",
        recorder_role="district_office",
        idempotency_key=None,
        inspected_at=at,
    )


async def test_a_roster_entry_is_added_once_deactivated_once_and_comes_back(units: Units) -> None:
    async with committed(units) as uow:
        assert await uow.rosters.put(entry("I-2"))
        assert await uow.rosters.put(entry("I-1"))
        assert await uow.rosters.put(entry("I-1", "120104"))
        assert not await uow.rosters.put(entry("I-1", name="重名"))  # active: nothing written
        assert await uow.rosters.deactivate("120101", "I-2", by="office-2", at=NOW)
        assert not await uow.rosters.deactivate("120101", "I-2", by="office-2", at=NOW)
        assert not await uow.rosters.deactivate("120101", "I-9", by="office-2", at=NOW)

    async with units() as uow:
        heping = await uow.rosters.listed(district_code="120101", active_only=False)
        active = await uow.rosters.listed(district_code="120101", active_only=True)
        everyone = await uow.rosters.listed(district_code=None, active_only=False)
        off = await uow.rosters.get("120101", "I-2")
    assert [(e.inspector_id, e.active, e.name) for e in heping] == [
        ("I-1", True, "检查员I-1"),
        ("I-2", False, "检查员I-2"),
    ]
    assert [e.inspector_id for e in active] == ["I-1"]
    assert [(e.district_code, e.inspector_id) for e in everyone] == [
        ("120101", "I-1"),
        ("120101", "I-2"),
        ("120104", "I-1"),
    ]
    assert off is not None
    assert (off.deactivated_by, off.deactivated_at) == ("office-2", NOW)
    assert off.conflicts == ("E-0002",)

    later = NOW + timedelta(days=1)
    async with committed(units) as uow:
        assert await uow.rosters.put(
            entry("I-2", name="新名字", added_by="office-3", added_at=later)
        )
        back = await uow.rosters.get("120101", "I-2")
    assert back == entry("I-2", name="新名字", added_by="office-3", added_at=later)


async def test_draws_are_stored_found_and_listed_newest_first_by_district(units: Units) -> None:
    async with committed(units) as uow:
        await uow.draws.add(draw("D-1", at=NOW - timedelta(days=2)))
        await uow.draws.add(draw("D-2", at=NOW))
        await uow.draws.add(draw("D-9", "120104", at=NOW - timedelta(days=1)))

    async with units() as uow:
        assert await uow.draws.get("D-1") == draw("D-1", at=NOW - timedelta(days=2))
        assert await uow.draws.get("D-missing") is None
        every = await uow.draws.search(district_code=None, limit=10)
        heping = await uow.draws.search(district_code="120101", limit=10)
        first = await uow.draws.search(district_code=None, limit=1)
    assert [d.draw_id for d in every] == ["D-2", "D-9", "D-1"]
    assert [d.draw_id for d in heping] == ["D-2", "D-1"]
    assert [d.draw_id for d in first] == ["D-2"]


async def test_a_drawn_patrol_opens_once_per_project_and_reports_its_status(units: Units) -> None:
    await seeded(units)
    async with committed(units) as uow:
        await uow.draws.add(draw("D-1"))
        opened = await uow.draws.schedule(
            patrol_id="pt-1", project_id="P-1", draw_id="D-1", inspector_ids=("I-1", "I-2"),
            scheduled_at=NOW, due_by=NOW + timedelta(days=14),
        )  # fmt: skip
        again = await uow.draws.schedule(
            patrol_id="pt-2", project_id="P-1", draw_id="D-1", inspector_ids=("I-3",),
            scheduled_at=NOW, due_by=NOW + timedelta(days=14),
        )  # fmt: skip
    assert (opened, again) == (True, False)

    async with units() as uow:
        status = await uow.draws.patrol_status("D-1")
        assert await uow.draws.patrol_status("D-2") == {}
    assert status == {
        "P-1": {"project_id": "P-1", "patrol_id": "pt-1", "status": "open", "inspection_id": None}
    }


async def test_a_draw_leaves_out_the_districts_open_and_recently_patrolled_projects(
    units: Units,
) -> None:
    await seeded(units)
    since = NOW - timedelta(days=90)
    async with committed(units) as uow:
        for project_id, patrol_id in (("P-1", "pt-1"), ("P-9", "pt-9")):
            await uow.patrols.schedule(
                patrol_id=patrol_id, project_id=project_id, reason="complaints",
                complaint_count=3, window_days=7, scheduled_at=NOW,
                due_by=NOW + timedelta(days=7),
            )  # fmt: skip
        await patrol_inspection(uow, "i-recent", "P-2", NOW - timedelta(days=10), "patrol")
        await patrol_inspection(uow, "i-old", "P-3", since - timedelta(days=1), "patrol")
        await patrol_inspection(uow, "i-self", "P-3", NOW, "self")

    async with units() as uow:
        heping = await uow.draws.excluded_projects("120101", since)
        nankai = await uow.draws.excluded_projects("120104", since)
        nowhere = await uow.draws.excluded_projects("120103", since)
    assert (heping, nankai, nowhere) == ({"P-1", "P-2"}, {"P-9"}, set())


async def test_a_unit_left_without_committing_keeps_no_draw_patrol_or_roster_entry(
    units: Units,
) -> None:
    await seeded(units)
    async with units() as uow:
        await uow.draws.add(draw("D-1"))
        await uow.draws.schedule(
            patrol_id="pt-1", project_id="P-1", draw_id="D-1", inspector_ids=("I-1",),
            scheduled_at=NOW, due_by=NOW + timedelta(days=14),
        )  # fmt: skip
        await uow.rosters.put(entry("I-1"))

    async with units() as uow:
        assert await uow.draws.get("D-1") is None
        assert await uow.draws.patrol_status("D-1") == {}
        assert await uow.rosters.get("120101", "I-1") is None
        assert await uow.draws.excluded_projects("120101", NOW - timedelta(days=90)) == set()
