"""Display text, Chinese first: how a case's events read on its timeline (the projection stores
these lines with each event; the offices' pages and the public board show them), and the public
board's labels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from schemas.base import Event
from schemas.exposure import v1 as exposure
from services.exposure.domain import grades

# -- the public board's labels

BOARD_STATUS_TEXT = {
    "published": ("公开曝光中", "Exposed"),
    "rectified": ("已整改（公示中）", "Rectified (still displayed)"),
}
BOARD_REASON_TEXT = {
    "rectification_overdue": ("整改不及时", "Late rectification"),
    "rectification_inadequate": ("整改不到位", "Inadequate rectification"),
}
TIER_TEXT = {"general": ("一般", "general"), "serious": ("严重", "serious")}
SEVERITY_TEXT = {
    "general": ("一般", "general"),
    "serious": ("严重", "serious"),
    "urgent": ("紧急", "urgent"),
}
GRADE_TEXT = grades.LABELS
LIST_TEXT = grades.LISTS


# -- the timeline

TIMELINE_REASON_TEXT = {
    "rectification_overdue": ("整改不及时", "late rectification"),
    "rectification_inadequate": ("整改不到位", "inadequate rectification"),
    "objection_upheld": ("企业异议成立，撤下", "objection upheld: withdrawn"),
    "withdrawn_by_district": ("区物业办撤下", "withdrawn by the district office"),
    "display_period_ended": ("最长公示期满，撤下", "maximum display period ended"),
    "rectified_period_served": (
        "已整改且最短公示期满，撤下",
        "rectified and minimum display period served",
    ),
}


@dataclass(frozen=True)
class TimelineLine:
    at: datetime
    title_zh: str
    title_en: str
    detail_zh: str = ""
    detail_en: str = ""
    ref: str | None = None  # the criticism notice's id, for evidence from a notice


def _items_text(items: tuple[exposure.CaseItem, ...], lang: str) -> str:
    if lang == "zh":
        return ";".join(i.title_zh for i in items)
    return "; ".join(i.title_en or i.title_zh for i in items)


def timeline_line(event: Event) -> TimelineLine:
    """The timeline line of an exposure event."""
    if isinstance(event, exposure.ExposureCaseOpened):
        zh, en = TIMELINE_REASON_TEXT[event.reason]
        return TimelineLine(
            event.opened_at,
            f"立案：{zh}",
            f"case opened: {en}",
            _items_text(event.items, "zh"),
            _items_text(event.items, "en"),
        )
    if isinstance(event, exposure.ExposureEvidenceAdded):
        if event.kind == "criticism_notice":
            return TimelineLine(
                event.added_at,
                f"通报批评 {event.notice_no or ''}".strip(),
                f"circulated criticism {event.notice_no or ''}".strip(),
                ref=event.notice_id,
            )
        return TimelineLine(
            event.added_at,
            "整改经两次验收仍不合格（整改不到位）",
            "rectification rejected twice (inadequate)",
        )
    if isinstance(event, exposure.ExposureReviewed):
        if event.decision == "hold":
            return TimelineLine(
                event.reviewed_at, "区物业办暂缓公开", "held by the district office"
            )
        return TimelineLine(
            event.reviewed_at, "区物业办确认公开", "confirmed by the district office"
        )
    if isinstance(event, exposure.ExposurePublished):
        return TimelineLine(
            event.published_at,
            "在市物业管理协会网站公开曝光",
            "published on the association's website",
        )
    if isinstance(event, exposure.ExposureRectified):
        return TimelineLine(event.rectified_at, "整改已通过验收", "rectification verified")
    if isinstance(event, exposure.ExposureWithdrawn):
        zh, en = TIMELINE_REASON_TEXT[event.reason]
        return TimelineLine(event.withdrawn_at, zh, en)
    if isinstance(event, exposure.ObjectionFiled):
        # The grounds are the enterprise's own words: kept for the offices, not shown publicly.
        return TimelineLine(event.filed_at, "企业提出异议", "objection filed")
    if isinstance(event, exposure.ObjectionDecided):
        if event.upheld:
            return TimelineLine(event.decided_at, "异议成立", "objection upheld")
        return TimelineLine(event.decided_at, "异议不成立", "objection rejected")
    raise TypeError(f"not an exposure event: {type(event).__name__}")
