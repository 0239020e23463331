"""Load the project registry and checklist templates from data files.

Each new or changed project is written together with its ProjectRegistered / ProjectUpdated event,
so every other service can build its own copy from the compacted registry topic.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import structlog

from runtime import outbox
from schemas.registry import v1 as registry_events
from services.inspections.adapters import repository

log = structlog.get_logger(__name__)
SOURCE = "/wuye/inspections/registry"


async def load_projects(pool: asyncpg.Pool, path: Path) -> dict[str, int]:
    data = json.loads(await asyncio.to_thread(path.read_text, encoding="utf-8"))
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    for entry in data["projects"]:
        project = repository.Project(**entry)
        async with pool.acquire() as conn, conn.transaction():
            change = await repository.upsert_project(conn, project)
            counts[change] += 1
            if change == "unchanged":
                continue
            event_type = (
                registry_events.ProjectRegistered
                if change == "created"
                else registry_events.ProjectUpdated
            )
            await outbox.enqueue(
                conn, event_type(**entry, occurred_at=datetime.now(UTC)), source=SOURCE
            )
    log.info("registry_loaded", source=str(path), **counts)
    return counts


async def load_templates(pool: asyncpg.Pool, directory: Path) -> int:
    bodies = await asyncio.to_thread(
        lambda: [json.loads(f.read_text("utf-8")) for f in sorted(directory.glob("*.json"))]
    )
    added = 0
    async with pool.acquire() as conn, conn.transaction():
        for body in bodies:
            if await repository.save_template_if_new(conn, body):
                added += 1
    return added
