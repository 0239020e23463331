"""The asyncpg repository of campaigns and activity plans, and the campaign template files: the
wire mapping, no rules."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import asyncpg

from runtime import db
from services.inspections.domain import campaign
from services.inspections.service.ports import CampaignRow

# --- wire <-> domain ------------------------------------------------------------------------


def campaign_from_json(body: dict[str, Any]) -> campaign.Campaign:
    """A campaign from its JSON form (template files and the `campaigns` row use the same)."""
    window = body["activity_window"]
    return campaign.Campaign(
        campaign_id=body["campaign_id"],
        title_zh=body["title_zh"],
        title_en=body.get("title_en", ""),
        notice_no=body.get("notice_no"),
        window_starts_on=date.fromisoformat(window["starts_on"]),
        window_ends_on=date.fromisoformat(window["ends_on"]),
        phases=tuple(_phase(p) for p in body["phases"]),
    )


def _phase(p: dict[str, Any]) -> campaign.Phase:
    return campaign.Phase(
        campaign.PhaseKind(p["kind"]),
        date.fromisoformat(p["starts_on"]),
        date.fromisoformat(p["ends_on"]),
    )


def _phases_json(c: campaign.Campaign) -> str:
    return json.dumps([_phase_json(p) for p in c.phases])


def _phase_json(p: campaign.Phase) -> dict[str, str]:
    return {"kind": p.kind.value, "starts_on": str(p.starts_on), "ends_on": str(p.ends_on)}


TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "data" / "campaign-templates"


class TemplateFiles:
    """Campaign templates from the JSON files of a directory (`<name>.json`)."""

    def __init__(self, directory: Path = TEMPLATES_DIR) -> None:
        self.directory = directory

    async def get(self, name: str) -> campaign.Campaign | None:
        body = await asyncio.to_thread(read_template, self.directory, name)
        return campaign_from_json(body) if body is not None else None


def read_template(directory: Path, name: str) -> dict[str, Any] | None:
    """The template file `<name>.json` in `directory`, or None. Names are looked up among the
    files present, never joined into a path, so a name cannot walk out of the directory."""
    files = {f.stem: f for f in directory.glob("*.json")}
    found = files.get(name)
    if found is None:
        return None
    body: dict[str, Any] = json.loads(found.read_text(encoding="utf-8"))
    return body


# --- campaigns ------------------------------------------------------------------------------

_CAMPAIGN_COLUMNS = """c.campaign_id, c.title_zh, c.title_en, c.notice_no, c.window_starts_on,
    c.window_ends_on, c.phases, c.template_id, c.created_by, c.created_at, c.overdue_checked_at,
    ARRAY(SELECT a.phase FROM campaign_phase_announcements a
           WHERE a.campaign_id = c.campaign_id) AS announced"""


def _campaign_row(r: asyncpg.Record) -> CampaignRow:
    return CampaignRow(
        campaign=campaign.Campaign(
            campaign_id=r["campaign_id"],
            title_zh=r["title_zh"],
            title_en=r["title_en"],
            notice_no=r["notice_no"],
            window_starts_on=r["window_starts_on"],
            window_ends_on=r["window_ends_on"],
            phases=tuple(_phase(p) for p in json.loads(r["phases"])),
        ),
        template_id=r["template_id"],
        created_by=r["created_by"],
        created_at=r["created_at"],
        overdue_checked_at=r["overdue_checked_at"],
        announced=frozenset(campaign.PhaseKind(k) for k in r["announced"]),
    )


class PgCampaigns:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def add(
        self,
        c: campaign.Campaign,
        *,
        template_id: str | None,
        created_by: str,
        created_at: datetime,
    ) -> bool:
        """Store a new campaign; False if the id is taken."""
        inserted = await self._conn.fetchval(
            """INSERT INTO campaigns (campaign_id, title_zh, title_en, notice_no, window_starts_on,
                      window_ends_on, starts_on, ends_on, phases, template_id, created_by, created_at)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9::jsonb,$10,$11,$12)
               ON CONFLICT (campaign_id) DO NOTHING RETURNING true""",
            c.campaign_id,
            c.title_zh,
            c.title_en,
            c.notice_no,
            c.window_starts_on,
            c.window_ends_on,
            c.starts_on,
            c.ends_on,
            _phases_json(c),
            template_id,
            created_by,
            created_at,
        )
        return bool(inserted)

    async def get(
        self, campaign_id: str, *, lock: Literal["share"] | None = None
    ) -> CampaignRow | None:
        """`lock="share"`: hold the row against the overdue scan until the transaction ends."""
        suffix = " FOR SHARE OF c" if lock == "share" else ""
        row = await self._conn.fetchrow(
            f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns c WHERE c.campaign_id = $1{suffix}",
            campaign_id,
        )
        return _campaign_row(row) if row else None

    async def all(self) -> list[CampaignRow]:
        rows = await self._conn.fetch(
            f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns c ORDER BY c.starts_on DESC, c.campaign_id"
        )
        return [_campaign_row(r) for r in rows]

    async def with_work(self, today: date) -> list[CampaignRow]:
        """Campaigns that may still have a phase to announce or an overdue scan to run."""
        rows = await self._conn.fetch(
            f"""SELECT {_CAMPAIGN_COLUMNS} FROM campaigns c
                 WHERE c.overdue_checked_at IS NULL OR c.ends_on >= $1
                 ORDER BY c.campaign_id""",
            today,
        )
        return [_campaign_row(r) for r in rows]

    async def claim_phase_announcement(
        self, campaign_id: str, phase: campaign.PhaseKind, at: datetime
    ) -> bool:
        """True for exactly one caller per (campaign, phase), however many run at once."""
        claimed = await self._conn.fetchval(
            """INSERT INTO campaign_phase_announcements (campaign_id, phase, announced_at)
               VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING true""",
            campaign_id,
            phase.value,
            at,
        )
        return bool(claimed)

    async def claim_overdue_scan(self, campaign_id: str, at: datetime) -> bool:
        """True for exactly one caller per campaign. Waits for plan submissions holding the row
        (FOR SHARE), so the scan that follows sees every plan that was accepted."""
        claimed = await self._conn.fetchval(
            """UPDATE campaigns SET overdue_checked_at = $2
                WHERE campaign_id = $1 AND overdue_checked_at IS NULL RETURNING true""",
            campaign_id,
            at,
        )
        return bool(claimed)

    async def record_overdue(
        self,
        campaign_id: str,
        submitter: campaign.Submitter,
        *,
        deadline: datetime,
        detected_at: datetime,
    ) -> bool:
        """True the first time this submitter is recorded overdue for this campaign."""
        recorded = await self._conn.fetchval(
            """INSERT INTO plan_overdue (campaign_id, submitter_kind, submitter_id, submitter_name,
                      deadline, detected_at)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING true""",
            campaign_id,
            submitter.kind.value,
            submitter.submitter_id,
            submitter.name,
            deadline,
            detected_at,
        )
        return bool(recorded)

    # -- plans

    async def save_plan(
        self,
        campaign_id: str,
        submitter: campaign.Submitter,
        plan: campaign.PlanContent,
        *,
        submitted_by: str,
        submitted_at: datetime,
    ) -> tuple[str, int]:
        """Insert the submitter's plan or replace it with the next version; return (plan_id, version).
        One statement, so concurrent resubmissions get distinct versions."""
        row = await self._conn.fetchrow(
            """INSERT INTO activity_plans (plan_id, campaign_id, submitter_kind, submitter_id,
                      submitter_name, version, departments, staff, schedule, summary, submitted_by,
                      first_submitted_at, submitted_at)
               VALUES ($1, $2, $3, $4, $5, 1, $6::jsonb, $7::jsonb, $8::jsonb, $9, $10, $11, $11)
               ON CONFLICT (campaign_id, submitter_kind, submitter_id) DO UPDATE SET
                      version = activity_plans.version + 1, submitter_name = EXCLUDED.submitter_name,
                      departments = EXCLUDED.departments, staff = EXCLUDED.staff,
                      schedule = EXCLUDED.schedule, summary = EXCLUDED.summary,
                      submitted_by = EXCLUDED.submitted_by, submitted_at = EXCLUDED.submitted_at
               RETURNING plan_id, version""",
            str(uuid.uuid4()),
            campaign_id,
            submitter.kind.value,
            submitter.submitter_id,
            submitter.name,
            json.dumps(list(plan.departments), ensure_ascii=False),
            json.dumps(
                [{"name": s.name, "role": s.role, "phone": s.phone} for s in plan.staff],
                ensure_ascii=False,
            ),
            json.dumps(
                [{"date": i.on.isoformat(), "activity_zh": i.activity_zh} for i in plan.schedule],
                ensure_ascii=False,
            ),
            plan.summary,
            submitted_by,
            submitted_at,
        )
        assert row is not None
        return row["plan_id"], row["version"]

    async def get_plan(
        self, campaign_id: str, key: campaign.SubmitterKey, *, with_phones: bool
    ) -> dict[str, Any] | None:
        row = await self._conn.fetchrow(
            """SELECT * FROM activity_plans
                WHERE campaign_id = $1 AND submitter_kind = $2 AND submitter_id = $3""",
            campaign_id,
            key[0].value,
            key[1],
        )
        return _plan(row, with_phones=with_phones) if row else None

    async def list_plans(
        self, campaign_id: str, *, only: frozenset[campaign.SubmitterKey] | None
    ) -> list[dict[str, Any]]:
        """Plans of a campaign, without phone numbers; `only`: just these submitters."""
        keys = None if only is None else [f"{kind.value}:{sid}" for kind, sid in only]
        rows = await self._conn.fetch(
            """SELECT * FROM activity_plans
                WHERE campaign_id = $1
                  AND ($2::text[] IS NULL OR submitter_kind || ':' || submitter_id = ANY($2))
                ORDER BY submitter_kind, submitter_id""",
            campaign_id,
            keys,
        )
        return [_plan(r, with_phones=False) for r in rows]

    async def submitted_keys(self, campaign_id: str) -> set[campaign.SubmitterKey]:
        rows = await self._conn.fetch(
            "SELECT submitter_kind, submitter_id FROM activity_plans WHERE campaign_id = $1",
            campaign_id,
        )
        return {(campaign.SubmitterKind(r["submitter_kind"]), r["submitter_id"]) for r in rows}


def _plan(row: asyncpg.Record, *, with_phones: bool) -> dict[str, Any]:
    staff = json.loads(row["staff"])
    if not with_phones:
        staff = [{"name": s["name"], "role": s["role"]} for s in staff]
    return {
        "plan_id": row["plan_id"],
        "campaign_id": row["campaign_id"],
        "submitter_kind": row["submitter_kind"],
        "submitter_id": row["submitter_id"],
        "submitter_name": row["submitter_name"],
        "version": row["version"],
        "departments": json.loads(row["departments"]),
        "staff": staff,
        "schedule": json.loads(row["schedule"]),
        "summary": row["summary"],
        "submitted_by": row["submitted_by"],
        "first_submitted_at": row["first_submitted_at"],
        "submitted_at": row["submitted_at"],
    }
