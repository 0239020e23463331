"""Composition root of the inspections service."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from runtime.service import ServiceSpec
from runtime.settings import Settings
from services.inspections.entrypoints.http import router
from services.inspections.service import registry

HERE = Path(__file__).parent


class InspectionsSettings(Settings):
    service_name: str = "inspections"
    registry_file: Path = HERE / "data" / "projects.json"
    templates_dir: Path = HERE / "data" / "templates"


async def _load_data(pool: asyncpg.Pool, settings: Settings) -> None:
    assert isinstance(settings, InspectionsSettings)
    await registry.load_templates(pool, settings.templates_dir)
    await registry.load_projects(pool, settings.registry_file)


SPEC = ServiceSpec(
    name="inspections",
    title="检查与整改服务 Inspections",
    version="0.1.0",
    migrations=HERE / "migrations",
    routers=(router,),
    on_startup=(_load_data,),
)
