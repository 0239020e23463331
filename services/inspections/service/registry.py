"""The project registry, checklist templates and activity records: command handlers.

Each new or changed project is written together with its ProjectRegistered / ProjectUpdated event
(the project's full current facts: the registry topic is compacted), so every other service can
build its own copy from the topic; an unchanged project emits nothing. A registry file, whether
loaded at startup or imported over HTTP, is checked as a whole first and then written in ONE
transaction: all of it or nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from runtime import db, outbox
from runtime.calendar import CHINA
from runtime.errors import DomainError, Forbidden, Message, NotFound
from schemas.registry import v1 as registry_events
from services.inspections.adapters import repository
from services.inspections.domain import policy
from services.inspections.domain import registry as rules

log = structlog.get_logger(__name__)
SOURCE = "/wuye/inspections/registry"
_FORMATS: dict[str, rules.FileFormat] = {".json": "json", ".csv": "csv"}


def _project_not_found(project_id: str) -> NotFound:
    return NotFound(
        "project_not_found",
        Message(f"物业项目 {project_id} 不存在", f"project {project_id} does not exist"),
    )


# --- the registry ------------------------------------------------------------------------------


async def load_projects(
    pool: asyncpg.Pool, path: Path, *, now: datetime | None = None
) -> dict[str, int]:
    """Load a registry file (.json or .csv) at startup; a bad file raises and writes nothing."""
    fmt = _FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"registry file {path} must end in .json or .csv")
    data = await asyncio.to_thread(path.read_bytes)
    try:
        projects = rules.parse_projects(data, fmt)
    except rules.InvalidRegistryFile as exc:
        _log_refusal("registry_file_refused", path, exc)
        raise
    # Startup has no request clock; the bootstrap may pass its business clock's `now`.
    counts = await import_projects(pool, projects, now or datetime.now(UTC))
    log.info("registry_loaded", source=str(path), **counts)
    return counts


async def import_projects(
    pool: asyncpg.Pool, projects: Sequence[rules.ProjectFacts], now: datetime
) -> dict[str, int]:
    """Upsert checked projects in one transaction, one event per real change; return the counts.

    Rows are written in project-id order, so two imports running at once lock rows in the same
    order and cannot deadlock; the second sees the first's rows as unchanged.
    """
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    async with pool.acquire() as conn, conn.transaction():
        for facts in sorted(projects, key=lambda p: p.project_id):
            project = repository.Project(**dataclasses.asdict(facts))
            change = await repository.upsert_project(conn, project)
            counts[change] += 1
            await _emit(conn, change, project, now)
    return counts


async def _emit(
    conn: db.Connection, change: str, project: repository.Project, now: datetime
) -> None:
    if change == "unchanged":
        return
    event_type = (
        registry_events.ProjectRegistered if change == "created" else registry_events.ProjectUpdated
    )
    await outbox.enqueue(
        conn, event_type(**dataclasses.asdict(project), occurred_at=now), source=SOURCE
    )


async def get_project(
    pool: asyncpg.Pool, project_id: str, actor: policy.Actor
) -> repository.Project:
    """The project if the actor may see it; out of scope answers like a missing project."""
    async with pool.acquire() as conn:
        project = await repository.get_project(conn, project_id)
    if project is None or not rules.can_see(actor, project.district_code, project.enterprise_id):
        raise _project_not_found(project_id)
    return project


async def create_project(
    pool: asyncpg.Pool, facts: rules.ProjectFacts, actor: policy.Actor, now: datetime
) -> repository.Project:
    if not rules.may_register_in(actor, facts.district_code):
        raise Forbidden(
            "out_of_scope",
            Message("只能登记本辖区的物业项目", "a district office registers only in its district"),
        )
    project = repository.Project(**dataclasses.asdict(facts))
    async with pool.acquire() as conn, conn.transaction():
        if not await repository.insert_project(conn, project):
            raise DomainError(
                "project_exists",
                Message(
                    f"项目编号 {facts.project_id} 已登记;修改请使用 PUT",
                    f"project {facts.project_id} is already registered; use PUT to change it",
                ),
                field="project_id",
            )
        await _emit(conn, "created", project, now)
    return project


async def update_project(
    pool: asyncpg.Pool, facts: rules.ProjectFacts, actor: policy.Actor, now: datetime
) -> tuple[repository.Project, str]:
    """Replace a project's facts; return it and 'updated' or 'unchanged' (no event then)."""
    async with pool.acquire() as conn, conn.transaction():
        current = await repository.get_project_for_update(conn, facts.project_id)
        if current is None or not rules.may_register_in(actor, current.district_code):
            raise _project_not_found(facts.project_id)
        if not rules.may_register_in(actor, facts.district_code):
            raise Forbidden(
                "cannot_leave_district",
                Message(
                    "区县物业办不能把项目移出本辖区;请联系市物业办",
                    "a district office cannot move a project out of its district; ask the city office",
                ),
            )
        project = repository.Project(**dataclasses.asdict(facts))
        change = await repository.upsert_project(conn, project)
        await _emit(conn, change, project, now)
    return project, change


