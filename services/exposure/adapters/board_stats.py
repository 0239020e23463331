"""Queries behind the public board's grades and campaign statistics (asyncpg, plain SQL).

Everything is computed from the fact tables (migrations/0003_facts.sql) and the published cases
(`cases.status = 'published'`), set-based: one query per page, aggregating each fact table once and
joining by key, so a city of ~5,000 projects is a handful of index or sequential scans.

Attribution:
- grades are per registered project and judge its *current* enterprise: only facts whose
  enterprise_id is the project's enterprise in the registry count (after a handover the new
  enterprise does not inherit the old one's record), and so do only cases against that enterprise;
- statistics group each fact by the district and enterprise the fact itself carries (the one at
  the time of the inspection, order, complaint or survey), so district totals are the sums of
  their enterprises'; survey coverage is over the projects registered now (a project counts as
  surveyed if its current enterprise has closed a survey of it).

Definitions (shared with `domain.grades`): an order is due once verified, overdue or closed as
整改不到位, and on time if verified on time and never overdue; a complaint is due once closed or
past its completion deadline, and on time if closed and never past it; satisfaction is the
responses-weighted mean of the latest survey with responses per project.

Kept whole on purpose: the grade and statistics queries, the rows they return and the CSV of those
rows change together, whenever a definition above changes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

import asyncpg

from runtime import db
from services.exposure.domain import grades
from services.exposure.domain.board import By, CampaignStats, EnterpriseGrade, ProjectGrade

# --------------------------------------------------------------------------------------- grades


_PROJECT_GRADES = """
WITH p AS (
    SELECT project_id, project_name, enterprise_id, enterprise_name, district_code, district_name
      FROM projects
     WHERE ($1::text IS NULL OR district_code = $1)
       AND ($2::text IS NULL OR enterprise_id = $2)
       AND ($3::text IS NULL OR project_id = $3)
),
insp AS (
    SELECT i.project_id, count(*) AS inspections, avg(i.score)::float8 AS mean_score
      FROM inspection_facts i JOIN p USING (project_id, enterprise_id)
     GROUP BY i.project_id
),
ord AS (
    SELECT o.project_id,
           count(*) FILTER (WHERE o.verified_at IS NOT NULL OR o.overdue
                                  OR o.inadequate_at IS NOT NULL) AS orders_due,
           count(*) FILTER (WHERE o.verified_at IS NOT NULL AND o.on_time
                                  AND NOT o.overdue) AS orders_on_time
      FROM order_facts o JOIN p USING (project_id, enterprise_id)
     GROUP BY o.project_id
),
cmp AS (
    SELECT c.project_id,
           count(*) FILTER (WHERE c.closed_at IS NOT NULL OR c.completion_overdue)
               AS complaints_due,
           count(*) FILTER (WHERE c.closed_at IS NOT NULL AND NOT c.completion_overdue)
               AS complaints_on_time
      FROM complaint_facts c JOIN p USING (project_id, enterprise_id)
     GROUP BY c.project_id
),
srv AS (
    SELECT DISTINCT ON (s.project_id) s.project_id, s.satisfaction_rate, s.responses, s.closed_at
      FROM survey_facts s JOIN p USING (project_id, enterprise_id)
     WHERE s.satisfaction_rate IS NOT NULL AND s.responses > 0
     ORDER BY s.project_id, s.closed_at DESC, s.survey_id DESC
),
cs AS (
    SELECT c.project_id, count(*) AS published_cases
      FROM cases c JOIN p USING (project_id, enterprise_id)
     WHERE c.status = 'published'
     GROUP BY c.project_id
)
SELECT p.project_id, p.project_name, p.enterprise_id, p.enterprise_name, p.district_code,
       p.district_name,
       coalesce(insp.inspections, 0) AS inspections, insp.mean_score,
       coalesce(ord.orders_due, 0) AS orders_due, coalesce(ord.orders_on_time, 0) AS orders_on_time,
       coalesce(cmp.complaints_due, 0) AS complaints_due,
       coalesce(cmp.complaints_on_time, 0) AS complaints_on_time,
       srv.satisfaction_rate, coalesce(srv.responses, 0) AS survey_responses,
       srv.closed_at AS survey_closed_at,
       coalesce(cs.published_cases, 0) AS published_cases
  FROM p
  LEFT JOIN insp USING (project_id)
  LEFT JOIN ord USING (project_id)
  LEFT JOIN cmp USING (project_id)
  LEFT JOIN srv USING (project_id)
  LEFT JOIN cs USING (project_id)
 ORDER BY p.district_code, p.enterprise_id, p.project_id
