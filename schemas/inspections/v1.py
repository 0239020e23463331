"""Inspection events, major version 1. Keyed by project so one project's events stay in order."""

from __future__ import annotations

from typing import ClassVar, Literal

import pydantic
from pydantic import AwareDatetime, ConfigDict, Field

from schemas import base, fields

InspectionKind = Literal["self", "patrol"]
Severity = Literal["general", "serious", "urgent"]


class _InspectionEvent(base.Event):
    topic: ClassVar[str] = "wuye.inspections.events"
    key_field: ClassVar[str] = "project_id"

    inspection_id: fields.Id = Field(description="检查编号 Inspection id.")
    project_id: fields.Id = Field(description="项目编号 Project id; the Kafka key.")
    project_name: fields.Name = Field(description="项目名称 Project name at inspection time.")
    enterprise_id: fields.Id = Field(
        description="物业服务企业编号 Enterprise managing the project."
    )
    enterprise_name: fields.Name = Field(description="物业服务企业名称 Enterprise name.")
    district_code: fields.DistrictCode = Field(
        description="区划代码 Six-digit district code, e.g. 120101."
    )
    kind: InspectionKind = Field(
        description=(
            "检查类型 self = 企业自查 (enterprise self-inspection); "
            "patrol = 巡查 (supervisor patrol)."
        )
    )
    template_id: fields.Id = Field(description="检查表模板编号 Checklist template id.")
    template_version: int = Field(ge=1, description="检查表模板版本 Checklist template version.")
    score: fields.Score = Field(description="得分 Score, 0..100.")
    pass_mark: fields.Score = Field(description="合格分 Score needed to pass, 0..100.")
    inspected_at: AwareDatetime = Field(
        description="检查时间 When the inspection took place (with UTC offset)."
    )
    recorded_by: fields.Id = Field(
        description="记录人 Staff id of whoever recorded it (an id, never a name)."
    )

    def subject(self) -> str:
        """The inspection, not the project: the project is already the key."""
        return self.inspection_id


class InspectionCompleted(_InspectionEvent):
    """检查完成 An inspection was recorded, whether passed or not."""

    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.InspectionCompleted.v1"

    passed: bool = Field(description="是否合格 Whether the inspection passed.")
    failed_item_count: int = Field(ge=0, description="不合格项数 Number of failed checklist items.")


class FailedItem(pydantic.BaseModel):
    """不合格项 One failed checklist item."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    item_id: fields.Id = Field(description="检查项编号 Checklist item id.")
    group: fields.Id = Field(
        description=(
            "检查项分组 Item group, e.g. premises (房屋), waste (垃圾), greenery (绿化), "
            "order (秩序), facilities (设施设备), flood (防汛). Open set: tolerate unknown groups."
        )
    )
    title_zh: str = Field(
        min_length=1, max_length=200, description="检查项名称 Item title in Chinese."
    )
    title_en: str = Field(max_length=200, description="Item title in English (may be empty).")
    severity: Severity = Field(
        description="严重程度 general = 一般, serious = 严重, urgent = 紧急."
    )
    note: str = Field(max_length=500, description="检查备注 Inspector's note (may be empty).")


class InspectionFailed(_InspectionEvent):
    """检查不合格 An inspection found failed items; each needs rectification.

    Emitted whenever at least one item failed, also when the score still reached the pass mark
    (`InspectionCompleted.passed` tells whether the inspection as a whole passed).

    Published after the InspectionCompleted of the same inspection, on the same partition.
    """

    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.InspectionFailed.v1"

    failed_items: tuple[FailedItem, ...] = Field(
        min_length=1, description="不合格项 The failed items (at least one)."
    )
