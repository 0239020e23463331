"""代业主登记 (issue 16): the district office and the 12345 hotline register an owner's complaint
taken by phone or at the counter (walk-in), on the complaints workspace. One page: find the
project (the district's own; the hotline searches the city), choose the category, then the
category's questions, the description, the owner's name and phone as given and the channel; the
confirmation shows the ticket number and the follow-up token once, for the clerk to read out.

Translators only: filing is the same `service.intake.file` as the owners' form and the API (SLA
clocks, tiers and the category's safety questions, first inquiry), who may file for which project
on which channel is `service.access`, who may open the page `policy.register_refusal`."""

from __future__ import annotations

import hashlib
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from runtime import idempotency, workspace
from runtime.auth import Principal
from runtime.errors import DomainError, Message
from runtime.http import RequestTrace
from runtime.web_session import CurrentSession
from services.complaints.domain import categories, owner_input
from services.complaints.entrypoints import policy
from services.complaints.entrypoints.deps import ComplaintsDeps, Deps
from services.complaints.entrypoints.workspace_pages import BASE, env, page, status_of
from services.complaints.service import intake
from services.complaints.service.ports import Project

router = APIRouter(include_in_schema=False)
PATH = "register"
FORM = "complaint-register"
MAX_MATCHES = 30  # projects listed for one search
CHANNEL_NAMES = {
    "phone": ("电话", "Phone"),
    "counter": ("来访（窗口）", "Walk-in (counter)"),
    "hotline": ("12345 热线", "12345 hotline"),
}
SUBMISSION_FIELD = "submission_id"


async def projects_in_scope(deps: ComplaintsDeps, principal: Principal) -> list[Project]:
    """The projects this registrar may file for (`policy.may_register_for`)."""
    async with deps.units() as uow:
        listed = await uow.projects.listed(limit=5000)
    return [p for p in listed if policy.may_register_for(principal, p)]


def search(projects: list[Project], q: str) -> list[Project]:
    """Projects whose name, id, district or enterprise contain the words of `q` (each)."""
    words = q.split()
    if not words:
        return projects[:MAX_MATCHES]
    found = [
        p
        for p in projects
        if all(
            w.casefold()
            in f"{p.project_name} {p.project_id} {p.district_name} {p.enterprise_name}".casefold()
            for w in words
        )
    ]
    return found[:MAX_MATCHES]


def _form(
    p: workspace.WorkspacePage,
    deps: ComplaintsDeps,
    projects: list[Project],
    values: dict[str, str],
    code: int = 200,
) -> Response:
    q = values.get("q", "").strip()
    matches = search(projects, q)
    project = next((x for x in projects if x.project_id == values.get("project_id")), None)
    if project is not None and project not in matches:
        matches = [project, *matches]
    category = deps.rules.categories.by_id.get(values.get("category", ""))
    if project is not None and category is not None and not values.get(SUBMISSION_FIELD):
        values = {**values, SUBMISSION_FIELD: secrets.token_urlsafe(24)}
    return workspace.render(
        env, p, "workspace_register.html", code, values=values, q=q, matches=matches,
        project=project, category=category,
        categories=list(deps.rules.categories.by_id.values()),
        channels=policy.register_channels(p.principal), channel_names=CHANNEL_NAMES,
        max_description=owner_input.MAX_DESCRIPTION, max_name=owner_input.MAX_NAME, form=FORM,
    )  # fmt: skip


@router.get(BASE + PATH, response_class=HTMLResponse)
async def register_form(
    request: Request,
    session: CurrentSession,
    deps: Deps,
    q: str = "",
    project_id: str = "",
    category: str = "",
) -> Response:
    """Step 1 (search, project, category) and, once both are chosen, step 2 (the details)."""
    p = page(request, session, deps)
    refusal = policy.register_refusal(session.principal, deps.settings.hotline_agency_id)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    projects = await projects_in_scope(deps, session.principal)
    values = {"q": q[:100], "project_id": project_id[:64], "category": category[:64]}
    return _form(p, deps, projects, values)