"""


async def project_grades(
    conn: db.Connection,
    *,
    district_code: str | None = None,
    enterprise_id: str | None = None,
    project_id: str | None = None,
) -> list[ProjectGrade]:
    """Every registered project (optionally of one district, enterprise or just one project) with
    its grade inputs and grade, ordered by district, enterprise, project id."""
    rows = await conn.fetch(_PROJECT_GRADES, district_code, enterprise_id, project_id)
    out: list[ProjectGrade] = []
    for r in rows:
        inputs = grades.GradeInputs(
            mean_score=r["mean_score"],
            on_time_rectification_rate=grades.rate(r["orders_on_time"], r["orders_due"]),
            on_time_completion_rate=grades.rate(r["complaints_on_time"], r["complaints_due"]),
            satisfaction_rate=r["satisfaction_rate"],
            published_case=r["published_cases"] > 0,
        )
        assessment = grades.grade_project(inputs)
        out.append(
            ProjectGrade(
                project_id=r["project_id"],
                project_name=r["project_name"],
                enterprise_id=r["enterprise_id"],
                enterprise_name=r["enterprise_name"],
                district_code=r["district_code"],
                district_name=r["district_name"],
                inspections=r["inspections"],
                mean_score=r["mean_score"],
                orders_due=r["orders_due"],
                orders_on_time=r["orders_on_time"],
                on_time_rectification_rate=inputs.on_time_rectification_rate,
                complaints_due=r["complaints_due"],
                complaints_on_time=r["complaints_on_time"],
                complaint_on_time_rate=inputs.on_time_completion_rate,
                satisfaction_rate=r["satisfaction_rate"],
                survey_responses=r["survey_responses"],
                survey_closed_at=r["survey_closed_at"],
                published_cases=r["published_cases"],
                grade=assessment.grade,
                assessment=assessment,
            )
        )
    return out


def enterprise_grades_of(projects: Iterable[ProjectGrade]) -> list[EnterpriseGrade]:
    """Fold project grades into enterprise grades (ordered by enterprise id), e.g. to reuse the
    projects a page already fetched."""
    by_enterprise: dict[str, list[ProjectGrade]] = {}
    for p in projects:
        by_enterprise.setdefault(p.enterprise_id, []).append(p)
    out: list[EnterpriseGrade] = []
    for enterprise_id in sorted(by_enterprise):
        own = by_enterprise[enterprise_id]
        count = {g: sum(1 for p in own if p.grade == g) for g in ("green", "yellow", "red")}
        assessment = grades.grade_enterprise(p.assessment for p in own)
        out.append(
            EnterpriseGrade(
                enterprise_id=enterprise_id,
                enterprise_name=own[0].enterprise_name,
                projects=len(own),
                green=count["green"],
                yellow=count["yellow"],
                red=count["red"],
                grade=assessment.grade,
                assessment=assessment,
            )
        )
    return out


async def enterprise_grades(
    conn: db.Connection, *, district_code: str | None = None, enterprise_id: str | None = None
) -> list[EnterpriseGrade]:
    """Enterprises with registered projects and their grades; with `district_code`, graded on
    their projects in that district only."""
    return enterprise_grades_of(
        await project_grades(conn, district_code=district_code, enterprise_id=enterprise_id)
    )


# ---------------------------------------------------------------------------------- statistics


# `{key}` / `{name}` are fixed column names, `{latest}` a fixed DISTINCT ON list: constant SQL.
# $1 is an optional district filter (always NULL for the district view).
_STATS = """
WITH reg AS (
    SELECT p.{key} AS key,
           (array_agg(p.{name} ORDER BY p.occurred_at DESC, p.project_id))[1] AS name,
           count(*) AS projects,
           count(*) FILTER (WHERE EXISTS (
               SELECT 1 FROM survey_facts s
                WHERE s.project_id = p.project_id AND s.enterprise_id = p.enterprise_id
           )) AS surveyed_projects
      FROM projects p
     WHERE $1::text IS NULL OR p.district_code = $1
     GROUP BY p.{key}
),
insp AS (
    SELECT {key} AS key, count(*) AS inspections, avg(score)::float8 AS mean_score
      FROM inspection_facts
     WHERE $1::text IS NULL OR district_code = $1
     GROUP BY {key}
),
ord AS (
    SELECT {key} AS key,
           count(*) FILTER (WHERE verified_at IS NOT NULL OR overdue
                                  OR inadequate_at IS NOT NULL) AS orders_due,
           count(*) FILTER (WHERE verified_at IS NOT NULL AND on_time AND NOT overdue)
               AS orders_on_time
      FROM order_facts
     WHERE $1::text IS NULL OR district_code = $1
     GROUP BY {key}
),
cmp AS (
    SELECT {key} AS key,
           count(*) FILTER (WHERE closed_at IS NOT NULL OR completion_overdue) AS complaints_due,
           count(*) FILTER (WHERE closed_at IS NOT NULL AND NOT completion_overdue)
               AS complaints_on_time
      FROM complaint_facts
     WHERE $1::text IS NULL OR district_code = $1
     GROUP BY {key}
),
srv AS (
    SELECT key, count(*) AS surveys_counted, sum(responses) AS survey_responses,
           sum(satisfaction_rate * responses) AS satisfied
      FROM (SELECT DISTINCT ON ({latest}) {key} AS key, responses, satisfaction_rate
              FROM survey_facts
             WHERE satisfaction_rate IS NOT NULL AND responses > 0
               AND ($1::text IS NULL OR district_code = $1)
             ORDER BY {latest}, closed_at DESC, survey_id DESC) latest
     GROUP BY key
),
keys AS (
    SELECT key FROM reg UNION SELECT key FROM insp UNION SELECT key FROM ord
    UNION SELECT key FROM cmp UNION SELECT key FROM srv
)
SELECT keys.key, reg.name,
       coalesce(reg.projects, 0) AS projects,
       coalesce(reg.surveyed_projects, 0) AS surveyed_projects,
       coalesce(insp.inspections, 0) AS inspections, insp.mean_score,
       coalesce(ord.orders_due, 0) AS orders_due, coalesce(ord.orders_on_time, 0) AS orders_on_time,
       coalesce(cmp.complaints_due, 0) AS complaints_due,
       coalesce(cmp.complaints_on_time, 0) AS complaints_on_time,
       coalesce(srv.surveys_counted, 0) AS surveys_counted,
       coalesce(srv.survey_responses, 0) AS survey_responses, srv.satisfied
  FROM keys
  LEFT JOIN reg USING (key)
  LEFT JOIN insp USING (key)
  LEFT JOIN ord USING (key)
  LEFT JOIN cmp USING (key)
  LEFT JOIN srv USING (key)
 ORDER BY keys.key
