"""Campaign and activity-plan handlers, and the time-driven campaign job.

Every handler takes `now` from its caller (the HTTP route's `request_time`, the scheduler's clock),
never from the system clock, so tests and the demo decide what time it is.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
import structlog

from runtime import outbox
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound
from runtime.scheduler import PeriodicJob, clock_from
from runtime.settings import Settings
from schemas.campaigns import v1 as events
from services.inspections.adapters import campaigns as repo
from services.inspections.domain import campaign as domain
from services.inspections.domain import policy

log = structlog.get_logger(__name__)
SOURCE = "/wuye/inspections/campaigns"
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "data" / "campaign-templates"
DEFAULT_TEMPLATE = "quality-month-2011"


def _not_found(campaign_id: str) -> NotFound:
    return NotFound(
        "campaign_not_found",
        Message(f"活动 {campaign_id} 不存在", f"campaign {campaign_id} does not exist"),
    )


def _invalid(exc: domain.CampaignError, field: str | None = None) -> InvalidInput:
    return InvalidInput(exc.code, Message(exc.zh, exc.en), field=field or exc.field)


def campaign_view(row: repo.CampaignRow, now: datetime) -> dict[str, Any]:
    c = row.campaign
    current = c.phase_at(now)
    return {
        "campaign_id": c.campaign_id,
        "title_zh": c.title_zh,
        "title_en": c.title_en,
        "notice_no": c.notice_no,
        "template_id": row.template_id,
        "activity_window": {"starts_on": c.window_starts_on, "ends_on": c.window_ends_on},
        "phases": [
            {
                "kind": p.kind.value,
                "title_zh": p.title_zh,
                "title_en": p.title_en,
                "starts_on": p.starts_on,
                "ends_on": p.ends_on,
            }
            for p in c.phases
        ],
        "current_phase": current.kind.value if current else None,
        "plan_deadline": c.planning.ends_at,
        "created_at": row.created_at,
    }


# --- campaigns ------------------------------------------------------------------------------


async def create_campaign(
    pool: asyncpg.Pool,
    draft: domain.Campaign,
    *,
    now: datetime,
    created_by: str,
    template_id: str | None = None,
) -> dict[str, Any]:
    try:
        domain.validate(draft)
    except domain.CampaignError as exc:
        raise _invalid(exc) from exc
    async with pool.acquire() as conn, conn.transaction():
        created = await repo.insert_campaign(
            conn, draft, template_id=template_id, created_by=created_by, created_at=now
        )
        if not created:
            raise DomainError(
                "campaign_exists",
                Message(
                    f"活动 {draft.campaign_id} 已存在",
                    f"campaign {draft.campaign_id} already exists",
                ),
                field="campaign_id",
            )
        row = await repo.get_campaign(conn, draft.campaign_id)
    assert row is not None
    log.info("campaign_created", campaign_id=draft.campaign_id, template_id=template_id)
    return campaign_view(row, now)


async def load_template(name: str, directory: Path = TEMPLATES_DIR) -> domain.Campaign | None:
    body = await asyncio.to_thread(repo.read_template, directory, name)
    return repo.campaign_from_json(body) if body is not None else None


async def create_from_template(
    pool: asyncpg.Pool,
    template: str,
    year: int,
    *,
    now: datetime,
    created_by: str,
    campaign_id: str | None = None,
    notice_no: str | None = None,
    templates_dir: Path = TEMPLATES_DIR,
) -> dict[str, Any]:
    """A new campaign: the template with every date moved to `year`."""
    source = await load_template(template, templates_dir)
    if source is None:
        raise NotFound(
            "campaign_template_not_found",
            Message(f"活动模板 {template} 不存在", f"campaign template {template} does not exist"),
            field="template",
        )
    try:
        draft = domain.validate(
            domain.shift_years(source, year, campaign_id=campaign_id, notice_no=notice_no)
        )
    except domain.CampaignError as exc:
        raise _invalid(exc, "year") from exc  # the template is valid; only the year can be at fault
    return await create_campaign(pool, draft, now=now, created_by=created_by, template_id=template)


async def list_campaigns(pool: asyncpg.Pool, *, now: datetime) -> list[dict[str, Any]]:
    async with pool.acquire() as conn:
        rows = await repo.list_campaigns(conn)
    return [campaign_view(r, now) for r in rows]


async def get_campaign(pool: asyncpg.Pool, campaign_id: str, *, now: datetime) -> dict[str, Any]:
    async with pool.acquire() as conn:
        row = await repo.get_campaign(conn, campaign_id)
    if row is None:
        raise _not_found(campaign_id)
    return campaign_view(row, now)


async def ensure_default_campaign(pool: asyncpg.Pool, settings: Settings) -> None:
    """Startup hook: record the 2011 campaign from its template unless it exists. Its creation
    time is the business clock's now, so a demo that starts its clock in July 2011 replays the
    campaign, while a real clock records it as an archive that owes no plans."""
    source = await load_template(DEFAULT_TEMPLATE)
    assert source is not None, f"{DEFAULT_TEMPLATE}.json is missing from {TEMPLATES_DIR}"
    now = clock_from(
        settings.clock_start,
        settings.clock_anchor,
        settings.clock_speed,
        settings.clock_control_file,
    ).now()
    async with pool.acquire() as conn, conn.transaction():
        created = await repo.insert_campaign(
            conn,
            domain.validate(source),
            template_id=DEFAULT_TEMPLATE,
            created_by="system",
            created_at=now,
        )
    if created:
        log.info("campaign_created", campaign_id=source.campaign_id, template_id=DEFAULT_TEMPLATE)


# --- activity plans -------------------------------------------------------------------------


async def submit_plan(
    pool: asyncpg.Pool,
    campaign_id: str,
    plan: domain.PlanContent,
    actor: policy.Actor,
    actor_id: str,
    *,
    now: datetime,
) -> dict[str, Any]:
    """Store the caller's plan (replacing an earlier one as the next version) and emit
    PlanSubmitted, in one transaction. The plan returned includes phone numbers: it is the
    submitter's own."""
    key = domain.own_key(actor.role, actor.district_code, actor.enterprise_id)
    if key is None:
        raise Forbidden(
            "wrong_role",
            Message(
                "活动方案只能由区县物业办或物业企业提交",
                "only a district office or an enterprise submits an activity plan",
            ),
        )
    async with pool.acquire() as conn, conn.transaction():
        # FOR SHARE: the overdue scan waits for this submission, or this one sees the scan ran.
        row = await repo.get_campaign(conn, campaign_id, lock="share")
        if row is None:
            raise _not_found(campaign_id)
        refusal = domain.submission_refusal(
            row.campaign, now, deadline_scanned=row.overdue_checked_at is not None
        )
        if refusal is not None:
            raise DomainError(refusal.code, Message(refusal.zh, refusal.en))
        try:
            domain.check_plan(row.campaign, plan)
        except domain.CampaignError as exc:
            raise _invalid(exc) from exc
        name = await repo.submitter_name(conn, key) or key[1]
        submitter = domain.Submitter(key[0], key[1], name)
        plan_id, version = await repo.save_plan(
            conn, campaign_id, submitter, plan, submitted_by=actor_id, submitted_at=now
        )
        await outbox.enqueue(
            conn,
            events.PlanSubmitted(
                campaign_id=campaign_id,
                plan_id=plan_id,
                version=version,
                submitter_kind=submitter.kind.value,
                submitter_name=submitter.name,
                submitted_at=now,
                district_code=_district(submitter),
                enterprise_id=_enterprise(submitter),
            ),
            source=SOURCE,
        )
        saved = await repo.get_plan(conn, campaign_id, key, with_phones=True)
    assert saved is not None
    return saved


