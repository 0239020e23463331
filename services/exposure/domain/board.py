"""What the public board shows of a project, an enterprise, a district: the read model's rows,
computed by the adapters' queries (adapters/board_stats.py) and served by the board's pages and
the statistics API. Plain fields only, so `dataclasses.asdict` (and FastAPI) serialise them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from services.exposure.domain import grades

By = Literal["district", "enterprise"]


@dataclass(frozen=True)
class ProjectGrade:
    """A registered project, its grade inputs with the counts behind each rate, and its grade.
    Plain fields only, so `dataclasses.asdict` (and FastAPI) serialise everything."""

    project_id: str
    project_name: str
    enterprise_id: str
    enterprise_name: str
    district_code: str
    district_name: str
    inspections: int
    mean_score: float | None
    orders_due: int
    orders_on_time: int
    on_time_rectification_rate: float | None
    complaints_due: int
    complaints_on_time: int
    complaint_on_time_rate: float | None
    satisfaction_rate: float | None
    survey_responses: int
    """Responses of the survey the satisfaction rate comes from (0 without one)."""
    survey_closed_at: datetime | None
    published_cases: int
    grade: grades.Grade
    assessment: grades.Assessment
    """The grade with its bilingual reasons (`assessment.reasons`)."""


@dataclass(frozen=True)
class EnterpriseGrade:
    enterprise_id: str
    enterprise_name: str
    projects: int
    green: int
    yellow: int
    red: int
    grade: grades.Grade
    assessment: grades.Assessment


@dataclass(frozen=True)
class CampaignStats:
    """Campaign statistics of one district or enterprise, with the counts behind each rate.
    Plain fields only, so `dataclasses.asdict` (and FastAPI) serialise everything."""

    by: By
    key: str
    """District code (by district) or enterprise id (by enterprise)."""
    name: str
    """District or enterprise name from the registry (the key itself if none is registered)."""
    projects: int
    """Registered projects (now)."""
    inspections: int
    mean_score: float | None
    orders_due: int
    orders_on_time: int
    on_time_rectification_rate: float | None
    """按期整改率 orders_on_time / orders_due."""
    complaints_due: int
    complaints_on_time: int
    complaint_on_time_rate: float | None
    """按期办结率 complaints_on_time / complaints_due."""
    surveys_counted: int
    """Projects whose latest survey with responses enters the satisfaction rate."""
    survey_responses: int
    """Responses of those surveys: the weights of the satisfaction rate."""
    satisfaction_rate: float | None
    """满意率 responses-weighted mean of those surveys' satisfaction rates."""
    surveyed_projects: int
    """Registered projects with a closed survey by their current enterprise."""
    survey_coverage: float | None
    """调查覆盖率 surveyed_projects / projects."""


@dataclass(frozen=True)
class PlanCount:
    """Activity plans of one district's campaign: the district office's own and those of the
    enterprises running a project there (the same rule as the inspections service's
    `required_submitters`), submitted against due."""

    submitted: int
    due: int


@dataclass(frozen=True)
class CampaignPlans:
    """The campaign seen last and, per district code, its plans submitted against due."""

    campaign_id: str
    title_zh: str | None
    deadline_on: date | None
    by_district: dict[str, PlanCount]
