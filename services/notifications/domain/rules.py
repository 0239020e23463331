"""Notice rules as data (`data/rules.toml`, read by `adapters/rule_file.py`): which event produces
which notice for whom, in which words, and when a reminder (催办) turns into a circulated criticism
(通报批评).

Pure: loading validates the whole rule book against the event catalog and compiles every template,
so a typo stops the service at startup instead of at the first overdue order. Rendering is
sandboxed Jinja2 with undefined names as errors; notices are plain text (whoever renders them as
HTML must escape them).
"""

from __future__ import annotations

import datetime as dt
import string
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas import catalog
from schemas.base import Event

CHINA = dt.timezone(dt.timedelta(hours=8), "CST")
ESCALATION = "escalation"  # the `on` of rules that only a ladder issues
CITY = "city"
NAMESPACE = uuid.UUID("4f6c2a52-9a53-4f44-9a7c-0b3f8d1f5e21")

RecipientRole = Literal[
    "enterprise", "enterprises", "assignee", "manager", "district", "city", "owner", "submitter"
]
NoticeKind = Literal["notice", "reminder", "criticism"]

SEVERITY_ZH = {"general": "一般", "serious": "严重", "urgent": "紧急"}
CLOCK_ZH = {"acceptance": "受理", "completion": "办结"}
# Current names of Tianjin's districts, used only when the registry copy has not named one yet.
TIANJIN_DISTRICTS = {
    "120101": "和平区",
    "120102": "河东区",
    "120103": "河西区",
    "120104": "南开区",
    "120105": "河北区",
    "120106": "红桥区",
    "120110": "东丽区",
    "120111": "西青区",
    "120112": "津南区",
    "120113": "北辰区",
    "120114": "武清区",
    "120115": "宝坻区",
    "120116": "滨海新区",
    "120117": "宁河区",
    "120118": "静海区",
    "120119": "蓟州区",
}


