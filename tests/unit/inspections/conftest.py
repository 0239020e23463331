"""Fixtures of the inspections service-layer tests: the in-memory unit of work holding the demo
registry and the shipped checklist templates, and the reference data (calendar, deadlines)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from runtime.scheduler import FixedClock
from runtime.unit_of_work import Trace
from services.inspections.adapters import reference, registry_tables
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork
from services.inspections.domain import actors, checklist
from services.inspections.domain.project_registry import ProjectFacts
from services.inspections.service.rectifications import Rules

DATA = Path("services/inspections/data")
CALENDARS = Path("reference/calendars")
# A Monday in an ordinary week of 2026 (the official calendar covers it).
NOW = datetime.fromisoformat("2026-03-02T09:00:00+08:00")

PROJECTS = tuple(
    ProjectFacts(**p) for p in json.loads((DATA / "projects.json").read_text("utf-8"))["projects"]
)
TEMPLATES = tuple(
    registry_tables.template_from_json(json.loads(f.read_text("utf-8")))
    for f in sorted((DATA / "templates").glob("*.json"))
)
CONTRACT = next(t for t in TEMPLATES if t.template_id == "contract-self-inspection")

CITY = actors.Actor("city_office", None, None)
HEPING = actors.Actor("district_office", "120101", None)  # 和平区
NANKAI = actors.Actor("district_office", "120104", None)  # 南开区
E1 = actors.Actor("enterprise", None, "E-0001")  # runs P-120101-0001 and P-120103-0001
E2 = actors.Actor("enterprise", None, "E-0002")  # runs P-120101-0002
OWNER = actors.Actor("owner", None, None)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def uow(clock: FixedClock) -> MemoryInspectionsUnitOfWork:
    return MemoryInspectionsUnitOfWork(clock, projects=PROJECTS, templates=TEMPLATES)


@pytest.fixture(scope="session")
def rules() -> Rules:
    return Rules(
        calendar=reference.load_calendar(CALENDARS),
        deadlines=reference.load_deadlines(DATA / "deadlines.json"),
    )


@pytest.fixture
def trace() -> Trace:
    return Trace("corr-test-1")


def results(
    template: checklist.Template = CONTRACT, failed: dict[str, str] | None = None
) -> tuple[checklist.ItemResult, ...]:
    """A result for every item of `template`: pass, except `failed` (item id -> note)."""
    failed = failed or {}
    return tuple(
        checklist.ItemResult(
            i.item_id,
            checklist.Result.FAIL if i.item_id in failed else checklist.Result.PASS,
            failed.get(i.item_id, ""),
        )
        for i in template.items
    )
