"""Reference data from files: complaint categories, the SLA policy and the shared working-day
calendar, read from their files (the JSON parsed by `categories_json` and `sla_json`)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from runtime import provisional_calendar
from runtime.calendar import WorkingCalendar
from services.complaints.adapters import categories_json, sla_json
from services.complaints.domain.rulebook import ComplaintRules

HERE = Path(__file__).parents[1]
DATA = HERE / "data"
CALENDARS = HERE.parents[1] / "reference" / "calendars"


def load_calendar(directory: Path) -> WorkingCalendar:
    """The official files, with provisional years from the holidays library (see there)."""
    return provisional_calendar.load(directory)


def load_rules(
    categories_file: Path = DATA / "categories.json",
    sla_file: Path = DATA / "sla.json",
    calendar_dir: Path = CALENDARS,
    season_dates: Mapping[str, str] | None = None,
) -> ComplaintRules:
    categories = categories_json.parse(json.loads(categories_file.read_text("utf-8")), season_dates)
    policy = sla_json.parse(json.loads(sla_file.read_text("utf-8")), categories.ids)
    return ComplaintRules(categories, policy, load_calendar(calendar_dir))
