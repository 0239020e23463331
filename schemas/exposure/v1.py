"""Public exposure events (公开曝光), major version 1. Keyed by project.

Every change of an exposure case is one of these events, and the exposure service's board is a
projection of them (plus the facts on the other topics): replaying the topics rebuilds it. Cases
concern enterprises and projects only: no owner, no complaint text, and no inspector's note (the
items' ``note`` is sent empty). ``ObjectionFiled.grounds`` is the enterprise's own submission:
kept for the offices and a rebuild, never shown on the public board. Free text written by people
(notes, grounds, reasons) is ``fields.PublicText``: personal data in it is masked.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import pydantic
from pydantic import AwareDatetime, ConfigDict, Field

from schemas import base, fields, topics

Tier = Literal["light", "general", "serious"]
OpenReason = Literal["rectification_overdue", "rectification_inadequate"]
WithdrawReason = Literal[
    "objection_upheld", "withdrawn_by_district", "display_period_ended", "rectified_period_served"
]


class CaseItem(pydantic.BaseModel):
    """一项问题 One failed checklist item of the case's evidence."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    item_id: fields.Id = Field(description="检查项编号 Checklist item id.")
    title_zh: str = Field(min_length=1, max_length=200, description="检查项 Item title (Chinese).")
    title_en: str = Field(max_length=200, description="Item title in English (may be empty).")
    severity: Literal["general", "serious", "urgent"] = Field(description="严重程度 Severity.")
    note: fields.PublicText = Field(
        max_length=500,
        description="检查备注 The inspector's note (sent empty); personal data masked.",
    )


class _CaseEvent(base.Event):
    topic: ClassVar[str] = topics.EXPOSURE_EVENTS
    key_field: ClassVar[str] = "project_id"

    case_id: fields.Id = Field(description="曝光案件编号 Exposure case id.")
    project_id: fields.Id = Field(description="项目编号 Project id; the Kafka key.")


class ExposureCaseOpened(_CaseEvent):
    """曝光案件立案 A failure became an exposure case (not public yet)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.exposure.ExposureCaseOpened.v1"

    project_name: fields.Name = Field(description="项目名称 Project name.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 Enterprise.")
    enterprise_name: fields.Name = Field(description="物业服务企业名称 Enterprise name.")
    district_code: fields.DistrictCode = Field(description="区划代码 Supervising district.")
    reason: OpenReason = Field(
        description="立案事由 rectification_overdue (整改不及时) or rectification_inadequate (整改不到位)."
    )
    tier: Tier = Field(description="严重等级 light (不公开), general or serious.")
    order_id: fields.Id = Field(description="整改单编号 The rectification order.")
    inspection_id: fields.Id = Field(description="检查编号 The inspection that found the failure.")
    items: tuple[CaseItem, ...] = Field(min_length=1, description="问题 The failed items.")
    deadline: AwareDatetime = Field(description="整改期限 The deadline missed.")
    opened_at: AwareDatetime = Field(description="立案时间 When the case was opened.")


class ExposureEvidenceAdded(_CaseEvent):
    """证据补充 The case gained evidence: the criticism notice, or a final rejection."""

    ce_type: ClassVar[str] = "cn.tj.wuye.exposure.ExposureEvidenceAdded.v1"

    kind: Literal["criticism_notice", "rectification_inadequate"] = Field(
        description="证据类别 criticism_notice (通报批评) or rectification_inadequate (整改不到位)."
    )
    notice_no: str | None = Field(max_length=100, description="文号 The criticism's number.")
    notice_id: fields.Id | None = Field(description="通知编号 The criticism notice's id.")
    tier: Tier = Field(description="严重等级 The case's tier after this evidence.")
    review_ends_at: AwareDatetime | None = Field(
        description="复核截止 End of the district's review window (set by the criticism notice)."
    )
    added_at: AwareDatetime = Field(description="时间 When it was added.")


class ExposureReviewed(_CaseEvent):
    """区县复核 The district office held publication or confirmed it."""

    ce_type: ClassVar[str] = "cn.tj.wuye.exposure.ExposureReviewed.v1"

    decision: Literal["hold", "confirm"] = Field(
        description="决定 hold (暂缓) or confirm (确认公开)."
    )
    district_code: fields.DistrictCode = Field(description="区划代码 The deciding district.")
    note: fields.PublicText = Field(
        max_length=500,
        description="说明 The office's note (may be empty); personal data masked.",
    )
    reviewed_at: AwareDatetime = Field(description="时间 When it was decided.")


class ExposurePublished(_CaseEvent):
    """公开曝光 The case is published on the association website."""

    ce_type: ClassVar[str] = "cn.tj.wuye.exposure.ExposurePublished.v1"

    tier: Tier = Field(description="严重等级 general or serious.")
    published_at: AwareDatetime = Field(description="公开时间 When it was published.")
    min_until: AwareDatetime = Field(
        description="最短公示至 Earliest end, even if rectified (minimum display period)."
    )
    max_until: AwareDatetime = Field(description="最长公示至 Automatic end (maximum period).")
    attachments: tuple[fields.AttachmentRef, ...] = Field(
        default=(),
        max_length=50,
        description=(
            "公开照片 The inspector's photos of the case's failed items that are published with "
            "it, as references (id, SHA-256, type): never bytes, never an owner's photo. The "
            "inspections service serves exactly these publicly (re-encoded, without EXIF) until "
            "the case's ExposureWithdrawn. Empty from older producers and when none was taken."
        ),
    )


class ExposureRectified(_CaseEvent):
    """已整改 The rectification was verified; the case shows as rectified until its minimum period ends."""

    ce_type: ClassVar[str] = "cn.tj.wuye.exposure.ExposureRectified.v1"

    rectified_at: AwareDatetime = Field(description="整改验收时间 When it was verified.")


class ExposureWithdrawn(_CaseEvent):
    """撤下 The case left the board (or will never reach it), with the reason."""

    ce_type: ClassVar[str] = "cn.tj.wuye.exposure.ExposureWithdrawn.v1"

    reason: WithdrawReason = Field(
        description=(
            "原因 objection_upheld (异议成立), withdrawn_by_district, display_period_ended "
            "(最长公示期满), rectified_period_served (已整改且最短公示期满)."
        )
    )
    withdrawn_at: AwareDatetime = Field(description="时间 When it was withdrawn.")


class ObjectionFiled(_CaseEvent):
    """异议申请 The enterprise objected to the case."""

    ce_type: ClassVar[str] = "cn.tj.wuye.exposure.ObjectionFiled.v1"

    objection_id: fields.Id = Field(description="异议编号 Objection id.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 The objecting enterprise.")
    grounds: fields.PublicText = Field(
        min_length=1,
        max_length=2000,
        description="异议理由 The grounds given; personal data masked.",
    )
    filed_at: AwareDatetime = Field(description="时间 When it was filed.")


class ObjectionDecided(_CaseEvent):
    """异议处理 The district office decided an objection."""

    ce_type: ClassVar[str] = "cn.tj.wuye.exposure.ObjectionDecided.v1"

    objection_id: fields.Id = Field(description="异议编号 Objection id.")
    upheld: bool = Field(description="是否成立 True: the case is withdrawn.")
    reason: fields.PublicText = Field(
        min_length=1,
        max_length=1000,
        description="理由 The district's reasons; personal data masked.",
    )
    decided_at: AwareDatetime = Field(description="时间 When it was decided.")