def _answers(
    p: workspace.WorkspacePage, category: categories.Category, form: dict[str, str]
) -> dict[str, str | bool]:
    """The category's questions as the owners' form asks them (the tier follows the answers)."""
    answers: dict[str, str | bool] = {}
    for question in category.questions:
        raw = form.get(f"answer-{question.id}", "").strip()
        if not raw:
            if question.required:
                p.add(
                    f"answer-{question.id}",
                    f"请回答：{question.label_zh}",
                    f"Please answer: {question.label_en}",
                )
            continue
        answers[question.id] = raw == "yes" if question.kind == "yesno" else raw
    return answers


def _checked(p: workspace.WorkspacePage, values: dict[str, str], channels: tuple[str, ...]) -> None:
    description = values.get("description", "")
    if not description.strip():
        p.add("description", "请填写投诉内容", "Describe the problem")
    elif len(description) > owner_input.MAX_DESCRIPTION:
        p.add(
            "description",
            f"投诉内容不能超过 {owner_input.MAX_DESCRIPTION} 字",
            f"The description may have at most {owner_input.MAX_DESCRIPTION} characters",
        )
    if values.get("channel") not in channels:
        p.add("channel", "请选择受理渠道", "Choose how the complaint came in")


def form_field(field: str) -> str:
    """The form's id of a field the domain names (`contact.phone`, `answers.<id>`)."""
    if field.startswith("answers."):
        return "answer-" + field.removeprefix("answers.")
    return field.replace(".", "_")


@router.post(BASE + PATH, response_class=HTMLResponse)
async def register(
    request: Request, session: CurrentSession, deps: Deps, trace: RequestTrace
) -> Response:
    p = page(request, session, deps)
    fields = await workspace.posted_form(request, session, FORM)
    if isinstance(fields, Message):
        return workspace.refused(env, p, fields)
    principal = session.principal
    refusal = policy.register_refusal(principal, deps.settings.hotline_agency_id)
    if refusal is not None:
        return workspace.refused(env, p, refusal)
    projects = await projects_in_scope(deps, principal)
    values = {k: v for k, v in fields.items() if k != "csrf_token"}
    project = next((x for x in projects if x.project_id == values.get("project_id")), None)
    category = deps.rules.categories.by_id.get(values.get("category", ""))
    if project is None:
        p.add("project_id", "请选择本辖区内的项目", "Choose a project you may register for")
    if category is None:
        p.add("category", "请选择投诉类别", "Choose a category")
    if project is None or category is None:
        return _form(p, deps, projects, values, 422)
    channels = policy.register_channels(principal)
    _checked(p, values, channels)
    answers = _answers(p, category, values)
    if p.errors:
        return _form(p, deps, projects, values, 422)
    submission = values.get(SUBMISSION_FIELD, "")
    key = hashlib.sha256(submission.encode()).hexdigest() if len(submission) >= 16 else None
    try:
        filed = await intake.file(
            deps.units(),
            deps.rules,
            principal,
            intake.Intake(
                project_id=project.project_id,
                category=category.id,
                description=values.get("description", ""),
                channel=values["channel"],  # type: ignore[arg-type]  # checked in _checked
                contact_name=values.get("contact_name", "").strip() or None,
                contact_phone=values.get("contact_phone", "").strip() or None,
                address=values.get("address", "").strip() or None,
                answers=answers,
            ),
            trace=trace,
            idempotency_key=key,
            hotline_agency=deps.settings.hotline_agency_id,
        )
    except idempotency.KeyReused:  # the same form sent again with other content
        p.add(
            "",
            "这份表单已经提交过。如需再登记一件投诉，请重新打开登记页面。",
            "This form was submitted already. To register another complaint, open the form again.",
        )
        return _form(p, deps, projects, {**values, SUBMISSION_FIELD: ""}, 409)
    except DomainError as exc:
        if exc.field:
            p.add(form_field(exc.field), exc.message.zh, exc.message.en)
            return _form(p, deps, projects, values, 422)
        return workspace.refused(env, p, exc.message, status_of(exc))
    response = workspace.render(
        env, p, "workspace_registered.html", 201, filed=filed, c=filed.complaint,
        project=project, category=category, channel_names=CHANNEL_NAMES,
        alerts=deps.rules.categories.alerts(filed.complaint),
    )  # fmt: skip
    response.headers["Cache-Control"] = "no-store"  # the token is shown once
    return response
