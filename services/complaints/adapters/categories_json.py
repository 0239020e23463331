"""`data/categories.json` parsed into the domain's categories (`domain.categories`), with a clear
error (`CategoryError`) for a file that does not make sense."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from services.complaints.domain.categories import (
    QUESTION_KINDS,
    URGENCY_NAMES,
    Categories,
    Category,
    Choice,
    Question,
    SafetyRule,
    Season,
)
from services.complaints.domain.sla import URGENCIES


class CategoryError(ValueError):
    """categories.json that does not make sense."""


def parse(data: Mapping[str, Any], season_dates: Mapping[str, str] | None = None) -> Categories:
    """Build from parsed `data/categories.json`. `season_dates` ({"flood": "06-15..09-15"}, the
    `SEASONS` setting) replaces the dates of the seasons it names: the flood season is declared
    by the city's flood-control headquarters (防洪法 art. 41), so it is configuration."""
    raw = data.get("categories")
    if not isinstance(raw, list) or not raw:
        raise CategoryError("categories must be a non-empty list")
    seasons = _with_dates(_seasons(data.get("seasons", [])), season_dates or {})
    by_id: dict[str, Category] = {}
    for spec in raw:
        category = _category(spec, seasons)
        if category.id in by_id:
            raise CategoryError(f"category {category.id!r} listed twice")
        by_id[category.id] = category
    return Categories(by_id)


def _category(spec: object, seasons: Mapping[str, Season]) -> Category:
    if not isinstance(spec, Mapping):
        raise CategoryError("each category must be an object")
    cid = _str(spec, "id", "category")
    urgency = URGENCY_NAMES.get(str(spec.get("urgency")))
    if urgency is None:
        raise CategoryError(f"category {cid}: urgency must be one of {list(URGENCIES)}")
    questions_raw = spec.get("questions", [])
    if not isinstance(questions_raw, list):
        raise CategoryError(f"category {cid}: questions must be a list")
    questions = tuple(_question(q, cid) for q in questions_raw)
    if len({q.id for q in questions}) != len(questions):
        raise CategoryError(f"category {cid}: a question id is listed twice")
    safety_raw = spec.get("safety", [])
    if not isinstance(safety_raw, list):
        raise CategoryError(f"category {cid}: safety must be a list")
    by_question = {q.id: q for q in questions}
    safety = tuple(_safety_rule(r, cid, by_question, seasons) for r in safety_raw)
    if len({r.id for r in safety}) != len(safety):
        raise CategoryError(f"category {cid}: a safety rule id is listed twice")
    return Category(
        cid,
        _str(spec, "name_zh", cid),
        _str(spec, "name_en", cid),
        urgency,
        questions,
        safety,
    )


def _safety_rule(
    spec: object, cid: str, questions: Mapping[str, Question], seasons: Mapping[str, Season]
) -> SafetyRule:
    if not isinstance(spec, Mapping):
        raise CategoryError(f"category {cid}: each safety rule must be an object")
    rid = _str(spec, "id", cid)
    where = f"{cid}.safety.{rid}"
    unknown = sorted(set(spec) - {"id", "tier", "when", "season", "advice_zh", "advice_en"})
    if unknown:
        raise CategoryError(f"{where}: unknown keys {unknown}")
    tier = URGENCY_NAMES.get(str(spec.get("tier")))
    if tier is None:
        raise CategoryError(f"{where}: tier must be one of {list(URGENCIES)}")
    raw_when = spec.get("when")
    if not isinstance(raw_when, Mapping) or not raw_when:
        raise CategoryError(f"{where}: when must name at least one question")
    when: dict[str, frozenset[str | bool]] = {}
    for qid, raw in raw_when.items():
        question = questions.get(qid)
        if question is None:
            raise CategoryError(f"{where}: {cid} has no question {qid!r}")
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise CategoryError(f"{where}.{qid}: give at least one answer")
        if question.kind == "yesno":
            if not all(isinstance(v, bool) for v in values):
                raise CategoryError(f"{where}.{qid}: a yes/no question takes true or false")
        elif question.kind == "choice":
            ids = {c.id for c in question.choices}
            if not all(isinstance(v, str) and v in ids for v in values):
                raise CategoryError(f"{where}.{qid}: answers must be choice ids of {sorted(ids)}")
        else:
            raise CategoryError(f"{where}.{qid}: free-text answers cannot set a tier")
        when[qid] = frozenset(values)
    season = None
    if "season" in spec:
        season = seasons.get(str(spec["season"]))
        if season is None:
            raise CategoryError(f"{where}: season must be one of {sorted(seasons)}")
    return SafetyRule(
        rid,
        tier,
        when,
        _str(spec, "advice_zh", where),
        _str(spec, "advice_en", where),
        season,
    )


