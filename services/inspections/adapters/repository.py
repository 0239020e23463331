"""asyncpg access to the inspections database: wire rows <-> domain objects, no rules."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from runtime import db
from services.inspections.domain import checklist


@dataclass(frozen=True)
class Project:
    project_id: str
    project_name: str
    address: str
    district_code: str
    district_name: str
    enterprise_id: str
    enterprise_name: str
    service_grade: str


PROJECT_FIELDS = tuple(Project.__dataclass_fields__)


async def get_project(conn: db.Connection, project_id: str) -> Project | None:
    row = await conn.fetchrow(
        f"SELECT {', '.join(PROJECT_FIELDS)} FROM projects WHERE project_id = $1", project_id
    )
    return Project(**dict(row)) if row else None


async def upsert_project(conn: db.Connection, p: Project) -> str:
    """Insert or update in one statement; return 'created', 'updated' or 'unchanged'.

    Atomic, so two replicas loading the registry at once emit one event per real change.
    """
    columns = ", ".join(PROJECT_FIELDS)
    excluded = ", ".join(f"EXCLUDED.{f}" for f in PROJECT_FIELDS)
    assignments = ", ".join(f"{f} = EXCLUDED.{f}" for f in PROJECT_FIELDS[1:])
    inserted = await conn.fetchval(
        f"""INSERT INTO projects ({columns}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
            ON CONFLICT (project_id) DO UPDATE SET {assignments}, updated_at = now()
             WHERE ({", ".join(f"projects.{f}" for f in PROJECT_FIELDS)}) IS DISTINCT FROM ({excluded})
            RETURNING (xmax = 0)""",
        *(getattr(p, f) for f in PROJECT_FIELDS),
    )
    if inserted is None:
        return "unchanged"
    return "created" if inserted else "updated"


async def list_projects(
    conn: db.Connection, *, district_code: str | None, enterprise_id: str | None
) -> list[Project]:
    rows = await conn.fetch(
        f"""SELECT {", ".join(PROJECT_FIELDS)} FROM projects
             WHERE ($1::text IS NULL OR district_code = $1)
               AND ($2::text IS NULL OR enterprise_id = $2)
             ORDER BY project_id""",
        district_code,
        enterprise_id,
    )
    return [Project(**dict(r)) for r in rows]


def template_from_json(body: dict[str, Any]) -> checklist.Template:
    return checklist.Template(
        template_id=body["template_id"],
        version=int(body["version"]),
        title_zh=body["title_zh"],
        title_en=body["title_en"],
        pass_mark=float(body["pass_mark"]),
        items=tuple(
            checklist.Item(
                item_id=i["item_id"],
                group=i["group"],
                title_zh=i["title_zh"],
                title_en=i["title_en"],
                weight=float(i["weight"]),
                severity=i["severity"],
            )
            for i in body["items"]
        ),
    )


async def save_template_if_new(conn: db.Connection, body: dict[str, Any]) -> bool:
    """Store a template version once; a different body under an existing version is refused."""
    existing = await conn.fetchval(
        "SELECT body FROM checklist_templates WHERE template_id = $1 AND version = $2",
        body["template_id"],
        int(body["version"]),
    )
    if existing is not None:
        if json.loads(existing) != body:
            raise ValueError(
                f"template {body['template_id']} v{body['version']} differs from the stored one; "
                "publish a new version instead of editing"
            )
        return False
    await conn.execute(
        "INSERT INTO checklist_templates (template_id, version, body) VALUES ($1, $2, $3::jsonb)",
        body["template_id"],
        int(body["version"]),
        json.dumps(body, ensure_ascii=False),
    )
    return True


async def get_template(
    conn: db.Connection, template_id: str, version: int | None
) -> checklist.Template | None:
    body = await conn.fetchval(
        """SELECT body FROM checklist_templates WHERE template_id = $1
             AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1""",
        template_id,
        version,
    )
    return template_from_json(json.loads(body)) if body is not None else None


async def find_by_idempotency_key(
    conn: db.Connection, recorded_by: str, key: str
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        "SELECT * FROM inspections WHERE recorded_by = $1 AND idempotency_key = $2",
        recorded_by,
        key,
    )
    return _inspection(row) if row else None


async def get_inspection(conn: db.Connection, inspection_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM inspections WHERE inspection_id = $1", inspection_id)
    return _inspection(row) if row else None


async def insert_inspection(
    conn: db.Connection,
    *,
    inspection_id: str,
    project_id: str,
    kind: str,
    template: checklist.Template,
    outcome: checklist.Outcome,
    results: tuple[checklist.ItemResult, ...],
    recorded_by: str,
    recorder_role: str,
    idempotency_key: str | None,
    inspected_at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO inspections (inspection_id, project_id, kind, template_id, template_version,
                  score, pass_mark, passed, results, recorded_by, recorder_role, idempotency_key,
                  inspected_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10,$11,$12,$13)""",
        inspection_id,
        project_id,
        kind,
        template.template_id,
        template.version,
        outcome.score,
        template.pass_mark,
        outcome.passed,
        json.dumps(
            [{"item_id": r.item_id, "result": r.result.value, "note": r.note} for r in results],
            ensure_ascii=False,
        ),
        recorded_by,
        recorder_role,
        idempotency_key,
        inspected_at,
    )


