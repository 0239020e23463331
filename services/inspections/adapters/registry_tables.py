"""asyncpg repositories of the registry: projects, checklist templates, activity records and
inspections. Wire rows <-> domain objects, no rules."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from runtime import db
from services.inspections.domain import campaign, checklist
from services.inspections.domain.project_registry import PROJECT_FIELDS, ProjectFacts
from services.inspections.service.ports import Change, NewActivity

_PROJECT_COLUMNS = ", ".join(PROJECT_FIELDS)
_PROJECT_VALUES = ", ".join(f"${i}" for i in range(1, len(PROJECT_FIELDS) + 1))


def _project(row: asyncpg.Record) -> ProjectFacts:
    return ProjectFacts(**dict(row))


class PgProjects:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def get(self, project_id: str, *, for_update: bool = False) -> ProjectFacts | None:
        lock = " FOR UPDATE" if for_update else ""
        row = await self._conn.fetchrow(
            f"SELECT {_PROJECT_COLUMNS} FROM projects WHERE project_id = $1{lock}", project_id
        )
        return _project(row) if row else None

    async def upsert(self, project: ProjectFacts) -> Change:
        """Insert or update in one statement; return 'created', 'updated' or 'unchanged'.

        Atomic, so two replicas loading the registry at once emit one event per real change.
        """
        excluded = ", ".join(f"EXCLUDED.{f}" for f in PROJECT_FIELDS)
        assignments = ", ".join(f"{f} = EXCLUDED.{f}" for f in PROJECT_FIELDS[1:])
        current = ", ".join(f"projects.{f}" for f in PROJECT_FIELDS)
        inserted = await self._conn.fetchval(
            f"""INSERT INTO projects ({_PROJECT_COLUMNS}) VALUES ({_PROJECT_VALUES})
                ON CONFLICT (project_id) DO UPDATE SET {assignments}, updated_at = now()
                 WHERE ({current}) IS DISTINCT FROM ({excluded})
                RETURNING (xmax = 0)""",
            *(getattr(project, f) for f in PROJECT_FIELDS),
        )
        if inserted is None:
            return "unchanged"
        return "created" if inserted else "updated"

    async def insert(self, project: ProjectFacts) -> bool:
        inserted = await self._conn.fetchval(
            f"""INSERT INTO projects ({_PROJECT_COLUMNS}) VALUES ({_PROJECT_VALUES})
                ON CONFLICT (project_id) DO NOTHING RETURNING true""",
            *(getattr(project, f) for f in PROJECT_FIELDS),
        )
        return inserted is True

    async def lock(self, project_id: str) -> bool:
        found = await self._conn.fetchval(
            "SELECT 1 FROM projects WHERE project_id = $1 FOR UPDATE", project_id
        )
        return found is not None

    async def search(
        self, *, district_code: str | None, enterprise_id: str | None
    ) -> list[ProjectFacts]:
        rows = await self._conn.fetch(
            f"""SELECT {_PROJECT_COLUMNS} FROM projects
                 WHERE ($1::text IS NULL OR district_code = $1)
                   AND ($2::text IS NULL OR enterprise_id = $2)
                 ORDER BY project_id""",
            district_code,
            enterprise_id,
        )
        return [_project(r) for r in rows]

    async def districts(self) -> list[dict[str, Any]]:
        """Districts derived from the projects; a name is the one on the latest-updated project."""
        rows = await self._conn.fetch(
            """SELECT district_code,
                      (array_agg(district_name ORDER BY updated_at DESC, project_id))[1]
                          AS district_name,
                      count(*)::int AS project_count,
                      count(DISTINCT enterprise_id)::int AS enterprise_count
                 FROM projects GROUP BY district_code ORDER BY district_code"""
        )
        return [dict(r) for r in rows]

    async def enterprises(self, *, district_code: str | None) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
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

    async def refs(self, *, district_code: str | None = None) -> list[campaign.ProjectRef]:
        rows = await self._conn.fetch(
            """SELECT DISTINCT district_code, district_name, enterprise_id, enterprise_name
                 FROM projects WHERE ($1::text IS NULL OR district_code = $1)""",
            district_code,
        )
        return [campaign.ProjectRef(**dict(r)) for r in rows]

    async def submitter_name(self, key: campaign.SubmitterKey) -> str | None:
        name: str | None = await self._conn.fetchval(_NAME_SQL[key[0]], key[1])
        return name


_NAME_SQL = {
    campaign.SubmitterKind.DISTRICT: (
        "SELECT min(district_name) FROM projects WHERE district_code = $1"
    ),
    campaign.SubmitterKind.ENTERPRISE: (
        "SELECT min(enterprise_name) FROM projects WHERE enterprise_id = $1"
    ),
}


# --- checklist templates ---------------------------------------------------------------------


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
                criterion_zh=i.get("criterion_zh", ""),
                criterion_en=i.get("criterion_en", ""),
            )
            for i in body["items"]
        ),
        service_grade=body.get("service_grade"),
    )


class PgTemplates:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def get(self, template_id: str, version: int | None) -> checklist.Template | None:
        body = await self._conn.fetchval(
            """SELECT body FROM checklist_templates WHERE template_id = $1
                 AND ($2::int IS NULL OR version = $2) ORDER BY version DESC LIMIT 1""",
            template_id,
            version,
        )
        return template_from_json(json.loads(body)) if body is not None else None

    async def body(self, template_id: str, version: int) -> dict[str, Any] | None:
        body = await self._conn.fetchval(
            "SELECT body FROM checklist_templates WHERE template_id = $1 AND version = $2",
            template_id,
            version,
        )
        return json.loads(body) if body is not None else None

    async def latest_version(self, template_id: str) -> int | None:
        latest: int | None = await self._conn.fetchval(
            "SELECT max(version) FROM checklist_templates WHERE template_id = $1", template_id
        )
        return latest

    async def insert(self, body: dict[str, Any]) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO checklist_templates (template_id, version, body)
               VALUES ($1, $2, $3::jsonb)
               ON CONFLICT (template_id, version) DO NOTHING RETURNING true""",
            body["template_id"],
            int(body["version"]),
            json.dumps(body, ensure_ascii=False),
        )
        return inserted is True

    async def save_if_new(self, body: dict[str, Any]) -> bool:
        existing = await self.body(body["template_id"], int(body["version"]))
        if existing is not None:
            if existing != body:
                raise ValueError(
                    f"template {body['template_id']} v{body['version']} differs from the stored "
                    "one; publish a new version instead of editing"
                )
            return False
        await self._conn.execute(
            """INSERT INTO checklist_templates (template_id, version, body)
               VALUES ($1, $2, $3::jsonb)""",
            body["template_id"],
            int(body["version"]),
            json.dumps(body, ensure_ascii=False),
        )
        return True

    async def summaries(self) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
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


