"""Campaign and activity-plan handlers, and the campaign pass of the time-driven job.

Every handler takes the time from its unit of work's clock (the service's clock: the system clock
in production, a simulated one in the demo, a fixed one in tests), never from the system clock.
Campaign events are published under their own source, /wuye/inspections/campaigns (the unit's
`campaign_outbox`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

import structlog

from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound
from runtime.unit_of_work import Trace
from schemas.campaigns import v1 as campaigns
from services.inspections.domain import actors, campaign
from services.inspections.service.ports import CampaignRow, InspectionsUnitOfWork

log = structlog.get_logger(__name__)
DEFAULT_TEMPLATE = "quality-month-2011"


class CampaignTemplates(Protocol):
    """Campaign templates by name (files in production: `adapters.campaigns.TemplateFiles`)."""

    async def get(self, name: str) -> campaign.Campaign | None: ...


def _not_found(campaign_id: str) -> NotFound:
    return NotFound(
        "campaign_not_found",
        Message(f"活动 {campaign_id} 不存在", f"campaign {campaign_id} does not exist"),
    )


def _invalid(exc: campaign.CampaignError, field: str | None = None) -> InvalidInput:
    return InvalidInput(exc.code, Message(exc.zh, exc.en), field=field or exc.field)


def campaign_view(row: CampaignRow, now: datetime) -> dict[str, Any]:
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
    uow: InspectionsUnitOfWork,
    draft: campaign.Campaign,
    *,
    created_by: str,
    template_id: str | None = None,
) -> dict[str, Any]:
    try:
        campaign.validate(draft)
    except campaign.CampaignError as exc:
        raise _invalid(exc) from exc
    async with uow:
        now = uow.clock.now()
        created = await uow.campaigns.add(
            draft, template_id=template_id, created_by=created_by, created_at=now
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
        row = await uow.campaigns.get(draft.campaign_id)
        await uow.commit()
    assert row is not None
    log.info("campaign_created", campaign_id=draft.campaign_id, template_id=template_id)
    return campaign_view(row, now)


async def create_from_template(
    uow: InspectionsUnitOfWork,
    templates: CampaignTemplates,
    template: str,
    year: int,
    *,
    created_by: str,
    campaign_id: str | None = None,
    notice_no: str | None = None,
) -> dict[str, Any]:
    """A new campaign: the template with every date moved to `year`."""
    source = await templates.get(template)
    if source is None:
        raise NotFound(
            "campaign_template_not_found",
            Message(f"活动模板 {template} 不存在", f"campaign template {template} does not exist"),
            field="template",
        )
    try:
        draft = campaign.validate(
            campaign.shift_years(source, year, campaign_id=campaign_id, notice_no=notice_no)
        )
    except campaign.CampaignError as exc:
        raise _invalid(exc, "year") from exc  # the template is valid; only the year can be at fault
    return await create_campaign(uow, draft, created_by=created_by, template_id=template)


async def list_campaigns(uow: InspectionsUnitOfWork) -> list[dict[str, Any]]:
    async with uow:
        rows = await uow.campaigns.all()
        now = uow.clock.now()
    return [campaign_view(r, now) for r in rows]


async def get_campaign(uow: InspectionsUnitOfWork, campaign_id: str) -> dict[str, Any]:
    async with uow:
        row = await uow.campaigns.get(campaign_id)
        now = uow.clock.now()
    if row is None:
        raise _not_found(campaign_id)
    return campaign_view(row, now)


async def ensure_default_campaign(uow: InspectionsUnitOfWork, templates: CampaignTemplates) -> bool:
    """Record the 2011 campaign from its template unless it exists. Its creation time is the
    business clock's now, so a demo that starts its clock in July 2011 replays the campaign,
    while a real clock records it as an archive that owes no plans. True if it was recorded."""
    source = await templates.get(DEFAULT_TEMPLATE)
    assert source is not None, f"the campaign template {DEFAULT_TEMPLATE} is missing"
    async with uow:
        created = await uow.campaigns.add(
            campaign.validate(source),
            template_id=DEFAULT_TEMPLATE,
            created_by="system",
            created_at=uow.clock.now(),
        )
        await uow.commit()
    if created:
        log.info("campaign_created", campaign_id=source.campaign_id, template_id=DEFAULT_TEMPLATE)
    return created


# --- activity plans -------------------------------------------------------------------------


async def submit_plan(
    uow: InspectionsUnitOfWork,
    campaign_id: str,
    plan: campaign.PlanContent,
    actor: actors.Actor,
    actor_id: str,
    *,
    trace: Trace,
) -> dict[str, Any]:
    """Store the caller's plan (replacing an earlier one as the next version) and emit
    PlanSubmitted, in one unit of work. The plan returned includes phone numbers: it is the
    submitter's own."""
    key = campaign.own_key(actor.role, actor.district_code, actor.enterprise_id)
    if key is None:
        raise Forbidden(
            "wrong_role",
            Message(
                "活动方案只能由区县物业办或物业企业提交",
                "only a district office or an enterprise submits an activity plan",
            ),
        )
    async with uow:
        now = uow.clock.now()
        # Shared lock: the overdue scan waits for this submission, or this one sees the scan ran.
        row = await uow.campaigns.get(campaign_id, lock="share")
        if row is None:
            raise _not_found(campaign_id)
        refusal = campaign.submission_refusal(
            row.campaign, now, deadline_scanned=row.overdue_checked_at is not None
        )
        if refusal is not None:
            raise DomainError(refusal.code, Message(refusal.zh, refusal.en))
        try:
            campaign.check_plan(row.campaign, plan)
        except campaign.CampaignError as exc:
            raise _invalid(exc) from exc
        name = await uow.projects.submitter_name(key) or key[1]
        submitter = campaign.Submitter(key[0], key[1], name)
        plan_id, version = await uow.campaigns.save_plan(
            campaign_id, submitter, plan, submitted_by=actor_id, submitted_at=now
        )
        await uow.campaign_outbox.add(
            campaigns.PlanSubmitted(
                campaign_id=campaign_id,
                plan_id=plan_id,
                version=version,
                submitter_kind=submitter.kind.value,
                submitter_name=submitter.name,
                submitted_at=now,
                district_code=_district(submitter),
                enterprise_id=_enterprise(submitter),
            ),
            trace,
        )
        saved = await uow.campaigns.get_plan(campaign_id, key, with_phones=True)
        await uow.commit()
    assert saved is not None
    return saved


