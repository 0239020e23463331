"""The project registry, checklist templates and activity records: command handlers.

Each new or changed project is written together with its ProjectRegistered / ProjectUpdated event
(the project's full current facts: the registry topic is compacted; source
/wuye/inspections/registry, the unit's `registry_outbox`), so every other service can build its
own copy from the topic; an unchanged project emits nothing. A registry, whether loaded from a
file at startup or imported over HTTP, is checked as a whole first and then written in ONE unit
of work: all of it or nothing.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from runtime.calendar import CHINA
from runtime.errors import DomainError, Forbidden, Message, NotFound
from runtime.unit_of_work import Trace
from schemas.campaigns import v1 as campaigns
from schemas.registry import v1 as registry
from services.inspections.domain import activities, actors, project_registry, templates
from services.inspections.domain.project_registry import ProjectFacts
from services.inspections.service.ports import Change, InspectionsUnitOfWork, NewActivity


def _project_not_found(project_id: str) -> NotFound:
    return NotFound(
        "project_not_found",
        Message(f"物业项目 {project_id} 不存在", f"project {project_id} does not exist"),
    )


# --- the registry ------------------------------------------------------------------------------


async def import_projects(
    uow: InspectionsUnitOfWork, projects: Sequence[ProjectFacts], trace: Trace
) -> dict[str, int]:
    """Upsert checked projects in one unit of work, one event per real change; return the counts.

    Rows are written in project-id order, so two imports running at once lock rows in the same
    order and cannot deadlock; the second sees the first's rows as unchanged.
    """
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    async with uow:
        now = uow.clock.now()
        for project in sorted(projects, key=lambda p: p.project_id):
            change = await uow.projects.upsert(project)
            counts[change] += 1
            await _emit(uow, change, project, now, trace)
        await uow.commit()
    return counts


async def _emit(
    uow: InspectionsUnitOfWork, change: Change, project: ProjectFacts, now: datetime, trace: Trace
) -> None:
    if change == "unchanged":
        return
    event_type = registry.ProjectRegistered if change == "created" else registry.ProjectUpdated
    await uow.registry_outbox.add(event_type(**dataclasses.asdict(project), occurred_at=now), trace)


async def get_project(
    uow: InspectionsUnitOfWork, project_id: str, actor: actors.Actor
) -> ProjectFacts:
    """The project if the actor may see it; out of scope answers like a missing project."""
    async with uow:
        project = await uow.projects.get(project_id)
    if project is None or not project_registry.can_see(
        actor, project.district_code, project.enterprise_id
    ):
        raise _project_not_found(project_id)
    return project


async def create_project(
    uow: InspectionsUnitOfWork, facts: ProjectFacts, actor: actors.Actor, trace: Trace
) -> ProjectFacts:
    if not project_registry.may_register_in(actor, facts.district_code):
        raise Forbidden(
            "out_of_scope",
            Message("只能登记本辖区的物业项目", "a district office registers only in its district"),
        )
    async with uow:
        if not await uow.projects.insert(facts):
            raise DomainError(
                "project_exists",
                Message(
                    f"项目编号 {facts.project_id} 已登记；修改请使用 PUT",
                    f"project {facts.project_id} is already registered; use PUT to change it",
                ),
                field="project_id",
            )
        await _emit(uow, "created", facts, uow.clock.now(), trace)
        await uow.commit()
    return facts


async def update_project(
    uow: InspectionsUnitOfWork, facts: ProjectFacts, actor: actors.Actor, trace: Trace
) -> tuple[ProjectFacts, Change]:
    """Replace a project's facts; return it and 'updated' or 'unchanged' (no event then)."""
    async with uow:
        current = await uow.projects.get(facts.project_id, for_update=True)
        if current is None or not project_registry.may_register_in(actor, current.district_code):
            raise _project_not_found(facts.project_id)
        if not project_registry.may_register_in(actor, facts.district_code):
            raise Forbidden(
                "cannot_leave_district",
                Message(
                    "区县物业办不能把项目移出本辖区；请联系市物业办",
                    "a district office cannot move a project out of its district; ask the city office",
                ),
            )
        change = await uow.projects.upsert(facts)
        await _emit(uow, change, facts, uow.clock.now(), trace)
        await uow.commit()
    return facts, change


# --- checklist templates ------------------------------------------------------------------------


async def store_templates(uow: InspectionsUnitOfWork, bodies: Sequence[dict[str, Any]]) -> int:
    """Store the templates not stored yet (startup); a checked body is expected, and a changed
    stored version raises ValueError. Returns how many were added."""
    for body in bodies:
        problems = templates.template_problems(body)
        if problems:
            raise templates.InvalidTemplate(problems)
    added = 0
    async with uow:
        for body in bodies:
            if await uow.templates.save_if_new(body):
                added += 1
        await uow.commit()
    return added