# --- inspections -----------------------------------------------------------------------------


class PgInspections:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def get(self, inspection_id: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM inspections WHERE inspection_id = $1", inspection_id
        )
        return _inspection(row) if row else None

    async def find_by_key(self, recorded_by: str, key: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            "SELECT * FROM inspections WHERE recorded_by = $1 AND idempotency_key = $2",
            recorded_by,
            key,
        )
        return _inspection(row) if row else None

    async def add(
        self,
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
        checklist_reason: str = "given",
        contracted_grade: str | None = None,
    ) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO inspections (inspection_id, project_id, kind, template_id,
                      template_version, score, pass_mark, passed, results, recorded_by,
                      recorder_role, idempotency_key, inspected_at, checklist_reason,
                      contracted_grade)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10,$11,$12,$13,$14,$15)
               ON CONFLICT (recorded_by, idempotency_key) DO NOTHING RETURNING true""",
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
            checklist_reason,
            contracted_grade,
        )
        return inserted is True


def _inspection(row: asyncpg.Record) -> dict[str, Any]:
    data = dict(row)
    data["results"] = json.loads(data["results"])
    data["score"] = float(data["score"])
    data["pass_mark"] = float(data["pass_mark"])
    return data


# --- activity records ------------------------------------------------------------------------

_ACTIVITY_COLUMNS = (
    "record_id, project_id, kind, title, held_on, participants, description, photo_refs, "
    "recorded_by, recorder_enterprise_id, recorded_at"
)


class PgActivities:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def add(self, record: NewActivity) -> bool:
        inserted = await self._conn.fetchval(
            """INSERT INTO activity_records (record_id, project_id, kind, title, held_on,
                      participants, description, photo_refs, recorded_by, recorder_enterprise_id,
                      idempotency_key)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)
               ON CONFLICT (recorded_by, idempotency_key) DO NOTHING RETURNING true""",
            record.record_id,
            record.project_id,
            record.kind,
            record.title,
            record.held_on,
            record.participants,
            record.description,
            list(record.photo_refs),
            record.recorded_by,
            record.recorder_enterprise_id,
            record.idempotency_key,
        )
        return inserted is True

    async def get(self, record_id: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            f"SELECT {_ACTIVITY_COLUMNS} FROM activity_records WHERE record_id = $1", record_id
        )
        return _activity(row) if row else None

    async def find_by_key(self, recorded_by: str, key: str) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            f"""SELECT {_ACTIVITY_COLUMNS} FROM activity_records
                 WHERE recorded_by = $1 AND idempotency_key = $2""",
            recorded_by,
            key,
        )
        return _activity(row) if row else None

    async def of_project(
        self, project_id: str, *, kind: str | None, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._conn.fetch(
            f"""SELECT {_ACTIVITY_COLUMNS} FROM activity_records
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