def _inspection(row: asyncpg.Record) -> dict[str, Any]:
    data = dict(row)
    data["results"] = json.loads(data["results"])
    data["score"] = float(data["score"])
    data["pass_mark"] = float(data["pass_mark"])
    return data


# --- registry: single projects, districts and enterprises -------------------------------------


async def get_project_for_update(conn: db.Connection, project_id: str) -> Project | None:
    """The project, locked until the transaction ends (a scope check stays true until the write)."""
    row = await conn.fetchrow(
        f"SELECT {', '.join(PROJECT_FIELDS)} FROM projects WHERE project_id = $1 FOR UPDATE",
        project_id,
    )
    return Project(**dict(row)) if row else None


async def insert_project(conn: db.Connection, p: Project) -> bool:
    """Insert a new project; False (and nothing written) when the id is already registered."""
    inserted = await conn.fetchval(
        f"""INSERT INTO projects ({", ".join(PROJECT_FIELDS)}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)
            ON CONFLICT (project_id) DO NOTHING RETURNING true""",
        *(getattr(p, f) for f in PROJECT_FIELDS),
    )
    return inserted is True


async def list_districts(conn: db.Connection) -> list[dict[str, Any]]:
    """Districts derived from the projects; a name is the one on the latest-updated project."""
    rows = await conn.fetch(
        """SELECT district_code,
                  (array_agg(district_name ORDER BY updated_at DESC, project_id))[1]
                      AS district_name,
                  count(*)::int AS project_count,
                  count(DISTINCT enterprise_id)::int AS enterprise_count
             FROM projects GROUP BY district_code ORDER BY district_code"""
    )
    return [dict(r) for r in rows]


async def list_enterprises(
    conn: db.Connection, *, district_code: str | None = None
) -> list[dict[str, Any]]:
    """Enterprises derived from the projects (optionally those serving one district)."""
    rows = await conn.fetch(
        """SELECT enterprise_id,
                  (array_agg(enterprise_name ORDER BY updated_at DESC, project_id))[1]
                      AS enterprise_name,
                  count(*)::int AS project_count,
                  array_agg(DISTINCT district_code ORDER BY district_code) AS district_codes
             FROM projects
            GROUP BY enterprise_id
           HAVING $1::text IS NULL OR bool_or(district_code = $1)
            ORDER BY enterprise_id""",
        district_code,
    )
    return [{**dict(r), "district_codes": list(r["district_codes"])} for r in rows]


# --- checklist templates ---------------------------------------------------------------------


