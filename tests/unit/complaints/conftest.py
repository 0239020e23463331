"""Shared state for the complaints service layer's unit tests: the in-memory unit of work, the
shipped rules, principals and a project in the local registry copy."""

from __future__ import annotations

from datetime import datetime

import pytest

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Trace
from services.complaints.adapters import reference
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork, MemoryStore
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.service import intake
from services.complaints.service.ports import Project

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CHINA)  # a Monday, a working day
OWNER = Principal("owner-1", Role.OWNER)
ALICE = Principal("alice", Role.ENTERPRISE, enterprise_id="ent-a")
BOB = Principal("bob", Role.ENTERPRISE, enterprise_id="ent-a")
MALLORY = Principal("mallory", Role.ENTERPRISE, enterprise_id="ent-b")
DISTRICT = Principal("do-1", Role.DISTRICT_OFFICE, district_code="120101")
OTHER_DISTRICT = Principal("do-2", Role.DISTRICT_OFFICE, district_code="120102")
CITY = Principal("city-1", Role.CITY_OFFICE)
TEXT = "三号楼整栋停水已经两天了,请尽快处理"
PROJECTS = (
    Project("p-1", "海河花园", "120101", "和平区", "ent-a", "津城物业"),
    Project("p-2", "南开小区", "120102", "南开区", "ent-b", "南开物业"),
)


@pytest.fixture(scope="session")
def rules() -> ComplaintRules:
    return reference.load_rules()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def uow(clock: FixedClock) -> MemoryComplaintsUnitOfWork:
    store = MemoryStore(projects={p.project_id: p for p in PROJECTS})
    return MemoryComplaintsUnitOfWork(store, clock)


@pytest.fixture
def trace() -> Trace:
    return Trace("corr-1", "cause-1")


def water(**changes: object) -> intake.Intake:
    fields: dict[str, object] = {
        "project_id": "p-1",
        "category": "water",
        "description": TEXT,
        "channel": "web",
        "contact_name": "张三丰",
        "contact_phone": "13812345678",
        "answers": {"problem": "no_water"},
    }
    return intake.Intake(**{**fields, **changes})  # type: ignore[arg-type]
