"""Scoring is computed from item results by the service; N/A counts neither way."""

from __future__ import annotations

import pytest

from services.inspections.domain import checklist
from services.inspections.domain.checklist import Item, ItemResult, Result, Template

TEMPLATE = Template(
    template_id="t",
    version=1,
    title_zh="测试",
    title_en="test",
    pass_mark=80,
    items=(
        Item("a", "premises", "甲", "A", 50, "general"),
        Item("b", "waste", "乙", "B", 30, "serious"),
        Item("c", "facilities", "丙", "C", 20, "urgent"),
    ),
)


def results(**values: str) -> tuple[ItemResult, ...]:
    return tuple(
        ItemResult(item_id, Result(value), "问题说明" if value == "fail" else "")
        for item_id, value in values.items()
    )


def test_all_passed_scores_100() -> None:
    outcome = checklist.score(TEMPLATE, results(a="pass", b="pass", c="pass"))
    assert outcome.score == 100
    assert outcome.passed
    assert outcome.failed == ()


def test_weights_decide_the_score() -> None:
    outcome = checklist.score(TEMPLATE, results(a="pass", b="fail", c="pass"))
    assert outcome.score == 70
    assert not outcome.passed  # below the pass mark
    assert [f.item.item_id for f in outcome.failed] == ["b"]


def test_not_applicable_items_count_neither_way() -> None:
    outcome = checklist.score(TEMPLATE, results(a="pass", b="na", c="pass"))
    assert outcome.score == 100  # 70 of 70 applicable
    outcome = checklist.score(TEMPLATE, results(a="pass", b="fail", c="na"))
    assert outcome.score == 62.5  # 50 of 80 applicable


def test_an_urgent_failure_fails_the_inspection_whatever_the_score() -> None:
    heavy = Template("t", 1, "测试", "test", 50, TEMPLATE.items)
    outcome = checklist.score(heavy, results(a="pass", b="pass", c="fail"))
    assert outcome.score == 80
    assert outcome.score >= heavy.pass_mark
    assert not outcome.passed


@pytest.mark.parametrize(
    ("given", "code", "field"),
    [
        (results(a="pass", b="pass"), "incomplete", "results"),
        (results(a="pass", b="pass", c="pass", d="pass"), "unknown_item", "results.3.item_id"),
        (
            (*results(a="pass", b="pass", c="pass"), ItemResult("a", Result.PASS)),
            "duplicate_item",
            "results.3.item_id",
        ),
        (
            (ItemResult("a", Result.FAIL, "  "), *results(b="pass", c="pass")),
            "note_required",
            "results.0.note",
        ),
        (results(a="na", b="na", c="na"), "nothing_applicable", "results"),
    ],
)
def test_results_that_do_not_fit_the_template_are_refused(
    given: tuple[ItemResult, ...], code: str, field: str
) -> None:
    with pytest.raises(checklist.ChecklistError) as refused:
        checklist.score(TEMPLATE, given)
    assert refused.value.code == code
    assert refused.value.field == field
    assert refused.value.zh
    assert refused.value.en
