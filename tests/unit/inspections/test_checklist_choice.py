"""Which checklist a project's contracted service grade picks, and why (issue 16)."""

from __future__ import annotations

import pytest

from services.inspections.domain.checklist_choice import (
    GENERAL_TEMPLATE,
    Reason,
    explain,
    for_grade,
    reason_for_given,
)


@pytest.mark.parametrize(
    ("grade", "template_id"),
    [("一级", "contract-grade-1"), (" 二级 ", "contract-grade-2"), ("三级", "contract-grade-3")],
)
def test_each_contracted_grade_has_its_checklist(grade: str, template_id: str) -> None:
    assert for_grade(grade) == (template_id, Reason.CONTRACT_GRADE)


@pytest.mark.parametrize("grade", ["四级", "", "普通"])
def test_a_grade_without_a_checklist_gets_the_general_one(grade: str) -> None:
    assert for_grade(grade) == (GENERAL_TEMPLATE, Reason.NO_GRADE_CHECKLIST)


def test_a_named_checklist_keeps_the_reason_it_would_have_had() -> None:
    assert reason_for_given("contract-grade-2", "二级") == Reason.CONTRACT_GRADE
    assert reason_for_given(GENERAL_TEMPLATE, "四级") == Reason.NO_GRADE_CHECKLIST
    assert reason_for_given(GENERAL_TEMPLATE, "一级") == Reason.GIVEN
    assert reason_for_given("flood-season", "一级") == Reason.GIVEN


def test_every_reason_is_explained_in_both_languages() -> None:
    for reason in Reason:
        zh, en = explain(reason, "四级", GENERAL_TEMPLATE)
        assert zh.endswith("。")
        assert en
        assert zh != en
    zh, _ = explain(Reason.NO_GRADE_CHECKLIST, "", GENERAL_TEMPLATE)
    assert "服务等级（未登记）没有对应的分级检查表" in zh
