"""Facts for the public board's grades and statistics: one idempotent upsert per input event.

Each handler runs inside the consumer's transaction and is safe to apply twice (the inbox already
skips redelivered events; these upserts hold even without it). Rows of one order or complaint may be
written by any of its events first, so each upsert sets only the columns its event knows.
Nothing personal is stored: the events carry none, and only ids, categories, counts and times
are kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from runtime import db
from runtime.consumer import Handler
from schemas import cloudevents
from schemas.base import Event
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.registry import v1 as registry
from schemas.surveys import v1 as surveys


async def on_project(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    """Registry copy; an older record arriving late (compaction, replay) never overwrites a newer."""
    assert isinstance(event, registry.ProjectRegistered | registry.ProjectUpdated)
    await conn.execute(
        """INSERT INTO projects (project_id, project_name, enterprise_id, enterprise_name,
                  district_code, district_name, occurred_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (project_id) DO UPDATE SET
                  project_name = excluded.project_name, enterprise_id = excluded.enterprise_id,
                  enterprise_name = excluded.enterprise_name,
                  district_code = excluded.district_code,
                  district_name = excluded.district_name, occurred_at = excluded.occurred_at
            WHERE projects.occurred_at <= excluded.occurred_at""",
        event.project_id,
        event.project_name,
        event.enterprise_id,
        event.enterprise_name,
        event.district_code,
        event.district_name,
        event.occurred_at,
    )


async def on_inspection_completed(
    conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
) -> None:
    assert isinstance(event, inspections.InspectionCompleted)
    await conn.execute(
        """INSERT INTO inspection_facts (inspection_id, project_id, enterprise_id, district_code,
                  kind, score, pass_mark, passed, inspected_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (inspection_id) DO NOTHING""",
        event.inspection_id,
        event.project_id,
        event.enterprise_id,
        event.district_code,
        event.kind,
        event.score,
        event.pass_mark,
        event.passed,
        event.inspected_at,
    )


_OrderEvent = (
    inspections.RectificationOrdered
    | inspections.RectificationVerified
    | inspections.RectificationOverdue
    | inspections.RectificationRejected
)
_ComplaintEvent = (
    complaints.ComplaintFiled | complaints.ComplaintOverdue | complaints.ComplaintClosed
)


def _order_args(event: _OrderEvent) -> tuple[str, str, str, str, datetime]:
    return (
        event.order_id,
        event.project_id,
        event.enterprise_id,
        event.district_code,
        event.deadline,
    )


async def on_rectification_ordered(
    conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
) -> None:
    assert isinstance(event, inspections.RectificationOrdered)
    await conn.execute(
        """INSERT INTO order_facts (order_id, project_id, enterprise_id, district_code, deadline,
                  ordered_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (order_id) DO UPDATE SET ordered_at = excluded.ordered_at""",
        *_order_args(event),
        event.ordered_at,
    )


async def on_rectification_verified(
    conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
) -> None:
    assert isinstance(event, inspections.RectificationVerified)
    await conn.execute(
        """INSERT INTO order_facts (order_id, project_id, enterprise_id, district_code, deadline,
                  verified_at, on_time)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (order_id) DO UPDATE SET
                  verified_at = excluded.verified_at, on_time = excluded.on_time""",
        *_order_args(event),
        event.verified_at,
        event.on_time,
    )


async def on_rectification_overdue(
    conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
) -> None:
    assert isinstance(event, inspections.RectificationOverdue)
    await conn.execute(
        """INSERT INTO order_facts (order_id, project_id, enterprise_id, district_code, deadline,
                  overdue, overdue_at)
           VALUES ($1, $2, $3, $4, $5, true, $6)
           ON CONFLICT (order_id) DO UPDATE SET overdue = true, overdue_at = excluded.overdue_at""",
        *_order_args(event),
        event.detected_at,
    )


async def on_rectification_rejected(
    conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
) -> None:
    """Only the final rejection (整改不到位) is a fact here: it closes the order as not rectified,
    possibly without it ever being overdue (submitted in time, rejected twice)."""
    assert isinstance(event, inspections.RectificationRejected)
    if not event.inadequate:
        return
    await conn.execute(
        """INSERT INTO order_facts (order_id, project_id, enterprise_id, district_code, deadline,
                  inadequate_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (order_id) DO UPDATE SET inadequate_at = excluded.inadequate_at""",
        *_order_args(event),
        event.rejected_at,
    )


def _complaint_args(event: _ComplaintEvent) -> tuple[str, str, str, str, str]:
    return (
        event.complaint_id,
        event.project_id,
        event.enterprise_id,
        event.district_code,
        event.category,
    )


async def on_complaint_filed(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    assert isinstance(event, complaints.ComplaintFiled)
    await conn.execute(
        """INSERT INTO complaint_facts (complaint_id, project_id, enterprise_id, district_code,
                  category, filed_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (complaint_id) DO UPDATE SET filed_at = excluded.filed_at""",
        *_complaint_args(event),
        event.filed_at,
    )


async def on_complaint_overdue(
    conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
) -> None:
    """Only the completion clock (办结时限) counts for 按期办结率; the acceptance clock does not."""
    assert isinstance(event, complaints.ComplaintOverdue)
    if event.clock != "completion":
        return
    await conn.execute(
        """INSERT INTO complaint_facts (complaint_id, project_id, enterprise_id, district_code,
                  category, completion_overdue)
           VALUES ($1, $2, $3, $4, $5, true)
           ON CONFLICT (complaint_id) DO UPDATE SET completion_overdue = true""",
        *_complaint_args(event),
    )


async def on_complaint_closed(
    conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
) -> None:
    assert isinstance(event, complaints.ComplaintClosed)
    await conn.execute(
        """INSERT INTO complaint_facts (complaint_id, project_id, enterprise_id, district_code,
                  category, closed_at)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (complaint_id) DO UPDATE SET closed_at = excluded.closed_at""",
        *_complaint_args(event),
        event.closed_at,
    )


async def on_survey_closed(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    assert isinstance(event, surveys.SurveyClosed)
    await conn.execute(
        """INSERT INTO survey_facts (survey_id, project_id, enterprise_id, district_code,
                  households, responses, coverage, satisfaction_rate, closed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (survey_id) DO NOTHING""",
        event.survey_id,
        event.project_id,
        event.enterprise_id,
        event.district_code,
        event.households,
        event.responses,
        event.coverage,
        event.satisfaction_rate,
        event.closed_at,
    )


async def on_notice_issued(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    """A criticism notice about a rectification order: the evidence a case needs to be published."""
    assert isinstance(event, notifications.NoticeIssued)
    if event.kind != "criticism" or event.subject_kind != "rectification_order":
        return
    if event.project_id is None:
        return
    await conn.execute(
        """INSERT INTO criticism_facts (notice_id, order_id, notice_no, project_id, issued_at)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (notice_id) DO NOTHING""",
        event.notice_id,
        event.subject_id,
        event.notice_no,
        event.project_id,
        event.issued_at,
    )


FACT_HANDLERS: Mapping[str, Handler] = {
    registry.ProjectRegistered.ce_type: on_project,
    registry.ProjectUpdated.ce_type: on_project,
    inspections.InspectionCompleted.ce_type: on_inspection_completed,
    inspections.RectificationOrdered.ce_type: on_rectification_ordered,
    inspections.RectificationVerified.ce_type: on_rectification_verified,
    inspections.RectificationOverdue.ce_type: on_rectification_overdue,
    inspections.RectificationRejected.ce_type: on_rectification_rejected,
    complaints.ComplaintFiled.ce_type: on_complaint_filed,
    complaints.ComplaintOverdue.ce_type: on_complaint_overdue,
    complaints.ComplaintClosed.ce_type: on_complaint_closed,
    surveys.SurveyClosed.ce_type: on_survey_closed,
    notifications.NoticeIssued.ce_type: on_notice_issued,
}
"""ce_type -> handler, for every event the board's facts are folded from."""

FACT_TOPICS: tuple[str, ...] = (
    registry.ProjectRegistered.topic,
    inspections.InspectionCompleted.topic,
    complaints.ComplaintFiled.topic,
    surveys.SurveyClosed.topic,
    notifications.NoticeIssued.topic,
)
"""The topics FACT_HANDLERS read (read them from the beginning: the facts are a full fold)."""
