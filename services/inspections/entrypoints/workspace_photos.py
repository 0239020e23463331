"""Photos in the workspace (issue 15): the multipart forms of the patrol and of the enterprise's
evidence, and the photo routes. A photo is served only to whom `policy.can_see` lets see its
record (a draft's photos only to the inspector whose draft it is); the original with its GPS only
to the project's district office (`policy.sees_photo_location`), others get the re-encoded image."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import attachments, workspace
from runtime.errors import DomainError, InvalidInput, Message
from runtime.http import RequestTrace
from runtime.web_session import CurrentSession, Session, check_csrf
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps
from services.inspections.entrypoints.uploads import TOO_BIG, Files, parse_multipart
from services.inspections.entrypoints.workspace_pages import (
    BASE,
    _order,
    env,
    page,
    status_label,
    status_of,
)
from services.inspections.service import rectifications, statutory_intervals
from services.inspections.service.record_inspection import DRAFT_KIND, ITEM_KIND

router = APIRouter(include_in_schema=False)


async def multipart_of(
    request: Request, session: Session, form: str
) -> tuple[dict[str, str], Files] | Message:
    """The text fields and the files (by field name, empty inputs dropped) of a multipart form
    once the CSRF check passes, or why not (a form without a file input posts as urlencoded:
    taken as such, without files). Nothing is decoded as an image here."""
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        plain = await workspace.posted_form(request, session, form)
        return plain if isinstance(plain, Message) else (plain, {})
    parsed = await parse_multipart(request)
    if isinstance(parsed, Message):
        return parsed
    fields, files = parsed
    try:
        check_csrf(request, session, form, fields.get("csrf_token", ""))
    except DomainError as exc:
        return exc.message
    return fields, files


VARIANTS: dict[str, attachments.Variant] = {
    "image": "image",
    "thumbnail": "thumbnail",
    "original": "original",
}
NOT_FOUND = Response(status_code=404, content="照片不存在 photo not found".encode())


@router.get(BASE + "photos/{attachment_id}/{variant}")
async def photo(attachment_id: str, variant: str, session: CurrentSession, deps: Deps) -> Response:
    """One photo of an inspection item, a rectification submission or a facility's recorded
    service (never a draft's: those are served under the patrol, to their inspector only)."""
    if variant not in VARIANTS or not attachments.valid_id(attachment_id):
        return Response(status_code=404, content=NOT_FOUND.body)
    me = session.principal
    async with deps.units() as uow:
        stored = await uow.attachments.get(attachment_id, "thumbnail")
        if stored is None:
            return Response(status_code=404, content=NOT_FOUND.body)
        record_id = stored.owner_id.split(":", 1)[0]
        if stored.owner_kind == ITEM_KIND:
            inspection = await uow.inspections.get(record_id)
            project = await uow.projects.get(inspection["project_id"]) if inspection else None
            place = (project.district_code, project.enterprise_id) if project else None
        elif stored.owner_kind == rectifications.EVIDENCE_KIND:
            row = await uow.orders.get(record_id)
            place = (row.district_code, row.enterprise_id) if row else None
        elif stored.owner_kind == statutory_intervals.SERVICE_PHOTO_KIND:
            facility = await uow.facilities.get(record_id)
            place = (facility.district_code, facility.enterprise_id) if facility else None
        else:
            place = None
        if place is None or not policy.can_see(me, *place):
            return Response(status_code=404, content=NOT_FOUND.body)
        wanted = VARIANTS[variant]
        if wanted == "original" and not policy.sees_photo_location(me, place[0]):
            wanted = "image"
        served = await uow.attachments.get(attachment_id, wanted)
    if served is None:
        return Response(status_code=404, content=NOT_FOUND.body)
    return Response(served.data, headers=dict(attachments.serving_headers(served)))


@router.get(BASE + "patrol/{project_id}/photos/{attachment_id}/{variant}")
async def draft_photo(
    project_id: str, attachment_id: str, variant: str, session: CurrentSession, deps: Deps
) -> Response:
    """A photo of the person's own patrol draft (the thumbnails shown after a group is saved)."""
    if variant not in VARIANTS or not attachments.valid_id(attachment_id):
        return Response(status_code=404, content=NOT_FOUND.body)
    async with deps.units() as uow:
        draft = await uow.drafts.get(session.principal.subject, project_id)
        stored = await uow.attachments.get(attachment_id, VARIANTS[variant])
    if (
        draft is None
        or stored is None
        or stored.owner_kind != DRAFT_KIND
        or not stored.owner_id.startswith(draft.draft_id + ":")
    ):
        return Response(status_code=404, content=NOT_FOUND.body)
    return Response(stored.data, headers=dict(attachments.serving_headers(stored)))


@router.post(BASE + "orders/{order_id}/evidence/submit", response_class=HTMLResponse)
async def submit_evidence(
    order_id: str, request: Request, session: CurrentSession, deps: Deps, trace: RequestTrace
) -> Response:
    """The enterprise submits its rectification: a note and photos, through the same handler as
    the API (`rectifications.submit`), the photos in the submission's transaction."""
    p = page(request, session, deps)
    form = await multipart_of(request, session, f"evidence:{order_id}")
    if isinstance(form, Message):
        return workspace.refused(env, p, form, 413 if form is TOO_BIG else 403)
    fields, files = form
    found = await _order(p, deps, order_id)
    if isinstance(found, Response):
        return found
    row, history, photos = found
    refusal = policy.submit_refusal(session.principal, row.enterprise_id)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    note = fields.get("evidence_text", "")[:2000]
    try:
        prepared = await asyncio.to_thread(
            attachments.prepare_all, files.get("photos", []), where="photos"
        )
        await rectifications.submit(
            deps.units(), order_id, policy.actor_of(session.principal), session.principal.subject,
            evidence_text=note, photo_refs=[], photos=prepared, trace=trace,
        )  # fmt: skip
    except DomainError as exc:
        if exc.field or isinstance(exc, InvalidInput):
            p.add((exc.field or "photos").split(".")[0], exc.message.zh, exc.message.en)
            return workspace.render(
                env, p, "workspace_order.html", 422, row=row, history=history,
                may_decide=False, may_submit=True, status_label=status_label, photos=photos,
                note=note,
            )  # fmt: skip
        return workspace.refused(env, p, exc.message, status_of(exc))
    return RedirectResponse(p.url(f"orders/{order_id}", done="submit"), status_code=303)