async def publish_template(
    uow: InspectionsUnitOfWork, body: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """Publish a new template version (latest + 1); return (the stored body, created?).

    Sending a stored version again with the same body is a harmless retry (created = False);
    with a different body it is refused: a published version is never edited.
    """
    problems = templates.template_problems(body)
    if problems:
        raise templates.InvalidTemplate(problems)
    template_id, version = body["template_id"], body["version"]
    async with uow:
        stored = await uow.templates.body(template_id, version)
        if stored is None:
            refusal = templates.next_version_refusal(
                version, await uow.templates.latest_version(template_id)
            )
            if refusal is not None:
                raise DomainError(
                    "template_version_not_next", Message(refusal.zh, refusal.en), field="version"
                )
            if await uow.templates.insert(body):
                await uow.commit()
                return body, True
            # Another publisher stored this version between our read and our insert.
            stored = await uow.templates.body(template_id, version)
        if stored != body:
            raise DomainError(
                "template_version_exists",
                Message(
                    f"模板 {template_id} 第 {version} 版已发布，不能修改；请发布新版本",
                    f"template {template_id} v{version} is published and cannot be changed; "
                    "publish a new version",
                ),
                field="version",
            )
        return body, False


# --- activity records ---------------------------------------------------------------------------


_NO_TRACE = Trace(None)  # a caller without a request: the event starts its own correlation


@dataclass(frozen=True)
class RecordActivity:
    project_id: str
    kind: activities.ActivityKind
    title: str
    held_on: date
    participants: int
    description: str
    photo_refs: tuple[str, ...]
    idempotency_key: str | None


async def record_activity(
    uow: InspectionsUnitOfWork,
    cmd: RecordActivity,
    actor: actors.Actor,
    actor_id: str,
    trace: Trace = _NO_TRACE,
) -> tuple[dict[str, Any], bool]:
    """Record a cultural or publicity activity for one of the actor's own projects and emit
    ActivityHeld (counted in the campaign's figures), in one unit of work.

    Return (the record, created?); a repeated Idempotency-Key returns the first record and emits
    nothing.
    """
    async with uow:
        problems = activities.activity_problems(
            title=cmd.title,
            held_on=cmd.held_on,
            description=cmd.description,
            photo_refs=cmd.photo_refs,
            today=uow.clock.now().astimezone(CHINA).date(),
        )
        if problems:
            raise activities.InvalidActivity(problems)
        if cmd.idempotency_key:
            earlier = await uow.activities.find_by_key(actor_id, cmd.idempotency_key)
            if earlier is not None:
                return earlier, False
        project = await uow.projects.get(cmd.project_id)
        if project is None or not actors.runs(actor, project.enterprise_id):
            raise _project_not_found(cmd.project_id)
        assert actor.enterprise_id is not None
        record_id = str(uuid.uuid4())
        inserted = await uow.activities.add(
            NewActivity(
                record_id=record_id,
                project_id=project.project_id,
                kind=cmd.kind,
                title=cmd.title.strip(),
                held_on=cmd.held_on,
                participants=cmd.participants,
                description=cmd.description.strip(),
                photo_refs=cmd.photo_refs,
                recorded_by=actor_id,
                recorder_enterprise_id=actor.enterprise_id,
                idempotency_key=cmd.idempotency_key,
            )
        )
        if not inserted:  # a concurrent retry with the same key committed first
            assert cmd.idempotency_key is not None
            earlier = await uow.activities.find_by_key(actor_id, cmd.idempotency_key)
            assert earlier is not None
            return earlier, False
        created = await uow.activities.get(record_id)
        assert created is not None
        await uow.outbox.add(
            campaigns.ActivityHeld(
                record_id=record_id,
                project_id=project.project_id,
                enterprise_id=actor.enterprise_id,
                district_code=project.district_code,
                kind=cmd.kind,
                held_on=cmd.held_on,
                participants=cmd.participants,
                recorded_at=created["recorded_at"],
            ),
            trace,
        )
        await uow.commit()
        return created, True


async def list_activities(
    uow: InspectionsUnitOfWork,
    project_id: str,
    actor: actors.Actor,
    *,
    kind: activities.ActivityKind | None,
    limit: int,
) -> list[dict[str, Any]]:
    async with uow:
        project = await uow.projects.get(project_id)
        if project is None or not project_registry.can_see(
            actor, project.district_code, project.enterprise_id
        ):
            raise _project_not_found(project_id)
        return await uow.activities.of_project(project_id, kind=kind, limit=limit)