"""

_DISTRICT_STATS = _STATS.format(key="district_code", name="district_name", latest="project_id")
_ENTERPRISE_STATS = _STATS.format(
    key="enterprise_id", name="enterprise_name", latest="project_id, enterprise_id"
)


def _stats(by: By, rows: Iterable[asyncpg.Record]) -> list[CampaignStats]:
    out: list[CampaignStats] = []
    for r in rows:
        responses = int(r["survey_responses"])
        out.append(
            CampaignStats(
                by=by,
                key=r["key"],
                name=r["name"] or r["key"],
                projects=r["projects"],
                inspections=r["inspections"],
                mean_score=r["mean_score"],
                orders_due=r["orders_due"],
                orders_on_time=r["orders_on_time"],
                on_time_rectification_rate=grades.rate(r["orders_on_time"], r["orders_due"]),
                complaints_due=r["complaints_due"],
                complaints_on_time=r["complaints_on_time"],
                complaint_on_time_rate=grades.rate(r["complaints_on_time"], r["complaints_due"]),
                surveys_counted=r["surveys_counted"],
                survey_responses=responses,
                satisfaction_rate=(
                    min(1.0, max(0.0, r["satisfied"] / responses)) if responses else None
                ),
                surveyed_projects=r["surveyed_projects"],
                survey_coverage=grades.rate(r["surveyed_projects"], r["projects"]),
            )
        )
    return out


async def district_stats(conn: db.Connection) -> list[CampaignStats]:
    """Campaign statistics per district (every district with a registered project or a fact),
    ordered by district code."""
    return _stats("district", await conn.fetch(_DISTRICT_STATS, None))


async def enterprise_stats(
    conn: db.Connection, *, district_code: str | None = None
) -> list[CampaignStats]:
    """Campaign statistics per enterprise, ordered by enterprise id; with `district_code`, only
    its projects and facts in that district."""
    return _stats("enterprise", await conn.fetch(_ENTERPRISE_STATS, district_code))


# ----------------------------------------------------------------------------------------- CSV

_KEY_COLUMNS: dict[By, tuple[str, str]] = {
    "district": ("区划代码 District code", "区名称 District"),
    "enterprise": ("企业编号 Enterprise id", "企业名称 Enterprise"),
}
_COLUMNS = (
    "登记项目数 Registered projects",
    "检查次数 Inspections",
    "检查平均得分 Mean inspection score",
    "到期整改单 Orders due",
    "按期整改单 Orders rectified on time",
    "按期整改率（%） On-time rectification (%)",
    "到期投诉 Complaints due",
    "按期办结投诉 Complaints completed on time",
    "按期办结率（%） On-time completion (%)",
    "计入满意率的调查 Surveys counted",
    "答卷数 Responses",
    "满意率（%） Satisfaction (%)",
    "已调查项目 Surveyed projects",
    "调查覆盖率（%） Survey coverage (%)",
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: str | int | float | None, *, percent: bool = False) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value * 100:.1f}" if percent else f"{value:.1f}"
    text = str(value)
    # CSV formula injection: a spreadsheet would run a cell starting with one of these.
    return "'" + text if text.startswith(_FORMULA_START) else text


def stats_csv(rows: Sequence[CampaignStats], by: By, *, excel_bom: bool = False) -> str:
    """The statistics as CSV text (encode as UTF-8): a header row of Chinese + English column
    names, rates in percent with one decimal, empty cells for no data. `excel_bom` prefixes a
    byte-order mark so Excel on Windows reads the Chinese correctly."""
    if any(s.by != by for s in rows):
        raise ValueError(f"stats_csv(by={by!r}) was given statistics of another kind")
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # quotes commas, quotes and newlines; \r\n line ends (RFC 4180)
    writer.writerow(_KEY_COLUMNS[by] + _COLUMNS)
    for s in rows:
        writer.writerow(
            [
                _cell(s.key),
                _cell(s.name),
                _cell(s.projects),
                _cell(s.inspections),
                _cell(s.mean_score),
                _cell(s.orders_due),
                _cell(s.orders_on_time),
                _cell(s.on_time_rectification_rate, percent=True),
                _cell(s.complaints_due),
                _cell(s.complaints_on_time),
                _cell(s.complaint_on_time_rate, percent=True),
                _cell(s.surveys_counted),
                _cell(s.survey_responses),
                _cell(s.satisfaction_rate, percent=True),
                _cell(s.surveyed_projects),
                _cell(s.survey_coverage, percent=True),
            ]
        )
    return ("\ufeff" if excel_bom else "") + buffer.getvalue()