def _log_refusal(event: str, path: Path, exc: rules.Invalid) -> None:
    log.error(
        event,
        source=str(path),
        problem_count=exc.total,
        problems=[f"{p.field}: {p.en}" for p in exc.problems[:20]],
    )


# --- checklist templates ------------------------------------------------------------------------


async def load_templates(pool: asyncpg.Pool, directory: Path) -> int:
    """Store the template files of `directory` not stored yet; a changed stored version raises."""
    files = await asyncio.to_thread(
        lambda: [(f.name, f.read_text("utf-8")) for f in sorted(directory.glob("*.json"))]
    )
    bodies = []
    for name, text in files:
        body = json.loads(text)
        if not isinstance(body, dict):
            raise ValueError(f"template file {directory / name} must hold a JSON object")
        problems = rules.template_problems(body)
        if problems:
            exc = rules.InvalidTemplate(problems)
            _log_refusal("template_file_refused", directory / name, exc)
            raise exc
        bodies.append(body)
    added = 0
    async with pool.acquire() as conn, conn.transaction():
        for body in bodies:
            if await repository.save_template_if_new(conn, body):
                added += 1
    return added


async def publish_template(pool: asyncpg.Pool, body: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Publish a new template version (latest + 1); return (the stored body, created?).

    Sending a stored version again with the same body is a harmless retry (created = False);
    with a different body it is refused: a published version is never edited.
    """
    problems = rules.template_problems(body)
    if problems:
        raise rules.InvalidTemplate(problems)
    template_id, version = body["template_id"], body["version"]
    async with pool.acquire() as conn, conn.transaction():
        stored = await repository.get_template_body(conn, template_id, version)
        if stored is None:
            refusal = rules.next_version_refusal(
                version, await repository.latest_template_version(conn, template_id)
            )
            if refusal is not None:
                raise DomainError(
                    "template_version_not_next", Message(refusal.zh, refusal.en), field="version"
                )
            if await repository.insert_template(conn, body):
                return body, True
            # Another publisher stored this version between our read and our insert.
            stored = await repository.get_template_body(conn, template_id, version)
        if stored != body:
            raise DomainError(
                "template_version_exists",
                Message(
                    f"模板 {template_id} 第 {version} 版已发布,不能修改;请发布新版本",
                    f"template {template_id} v{version} is published and cannot be changed; "
                    "publish a new version",
                ),
                field="version",
            )
        return body, False


# --- activity records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordActivity:
    project_id: str
    kind: rules.ActivityKind
    title: str
    held_on: date
    participants: int
    description: str
    photo_refs: tuple[str, ...]
    idempotency_key: str | None


async def record_activity(
    pool: asyncpg.Pool, cmd: RecordActivity, actor: policy.Actor, actor_id: str, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Record a cultural or publicity activity for one of the actor's own projects.

    Return (the record, created?); a repeated Idempotency-Key returns the first record.
    """
    problems = rules.activity_problems(
        title=cmd.title,
        held_on=cmd.held_on,
        description=cmd.description,
        photo_refs=cmd.photo_refs,
        today=now.astimezone(CHINA).date(),
    )
    if problems:
        raise rules.InvalidActivity(problems)
    async with pool.acquire() as conn, conn.transaction():
        if cmd.idempotency_key:
            earlier = await repository.find_activity_by_key(conn, actor_id, cmd.idempotency_key)
            if earlier is not None:
                return earlier, False
        project = await repository.get_project(conn, cmd.project_id)
        if (
            project is None
            or actor.role != "enterprise"
            or actor.enterprise_id != project.enterprise_id
        ):
            raise _project_not_found(cmd.project_id)
        assert actor.enterprise_id is not None
        record_id = str(uuid.uuid4())
        inserted = await repository.insert_activity(
            conn,
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
        if not inserted:  # a concurrent retry with the same key committed first
            assert cmd.idempotency_key is not None
            earlier = await repository.find_activity_by_key(conn, actor_id, cmd.idempotency_key)
            assert earlier is not None
            return earlier, False
        created = await repository.get_activity(conn, record_id)
        assert created is not None
        return created, True


async def list_activities(
    pool: asyncpg.Pool,
    project_id: str,
    actor: policy.Actor,
    *,
    kind: rules.ActivityKind | None,
    limit: int,
) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        project = await repository.get_project(conn, project_id)
        if project is None or not rules.can_see(
            actor, project.district_code, project.enterprise_id
        ):
            raise _project_not_found(project_id)
        return await repository.list_activities(conn, project_id, kind=kind, limit=limit)
