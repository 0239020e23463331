"""Composition root of the complaints service.

The foundation runs this process with the shared runtime only (database with outbox and inbox,
outbox relay, /healthz and /readyz): complaint intake, first-inquiry responsibility, SLA clocks and
surveys arrive with issue 4, and their modules will be added beside this file.
"""

from __future__ import annotations

from pathlib import Path

from runtime.service import ServiceSpec
from runtime.settings import Settings

HERE = Path(__file__).parent


class ComplaintsSettings(Settings):
    service_name: str = "complaints"


def spec(settings: Settings) -> ServiceSpec:
    return SPEC


SPEC = ServiceSpec(
    name="complaints",
    title="投诉与满意度服务 Complaints",
    version="0.1.0",
    migrations=HERE / "migrations",
)
