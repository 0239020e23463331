"""Which project a point or an address names (service/locate.py), on the in-memory fakes (the
PostGIS query is tested on PostgreSQL in tests/integration/test_open311.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from runtime.errors import InvalidInput
from runtime.scheduler import FixedClock
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork, MemoryStore
from services.complaints.domain import geo
from services.complaints.service import locate
from services.complaints.service.ports import Project

Units = Callable[[], MemoryComplaintsUnitOfWork]
GATE = geo.Point(39.1205, 117.198)
A = Project(
    "p-1",
    "海河花园",
    "120101",
    "和平区",
    "ent-a",
    "津城物业",
    "南京路 101 号",
    GATE.latitude,
    GATE.longitude,
)
B = Project(
    "p-2", "五大道公寓", "120101", "和平区", "ent-b", "海河物业", "马场道 22 号", 39.111, 117.195
)
C = Project("p-3", "无坐标小区", "120101", "和平区", "ent-c", "某物业", "马场道 22 号")


@pytest.fixture
def units(clock: FixedClock) -> Units:
    store = MemoryStore(projects={p.project_id: p for p in (A, B)})
    return lambda: MemoryComplaintsUnitOfWork(store, clock)


def north(p: geo.Point, metres: float) -> geo.Point:
    return geo.Point(p.latitude + metres / 111_195, p.longitude)


async def test_the_nearest_located_project_within_the_radius(units: Units) -> None:
    found = await locate.project_at(units, point=north(GATE, 100), address=None, radius_m=300)
    assert found.project.project_id == "p-1"
    assert found.how == "point"
    assert found.distance_m == pytest.approx(100, abs=1)
    with pytest.raises(InvalidInput) as refused:
        await locate.project_at(units, point=north(GATE, 400), address=None, radius_m=300)
    assert refused.value.field == "lat"
    assert "300 米内" in refused.value.message.zh


async def test_the_address_decides_when_the_point_misses(units: Units) -> None:
    found = await locate.project_at(
        units,
        point=north(GATE, 5000),
        address="天津市和平区马场道22号 3-201",
        radius_m=300,
    )
    assert (found.project.project_id, found.how) == ("p-2", "address")


async def test_an_address_naming_two_projects_is_refused(clock: FixedClock) -> None:
    store = MemoryStore(projects={p.project_id: p for p in (A, B, C)})

    def units() -> MemoryComplaintsUnitOfWork:
        return MemoryComplaintsUnitOfWork(store, clock)

    with pytest.raises(InvalidInput) as refused:
        await locate.project_at(units, point=None, address="马场道 22 号", radius_m=300)
    assert refused.value.field == "address_string"
    assert "五大道公寓" in refused.value.message.zh
    assert "无坐标小区" in refused.value.message.zh
