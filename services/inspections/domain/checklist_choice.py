"""Which checklist a self-inspection or patrol walks, and why (issue 16: checklists by contracted
service grade). The project's contracted grade picks its checklist (contract-grade-N: the same
items, each item's pass criterion at that grade); a project whose grade has no checklist, or whose
grade's checklist is not loaded, gets the general one, and the reason is kept with the inspection
so the API and the pages can say which checklist was used and why."""

from __future__ import annotations

from enum import StrEnum

GENERAL_TEMPLATE = "contract-self-inspection"  # no grade: the notice's items, no grade criteria
GRADE_TEMPLATES = {
    "一级": "contract-grade-1",
    "二级": "contract-grade-2",
    "三级": "contract-grade-3",
}


class Reason(StrEnum):
    CONTRACT_GRADE = "contract_grade"  # the checklist of the project's contracted grade
    NO_GRADE_CHECKLIST = "no_grade_checklist"  # the grade has no checklist: the general one
    GRADE_CHECKLIST_MISSING = "grade_checklist_missing"  # the grade's is not loaded: general
    GIVEN = "given"  # the caller named another checklist (e.g. the flood-season checks)


def for_grade(service_grade: str) -> tuple[str, Reason]:
    """The checklist of a project of this contracted grade, and why."""
    own = GRADE_TEMPLATES.get(service_grade.strip())
    if own is None:
        return GENERAL_TEMPLATE, Reason.NO_GRADE_CHECKLIST
    return own, Reason.CONTRACT_GRADE


def reason_for_given(template_id: str, service_grade: str) -> Reason:
    """Why a checklist the caller named applies: as the grade's own or the general fallback it
    would have been chosen anyway; anything else was the caller's choice."""
    own, reason = for_grade(service_grade)
    return reason if template_id == own else Reason.GIVEN


def explain(reason: str, service_grade: str | None, template_id: str) -> tuple[str, str]:
    """Why this checklist, in Chinese and English, for the page and the API."""
    grade = (service_grade or "").strip()
    shown = f"“{grade}”" if grade else "（未登记）"
    if reason == Reason.CONTRACT_GRADE:
        return (
            f"按项目合同约定的{grade}服务标准检查，各项按该等级的合格标准判定。",
            f"the checklist of the project's contracted service grade {grade}; each item is "
            "judged against that grade's criterion",
        )
    if reason == Reason.NO_GRADE_CHECKLIST:
        return (
            f"项目合同约定的服务等级{shown}没有对应的分级检查表，使用通用检查表 {template_id}"
            "（不按等级判定）。",
            f"the project's contracted service grade {grade or '(not recorded)'} has no graded "
            f"checklist: the general checklist {template_id} is used (not judged by grade)",
        )
    if reason == Reason.GRADE_CHECKLIST_MISSING:
        return (
            f"{grade}服务标准的检查表未加载，暂用通用检查表 {template_id}（不按等级判定）。",
            f"the checklist of service grade {grade} is not loaded: the general checklist "
            f"{template_id} is used (not judged by grade)",
        )
    return (
        f"检查人选用的检查表 {template_id}。",
        f"the checklist {template_id} chosen by the inspector",
    )
