"""The inspections service's settings (read from the environment by pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from runtime.settings import Settings

HERE = Path(__file__).parent
REPO = HERE.parents[1]


class InspectionsSettings(Settings):
    service_name: str = "inspections"
    registry_file: Path = HERE / "data" / "projects.json"
    templates_dir: Path = HERE / "data" / "templates"
    calendar_dir: Path = REPO / "reference" / "calendars"
    deadlines_file: Path = HERE / "data" / "deadlines.json"
    # A project with this many complaints filed within the window gets a patrol scheduled.
    patrol_after_complaints: int = 3
    patrol_window_days: int = 30
    patrol_within_days: int = 7
    # A patrol draft not saved for this many days is abandoned: the hourly sweep deletes it and
    # its photos (and any draft photo whose draft is gone).
    patrol_draft_max_age_days: int = Field(default=30, ge=1)