def _district(s: domain.Submitter) -> str | None:
    return s.submitter_id if s.kind is domain.SubmitterKind.DISTRICT else None


def _enterprise(s: domain.Submitter) -> str | None:
    return s.submitter_id if s.kind is domain.SubmitterKind.ENTERPRISE else None


async def list_plans(
    pool: asyncpg.Pool, campaign_id: str, actor: policy.Actor
) -> list[dict[str, Any]]:
    """City office: every plan. District office: its own and those of enterprises with projects
    in its district. Enterprise: its own. Never phone numbers."""
    async with pool.acquire() as conn:
        if await repo.get_campaign(conn, campaign_id) is None:
            raise _not_found(campaign_id)
        only: frozenset[domain.SubmitterKey] | None
        if actor.role == "city_office":
            only = None
        elif actor.role == "district_office" and actor.district_code:
            projects = await repo.project_refs(conn, district_code=actor.district_code)
            only = domain.district_scope(actor.district_code, projects)
        else:
            own = domain.own_key(actor.role, actor.district_code, actor.enterprise_id)
            if own is None:
                raise Forbidden(
                    "wrong_role", Message("当前角色无权查看活动方案", "Your role may not see plans")
                )
            only = frozenset({own})
        return await repo.list_plans(conn, campaign_id, only=only)


