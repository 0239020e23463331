"""Complaint events, major version 1. Keyed by complaint so one complaint's events stay in order.

Only facts about the complaint's place and clock travel here: never the owner's name, phone,
address or the complaint text. Those stay in the complaints service's database.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from schemas import base, fields


class _ComplaintEvent(base.Event):
    topic: ClassVar[str] = "wuye.complaints.events"
    key_field: ClassVar[str] = "complaint_id"

    complaint_id: fields.Id = Field(description="投诉编号 Complaint id; the Kafka key.")
    project_id: fields.Id = Field(description="项目编号 Project the complaint is about.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 Enterprise of the project.")
    district_code: fields.DistrictCode = Field(description="区划代码 District of the project.")
    category: fields.Id = Field(
        description="投诉类别 Category id from the configurable category list, e.g. water, safety."
    )


class ComplaintFiled(_ComplaintEvent):
    """投诉登记 An owner's complaint was filed (by the owner, or by staff on their behalf)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintFiled.v1"

    urgency: Literal["normal", "urgent"] = Field(description="紧急程度 Urgency.")
    channel: Literal["web", "open311", "phone", "counter"] = Field(
        description="受理渠道 How it was received."
    )
    filed_at: AwareDatetime = Field(description="登记时间 When it was filed.")


class ComplaintOverdue(_ComplaintEvent):
    """投诉逾期 An SLA clock of a complaint ran out; emitted once per complaint and clock."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintOverdue.v1"

    clock: Literal["acceptance", "completion"] = Field(
        description="时限 acceptance = 签收时限; completion = 办结时限."
    )
    deadline: AwareDatetime = Field(description="期限 The deadline that passed.")
    detected_at: AwareDatetime = Field(description="发现时间 When the breach was detected.")
