"""The statutory-interval tracker's pages (设施维保): the facilities in the person's scope with
their next due dates, overdue ones marked; an enterprise registers a facility and records a
service on the facility's page; the offices read (a district office its district). Translators
only: the same policy and service functions as `facilities_http`."""

from __future__ import annotations

import asyncio
from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import attachments, workspace
from runtime.errors import DomainError, InvalidInput, Message
from runtime.web_session import CurrentSession
from services.inspections.domain import problems
from services.inspections.domain import statutory_intervals as intervals
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps, InspectionsDeps
from services.inspections.entrypoints.uploads import TOO_BIG
from services.inspections.entrypoints.workspace_pages import (
    BASE,
    env,
    page,
    photo_links,
    status_of,
)
from services.inspections.entrypoints.workspace_photos import multipart_of
from services.inspections.service import statutory_intervals

router = APIRouter(include_in_schema=False)
REGISTER_FORM = "facility-register"
LISTED = 300  # the soonest due (overdue first); the counts above the list are the totals
SERVICE_FORM = "facility-service"
REGISTER = {
    "project_id": "",
    "kind": "lift",
    "name": "",
    "interval_days": "",
    "last_serviced_on": "",
}
SERVICE = {"serviced_on": "", "serviced_by": "", "note": ""}
DATE_FIELDS = {
    "last_serviced_on": ("上次维保日期", "last service date"),
    "serviced_on": ("维保日期", "service date"),
}


def _date(p: workspace.WorkspacePage, name: str, raw: str) -> date | None:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        zh, en = DATE_FIELDS[name]
        p.add(name, f"请填写{zh}，格式如 2026-03-01", f"enter the {en} as 2026-03-01")
        return None


def _problems(p: workspace.WorkspacePage, exc: problems.Invalid) -> None:
    for problem in exc.problems:
        p.add(problem.field, problem.zh, problem.en)


async def _list(
    request: Request,
    session: CurrentSession,
    deps: InspectionsDeps,
    values: dict[str, str],
    code: int = 200,
    p: workspace.WorkspacePage | None = None,
) -> Response:
    p = p or page(request, session, deps)
    who = session.principal
    refusal = policy.facilities_refusal(who)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    today = intervals.today_in_china(deps.clock.now())
    district, enterprise = policy.district_scope(who), policy.enterprise_scope(who)
    async with deps.units() as uow:
        rows = await uow.facilities.search(
            district_code=district, enterprise_id=enterprise, project_id=None, limit=LISTED
        )
        total, overdue_count = await uow.facilities.counts(
            district_code=district, enterprise_id=enterprise, today=today
        )
        may_register = policy.facility_write_refusal(who) is None
        projects = (
            await uow.projects.search(district_code=None, enterprise_id=who.enterprise_id)
            if may_register
            else []
        )
    items = [
        {
            "row": r,
            "kind": intervals.KINDS[r.kind],
            "interval": statutory_intervals.interval_text(r),
            "overdue": intervals.days_overdue(r.next_due_on, today),
            "left": (r.next_due_on - today).days,
        }
        for r in rows
    ]
    return workspace.render(
        env, p, "workspace_facilities.html", code, items=items, projects=projects,
        may_register=may_register, values=values, kinds=list(intervals.KINDS.values()),
        total=total, overdue_count=overdue_count,
    )  # fmt: skip


@router.get(BASE + "facilities", response_class=HTMLResponse)
async def facilities(request: Request, session: CurrentSession, deps: Deps) -> Response:
    return await _list(request, session, deps, dict(REGISTER))


