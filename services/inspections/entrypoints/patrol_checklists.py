"""The checklists the workspace's patrol walks (workspace_patrol): which ones may be chosen, the
names of their item groups, and the query a patrol's links carry to keep to its checklist."""

from __future__ import annotations

from services.inspections.domain import checklist
from services.inspections.service.ports import PatrolDraft

PATROL_TEMPLATE = "contract-self-inspection"  # for a project whose grade has no checklist
# The contracted service grade picks the checklist (data/templates/contract-grade-N.v1.json: the
# same items, each item's pass criterion at that grade); a patrol and the workspace follow it.
GRADE_TEMPLATES = {
    "一级": "contract-grade-1",
    "二级": "contract-grade-2",
    "三级": "contract-grade-3",
}
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
    """The checklist of a project of this contracted service grade."""
    return GRADE_TEMPLATES.get(service_grade.strip(), PATROL_TEMPLATE)


def query_of(template: checklist.Template) -> str:
    """What the patrol's links carry to keep to a checklist other than the project's own."""
    chosen = template.template_id in CHOOSABLE
    return f"?checklist={template.template_id}" if chosen else ""
