"""Reference data from files: the working-day calendar (shared by services as data) and the
deadline policy. Parsed here, validated by the domain."""

from __future__ import annotations

import json
from pathlib import Path

from runtime import provisional_calendar
from runtime.calendar import WorkingCalendar
from services.inspections.domain.rectification import DeadlinePolicy


def load_calendar(directory: Path) -> WorkingCalendar:
    """The official files, with provisional years from the holidays library (see there)."""
    return provisional_calendar.load(directory)


def load_deadlines(path: Path) -> DeadlinePolicy:
    return DeadlinePolicy.from_data(json.loads(path.read_text("utf-8")))