@router.post(BASE + "facilities", response_class=HTMLResponse)
async def register(request: Request, session: CurrentSession, deps: Deps) -> Response:
    p = page(request, session, deps)
    fields = await workspace.posted_form(request, session, REGISTER_FORM)
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    refusal = policy.facility_write_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    values = {k: fields.get(k, v)[:500] for k, v in REGISTER.items()}
    last = _date(p, "last_serviced_on", values["last_serviced_on"])
    raw_days = values["interval_days"].strip()
    days: int | None = None
    if raw_days:
        if raw_days.isdigit() and len(raw_days) <= 4:
            days = int(raw_days)
        else:
            p.add("interval_days", "合同约定周期须为整数天数", "whole days")
    if not p.errors and last is not None:
        cmd = statutory_intervals.RegisterFacility(
            project_id=values["project_id"][:64],
            kind=values["kind"],
            name=values["name"],
            contract_days=days,
            last_serviced_on=last,
        )
        try:
            row = await statutory_intervals.register(
                deps.units(), policy.actor_of(session.principal), cmd, by=session.principal.subject
            )
        except problems.Invalid as exc:
            _problems(p, exc)
        except DomainError as exc:
            if exc.field is None:
                return workspace.refused(env, p, exc.message, status_of(exc))
            p.add(exc.field, exc.message.zh, exc.message.en)
        else:
            return RedirectResponse(
                p.url(f"facilities/{quote(row.facility_id)}", done="registered"), status_code=303
            )
    return await _list(request, session, deps, values, 422, p)


async def _one(
    request: Request,
    session: CurrentSession,
    deps: InspectionsDeps,
    facility_id: str,
    values: dict[str, str],
    code: int = 200,
    p: workspace.WorkspacePage | None = None,
) -> Response:
    p = p or page(request, session, deps)
    refusal = policy.facilities_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    try:
        row, services = await statutory_intervals.get(
            deps.units(), policy.actor_of(session.principal), facility_id[:64]
        )
    except DomainError as exc:
        return workspace.refused(env, p, exc.message, status_of(exc))
    today = intervals.today_in_china(deps.clock.now())
    async with deps.units() as uow:
        photos = {
            s["service_id"]: photo_links(
                p.base(),
                await uow.attachments.listed(
                    statutory_intervals.SERVICE_PHOTO_KIND,
                    statutory_intervals.photo_owner(row.facility_id, str(s["service_id"])),
                ),
            )
            for s in services
        }
    return workspace.render(
        env, p, "workspace_facility.html", code, row=row, services=services, photos=photos,
        kind=intervals.KINDS[row.kind], interval=statutory_intervals.interval_text(row),
        overdue=intervals.days_overdue(row.next_due_on, today),
        may_record=policy.facility_write_refusal(session.principal) is None,
        values=values, done=request.query_params.get("done"),
    )  # fmt: skip


@router.get(BASE + "facilities/{facility_id}", response_class=HTMLResponse)
async def facility(
    facility_id: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    today = intervals.today_in_china(deps.clock.now()).isoformat()
    return await _one(request, session, deps, facility_id, {**SERVICE, "serviced_on": today})


@router.post(BASE + "facilities/{facility_id}/services", response_class=HTMLResponse)
async def record(
    facility_id: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    p = page(request, session, deps)
    form = await multipart_of(request, session, SERVICE_FORM)
    if isinstance(form, Message):
        return workspace.refused(env, p, form, 413 if form is TOO_BIG else 403)
    fields, files = form
    refusal = policy.facility_write_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    values = {k: fields.get(k, v)[:2000] for k, v in SERVICE.items()}
    serviced_on = _date(p, "serviced_on", values["serviced_on"])
    if serviced_on is not None:
        cmd = statutory_intervals.RecordService(
            facility_id=facility_id[:64],
            serviced_on=serviced_on,
            serviced_by=values["serviced_by"],
            note=values["note"],
        )
        try:
            prepared = await asyncio.to_thread(
                attachments.prepare_all, files.get("photos", []), where="photos"
            )
            await statutory_intervals.record_service(
                deps.units(), policy.actor_of(session.principal), cmd,
                by=session.principal.subject, photos=prepared,
            )  # fmt: skip
        except problems.Invalid as exc:
            _problems(p, exc)
        except DomainError as exc:
            if not (exc.field or isinstance(exc, InvalidInput)):
                return workspace.refused(env, p, exc.message, status_of(exc))
            p.add((exc.field or "photos").split(".")[0], exc.message.zh, exc.message.en)
        else:
            return RedirectResponse(
                p.url(f"facilities/{quote(facility_id[:64])}", done="recorded"), status_code=303
            )
    return await _one(request, session, deps, facility_id, values, 422, p)
