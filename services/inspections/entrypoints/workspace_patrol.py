"""The patrol inspection on a phone (workspace, issue 15): find the project, walk the checklist one
item group at a time (each group saved as a draft), check the answers, submit once. The final
submit records the inspection through `record_inspection`, exactly as the API, with the draft id as
the idempotency key: pressing it twice files once; failed items become rectification orders."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runtime import attachments, workspace
from runtime.errors import DomainError, InvalidInput, Message
from runtime.http import RequestTrace
from runtime.web_session import CurrentSession
from services.inspections.domain import checklist, checklist_choice
from services.inspections.entrypoints import policy
from services.inspections.entrypoints.deps import Deps, InspectionsDeps
from services.inspections.entrypoints.patrol_checklists import (
    CHOOSABLE,
    GROUPS,
    PATROL_TEMPLATE,
    default_for,
    group_done,
    groups_of,
    query_of,
    walked_reason,
)
from services.inspections.entrypoints.uploads import TOO_BIG
from services.inspections.entrypoints.workspace_pages import (
    BASE,
    env,
    page,
    photo_links,
    status_of,
)
from services.inspections.entrypoints.workspace_photos import multipart_of
from services.inspections.service.ports import InspectionsUnitOfWork, PatrolDraft
from services.inspections.service.record_inspection import (
    DRAFT_KIND,
    ITEM_KIND,
    RecordInspection,
    photo_owner,
    record_inspection,
)

router = APIRouter(include_in_schema=False)
RESULTS = (("pass", "合格", "Pass"), ("fail", "不合格", "Fail"), ("na", "不适用", "N/A"))
SEARCH_LIMIT = 30
Chosen = Annotated[str, Query(alias="checklist")]


async def _load(
    p: workspace.WorkspacePage, deps: InspectionsDeps, project_id: str, chosen: str = ""
) -> tuple[Any, checklist.Template, PatrolDraft | None] | Response:
    """The project, the patrol checklist (the draft's, else the one `chosen`, else the
    contract's) and the person's draft, or why they may not patrol."""
    refusal = policy.workspace_refusal(p.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    if chosen and chosen not in CHOOSABLE:
        return workspace.refused(
            env, p, Message("没有这份巡查检查表", "No such patrol checklist"), 404
        )
    async with deps.units() as uow:
        project = await uow.projects.get(project_id)
        if project is None:
            return workspace.refused(env, p, Message("物业项目不存在", "project not found"), 404)
        refusal = policy.patrol_refusal(p.principal, project.district_code, project.enterprise_id)
        if refusal is not None:
            return workspace.refused(env, p, refusal)
        draft = await uow.drafts.get(p.principal.subject, project_id)
        version = draft.template_version if draft else None
        template_id = draft.template_id if draft else (chosen or default_for(project.service_grade))
        template = await uow.templates.get(template_id, version)
        if template is None and draft is None and not chosen:  # the grade's is not loaded
            template = await uow.templates.get(PATROL_TEMPLATE, None)
    if template is None:
        return workspace.refused(
            env, p, Message("巡查检查模板未加载", "the patrol checklist is not loaded"), 503
        )
    return project, template, draft


@router.get(BASE + "patrol", response_class=HTMLResponse)
async def find(request: Request, session: CurrentSession, deps: Deps, q: str = "") -> Response:
    """Find the project by name, code or address (in the person's district)."""
    p = page(request, session, deps)
    refusal = policy.workspace_refusal(session.principal)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    q = q.strip()[:100]
    found = []
    if q:
        async with deps.units() as uow:
            projects = await uow.projects.search(
                district_code=policy.district_scope(session.principal), enterprise_id=None
            )
        needle = q.casefold()
        found = [
            pr
            for pr in projects
            if needle in pr.project_name.casefold()
            or needle in pr.project_id.casefold()
            or needle in pr.address.casefold()
        ]
    return workspace.render(
        env, p, "patrol_find.html", q=q, found=found[:SEARCH_LIMIT], more=len(found) > SEARCH_LIMIT
    )


@router.get(BASE + "patrol/{project_id}", response_class=HTMLResponse)
async def tasks(
    project_id: str, request: Request, session: CurrentSession, deps: Deps, chosen: Chosen = ""
) -> Response:
    """The task list: which checklist, its groups, which are done (a resumed draft shows where
    it stopped); without a draft, the other checklists the patrol may walk instead."""
    p = page(request, session, deps)
    loaded = await _load(p, deps, project_id, chosen)
    if isinstance(loaded, Response):
        return loaded
    project, template, draft = loaded
    groups = groups_of(template)
    done = [group_done(draft, items) for _, items in groups]
    others: list[tuple[checklist.Template, str]] = []  # (checklist, its link's query)
    if draft is None:
        own = default_for(project.service_grade)
        async with deps.units() as uow:
            for other_id in (own, *CHOOSABLE):
                if other_id == template.template_id:
                    continue
                other = await uow.templates.get(other_id, None)
                if other is not None:
                    others.append((other, query_of(other)))
    reason = walked_reason(template.template_id, project.service_grade)
    why = checklist_choice.explain(reason, project.service_grade, template.template_id)
    return workspace.render(
        env, p, "patrol_tasks.html", project=project, groups=groups, done=done, draft=draft,
        names=GROUPS, sheet=template, tq=query_of(template), others=others, reason=reason,
        why=why,
    )  # fmt: skip


async def _draft_photos(
    uow: InspectionsUnitOfWork, p: workspace.WorkspacePage, project_id: str,
    draft: PatrolDraft | None, items: list[checklist.Item],
) -> dict[str, list[dict[str, Any]]]:  # fmt: skip
    """The thumbnails of each item's photos already kept with the draft."""
    if draft is None:
        return {}
    base = p.url(f"patrol/{project_id}/")
    return {
        i.item_id: photo_links(
            base, await uow.attachments.listed(DRAFT_KIND, photo_owner(draft.draft_id, i.item_id))
        )
        for i in items
    }


def _group_page(
    p: workspace.WorkspacePage, project: Any, template: checklist.Template, n: int,
    values: dict[str, Any], photos: dict[str, list[dict[str, Any]]], code: int = 200,
    saved: int = 0,
) -> Response:  # fmt: skip
    groups, tq = groups_of(template), query_of(template)
    return workspace.render(
        env, p, "patrol_group.html", code, project=project, n=n, total=len(groups),
        group=groups[n - 1], values=values, names=GROUPS, results=RESULTS, photos=photos,
        sheet=template, tq=tq, saved=bool(saved), next_url=p.url(
            f"patrol/{project.project_id}/"
            + (f"groups/{n + 1}" if n < len(groups) else "check") + tq
        ),
    )  # fmt: skip


@router.get(BASE + "patrol/{project_id}/groups/{n}", response_class=HTMLResponse)
async def group(
    project_id: str, n: int, request: Request, session: CurrentSession, deps: Deps,
    saved: int = 0, chosen: Chosen = "",
) -> Response:  # fmt: skip
    p = page(request, session, deps)
    loaded = await _load(p, deps, project_id, chosen)
    if isinstance(loaded, Response):
        return loaded
    project, template, draft = loaded
    groups = groups_of(template)
    if not 1 <= n <= len(groups):
        return workspace.refused(env, p, Message("没有这一组", "No such group"), 404)
    async with deps.units() as uow:
        photos = await _draft_photos(uow, p, project_id, draft, groups[n - 1][1])
    return _group_page(p, project, template, n, draft.results if draft else {}, photos, saved=saved)


@router.post(BASE + "patrol/{project_id}/groups/{n}", response_class=HTMLResponse)
async def save_group(
    project_id: str, n: int, request: Request, session: CurrentSession, deps: Deps,
    chosen: Chosen = "",
) -> Response:  # fmt: skip
    """Save the group into the draft (all items answered, a failed one with a note, its photos
    checked and kept with the draft in the same transaction), then on. A refused photo says why
    on the group's page and keeps the answers just given; nothing of the group is written."""
    p = page(request, session, deps)
    form = await multipart_of(request, session, f"patrol:{project_id}")
    if isinstance(form, Message):
        return workspace.refused(env, p, form, 413 if form is TOO_BIG else 403)
    fields, files = form
    loaded = await _load(p, deps, project_id, chosen)
    if isinstance(loaded, Response):
        return loaded
    project, template, draft = loaded
    groups = groups_of(template)
    if not 1 <= n <= len(groups):
        return workspace.refused(env, p, Message("没有这一组", "No such group"), 404)
    answers: dict[str, dict[str, str]] = {}
    for item in groups[n - 1][1]:
        result = fields.get(f"r-{item.item_id}", "")
        note = fields.get(f"n-{item.item_id}", "").strip()[:500]
        answers[item.item_id] = {"result": result, "note": note}
        if result not in ("pass", "fail", "na"):
            p.add(
                f"r-{item.item_id}",
                f"请选择“{item.title_zh}”的结果",
                f"Choose a result for “{item.title_en}”",
            )
        elif result == "fail" and not note:
            p.add(
                f"n-{item.item_id}",
                f"“{item.title_zh}”不合格，请写明问题",
                f"“{item.title_en}” failed: describe the problem",
            )
    prepared: dict[str, tuple[attachments.Prepared, ...]] = {}
    for item in groups[n - 1][1]:
        uploads = files.get(f"p-{item.item_id}", [])
        if not uploads:
            continue
        kept = 0
        if draft is not None:
            async with deps.units() as uow:
                kept = len(
                    await uow.attachments.listed(
                        DRAFT_KIND, photo_owner(draft.draft_id, item.item_id)
                    )
                )
        limit = attachments.DEFAULT_LIMITS.max_count
        if kept + len(uploads) > limit:
            p.add(
                f"p-{item.item_id}",
                f"每项照片最多 {limit} 张（已有 {kept} 张，本次 {len(uploads)} 张）",
                f"at most {limit} photos per item ({kept} kept, {len(uploads)} more sent)",
            )
            continue
        try:  # the inspector's originals are evidence: kept beside the re-encoded image
            prepared[item.item_id] = await asyncio.to_thread(
                attachments.prepare_all, uploads, where=f"p-{item.item_id}", keep_original=True
            )
        except InvalidInput as exc:
            p.add(f"p-{item.item_id}", exc.message.zh, exc.message.en)
    if p.errors:
        merged = {**(draft.results if draft else {}), **answers}
        async with deps.units() as uow:
            photos = await _draft_photos(uow, p, project_id, draft, groups[n - 1][1])
        return _group_page(p, project, template, n, merged, photos, 422)
    now = deps.clock.now()
    draft_id = draft.draft_id if draft else str(uuid.uuid4())
    async with deps.units() as uow:
        for item_id, photos_of_item in prepared.items():
            await uow.attachments.put(
                DRAFT_KIND, photo_owner(draft_id, item_id), photos_of_item, now
            )
        await uow.drafts.save(
            PatrolDraft(
                draft_id=draft_id,
                recorded_by=session.principal.subject,
                project_id=project_id,
                template_id=template.template_id,
                template_version=template.version,
                results={**(draft.results if draft else {}), **answers},
                started_at=draft.started_at if draft else now,
                updated_at=now,
            )
        )
        await uow.commit()
    tq = query_of(template)
    target = (
        f"patrol/{project_id}/groups/{n + 1}{tq}"
        if n < len(groups)
        else f"patrol/{project_id}/check{tq}"
    )
    if prepared:  # show the thumbnails just kept, with the way on
        target = f"patrol/{project_id}/groups/{n}?saved=1" + tq.replace("?", "&")
    return RedirectResponse(p.url(target), status_code=303)


@router.get(BASE + "patrol/{project_id}/check", response_class=HTMLResponse)
async def check(
    project_id: str, request: Request, session: CurrentSession, deps: Deps, chosen: Chosen = ""
) -> Response:
    """Check your answers before the one submit."""
    p = page(request, session, deps)
    loaded = await _load(p, deps, project_id, chosen)
    if isinstance(loaded, Response):
        return loaded
    project, template, draft = loaded
    groups = groups_of(template)
    missing = [n for n, (_, items) in enumerate(groups, 1) if not group_done(draft, items)]
    return workspace.render(
        env, p, "patrol_check.html", project=project, groups=groups, draft=draft,
        missing=missing, names=GROUPS, labels={k: (zh, en) for k, zh, en in RESULTS},
        sheet=template, tq=query_of(template),
    )  # fmt: skip


@router.post(BASE + "patrol/{project_id}/submit", response_class=HTMLResponse)
async def submit(
    project_id: str, request: Request, session: CurrentSession, deps: Deps, trace: RequestTrace
) -> Response:
    """File the patrol once: the draft id is the idempotency key of `record_inspection`."""
    p = page(request, session, deps)
    fields = await workspace.posted_form(request, session, f"patrol:{project_id}")
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    key = fields.get("draft_id", "")[:64]
    me = session.principal.subject
    async with deps.units() as uow:
        earlier = await uow.inspections.find_by_key(me, key) if key else None
    if earlier is not None:  # pressed twice: the first one filed it
        return RedirectResponse(p.url(f"inspections/{earlier['inspection_id']}"), status_code=303)
    loaded = await _load(p, deps, project_id)
    if isinstance(loaded, Response):
        return loaded
    _, template, draft = loaded
    if draft is None or draft.draft_id != key:
        return workspace.refused(
            env,
            p,
            Message("巡查草稿已不存在，请重新开始", "The patrol draft is gone; start again"),
            409,
        )
    now = deps.clock.now()
    cmd = RecordInspection(
        project_id=project_id, kind="patrol", template_id=template.template_id,
        template_version=template.version,
        results=tuple(
            checklist.ItemResult(item_id, checklist.Result(r["result"]), r.get("note", ""))
            for item_id, r in draft.results.items()
        ),
        inspected_at=now, idempotency_key=key, draft_id=draft.draft_id,
    )  # fmt: skip
    try:
        inspection, _ = await record_inspection(
            deps.units(), cmd, policy.actor_of(session.principal), me, rules=deps.rules, trace=trace
        )
    except DomainError as exc:
        return workspace.refused(env, p, exc.message, status_of(exc))
    async with deps.units() as uow:
        await uow.drafts.delete(me, project_id)
        await uow.commit()
    return RedirectResponse(p.url(f"inspections/{inspection['inspection_id']}"), status_code=303)


@router.get(BASE + "inspections/{inspection_id}", response_class=HTMLResponse)
async def filed(
    inspection_id: str, request: Request, session: CurrentSession, deps: Deps
) -> Response:
    """The filed patrol: score, and the rectification orders its failed items became."""
    p = page(request, session, deps)
    async with deps.units() as uow:
        inspection = await uow.inspections.get(inspection_id)
        project = await uow.projects.get(inspection["project_id"]) if inspection else None
        if (
            inspection is None
            or project is None
            or not policy.can_see(session.principal, project.district_code, project.enterprise_id)
        ):
            return workspace.refused(env, p, Message("检查记录不存在", "inspection not found"), 404)
        rows = await uow.orders.search(
            district_code=None, enterprise_id=None, project_id=project.project_id,
            status=None, overdue=None, limit=500,
        )  # fmt: skip
        orders = [r for r in rows if r.inspection_id == inspection_id]
        photos = {
            r.order.order_id: photo_links(
                p.url(""),
                [
                    ref
                    for item in r.items
                    for ref in await uow.attachments.listed(
                        ITEM_KIND, photo_owner(inspection_id, item["item_id"])
                    )
                ],
            )
            for r in orders
        }
    return workspace.render(
        env, p, "patrol_filed.html", inspection=inspection, project=project, orders=orders,
        photos=photos,
    )  # fmt: skip