def _district(s: campaign.Submitter) -> str | None:
    return s.submitter_id if s.kind is campaign.SubmitterKind.DISTRICT else None


def _enterprise(s: campaign.Submitter) -> str | None:
    return s.submitter_id if s.kind is campaign.SubmitterKind.ENTERPRISE else None


async def list_plans(
    uow: InspectionsUnitOfWork, campaign_id: str, actor: actors.Actor
) -> list[dict[str, Any]]:
    """City office: every plan. District office: its own and those of enterprises with projects
    in its district. Enterprise: its own. Never phone numbers."""
    async with uow:
        if await uow.campaigns.get(campaign_id) is None:
            raise _not_found(campaign_id)
        only: frozenset[campaign.SubmitterKey] | None
        district = actors.office_district(actor)
        if actors.is_city_office(actor):
            only = None
        elif district:
            projects = await uow.projects.refs(district_code=district)
            only = campaign.district_scope(district, projects)
        else:
            own = campaign.own_key(actor.role, actor.district_code, actor.enterprise_id)
            if own is None:
                raise Forbidden(
                    "wrong_role", Message("当前角色无权查看活动方案", "Your role may not see plans")
                )
            only = frozenset({own})
        return await uow.campaigns.list_plans(campaign_id, only=only)


async def missing_plans(
    uow: InspectionsUnitOfWork, campaign_id: str, actor: actors.Actor
) -> dict[str, Any]:
    """Who owes a plan and has none yet: everyone for the city office; the district itself and
    the enterprises with projects there for a district office."""
    async with uow:
        now = uow.clock.now()
        row = await uow.campaigns.get(campaign_id)
        if row is None:
            raise _not_found(campaign_id)
        district = actors.office_district(actor)
        if actors.is_city_office(actor):
            projects = await uow.projects.refs()
        elif district:
            projects = await uow.projects.refs(district_code=district)
        else:
            raise Forbidden(
                "wrong_role",
                Message("当前角色无权查看未提交名单", "Your role may not see who is missing"),
            )
        submitted = await uow.campaigns.submitted_keys(campaign_id)
    planning = row.campaign.planning
    late = campaign.missing(campaign.required_submitters(projects), submitted)
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


