"""Event handlers of the notifications service: each runs inside the consumer's transaction."""

from __future__ import annotations

import uuid

from runtime import db
from schemas import cloudevents
from schemas.base import Event
from schemas.inspections import v1 as inspections
from services.notifications.domain import notices


async def on_inspection_failed(
    conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
) -> None:
    assert isinstance(event, inspections.InspectionFailed)
    notice = notices.for_inspection_failed(event)
    await conn.execute(
        """INSERT INTO notices (notice_id, cause_event_id, cause_type, kind, recipient_kind,
                  recipient_id, district_code, project_id, title_zh, body_zh, title_en, body_en,
                  correlation_id)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13)
           ON CONFLICT (cause_event_id, recipient_kind, recipient_id, kind) DO NOTHING""",
        str(uuid.uuid4()),
        ce.id,
        ce.type,
        notice.kind,
        notice.recipient_kind,
        notice.recipient_id,
        event.district_code,
        event.project_id,
        notice.title_zh,
        notice.body_zh,
        notice.title_en,
        notice.body_en,
        ce.correlationid,
    )


HANDLERS = {inspections.InspectionFailed.ce_type: on_inspection_failed}
