"""Complaint categories: their extra questions and the safety rules that raise a complaint's
tier from the answers (pure; parsed from `data/categories.json` by `adapters.categories_json`).

The tier (`urgency`) is the highest of the category's default (or the one staff chose) and what
the answers say: each category lists safety rules (e.g. someone trapped in a lift ->
`emergency`; a gas smell, a blocked fire exit, no water for a whole building, a roof leak or
blocked downpipe in the flood season -> `urgent`). A rule may hold only in a season given as data
(`seasons`: month-day ranges in China time). Answers can raise the tier, never lower it, and a
staff member's choice cannot lower it below what the answers say. The ids of the rules that
matched are kept on the complaint (`safety`) so the owner's page and the notices can say what to
do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Literal, get_args

from runtime.calendar import china
from services.complaints.domain import TransitionRefused
from services.complaints.domain.sla import URGENCIES, Urgency

if TYPE_CHECKING:
    from services.complaints.domain.complaint import Complaint

QuestionKind = Literal["text", "choice", "yesno"]
QUESTION_KINDS: dict[str, QuestionKind] = {k: k for k in get_args(QuestionKind)}
URGENCY_NAMES: dict[str, Urgency] = {u: u for u in URGENCIES}


@dataclass(frozen=True)
class Choice:
    id: str
    label_zh: str
    label_en: str


@dataclass(frozen=True)
class Question:
    id: str
    label_zh: str
    label_en: str
    kind: QuestionKind
    required: bool
    choices: tuple[Choice, ...] = ()


@dataclass(frozen=True)
class Season:
    """A yearly stretch of days, e.g. the flood season (汛期) 06-01..09-30; may wrap the new year."""

    id: str
    name_zh: str
    name_en: str
    start: tuple[int, int]  # (month, day), inclusive
    end: tuple[int, int]  # (month, day), inclusive

    def contains(self, day: date) -> bool:
        md = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end


@dataclass(frozen=True)
class SafetyRule:
    """Answers that put a complaint in a tier: every `when` question must have one of its values
    (a yes/no question takes true or false), and the day of filing must be in `season` if set."""

    id: str
    tier: Urgency
    when: Mapping[str, frozenset[str | bool]]
    advice_zh: str
    advice_en: str
    season: Season | None = None

    def matches(self, answers: Mapping[str, str | bool], day: date) -> bool:
        if self.season is not None and not self.season.contains(day):
            return False
        return all(
            q in answers and _answer_in(answers[q], accepted) for q, accepted in self.when.items()
        )


def _answer_in(answer: str | bool, accepted: frozenset[str | bool]) -> bool:
    # compare kinds too: a yes/no answer matches only true/false, a choice answer only its ids
    return any(type(answer) is type(value) and answer == value for value in accepted)


@dataclass(frozen=True)
class Category:
    id: str
    name_zh: str
    name_en: str
    urgency: Urgency
    questions: tuple[Question, ...] = ()
    safety: tuple[SafetyRule, ...] = ()

    def raised_by(self, answers: Mapping[str, str | bool], at: datetime) -> tuple[SafetyRule, ...]:
        """The safety rules these (checked) answers meet when filed at `at` (China time)."""
        day = china(at).date()
        return tuple(rule for rule in self.safety if rule.matches(answers, day))


@dataclass(frozen=True)
class Categories:
    by_id: Mapping[str, Category]

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.by_id)

    def alerts(self, complaint: Complaint) -> tuple[SafetyRule, ...]:
        """The safety rules a filed complaint met, with the advice for the owner."""
        category = self.by_id.get(complaint.category)
        if category is None:
            return ()
        return tuple(r for r in category.safety if r.id in complaint.safety)

    def get(self, category_id: str) -> Category:
        category = self.by_id.get(category_id)
        if category is None:
            raise TransitionRefused(
                "unknown_category",
                f"投诉类别无效：{category_id}",
                f"unknown complaint category {category_id!r}",
                "category",
            )
        return category
