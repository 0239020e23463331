"""What the complaint handlers decide with, loaded once at startup (`adapters.reference`): the
categories and their safety rules, the SLA policy and the working-day calendar."""

from __future__ import annotations

from dataclasses import dataclass

from runtime.calendar import WorkingCalendar
from services.complaints.domain.categories import Categories
from services.complaints.domain.sla import SlaPolicy


@dataclass(frozen=True)
class ComplaintRules:
    categories: Categories
    policy: SlaPolicy
    calendar: WorkingCalendar