class RuleError(ValueError):
    """The rule book is invalid; the message says where."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Subject(_Strict):
    kind: str = Field(min_length=1, max_length=64)
    field: str = Field(min_length=1)


class Escalate(_Strict):
    rule: str
    after_hours: float = Field(gt=0, le=24 * 365)
    at: str = Field(description="event field the waiting time counts from")
    cancel_on: tuple[str, ...] = Field(min_length=1)


class Rule(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")
    on: str
    kind: NoticeKind
    reason: str = Field(min_length=1, max_length=64, pattern=r"^[a-z_]+$")
    subject: Subject
    to: tuple[RecipientRole, ...] = Field(min_length=1)
    cc: tuple[RecipientRole, ...] = ()
    when: Mapping[str, bool | str | int] = Field(default_factory=dict)
    when_set: tuple[str, ...] = Field(
        default=(), description="event fields that must be set (not null, not empty)"
    )
    publish: bool = True
    escalate: Escalate | None = None
    title_zh: str = Field(min_length=1)
    body_zh: str = Field(min_length=1)
    title_en: str
    body_en: str

    def matches(self, event: Event) -> bool:
        return all(getattr(event, name) == value for name, value in self.when.items()) and all(
            getattr(event, name) not in (None, "", (), []) for name in self.when_set
        )


class Numbering(_Strict):
    criticism: str

    @model_validator(mode="after")
    def _known_fields(self) -> Numbering:
        names = {f for _, f, _, _ in string.Formatter().parse(self.criticism) if f}
        if names != {"district_name", "year", "seq"}:
            # all three, or two districts or two years would give the same number
            raise ValueError("criticism numbering must use {district_name}, {year} and {seq}")
        return self


class _Book(_Strict):
    numbering: Numbering
    rule: tuple[Rule, ...] = Field(min_length=1)


@dataclass(frozen=True)
class ProjectFacts:
    """What the registry copy knows about a project."""

    project_id: str
    project_name: str
    enterprise_id: str
    enterprise_name: str
    district_code: str
    district_name: str


@dataclass(frozen=True)
class Addressee:
    kind: str  # enterprise, manager, district, city, owner
    id: str
    cc: bool


@dataclass(frozen=True)
class Rendered:
    title_zh: str
    body_zh: str
    title_en: str
    body_en: str


def _as_china(value: dt.datetime | dt.date) -> dt.datetime | dt.date:
    return value.astimezone(CHINA) if isinstance(value, dt.datetime) else value


def _date(value: dt.datetime | dt.date) -> str:
    return _as_china(value).strftime("%Y年%m月%d日")


def _datetime(value: dt.datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y年%m月%d日 %H:%M")


def _date_en(value: dt.datetime | dt.date) -> str:
    return _as_china(value).strftime("%Y-%m-%d")


def _datetime_en(value: dt.datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M (UTC+8)")


def _environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )
    env.filters.update(
        date=_date,
        datetime=_datetime,
        date_en=_date_en,
        datetime_en=_datetime_en,
        severity=lambda s: SEVERITY_ZH.get(s, s),
        clock=lambda c: CLOCK_ZH.get(c, c),
    )
    return env


class RuleBook:
    """The validated rules, their compiled templates and the numbering scheme."""

    def __init__(self, book: _Book) -> None:
        self.numbering = book.numbering
        self.rules: Mapping[str, Rule] = {r.id: r for r in book.rule}
        if len(self.rules) != len(book.rule):
            raise RuleError("rule ids must be unique")
        env = _environment()
        self._templates: dict[str, tuple[jinja2.Template, ...]] = {}
        for rule in book.rule:
            self._check(rule)
            try:
                self._templates[rule.id] = tuple(
                    env.from_string(t)
                    for t in (rule.title_zh, rule.body_zh, rule.title_en, rule.body_en)
                )
            except jinja2.TemplateSyntaxError as exc:
                raise RuleError(f"rule {rule.id}: template error: {exc}") from exc

    @classmethod
    def from_data(cls, data: Mapping[str, Any], source: str = "<rules>") -> RuleBook:
        """The rule book from its decoded file (`adapters/rule_file.py` reads the TOML)."""
        try:
            book = _Book.model_validate(data)
        except ValueError as exc:
            raise RuleError(f"{source}: {exc}") from exc
        return cls(book)

    def _check(self, rule: Rule) -> None:
        def fail(what: str) -> RuleError:
            return RuleError(f"rule {rule.id}: {what}")

        if rule.on == ESCALATION:
            if not any(r.escalate and r.escalate.rule == rule.id for r in self.rules.values()):
                raise fail("an escalation rule that no rule escalates to")
            if rule.when or rule.when_set:
                raise fail("an escalation rule takes no `when` or `when_set`")
            return
        event_type = catalog.EVENT_TYPES.get(rule.on)
        if event_type is None:
            raise fail(f"unknown event type {rule.on!r}")
        fields = event_type.model_fields
        for name in (rule.subject.field, *rule.when, *rule.when_set):
            if name not in fields:
                raise fail(f"{rule.on} has no field {name!r}")
        if "owner" in (*rule.to, *rule.cc) and rule.publish:
            raise fail("a notice to an owner is personal: set publish = false")
        if "submitter" in (*rule.to, *rule.cc) and "submitter_kind" not in fields:
            raise fail(f"{rule.on} has no submitter")
        if "assignee" in (*rule.to, *rule.cc) and "to_org" not in fields:
            raise fail(f"{rule.on} has no assignee (to_org)")
        if rule.escalate is not None:
            target = self.rules.get(rule.escalate.rule)
            if target is None or target.on != ESCALATION:
                raise fail(f"escalates to {rule.escalate.rule!r}, which is not an escalation rule")
            if target.subject != rule.subject:
                raise fail("escalates to a rule about another subject")
            if rule.escalate.at not in fields:
                raise fail(f"{rule.on} has no field {rule.escalate.at!r}")
            for ce_type in rule.escalate.cancel_on:
                cancel = catalog.EVENT_TYPES.get(ce_type)
                if cancel is None or rule.subject.field not in cancel.model_fields:
                    raise fail(f"cancel_on {ce_type!r} is unknown or lacks {rule.subject.field!r}")

    # -- questions the service asks ----------------------------------------------------------

    def for_event(self, ce_type: str, event: Event) -> list[Rule]:
        return [r for r in self.rules.values() if r.on == ce_type and r.matches(event)]

    def cancels(self, ce_type: str) -> list[Rule]:
        """Rules whose pending ladders an event of this type cancels."""
        return [
            r
            for r in self.rules.values()
            if r.escalate is not None and ce_type in r.escalate.cancel_on
        ]

    def event_types(self) -> set[str]:
        """Every event type the rules react to (to issue or to cancel)."""
        types = {r.on for r in self.rules.values() if r.on != ESCALATION}
        for r in self.rules.values():
            if r.escalate is not None:
                types.update(r.escalate.cancel_on)
        return types

    def render(self, rule: Rule, context: Mapping[str, Any]) -> Rendered:
        try:
            title_zh, body_zh, title_en, body_en = (
                t.render(**context).strip() for t in self._templates[rule.id]
            )
        except jinja2.TemplateError as exc:
            raise RuleError(f"rule {rule.id}: cannot render: {exc}") from exc
        return Rendered(title_zh, body_zh, title_en, body_en)

    def criticism_number(self, district_name: str, year: int, seq: int) -> str:
        return self.numbering.criticism.format(district_name=district_name, year=year, seq=seq)


# -- who, what names, which ids --------------------------------------------------------------------


def _attr(event: Event, name: str) -> Any:
    return getattr(event, name, None)


def addressees(
    rule: Rule,
    event: Event,
    project: ProjectFacts | None,
    enterprises: Sequence[str] = (),
) -> list[Addressee]:
    """The rule's recipients for this event; a recipient that cannot be named is left out
    (e.g. an owner who filed anonymously). The same recipient appears once, `to` before `cc`.
    `enterprises` (every enterprise running a project in the registry copy) stand for the role
    of that name, each as an `enterprise` recipient."""
    seen: dict[tuple[str, str], Addressee] = {}
    for roles, cc in ((rule.to, False), (rule.cc, True)):
        for role in roles:
            if role == "enterprises":
                resolved_all = [("enterprise", e) for e in enterprises]
            else:
                one = _resolve(role, event, project)
                resolved_all = [one] if one is not None else []
            for resolved in resolved_all:
                if resolved not in seen:
                    seen[resolved] = Addressee(resolved[0], resolved[1], cc)
    return list(seen.values())


def _resolve(role: str, event: Event, project: ProjectFacts | None) -> tuple[str, str] | None:
    if role == "submitter":
        role = "district" if _attr(event, "submitter_kind") == "district" else "enterprise"
    if role == "assignee":  # the organisation a complaint was assigned to, as an enterprise
        value = _attr(event, "to_org")
        return ("enterprise", str(value)) if value else None
    if role == "enterprise":
        value = _attr(event, "enterprise_id") or (project.enterprise_id if project else None)
    elif role == "district":
        value = _attr(event, "district_code") or (project.district_code if project else None)
    elif role == "manager":
        value = _attr(event, "project_id")
    elif role == "owner":
        value = _attr(event, "owner_account")
    else:
        value = CITY
    return (role, str(value)) if value else None


def names(event: Event, project: ProjectFacts | None) -> dict[str, str]:
    """Display names for templates: the event's own, else the registry copy's, else the id."""
    district_code = _attr(event, "district_code") or (project.district_code if project else "")
    return {
        "project_name": _attr(event, "project_name")
        or (project.project_name if project else None)
        or _attr(event, "project_id")
        or "",
        "enterprise_name": _attr(event, "enterprise_name")
        or (project.enterprise_name if project else None)
        or _attr(event, "submitter_name")
        or _attr(event, "enterprise_id")
        or "",
        "district_name": (project.district_name if project else None)
        or TIANJIN_DISTRICTS.get(district_code)
        or district_code,
    }


def notice_id(cause_event_id: str, rule_id: str) -> str:
    """Derived from the cause, so a redelivered event or a second replica gets the same id."""
    return str(uuid.uuid5(NAMESPACE, f"notice|{cause_event_id}|{rule_id}"))


def copy_id(notice: str, addressee: Addressee) -> str:
    return str(uuid.uuid5(NAMESPACE, f"copy|{notice}|{addressee.kind}|{addressee.id}"))


def delivery_id(copy: str, endpoint_id: str) -> str:
    """Also the delivery's idempotency key (Message-ID, Idempotency-Key header)."""
    return str(uuid.uuid5(NAMESPACE, f"delivery|{copy}|{endpoint_id}"))


def backoff_s(attempts: int, base_s: float, cap_s: float) -> float:
    """Exponential backoff after `attempts` failed attempts: base, 2*base, 4*base, ... capped."""
    return float(min(cap_s, base_s * 2 ** max(0, attempts - 1)))


def clip(text: str, limit: int) -> str:
    """Text cut to `limit` characters, marked as cut (the inbox keeps the whole text)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def in_china(value: dt.datetime) -> dt.datetime:
    return value.astimezone(CHINA)
