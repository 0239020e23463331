"""A service's local copy of the project registry (`wuye.registry.projects`).

Complaints, notifications and exposure each keep their own table of projects (who manages a
project, in which district, under which names), fed by ProjectRegistered / ProjectUpdated. The
table belongs to the service (its own migration, its own name); the way it is kept is the same
everywhere and lives here: one upsert per batch, and an older record arriving late (compaction,
a replay) never overwrites a newer one.

The table needs at least these columns: project_id (primary key), project_name, enterprise_id,
enterprise_name, district_code, district_name, occurred_at (timestamptz); `touch` names further
columns set to now() on every change (complaints keeps an updated_at). `located` keeps the
project's street address and WGS-84 latitude/longitude too (columns address, latitude, longitude:
text and double precision, nullable), for a service that finds projects by place (complaints).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from runtime import db
from runtime.unit_of_work import BatchHandler, Delivered, PgUnitOfWork
from schemas.base import Event
from schemas.registry import v1 as registry

ProjectEvent = registry.ProjectRegistered | registry.ProjectUpdated
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True)
class RegistryCopy:
    """The table `table` keeps the latest registry facts of every project."""

    table: str
    touch: tuple[str, ...] = ()
    located: bool = False

    def __post_init__(self) -> None:
        for name in (self.table, *self.touch):
            if not _IDENTIFIER.fullmatch(name):
                raise ValueError(f"not a plain SQL identifier: {name!r}")

    def _statement(self) -> str:
        touched = "".join(f", {column} = now()" for column in self.touch)
        columns, arrays = "", ""
        if self.located:
            columns = ", address, latitude, longitude"
            arrays = ", $8::text[], $9::float8[], $10::float8[]"
            touched += (
                ", address = excluded.address, latitude = excluded.latitude,"
                " longitude = excluded.longitude"
            )
        return f"""
            INSERT INTO {self.table} (project_id, project_name, enterprise_id, enterprise_name,
                                      district_code, district_name, occurred_at{columns})
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                                 $6::text[], $7::timestamptz[]{arrays})
            ON CONFLICT (project_id) DO UPDATE SET
                   project_name = excluded.project_name, enterprise_id = excluded.enterprise_id,
                   enterprise_name = excluded.enterprise_name,
                   district_code = excluded.district_code,
                   district_name = excluded.district_name,
                   occurred_at = excluded.occurred_at{touched}
             WHERE {self.table}.occurred_at <= excluded.occurred_at"""

    async def apply(self, conn: db.Connection, events: Iterable[ProjectEvent]) -> int:
        """Write the events in one statement; return how many rows changed."""
        latest = newest_per_project(events)
        if not latest:
            return 0
        located = (
            [
                [e.address for e in latest],
                [e.latitude for e in latest],
                [e.longitude for e in latest],
            ]
            if self.located
            else []
        )
        status = await conn.execute(
            self._statement(),
            [e.project_id for e in latest],
            [e.project_name for e in latest],
            [e.enterprise_id for e in latest],
            [e.enterprise_name for e in latest],
            [e.district_code for e in latest],
            [e.district_name for e in latest],
            [e.occurred_at for e in latest],
            *located,
        )
        return int(status.split()[-1])

    def handlers(self) -> dict[str, BatchHandler[PgUnitOfWork]]:
        """The consumer's handlers for the registry topic's two event types."""

        async def keep(uow: PgUnitOfWork, batch: Sequence[Delivered[Event]]) -> None:
            events = []
            for delivered in batch:
                if not isinstance(delivered.event, ProjectEvent):
                    raise TypeError(f"not a registry event: {delivered.ce.type}")
                events.append(delivered.event)
            await self.apply(uow.connection, events)

        return {
            registry.ProjectRegistered.ce_type: keep,
            registry.ProjectUpdated.ce_type: keep,
        }


def newest_per_project(events: Iterable[ProjectEvent]) -> list[ProjectEvent]:
    """One event per project: the newest (the later one on a tie, as applying them in order
    would leave it). One INSERT ... ON CONFLICT may not touch a row twice."""
    latest: dict[str, ProjectEvent] = {}
    for event in events:
        seen = latest.get(event.project_id)
        if seen is None or seen.occurred_at <= event.occurred_at:
            latest[event.project_id] = event
    return list(latest.values())