async def list_templates(conn: db.Connection) -> list[dict[str, Any]]:
    """Each template with its versions (ascending) and the body of its latest version."""
    rows = await conn.fetch(
        """SELECT template_id, array_agg(version ORDER BY version) AS versions,
                  (array_agg(body ORDER BY version DESC))[1] AS latest
             FROM checklist_templates GROUP BY template_id ORDER BY template_id"""
    )
    return [
        {
            "template_id": r["template_id"],
            "versions": list(r["versions"]),
            "latest": json.loads(r["latest"]),
        }
        for r in rows
    ]


async def get_template_body(
    conn: db.Connection, template_id: str, version: int
) -> dict[str, Any] | None:
    body = await conn.fetchval(
        "SELECT body FROM checklist_templates WHERE template_id = $1 AND version = $2",
        template_id,
        version,
    )
    return json.loads(body) if body is not None else None


async def latest_template_version(conn: db.Connection, template_id: str) -> int | None:
    latest: int | None = await conn.fetchval(
        "SELECT max(version) FROM checklist_templates WHERE template_id = $1", template_id
    )
    return latest


async def insert_template(conn: db.Connection, body: dict[str, Any]) -> bool:
    """Store a new version; False when that version exists (a stored version is never changed)."""
    inserted = await conn.fetchval(
        """INSERT INTO checklist_templates (template_id, version, body) VALUES ($1, $2, $3::jsonb)
           ON CONFLICT (template_id, version) DO NOTHING RETURNING true""",
        body["template_id"],
        int(body["version"]),
        json.dumps(body, ensure_ascii=False),
    )
    return inserted is True


# --- activity records ------------------------------------------------------------------------

ACTIVITY_FIELDS = (
    "record_id",
    "project_id",
    "kind",
    "title",
    "held_on",
    "participants",
    "description",
    "photo_refs",
    "recorded_by",
    "recorder_enterprise_id",
    "recorded_at",
)


async def insert_activity(
    conn: db.Connection,
    *,
    record_id: str,
    project_id: str,
    kind: str,
    title: str,
    held_on: date,
    participants: int,
    description: str,
    photo_refs: tuple[str, ...],
    recorded_by: str,
    recorder_enterprise_id: str,
    idempotency_key: str | None,
) -> bool:
    """False when this recorder already used the Idempotency-Key (nothing written then)."""
    inserted = await conn.fetchval(
        """INSERT INTO activity_records (record_id, project_id, kind, title, held_on,
                  participants, description, photo_refs, recorded_by, recorder_enterprise_id,
                  idempotency_key)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
           ON CONFLICT (recorded_by, idempotency_key) DO NOTHING RETURNING true""",
        record_id,
        project_id,
        kind,
        title,
        held_on,
        participants,
        description,
        list(photo_refs),
        recorded_by,
        recorder_enterprise_id,
        idempotency_key,
    )
    return inserted is True


async def get_activity(conn: db.Connection, record_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"SELECT {', '.join(ACTIVITY_FIELDS)} FROM activity_records WHERE record_id = $1",
        record_id,
    )
    return _activity(row) if row else None


async def find_activity_by_key(
    conn: db.Connection, recorded_by: str, key: str
) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"""SELECT {", ".join(ACTIVITY_FIELDS)} FROM activity_records
             WHERE recorded_by = $1 AND idempotency_key = $2""",
        recorded_by,
        key,
    )
    return _activity(row) if row else None


async def list_activities(
    conn: db.Connection, project_id: str, *, kind: str | None, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""SELECT {", ".join(ACTIVITY_FIELDS)} FROM activity_records
             WHERE project_id = $1 AND ($2::text IS NULL OR kind = $2)
             ORDER BY held_on DESC, recorded_at DESC, record_id LIMIT $3""",
        project_id,
        kind,
        limit,
    )
    return [_activity(r) for r in rows]


def _activity(row: asyncpg.Record) -> dict[str, Any]:
    data = dict(row)
    data["photo_refs"] = list(data["photo_refs"])
    return data
