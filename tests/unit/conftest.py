"""Fixtures shared by the unit tests: the reference working-day calendar and the complaints
service's categories, read from the files the services read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime.calendar import WorkingCalendar
from services.complaints.adapters import categories_json
from services.complaints.domain import categories as complaint_categories

ROOT = Path(__file__).resolve().parents[2]
CALENDARS = ROOT / "reference" / "calendars"
COMPLAINTS_DATA = ROOT / "services" / "complaints" / "data"


def calendar_documents(*years: int) -> list[dict[str, Any]]:
    """The reference calendar files (reference/calendars/cn-<year>.json) of `years`, parsed."""
    return [json.loads((CALENDARS / f"cn-{y}.json").read_text(encoding="utf-8")) for y in years]


def categories_data() -> dict[str, Any]:
    """The complaints service's categories.json, parsed (a fresh copy each call)."""
    data: dict[str, Any] = json.loads(
        (COMPLAINTS_DATA / "categories.json").read_text(encoding="utf-8")
    )
    return data


@pytest.fixture(scope="module")
def cal() -> WorkingCalendar:
    """The working-day calendar of 2011 and 2012, the years the unit tests' dates fall in."""
    return WorkingCalendar.from_data(calendar_documents(2011, 2012))


@pytest.fixture(scope="module")
def categories() -> complaint_categories.Categories:
    """The complaints service's categories as the service parses them."""
    return categories_json.parse(categories_data())
