"""Event handlers of the exposure service, composed per topic: each runs inside the consumer's
transaction. A replay (rebuild.py) runs the same handlers minus the decisions."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping

from runtime import db
from runtime.consumer import Handler
from schemas import catalog, cloudevents
from schemas.base import Event
from schemas.inspections import v1 as inspections
from services.exposure.service import cases, facts


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
        str(uuid.uuid5(uuid.NAMESPACE_URL, f"wuye-evidence:{ce.id}")),  # same on a replay
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


EVIDENCE: Mapping[str, Handler] = {inspections.InspectionFailed.ce_type: on_inspection_failed}


def chain(*maps: Mapping[str, Handler]) -> dict[str, Handler]:
    """One handler per event type that runs every given handler for it, in order, in the
    consumer's one transaction."""
    by_type: dict[str, list[Handler]] = {}
    for m in maps:
        for ce_type, handler in m.items():
            by_type.setdefault(ce_type, []).append(handler)

    def run_all(steps: list[Handler]) -> Handler:
        if len(steps) == 1:
            return steps[0]

        async def handle(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
            for step in steps:
                await step(conn, event, ce)

        return handle

    return {ce_type: run_all(steps) for ce_type, steps in by_type.items()}


def _on(topic: str, handlers: Mapping[str, Handler]) -> dict[str, Handler]:
    on_topic = {cls.ce_type for cls in catalog.events_on(topic)}
    return {t: h for t, h in handlers.items() if t in on_topic}


APPLY: Mapping[str, Handler] = {
    cls.ce_type: cases.apply_from_topic for cls in catalog.events_on("wuye.exposure.events")
}


def replay_handlers(topic: str) -> dict[str, Handler]:
    """What a rebuild applies: the facts and the exposure events, no new decisions."""
    return _on(topic, chain(EVIDENCE, facts.FACT_HANDLERS, APPLY))


def live_handlers(topic: str, deciders: Mapping[str, Handler]) -> dict[str, Handler]:
    """What the live consumers run: the same as a replay, then the decisions."""
    return _on(topic, chain(EVIDENCE, facts.FACT_HANDLERS, APPLY, deciders))