async def missing_plans(
    pool: asyncpg.Pool, campaign_id: str, actor: policy.Actor, *, now: datetime
) -> dict[str, Any]:
    """Who owes a plan and has none yet: everyone for the city office; the district itself and
    the enterprises with projects there for a district office."""
    async with pool.acquire() as conn:
        row = await repo.get_campaign(conn, campaign_id)
        if row is None:
            raise _not_found(campaign_id)
        if actor.role == "city_office":
            projects = await repo.project_refs(conn)
        elif actor.role == "district_office" and actor.district_code:
            projects = await repo.project_refs(conn, district_code=actor.district_code)
        else:
            raise Forbidden(
                "wrong_role",
                Message("当前角色无权查看未提交名单", "Your role may not see who is missing"),
            )
        submitted = await repo.submitted_keys(conn, campaign_id)
    planning = row.campaign.planning
    late = domain.missing(domain.required_submitters(projects), submitted)
    return {
        "campaign_id": campaign_id,
        "deadline": planning.ends_at,
        "deadline_on": planning.ends_on,
        "deadline_passed": now > planning.ends_at,
        "missing": [
            {
                "submitter_kind": s.kind.value,
                "submitter_id": s.submitter_id,
                "submitter_name": s.name,
            }
            for s in late
        ],
    }


# --- the time-driven job --------------------------------------------------------------------


async def campaign_job(pool: asyncpg.Pool, now: datetime) -> int:
    """Announce the phase running at `now` and, once the planning phase is over, flag every
    missing plan; each exactly once, however many replicas run this and however often.
    Returns the number of events written."""
    async with pool.acquire() as conn:
        rows = await repo.campaigns_with_work(conn, now.astimezone(domain.CHINA).date())
    emitted = 0
    for row in rows:
        for phase in domain.phases_to_announce(row.campaign, now):
            if phase.kind not in row.announced:
                emitted += await _announce(pool, row.campaign, phase, now)
        if row.overdue_checked_at is None and now > row.campaign.planning.ends_at:
            emitted += await _flag_overdue(pool, row, now)
    return emitted


async def _announce(
    pool: asyncpg.Pool, c: domain.Campaign, phase: domain.Phase, now: datetime
) -> int:
    async with pool.acquire() as conn, conn.transaction():
        if not await repo.claim_phase_announcement(conn, c.campaign_id, phase.kind, now):
            return 0
        await outbox.enqueue(
            conn,
            events.CampaignPhaseStarted(
                campaign_id=c.campaign_id,
                phase=phase.kind.value,
                phase_title_zh=phase.title_zh,
                starts_on=phase.starts_on,
                ends_on=phase.ends_on,
                title_zh=c.title_zh,
            ),
            source=SOURCE,
        )
    return 1


async def _flag_overdue(pool: asyncpg.Pool, row: repo.CampaignRow, now: datetime) -> int:
    c = row.campaign
    planning = c.planning
    async with pool.acquire() as conn, conn.transaction():
        if not await repo.claim_overdue_scan(conn, c.campaign_id, now):
            return 0  # another replica (or an earlier run) did it
        if not domain.plans_were_owed(c, row.created_at):
            log.info("campaign_overdue_scan_skipped", campaign_id=c.campaign_id, reason="archive")
            return 0
        # Read after the claim: the claim waited for submissions in flight, so all are visible.
        required = domain.required_submitters(await repo.project_refs(conn))
        late = domain.missing(required, await repo.submitted_keys(conn, c.campaign_id))
        emitted = 0
        for submitter in late:
            if not await repo.record_overdue(
                conn, c.campaign_id, submitter, deadline=planning.ends_at, detected_at=now
            ):
                continue
            await outbox.enqueue(
                conn,
                events.PlanOverdue(
                    campaign_id=c.campaign_id,
                    submitter_kind=submitter.kind.value,
                    submitter_name=submitter.name,
                    deadline=planning.ends_at,
                    deadline_on=planning.ends_on,
                    detected_at=now,
                    district_code=_district(submitter),
                    enterprise_id=_enterprise(submitter),
                ),
                source=SOURCE,
            )
            emitted += 1
    return emitted


JOBS = (PeriodicJob("campaigns", campaign_job, interval_s=30),)