# --- the time-driven work -------------------------------------------------------------------


async def run_campaigns(units: Callable[[], InspectionsUnitOfWork]) -> int:
    """The campaign pass of the time-driven job: announce the phase running now and, once the
    planning phase is over, flag every missing plan; each exactly once, however many replicas
    run this and however often. Each step is its own unit of work. Returns the events written."""
    trace = Trace.start()
    async with units() as uow:
        now = uow.clock.now()
        rows = await uow.campaigns.with_work(now.astimezone(campaign.CHINA).date())
    emitted = 0
    for row in rows:
        for phase in campaign.phases_to_announce(row.campaign, now):
            if phase.kind not in row.announced:
                emitted += await announce_phase(units(), row.campaign, phase, trace)
        if row.overdue_checked_at is None and now > row.campaign.planning.ends_at:
            emitted += await flag_overdue_plans(units(), row, trace)
    return emitted


async def announce_phase(
    uow: InspectionsUnitOfWork, c: campaign.Campaign, phase: campaign.Phase, trace: Trace
) -> int:
    """CampaignPhaseStarted, once per (campaign, phase); 1 if this call wrote it."""
    async with uow:
        now = uow.clock.now()
        if not await uow.campaigns.claim_phase_announcement(c.campaign_id, phase.kind, now):
            return 0
        await uow.campaign_outbox.add(
            campaigns.CampaignPhaseStarted(
                campaign_id=c.campaign_id,
                phase=phase.kind.value,
                phase_title_zh=phase.title_zh,
                starts_on=phase.starts_on,
                ends_on=phase.ends_on,
                title_zh=c.title_zh,
            ),
            trace,
        )
        await uow.commit()
    return 1


async def flag_overdue_plans(uow: InspectionsUnitOfWork, row: CampaignRow, trace: Trace) -> int:
    """Once the planning phase is over, flag every submitter still owing a plan (PlanOverdue),
    once per campaign however many replicas run this. Returns the number of events written."""
    c = row.campaign
    planning = c.planning
    async with uow:
        now = uow.clock.now()
        if not await uow.campaigns.claim_overdue_scan(c.campaign_id, now):
            return 0  # another replica (or an earlier run) did it
        if not campaign.plans_were_owed(c, row.created_at):
            await uow.commit()  # the claim stands: an archive is never scanned again
            log.info("campaign_overdue_scan_skipped", campaign_id=c.campaign_id, reason="archive")
            return 0
        # Read after the claim: the claim waited for submissions in flight, so all are visible.
        required = campaign.required_submitters(await uow.projects.refs())
        late = campaign.missing(required, await uow.campaigns.submitted_keys(c.campaign_id))
        emitted = 0
        for submitter in late:
            if not await uow.campaigns.record_overdue(
                c.campaign_id, submitter, deadline=planning.ends_at, detected_at=now
            ):
                continue
            await uow.campaign_outbox.add(
                campaigns.PlanOverdue(
                    campaign_id=c.campaign_id,
                    submitter_kind=submitter.kind.value,
                    submitter_name=submitter.name,
                    deadline=planning.ends_at,
                    deadline_on=planning.ends_on,
                    detected_at=now,
                    district_code=_district(submitter),
                    enterprise_id=_enterprise(submitter),
                ),
                trace,
            )
            emitted += 1
        await uow.commit()
    return emitted
