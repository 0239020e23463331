"""Exposure cases: the publication rules (data/publication.toml, read by
`adapters/policy_file.py`) and the case lifecycle's checks, pure.

Each check takes the case as it is and allows a change or refuses it with the reason; the events a
change emits are decided in `decisions.py`. The service emits them (applying each to the tables in
the same transaction); nothing else changes a case, so the tables are a projection of the events
and a replay rebuilds them.

    opened --criticism notice--> in_review --window ends--> published --max period--> withdrawn
                                   |  ^ hold / confirm          | rectified + min period
                                   v  |                          v
                                  held                       withdrawn
    objection upheld (any state before withdrawn) --> withdrawn
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Tier = Literal["light", "general", "serious"]
Severity = Literal["general", "serious", "urgent"]
Status = Literal["opened", "in_review", "held", "published", "withdrawn"]
TIER_RANK = {"light": 0, "general": 1, "serious": 2}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TierRule(_Strict):
    publish: bool
    min_days: int = Field(default=0, ge=0, le=3650)
    max_days: int = Field(default=0, ge=0, le=3650)

    @model_validator(mode="after")
    def _periods(self) -> TierRule:
        if self.publish and not 0 < self.min_days <= self.max_days:
            raise ValueError("a published tier needs 0 < min_days <= max_days")
        return self


class Policy(_Strict):
    review_window_hours: float = Field(gt=0, le=24 * 90)
    open: dict[Literal["rectification_overdue", "rectification_inadequate"], dict[Severity, Tier]]
    tiers: dict[Tier, TierRule]

    @model_validator(mode="after")
    def _complete(self) -> Policy:
        for reason in ("rectification_overdue", "rectification_inadequate"):
            if set(self.open.get(reason, {})) != {"general", "serious", "urgent"}:
                raise ValueError(f"open.{reason} must map general, serious and urgent")
        if set(self.tiers) != set(TIER_RANK):
            raise ValueError("tiers must define light, general and serious")
        return self

    def tier_for(self, reason: str, severity: Severity) -> Tier:
        return self.open[reason][severity]  # type: ignore[index]

    def review_window(self) -> timedelta:
        return timedelta(hours=self.review_window_hours)


@dataclass(frozen=True)
class Case:
    case_id: str
    project_id: str
    district_code: str
    enterprise_id: str
    tier: Tier
    status: Status
    review_ends_at: datetime | None
    published_at: datetime | None
    min_until: datetime | None
    max_until: datetime | None
    rectified_at: datetime | None
    pending_objection: str | None  # its id
    # The evidence the case names: its inspection and failed items (their photos are published
    # with it).
    inspection_id: str = ""
    item_ids: tuple[str, ...] = ()


class Refused(Exception):
    """An illegal change, with the reason in Chinese and English."""

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.code, self.zh, self.en = code, zh, en


def stronger(a: Tier, b: Tier) -> Tier:
    return a if TIER_RANK[a] >= TIER_RANK[b] else b


# -- what may happen to a case -------------------------------------------------------------------


def criticism_review_ends(case: Case, policy: Policy, issued_at: datetime) -> datetime | None:
    """The criticism notice completes the evidence: a publishable case goes into review."""
    if case.status == "opened" and policy.tiers[case.tier].publish:
        return issued_at + policy.review_window()
    return None


def may_review(case: Case, decision: str) -> None:
    if case.status not in ("in_review", "held"):
        raise Refused(
            "not_in_review",
            "只有复核期内或暂缓中的案件可以暂缓或确认公开",
            "only a case in review or on hold can be held or confirmed",
        )
    if decision == "hold" and case.status == "held":
        raise Refused("already_held", "案件已暂缓公开", "the case is already on hold")
    if decision == "confirm" and case.pending_objection:
        raise Refused(
            "objection_pending",
            "企业异议尚未处理，不能确认公开",
            "an objection is pending: decide it before publishing",
        )


def publication(case: Case, policy: Policy, now: datetime) -> tuple[datetime, datetime]:
    """(min_until, max_until) for publishing now."""
    rule = policy.tiers[case.tier]
    return now + timedelta(days=rule.min_days), now + timedelta(days=rule.max_days)


def due_for_publication(case: Case, now: datetime) -> bool:
    return (
        case.status == "in_review"
        and case.review_ends_at is not None
        and now >= case.review_ends_at
        and case.pending_objection is None
    )


def ending(case: Case, now: datetime) -> str | None:
    """Why a published case leaves the board now, if it does."""
    if case.status != "published":
        return None
    if case.max_until is not None and now >= case.max_until:
        return "display_period_ended"
    if case.rectified_at is not None and case.min_until is not None and now >= case.min_until:
        return "rectified_period_served"
    return None


def may_object(case: Case, enterprise_id: str) -> None:
    if case.enterprise_id != enterprise_id:
        raise Refused("not_your_case", "只能对本企业的案件提出异议", "not your enterprise's case")
    if case.status not in ("in_review", "held", "published"):
        raise Refused(
            "not_objectable",
            "案件当前状态不能提出异议",
            "an objection can be filed only while the case is in review, held or published",
        )
    if case.pending_objection:
        raise Refused("objection_pending", "已有异议待处理", "an objection is already pending")


def may_decide(case: Case, objection_id: str) -> None:
    if case.pending_objection != objection_id:
        raise Refused(
            "no_pending_objection",
            "该异议不存在或已处理",
            "no such pending objection on this case",
        )


def may_withdraw(case: Case) -> None:
    if case.status == "withdrawn":
        raise Refused("already_withdrawn", "案件已撤下", "the case is already withdrawn")


def may_rectify(case: Case) -> bool:
    return case.status != "withdrawn" and case.rectified_at is None
