"""Command handler: record an inspection — load, decide, save, and emit events in one unit of work.
A failed inspection orders its rectifications in the same unit (`rectifications.issue_orders`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runtime import attachments
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound
from runtime.unit_of_work import Trace
from schemas.inspections import v1 as inspections
from services.inspections.domain import actors, checklist, checklist_choice
from services.inspections.service import rectifications
from services.inspections.service.ports import InspectionsUnitOfWork


@dataclass(frozen=True)
class RecordInspection:
    project_id: str
    kind: str  # "self" | "patrol"
    template_id: str | None  # None: the checklist of the project's contracted grade
    template_version: int | None
    results: tuple[checklist.ItemResult, ...]
    inspected_at: datetime
    idempotency_key: str | None
    # The workspace's patrol: the draft whose photos (owner `DRAFT_KIND`, one owner per item) the
    # inspection takes over in its own transaction. None for the API (no photos yet).
    draft_id: str | None = None


DRAFT_KIND = "patrol-draft"  # attachments' owner kind of a patrol draft's photos
ITEM_KIND = "inspection-item"  # ... and of a filed inspection's item photos


def photo_owner(record_id: str, item_id: str) -> str:
    """The attachments' owner id of one item's photos (of a draft or of a filed inspection)."""
    return f"{record_id}:{item_id}"


def _project_not_found(project_id: str) -> NotFound:
    return NotFound(
        "project_not_found",
        Message(f"物业项目 {project_id} 不存在", f"project {project_id} does not exist"),
        field="project_id",
    )


def _template_not_found(template_id: str) -> NotFound:
    return NotFound(
        "template_not_found",
        Message(f"检查模板 {template_id} 不存在", f"template {template_id} does not exist"),
        field="template_id",
    )


async def _checklist(
    uow: InspectionsUnitOfWork, cmd: RecordInspection, grade: str
) -> tuple[checklist.Template, checklist_choice.Reason]:
    """The checklist named, else the one of the project's contracted grade (the general one when
    the grade has none or its checklist is not loaded), and why."""
    if cmd.template_id is not None:
        template = await uow.templates.get(cmd.template_id, cmd.template_version)
        if template is None:
            raise _template_not_found(cmd.template_id)
        return template, checklist_choice.reason_for_given(template.template_id, grade)
    if cmd.template_version is not None:
        raise InvalidInput(
            "template_version_without_id",
            Message(
                "指定模板版本时须同时指定模板编号 template_id",
                "template_version needs template_id",
            ),
            field="template_version",
        )
    template_id, reason = checklist_choice.for_grade(grade)
    template = await uow.templates.get(template_id, None)
    if template is None and reason == checklist_choice.Reason.CONTRACT_GRADE:
        template_id = checklist_choice.GENERAL_TEMPLATE
        reason = checklist_choice.Reason.GRADE_CHECKLIST_MISSING
        template = await uow.templates.get(template_id, None)
    if template is None:
        raise _template_not_found(template_id)
    return template, reason


async def record_inspection(
    uow: InspectionsUnitOfWork,
    cmd: RecordInspection,
    actor: actors.Actor,
    actor_id: str,
    *,
    rules: rectifications.Rules,
    trace: Trace,
) -> tuple[dict[str, Any], bool]:
    """Return (the inspection, created?). A repeated Idempotency-Key returns the first result,
    also when the retry races the original request (the insert waits for it, then yields)."""
    async with uow:
        if cmd.idempotency_key:
            earlier = await uow.inspections.find_by_key(actor_id, cmd.idempotency_key)
            if earlier is not None:
                return earlier, False
        project = await uow.projects.get(cmd.project_id)
        if project is None:
            raise _project_not_found(cmd.project_id)
        refusal = actors.may_record(actor, cmd.kind, project.district_code, project.enterprise_id)
        if refusal is not None and refusal.code == "out_of_scope":
            # A project outside the caller's scope answers like a missing one: ids can't be probed.
            raise _project_not_found(cmd.project_id)
        if refusal is not None:
            raise Forbidden(refusal.code, Message(refusal.zh, refusal.en))
        grade = project.service_grade.strip()
        template, reason = await _checklist(uow, cmd, grade)
        if template.service_grade is not None and template.service_grade != grade:
            # the items are judged against the grade the owners pay for, not another one
            raise DomainError(
                "wrong_service_grade",
                Message(
                    f"检查模板 {template.template_id} 按{template.service_grade}服务标准，"
                    f"项目“{project.project_name}”合同约定为{grade}，请使用{grade}的检查表",
                    f"template {template.template_id} judges service grade "
                    f"{template.service_grade}; project {project.project_id} is contracted at "
                    f"{grade}: use that grade's checklist",
                ),
                field="template_id",
            )
        try:
            outcome = checklist.score(template, cmd.results)
        except checklist.ChecklistError as exc:
            # Scoring an item that is not in the template is an illegal request (409); results
            # that are incomplete or lack a note are bad input (422).
            error = DomainError if exc.code == "unknown_item" else InvalidInput
            raise error(exc.code, Message(exc.zh, exc.en), field=exc.field) from exc

        now = uow.clock.now()
        inspection_id = str(uuid.uuid4())
        added = await uow.inspections.add(
            inspection_id=inspection_id,
            project_id=project.project_id,
            kind=cmd.kind,
            template=template,
            outcome=outcome,
            results=cmd.results,
            recorded_by=actor_id,
            recorder_role=actor.role,
            idempotency_key=cmd.idempotency_key,
            inspected_at=cmd.inspected_at,
            checklist_reason=reason.value,
            contracted_grade=grade,
        )
        if not added:  # a concurrent retry with the same key committed first
            assert cmd.idempotency_key is not None
            earlier = await uow.inspections.find_by_key(actor_id, cmd.idempotency_key)
            assert earlier is not None
            return earlier, False
        common = {
            "inspection_id": inspection_id,
            "project_id": project.project_id,
            "project_name": project.project_name,
            "enterprise_id": project.enterprise_id,
            "enterprise_name": project.enterprise_name,
            "district_code": project.district_code,
            "kind": cmd.kind,
            "template_id": template.template_id,
            "template_version": template.version,
            "service_grade": template.service_grade,
            "score": outcome.score,
            "pass_mark": template.pass_mark,
            "inspected_at": cmd.inspected_at,
            "recorded_by": actor_id,
        }
        await uow.outbox.add(
            inspections.InspectionCompleted(
                **common, passed=outcome.passed, failed_item_count=len(outcome.failed)
            ),
            trace,
        )
        photos: dict[str, list[attachments.Ref]] = {}
        if cmd.draft_id:
            for r in cmd.results:
                photos[r.item_id] = await uow.attachments.move(
                    DRAFT_KIND,
                    photo_owner(cmd.draft_id, r.item_id),
                    ITEM_KIND,
                    photo_owner(inspection_id, r.item_id),
                )
        if outcome.failed:
            deadlines = rectifications.deadlines_for(rules, outcome.failed, now)
            await uow.outbox.add(
                inspections.InspectionFailed(
                    **common,
                    failed_items=tuple(
                        inspections.FailedItem(
                            item_id=f.item.item_id,
                            group=f.item.group,
                            title_zh=f.item.title_zh,
                            title_en=f.item.title_en,
                            severity=f.item.severity,
                            note=f.note,
                            deadline=deadline.at,
                            deadline_calendar=deadline.calendar,
                            attachments=tuple(
                                rectifications.attachment_ref(p)
                                for p in photos.get(f.item.item_id, [])
                            ),
                        )
                        for f, deadline in zip(outcome.failed, deadlines, strict=True)
                    ),
                ),
                trace,
            )
            # Every failed item becomes a rectification order with its own deadline.
            await rectifications.issue_orders(
                uow,
                inspection_id=inspection_id,
                project=project,
                failed=outcome.failed,
                deadlines=deadlines,
                now=now,
                trace=trace,
            )
        if cmd.kind == "patrol":
            await uow.patrols.close_open(project.project_id, inspection_id)
        created = await uow.inspections.get(inspection_id)
        assert created is not None
        await uow.commit()
        return created, True
