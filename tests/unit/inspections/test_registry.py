"""Registry handlers with the in-memory unit of work: imports and single changes emit one event
per real change under /wuye/inspections/registry; scope decides who registers where; template
versions are immutable; activity records belong to the project's own enterprise."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta
from typing import Any

import pytest

from runtime.errors import DomainError, Forbidden, NotFound
from runtime.unit_of_work import Trace
from schemas.registry import v1 as registry
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork, template_body
from services.inspections.domain import activities, templates
from services.inspections.domain.project_registry import ProjectFacts
from services.inspections.service import registry_handlers
from tests.unit.inspections.conftest import CITY, CONTRACT, E1, E2, HEPING, NANKAI, NOW, PROJECTS

NEW = ProjectFacts(
    project_id="P-120101-0099",
    project_name="和平区·新建小区",
    address="天津市和平区新华路 9 号",
    district_code="120101",
    district_name="和平区",
    enterprise_id="E-0001",
    enterprise_name="津城物业服务有限公司",
    service_grade="二级",
)


@pytest.fixture
def empty(clock: Any) -> MemoryInspectionsUnitOfWork:
    return MemoryInspectionsUnitOfWork(clock)


async def test_an_import_emits_one_event_per_real_change(
    empty: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    uow = empty
    first = await registry_handlers.import_projects(uow, PROJECTS, trace)
    again = await registry_handlers.import_projects(uow, PROJECTS, trace)
    moved = dataclasses.replace(PROJECTS[1], enterprise_id="E-0009", enterprise_name="新物业")
    changed = await registry_handlers.import_projects(uow, [*PROJECTS[:1], moved], trace)

    assert first == {"created": 4, "updated": 0, "unchanged": 0}
    assert again == {"created": 0, "updated": 0, "unchanged": 4}
    assert changed == {"created": 0, "updated": 1, "unchanged": 1}
    events = uow.registry_outbox.events
    assert [type(e).__name__ for e in events] == ["ProjectRegistered"] * 4 + ["ProjectUpdated"]
    update = events[-1]
    assert isinstance(update, registry.ProjectUpdated)
    assert (update.enterprise_id, update.occurred_at) == ("E-0009", NOW)  # all facts, the clock
    assert {w.ce.source for w in uow.registry_outbox.committed} == {"/wuye/inspections/registry"}
    assert uow.outbox.committed == []


async def test_a_district_office_registers_only_in_its_district(
    empty: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    uow = empty
    with pytest.raises(Forbidden):
        await registry_handlers.create_project(uow, NEW, NANKAI, trace)
    assert await registry_handlers.create_project(uow, NEW, HEPING, trace) == NEW
    with pytest.raises(DomainError) as twice:
        await registry_handlers.create_project(uow, NEW, CITY, trace)
    assert twice.value.code == "project_exists"
    [written] = uow.registry_outbox.committed
    assert isinstance(written.event, registry.ProjectRegistered)
    assert written.trace == trace


async def test_an_update_keeps_a_district_office_in_its_district(
    uow: MemoryInspectionsUnitOfWork, trace: Trace
) -> None:
    heping_project = PROJECTS[0]
    renamed = dataclasses.replace(heping_project, project_name="和平区·海河花园(一期)")
    assert await registry_handlers.update_project(uow, renamed, HEPING, trace) == (
        renamed,
        "updated",
    )
    assert await registry_handlers.update_project(uow, renamed, HEPING, trace) == (
        renamed,
        "unchanged",
    )
    moved = dataclasses.replace(renamed, district_code="120104", district_name="南开区")
    with pytest.raises(Forbidden) as refused:
        await registry_handlers.update_project(uow, moved, HEPING, trace)
    assert refused.value.code == "cannot_leave_district"
    with pytest.raises(NotFound):  # not its district: as if missing
        await registry_handlers.update_project(uow, renamed, NANKAI, trace)
    assert [type(e).__name__ for e in uow.registry_outbox.events] == ["ProjectUpdated"]


async def test_a_project_is_shown_to_whoever_may_see_it(uow: MemoryInspectionsUnitOfWork) -> None:
    assert await registry_handlers.get_project(uow, "P-120101-0001", E1) == PROJECTS[0]
    with pytest.raises(NotFound):
        await registry_handlers.get_project(uow, "P-120101-0001", E2)
    with pytest.raises(NotFound):
        await registry_handlers.get_project(uow, "P-120101-0001", NANKAI)


async def test_template_versions_are_published_in_order_and_never_edited(
    empty: MemoryInspectionsUnitOfWork,
) -> None:
    uow = empty
    v1 = template_body(CONTRACT)
    assert await registry_handlers.publish_template(uow, v1) == (v1, True)
    assert await registry_handlers.publish_template(uow, v1) == (v1, False)  # a harmless retry
    with pytest.raises(DomainError) as edited:
        await registry_handlers.publish_template(uow, {**v1, "pass_mark": 70})
    assert edited.value.code == "template_version_exists"
    with pytest.raises(DomainError) as gap:
        await registry_handlers.publish_template(uow, {**v1, "version": 3})
    assert gap.value.code == "template_version_not_next"
    with pytest.raises(templates.InvalidTemplate):
        await registry_handlers.publish_template(uow, {**v1, "items": []})
    assert await uow.templates.latest_version(CONTRACT.template_id) == 1


async def test_stored_templates_are_loaded_once(empty: MemoryInspectionsUnitOfWork) -> None:
    v1 = template_body(CONTRACT)
    assert await registry_handlers.store_templates(empty, [v1]) == 1
    assert await registry_handlers.store_templates(empty, [v1]) == 0
    with pytest.raises(ValueError, match="differs"):
        await registry_handlers.store_templates(empty, [{**v1, "pass_mark": 60}])


def activity(**changes: Any) -> registry_handlers.RecordActivity:
    values: dict[str, Any] = {
        "project_id": "P-120101-0001",
        "kind": "cultural",
        "title": " 中秋游园会 ",
        "held_on": date(2026, 2, 28),
        "participants": 120,
        "description": "社区文化活动",
        "photo_refs": ("photos/a.jpg",),
        "idempotency_key": None,
        **changes,
    }
    return registry_handlers.RecordActivity(**values)


async def test_an_enterprise_records_activities_of_its_own_projects(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    record, created = await registry_handlers.record_activity(
        uow, activity(idempotency_key="k-1"), E1, "e1-staff"
    )
    again, created_again = await registry_handlers.record_activity(
        uow, activity(idempotency_key="k-1"), E1, "e1-staff"
    )

    assert (created, created_again) == (True, False)
    assert again == record
    assert (record["title"], record["recorder_enterprise_id"]) == ("中秋游园会", "E-0001")
    listed = await registry_handlers.list_activities(
        uow, "P-120101-0001", HEPING, kind=None, limit=10
    )
    assert [r["record_id"] for r in listed] == [record["record_id"]]
    with pytest.raises(NotFound):
        await registry_handlers.list_activities(uow, "P-120101-0001", NANKAI, kind=None, limit=10)
    # One ActivityHeld (the figures count it), none for the repeated key; ids, counts, dates only.
    held = uow.outbox.events
    assert [type(e).__name__ for e in held] == ["ActivityHeld"]
    assert held[0].model_dump(exclude={"recorded_at"}) == {
        "record_id": record["record_id"],
        "project_id": "P-120101-0001",
        "enterprise_id": "E-0001",
        "district_code": "120101",
        "kind": record["kind"],
        "held_on": record["held_on"],
        "participants": record["participants"],
    }
    assert uow.registry_outbox.committed == []


@pytest.mark.parametrize(
    ("cmd", "actor", "error"),
    [
        (activity(), E2, NotFound),  # not its project
        (activity(), HEPING, NotFound),  # offices record no activities
        (activity(held_on=NOW.date() + timedelta(days=1)), E1, activities.InvalidActivity),
    ],
)
async def test_activity_refusals(
    uow: MemoryInspectionsUnitOfWork,
    cmd: registry_handlers.RecordActivity,
    actor: Any,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        await registry_handlers.record_activity(uow, cmd, actor, "someone")
    assert uow.activities.rows == {}
    assert uow.outbox.committed == []
