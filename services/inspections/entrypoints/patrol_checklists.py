"""The checklists the workspace's patrol walks (workspace_patrol): which ones may be chosen, the
names of their item groups, and the query a patrol's links carry to keep to its checklist."""

from __future__ import annotations

from services.inspections.domain import checklist, checklist_choice
from services.inspections.service.ports import PatrolDraft

PATROL_TEMPLATE = checklist_choice.GENERAL_TEMPLATE  # for a project whose grade has none
# The checklists a patrol may walk instead (`?checklist=`): the flood-season checks (汛期检查:
# roofs, downpipes, basements, pumps). A draft keeps the checklist it was started with.
CHOOSABLE = ("flood-season",)
GROUPS = {
    "premises": ("办公及机房环境", "Office and plant rooms"),
    "waste": ("垃圾清运", "Waste"),
    "order": ("秩序维护", "Order and security"),
    "greenery": ("绿化养护", "Greenery"),
    "facilities": ("设施设备", "Facilities"),
    "roof": ("屋面", "Roofs"),
    "drainage": ("排水", "Drainage"),
    "materials": ("防汛物资", "Flood materials"),
    "readiness": ("应急准备", "Readiness"),
}


def groups_of(template: checklist.Template) -> list[tuple[str, list[checklist.Item]]]:
    order: dict[str, list[checklist.Item]] = {}
    for item in template.items:
        order.setdefault(item.group, []).append(item)
    return list(order.items())


def group_done(draft: PatrolDraft | None, items: list[checklist.Item]) -> bool:
    return draft is not None and all(i.item_id in draft.results for i in items)


def default_for(service_grade: str) -> str:
    """The checklist of a project of this contracted service grade (`checklist_choice`)."""
    return checklist_choice.for_grade(service_grade)[0]


def walked_reason(template_id: str, service_grade: str) -> checklist_choice.Reason:
    """Why the patrol walks this checklist: the grade's own, the general one because the grade
    has none or because the grade's is not loaded (`_load`'s fallback), or one chosen."""
    own, reason = checklist_choice.for_grade(service_grade)
    if template_id == own:
        return reason
    if template_id == PATROL_TEMPLATE and reason == checklist_choice.Reason.CONTRACT_GRADE:
        return checklist_choice.Reason.GRADE_CHECKLIST_MISSING
    return checklist_choice.Reason.GIVEN


def query_of(template: checklist.Template) -> str:
    """What the patrol's links carry to keep to a checklist other than the project's own."""
    chosen = template.template_id in CHOOSABLE
    return f"?checklist={template.template_id}" if chosen else ""
