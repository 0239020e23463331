"""The complaints service's local copy of the project registry, read (asyncpg, plain SQL): by id,
listed for the owners' form, the nearest located project to a point (PostGIS) and the projects
an address names. `runtime.registry_copy` writes the table from the registry topic."""

from __future__ import annotations

from runtime import db
from services.complaints.service.ports import Project

_PROJECT = """SELECT project_id, project_name, district_code, district_name, enterprise_id,
                     enterprise_name, address, latitude, longitude FROM complaint_projects"""


async def get_project(conn: db.Connection, project_id: str) -> Project | None:
    r = await conn.fetchrow(_PROJECT + " WHERE project_id = $1", project_id)
    return None if r is None else Project(**dict(r))


async def list_projects(conn: db.Connection, limit: int) -> list[Project]:
    rows = await conn.fetch(_PROJECT + " ORDER BY district_name, project_name LIMIT $1", limit)
    return [Project(**dict(r)) for r in rows]


def _like(text: str) -> str:
    """`text` as a literal ILIKE pattern matching anywhere (%, _ and \\ taken as themselves)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_projects(conn: db.Connection, text: str, limit: int) -> list[Project]:
    """Projects whose name or address contains `text` (the owners' form's search)."""
    rows = await conn.fetch(
        _PROJECT + " WHERE project_name ILIKE $1 OR address ILIKE $1"
        " ORDER BY project_name, project_id LIMIT $2",
        _like(text),
        limit,
    )
    return [Project(**dict(r)) for r in rows]


async def nearest_project(
    conn: db.Connection, latitude: float, longitude: float, radius_m: float
) -> tuple[Project, float] | None:
    """PostGIS: the nearest located project within the radius (geography: metres on the
    spheroid; ST_DWithin uses the GiST index, <-> orders by distance)."""
    r = await conn.fetchrow(
        """WITH here AS (SELECT ST_SetSRID(ST_MakePoint($2, $1), 4326)::geography AS point)
           SELECT p.project_id, p.project_name, p.district_code, p.district_name,
                  p.enterprise_id, p.enterprise_name, p.address, p.latitude, p.longitude,
                  ST_Distance(p.location, here.point) AS distance_m
             FROM complaint_projects p, here
            WHERE p.location IS NOT NULL AND ST_DWithin(p.location, here.point, $3)
            ORDER BY p.location <-> here.point, p.project_id LIMIT 1""",
        latitude,
        longitude,
        radius_m,
    )
    if r is None:
        return None
    values = dict(r)
    distance = float(values.pop("distance_m"))
    return Project(**values), distance


async def projects_by_address(conn: db.Connection, text: str, limit: int) -> list[Project]:
    """Projects whose address or name (whitespace removed) is part of `text`, longest first."""
    rows = await conn.fetch(
        r"""WITH wanted AS (SELECT regexp_replace($1, '\s', '', 'g') AS text)
            SELECT p.project_id, p.project_name, p.district_code, p.district_name,
                   p.enterprise_id, p.enterprise_name, p.address, p.latitude, p.longitude
              FROM complaint_projects p, wanted
             WHERE (coalesce(p.address, '') <> ''
                    AND strpos(wanted.text, regexp_replace(p.address, '\s', '', 'g')) > 0)
                OR strpos(wanted.text, regexp_replace(p.project_name, '\s', '', 'g')) > 0
             ORDER BY greatest(length(coalesce(p.address, '')), length(p.project_name)) DESC,
                      p.project_id
             LIMIT $2""",
        text,
        limit,
    )
    return [Project(**dict(r)) for r in rows]


class PgProjects:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def get(self, project_id: str) -> Project | None:
        return await get_project(self._conn, project_id)

    async def listed(self, limit: int) -> list[Project]:
        return await list_projects(self._conn, limit)

    async def search(self, text: str, limit: int) -> list[Project]:
        return await search_projects(self._conn, text, limit)

    async def nearest(
        self, latitude: float, longitude: float, radius_m: float
    ) -> tuple[Project, float] | None:
        return await nearest_project(self._conn, latitude, longitude, radius_m)

    async def by_address(self, text: str, limit: int) -> list[Project]:
        return await projects_by_address(self._conn, text, limit)
