"""Event handlers of the exposure service: each runs inside the consumer's transaction."""

from __future__ import annotations

import json
import uuid

from runtime import db
from schemas import cloudevents
from schemas.base import Event
from schemas.inspections import v1 as inspections


async def on_inspection_failed(
    conn: db.Connection, event: Event, ce: cloudevents.CloudEvent
) -> None:
    assert isinstance(event, inspections.InspectionFailed)
    await conn.execute(
        """INSERT INTO evidence (evidence_id, source_event_id, source_type, project_id, project_name,
                  enterprise_id, enterprise_name, district_code, inspection_id, score, failed_items,
                  occurred_at, correlation_id)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb,$12,$13)
           ON CONFLICT (source_event_id) DO NOTHING""",
        str(uuid.uuid4()),
        ce.id,
        ce.type,
        event.project_id,
        event.project_name,
        event.enterprise_id,
        event.enterprise_name,
        event.district_code,
        event.inspection_id,
        event.score,
        json.dumps([f.model_dump(mode="json") for f in event.failed_items], ensure_ascii=False),
        event.inspected_at,
        ce.correlationid,
    )


HANDLERS = {inspections.InspectionFailed.ce_type: on_inspection_failed}