def _seasons(raw: object) -> dict[str, Season]:
    if not isinstance(raw, list) or not all(isinstance(s, Mapping) for s in raw):
        raise CategoryError("seasons must be a list of objects")
    seasons: dict[str, Season] = {}
    for spec in raw:
        sid = _str(spec, "id", "seasons")
        if sid in seasons:
            raise CategoryError(f"season {sid!r} listed twice")
        seasons[sid] = Season(
            sid,
            _str(spec, "name_zh", sid),
            _str(spec, "name_en", sid),
            _month_day(spec.get("from"), f"seasons.{sid}.from"),
            _month_day(spec.get("to"), f"seasons.{sid}.to"),
        )
    return seasons


def _with_dates(seasons: dict[str, Season], dates: Mapping[str, str]) -> dict[str, Season]:
    for sid, span in dates.items():
        season = seasons.get(sid)
        if season is None:
            raise CategoryError(f"SEASONS: {sid!r} is not a season; known: {sorted(seasons)}")
        start, sep, end = span.partition("..")
        if not sep:
            raise CategoryError(f"SEASONS.{sid}: {span!r} is not a span like 06-01..09-30")
        seasons[sid] = Season(
            sid,
            season.name_zh,
            season.name_en,
            _month_day(start.strip(), f"SEASONS.{sid}"),
            _month_day(end.strip(), f"SEASONS.{sid}"),
        )
    return seasons


def _month_day(raw: object, where: str) -> tuple[int, int]:
    error = CategoryError(f"{where}: {raw!r} is not a month-day like 06-01")
    if not isinstance(raw, str) or not re.fullmatch(r"[0-9]{2}-[0-9]{2}", raw):
        raise error
    try:
        day = date(2000, int(raw[:2]), int(raw[3:]))  # a leap year: 02-29 is a day
    except ValueError:
        raise error from None
    return (day.month, day.day)


def _question(spec: object, cid: str) -> Question:
    if not isinstance(spec, Mapping):
        raise CategoryError(f"category {cid}: each question must be an object")
    qid = _str(spec, "id", cid)
    where = f"{cid}.{qid}"
    kind = QUESTION_KINDS.get(str(spec.get("kind")))
    if kind is None:
        raise CategoryError(f"{where}: kind must be text, choice or yesno")
    required = spec.get("required", False)
    if not isinstance(required, bool):
        raise CategoryError(f"{where}: required must be true or false")
    raw_choices = spec.get("choices", [])
    if not isinstance(raw_choices, list) or not all(isinstance(c, Mapping) for c in raw_choices):
        raise CategoryError(f"{where}: choices must be a list of objects")
    choices = tuple(
        Choice(_str(c, "id", where), _str(c, "label_zh", where), _str(c, "label_en", where))
        for c in raw_choices
    )
    if (kind == "choice") != bool(choices):
        raise CategoryError(f"{where}: a choice question needs choices, other kinds none")
    if len({c.id for c in choices}) != len(choices):
        raise CategoryError(f"{where}: a choice id is listed twice")
    return Question(
        qid, _str(spec, "label_zh", where), _str(spec, "label_en", where), kind, required, choices
    )


def _str(spec: Mapping[str, Any], key: str, where: str) -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value.strip():
        raise CategoryError(f"{where}: {key} must be a non-empty string")
    return value
