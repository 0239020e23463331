"""What the service loads at startup, after migrations: the checklist templates and the project
registry shipped as files (a bad file stops the start, logged with every problem), and the
reference data the handlers need (the working-day calendar and the deadline policy)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import structlog

from runtime.unit_of_work import Trace
from services.inspections.adapters import reference, registry_files
from services.inspections.domain import problems, project_registry, templates
from services.inspections.service import rectifications, registry_handlers
from services.inspections.service.ports import InspectionsUnitOfWork
from services.inspections.settings import InspectionsSettings

log = structlog.get_logger(__name__)


async def load_rules(settings: InspectionsSettings) -> rectifications.Rules:
    calendar, deadlines = await asyncio.to_thread(
        lambda: (
            reference.load_calendar(settings.calendar_dir),
            reference.load_deadlines(settings.deadlines_file),
        )
    )
    last_year = max(calendar.years)
    if datetime.now(UTC).year >= last_year:
        # Past the last official year deadlines count on the provisional calendar (statutory
        # holidays from the holidays library, no 调休): warn operators early.
        log.warning(
            "calendar_ends_soon",
            last_year=last_year,
            action="add reference/calendars/cn-<next year>.json from the State Council notice",
        )
    return rectifications.Rules(calendar=calendar, deadlines=deadlines)


async def load_templates(units: Callable[[], InspectionsUnitOfWork], directory: Path) -> int:
    """Store the template files of `directory` not stored yet; a changed stored version raises."""
    files = await asyncio.to_thread(registry_files.read_templates, directory)
    for path, body in files:
        problems = templates.template_problems(body)
        if problems:
            exc = templates.InvalidTemplate(problems)
            _log_refusal("template_file_refused", path, exc)
            raise exc
    return await registry_handlers.store_templates(units(), [body for _, body in files])


async def load_projects(units: Callable[[], InspectionsUnitOfWork], path: Path) -> dict[str, int]:
    """Load a registry file (.json or .csv); a bad file raises and writes nothing. The events'
    `occurred_at` is the units' clock (the wall clock at startup)."""
    fmt = registry_files.FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"registry file {path} must end in .json or .csv")
    data = await asyncio.to_thread(path.read_bytes)
    try:
        projects = registry_files.parse_projects(data, fmt)
    except project_registry.InvalidRegistryFile as exc:
        _log_refusal("registry_file_refused", path, exc)
        raise
    counts = await registry_handlers.import_projects(units(), projects, Trace.start())
    log.info("registry_loaded", source=str(path), **counts)
    return counts


def _log_refusal(event: str, path: Path, exc: problems.Invalid) -> None:
    log.error(
        event,
        source=str(path),
        problem_count=exc.total,
        problems=[f"{p.field}: {p.en}" for p in exc.problems[:20]],
    )
