"""Event handlers of the notifications service: each runs inside the consumer's transaction."""

from __future__ import annotations

from collections.abc import Mapping

from runtime import db
from runtime.consumer import Handler
from runtime.scheduler import Clock
from schemas import catalog, cloudevents
from schemas.base import Event
from schemas.registry import v1 as registry
from services.notifications.domain.rules import RuleBook
from services.notifications.service import issuing


async def on_project(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    """Keep the registry copy: project -> enterprise and district, with their names. An older
    record arriving late (compaction, replay) never overwrites a newer one."""
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


REGISTRY: Mapping[str, Handler] = {
    registry.ProjectRegistered.ce_type: on_project,
    registry.ProjectUpdated.ce_type: on_project,
}


def for_topic(topic: str, book: RuleBook, clock: Clock) -> Mapping[str, Handler]:
    """The rule handler for every event type on `topic` that the rules react to."""
    handle = issuing.handler(book, clock)
    wanted = book.event_types()
    return {cls.ce_type: handle for cls in catalog.events_on(topic) if cls.ce_type in wanted}
