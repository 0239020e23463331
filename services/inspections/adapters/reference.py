"""Reference data from files: the working-day calendar (shared by services as data) and the
deadline policy. Parsed here, validated by the domain."""

from __future__ import annotations

import json
from pathlib import Path

from runtime.calendar import WorkingCalendar
from services.inspections.domain.rectification import DeadlinePolicy


def load_calendar(directory: Path) -> WorkingCalendar:
    files = sorted(directory.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no calendar files in {directory}")
    return WorkingCalendar.from_data(json.loads(f.read_text("utf-8")) for f in files)


def load_deadlines(path: Path) -> DeadlinePolicy:
    return DeadlinePolicy.from_data(json.loads(path.read_text("utf-8")))
