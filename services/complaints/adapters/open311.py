"""Read queries behind the public Open311 GeoReport v2 endpoints (asyncpg, plain SQL).

They never select the contact columns: what comes back is the complaint document and the
project's public facts (name, district, enterprise name, the project's own location), nothing
personal.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from runtime import db
from services.complaints.adapters.complaints import from_doc
from services.complaints.service.ports import PublicRow

_SELECT = """
SELECT c.ticket_no, c.doc, p.project_name, p.district_name, p.latitude, p.longitude,
       COALESCE((SELECT h.enterprise_name FROM complaint_projects h
                 WHERE h.enterprise_id = c.handling_org LIMIT 1), p.enterprise_name) AS agency_name
  FROM complaints c JOIN complaint_projects p ON p.project_id = c.project_id"""


async def by_ids(conn: db.Connection, ids: Sequence[str]) -> list[PublicRow]:
    rows = await conn.fetch(
        _SELECT + " WHERE c.complaint_id = ANY($1::text[]) ORDER BY c.filed_at DESC", list(ids)
    )
    return [_public(r) for r in rows]


async def search(
    conn: db.Connection,
    *,
    service_codes: Sequence[str] | None,
    closed: bool | None,
    start: datetime,
    end: datetime,
    limit: int,
) -> list[PublicRow]:
    """Complaints filed in [start, end], newest first; `closed` None means either state."""
    rows = await conn.fetch(
        _SELECT
        + """ WHERE c.filed_at >= $1 AND c.filed_at <= $2
                AND ($3::text[] IS NULL OR c.category = ANY($3::text[]))
                AND ($4::boolean IS NULL OR (c.status = 'closed') = $4)
              ORDER BY c.filed_at DESC, c.complaint_id LIMIT $5""",
        start,
        end,
        None if service_codes is None else list(service_codes),
        closed,
        limit,
    )
    return [_public(r) for r in rows]


async def id_for_ticket(conn: db.Connection, ticket_no: str) -> str | None:
    value = await conn.fetchval(
        "SELECT complaint_id FROM complaints WHERE ticket_no = $1", ticket_no
    )
    return None if value is None else str(value)


def _public(r: Any) -> PublicRow:
    return PublicRow(
        complaint=from_doc(json.loads(r["doc"]), None),
        ticket_no=r["ticket_no"],
        project_name=r["project_name"],
        district_name=r["district_name"],
        agency_name=r["agency_name"],
        latitude=r["latitude"],
        longitude=r["longitude"],
    )
