"""Inspection events, major version 1. Keyed by project so one project's events stay in order."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

import pydantic
from pydantic import AwareDatetime, ConfigDict, Field

from schemas import base, fields, topics

InspectionKind = Literal["self", "patrol"]
Severity = Literal["general", "serious", "urgent"]


class _InspectionEvent(base.Event):
    topic: ClassVar[str] = topics.INSPECTIONS_EVENTS
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
    service_grade: str | None = Field(
        default=None,
        max_length=16,
        description=(
            "服务等级 The contracted service grade (一级/二级/三级 ...) whose checklist judged the "
            "items; null for a checklist that serves every grade (e.g. flood-season) and in events "
            "written before grades had checklists."
        ),
    )
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


DEADLINE_CALENDAR = (
    "期限依据的日历 The working-day calendar the deadline was counted on: "
    "'official:<year>@<fingerprint>' (the State Council's notice; the fingerprint of the file's "
    "dates tells a corrected file from the one it replaced), 'provisional:holidays-<version>:<year>' (no official file for "
    "that year yet: statutory holidays only, 调休 unknown; the deadline is not recomputed when the "
    "official file arrives), 'elapsed' (a deadline in hours); several joined with '+'. Null from "
    "older producers."
)


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
    note: fields.PublicText = Field(
        max_length=500,
        description="检查备注 Inspector's note (may be empty); personal data masked.",
    )
    attachments: tuple[fields.AttachmentRef, ...] = Field(
        default=(),
        max_length=9,
        description=(
            "照片 The inspector's photos of this item, as references (id, SHA-256, type): never "
            "bytes. Served by the inspections service only to those allowed to see the order; "
            "empty from older producers and when none was taken."
        ),
    )
    deadline: AwareDatetime | None = Field(
        default=None,
        description=(
            "整改期限 Deadline of the rectification order issued for this item (in "
            "InspectionFailed since 0.3; null from older producers)."
        ),
    )
    deadline_calendar: str | None = Field(
        default=None,
        max_length=200,
        description=DEADLINE_CALENDAR,
    )


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


# --------------------------------------------------------------------------- rectification orders

RectificationStatus = Literal["ordered", "submitted", "verified", "rejected", "inadequate"]


class _OrderEvent(base.Event):
    """Facts every rectification-order event carries; keyed by project like inspections."""

    topic: ClassVar[str] = topics.INSPECTIONS_EVENTS
    key_field: ClassVar[str] = "project_id"

    order_id: fields.Id = Field(description="整改单编号 Rectification order id.")
    inspection_id: fields.Id = Field(description="检查编号 The inspection that found the failure.")
    project_id: fields.Id = Field(description="项目编号 Project id; the Kafka key.")
    project_name: fields.Name = Field(description="项目名称 Project name.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 Enterprise that must rectify.")
    enterprise_name: fields.Name = Field(description="物业服务企业名称 Enterprise name.")
    district_code: fields.DistrictCode = Field(description="区划代码 District supervising it.")
    items: tuple[FailedItem, ...] = Field(
        min_length=1, description="整改事项 The failed items this order covers."
    )
    severity: Severity = Field(description="严重程度 The most severe of the items.")
    deadline: AwareDatetime = Field(description="整改期限 When the rectification is due.")

    def subject(self) -> str:
        return self.order_id


class RectificationOrdered(_OrderEvent):
    """整改通知 A rectification order was issued for failed items, with its deadline."""

    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.RectificationOrdered.v1"

    ordered_at: AwareDatetime = Field(description="下达时间 When the order was issued.")
    deadline_calendar: str | None = Field(
        default=None, max_length=200, description=DEADLINE_CALENDAR
    )


class RectificationSubmitted(_OrderEvent):
    """整改提交 The enterprise submitted its rectification with evidence."""

    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.RectificationSubmitted.v1"

    submission_no: int = Field(ge=1, description="第几次提交 1 for the first submission.")
    photo_count: int = Field(ge=0, description="照片数量 Number of photo references attached.")
    attachments: tuple[fields.AttachmentRef, ...] = Field(
        default=(),
        max_length=9,
        description=(
            "整改照片 The enterprise's evidence photos, as references (id, SHA-256, type): never "
            "bytes. Empty from older producers and when none was attached."
        ),
    )
    submitted_at: AwareDatetime = Field(description="提交时间 When it was submitted.")
    before_deadline: bool = Field(description="是否在期限内提交 Submitted before the deadline.")


class RectificationVerified(_OrderEvent):
    """整改验收合格 The district office verified the rectification."""

    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.RectificationVerified.v1"

    verified_at: AwareDatetime = Field(description="验收时间 When it was verified.")
    on_time: bool = Field(
        description="按期整改 The accepted submission was made before the deadline."
    )


class RectificationRejected(_OrderEvent):
    """整改验收不合格 The district office rejected the rectification, with its reason.

    The second rejection of one order is 整改不到位 (`inadequate` is true): the order is closed
    as inadequately rectified, the ground for circulated criticism and public exposure.
    """

    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.RectificationRejected.v1"

    rejection_no: int = Field(ge=1, description="第几次退回 1 for the first rejection.")
    reason: fields.PublicText = Field(
        min_length=1,
        max_length=1000,
        description="退回理由 Why it was rejected; personal data masked.",
    )
    inadequate: bool = Field(description="整改不到位 True on the final (second) rejection.")
    rejected_at: AwareDatetime = Field(description="退回时间 When it was rejected.")


class RectificationOverdue(_OrderEvent):
    """整改逾期 The deadline passed while the rectification was still owed by the enterprise.

    Emitted exactly once per order. An order submitted before its deadline and awaiting
    verification is not overdue; if it is rejected after the deadline it becomes overdue then.
    """

    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.RectificationOverdue.v1"

    status: RectificationStatus = Field(description="逾期时状态 The order's status when detected.")
    detected_at: AwareDatetime = Field(description="发现时间 When the overdue was detected.")


class PatrolScheduled(base.Event):
    """安排巡查 A patrol inspection was scheduled for a project, e.g. after repeated complaints."""

    topic: ClassVar[str] = topics.INSPECTIONS_EVENTS
    key_field: ClassVar[str] = "project_id"
    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.PatrolScheduled.v1"

    patrol_id: fields.Id = Field(description="巡查安排编号 Scheduled patrol id.")
    project_id: fields.Id = Field(description="项目编号 Project id; the Kafka key.")
    project_name: fields.Name = Field(description="项目名称 Project name.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 Enterprise of the project.")
    district_code: fields.DistrictCode = Field(description="区划代码 District that must patrol.")
    reason: Literal["repeated_complaints", "overdue_complaint"] = Field(
        description="原因 repeated_complaints = 投诉集中; overdue_complaint = 投诉逾期未办结."
    )
    complaint_count: int = Field(ge=0, description="窗口内投诉数 Complaints in the window.")
    window_days: int = Field(ge=1, description="统计窗口(天) Window the count covers.")
    scheduled_at: AwareDatetime = Field(description="安排时间 When it was scheduled.")
    due_by: AwareDatetime = Field(description="应完成巡查时间 When the patrol should be done.")
    origin: Literal["complaint", "random_draw"] = Field(
        default="complaint",
        description=(
            "来源 complaint = 投诉触发; random_draw = 双随机抽查 (the draw is announced by "
            "PatrolsDrawn, which names its patrols). Absent in older events: complaint."
        ),
    )

    def subject(self) -> str:
        return self.patrol_id


class DrawnInspector(pydantic.BaseModel):
    """An inspector in a draw's roster: a staff id and the ids they must not inspect."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    inspector_id: fields.Id = Field(description="检查人员编号 Staff id (never a name).")
    conflicts: list[fields.Id] = Field(
        max_length=200,
        description="回避 Enterprise or project ids this inspector must not inspect.",
    )


class DrawnProject(pydantic.BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    project_id: fields.Id = Field(description="项目编号 Project id.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 Enterprise of the project.")


class DrawnPatrol(pydantic.BaseModel):
    """One drawn project, the patrol scheduled for it and the inspectors who go."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    patrol_id: fields.Id = Field(description="巡查安排编号 The scheduled patrol.")
    project_id: fields.Id = Field(description="项目编号 Project id.")
    project_name: fields.Name = Field(description="项目名称 Project name.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 Enterprise of the project.")
    inspector_ids: list[fields.Id] = Field(
        min_length=1, max_length=5, description="检查人员编号 Staff ids of the inspectors."
    )


class PatrolsDrawn(base.Event):
    """双随机抽查 A district office drew projects to patrol and the inspectors who go. Carries
    every input, the seed and the algorithm, so the draw can be re-run by anyone and must give
    the same ``patrols`` (algorithm ``sha256-rank-v1``: see the inspections service's
    ``domain/patrol_draw.py``)."""

    topic: ClassVar[str] = topics.DRAWS_EVENTS
    key_field: ClassVar[str] = "draw_id"
    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.PatrolsDrawn.v1"

    draw_id: fields.Id = Field(description="抽查编号 Draw id; the Kafka key.")
    district_code: fields.DistrictCode = Field(description="区划代码 District that drew.")
    drawn_at: AwareDatetime = Field(description="抽取时间 When the draw was made.")
    drawn_by: fields.Id = Field(description="抽取人 Staff id of whoever drew (never a name).")
    algorithm: Literal["sha256-rank-v1"] = Field(description="抽取算法及版本 Algorithm.")
    seed: str = Field(
        min_length=16, max_length=128, pattern=r"^[0-9a-f]+$", description="随机种子 Seed (hex)."
    )
    projects: list[DrawnProject] = Field(
        max_length=5000, description="候选项目 Every project of the district, sorted by id."
    )
    excluded_project_ids: list[fields.Id] = Field(
        max_length=5000,
        description="排除项目 Projects excluded: patrolled within exclusion_days or with a "
        "patrol already open.",
    )
    inspectors: list[DrawnInspector] = Field(
        min_length=1, max_length=200, description="检查人员名单 The roster, in the order given."
    )
    project_count: int = Field(ge=1, le=200, description="抽取项目数 Projects to draw.")
    inspectors_per_project: int = Field(ge=1, le=5, description="每项目检查人员数.")
    exclusion_days: int = Field(ge=0, le=365, description="近期已检查排除天数 Exclusion window.")
    patrols: list[DrawnPatrol] = Field(
        min_length=1, max_length=200, description="抽取结果 The result, in draw order."
    )
    due_by: AwareDatetime = Field(description="应完成巡查时间 When the patrols should be done.")

    def subject(self) -> str:
        return self.draw_id


# --------------------------------------------------------------------------- statutory intervals

FacilityKind = Literal["lift", "fire", "water_tank"]


class StatutoryIntervalMissed(base.Event):
    """法定维保周期逾期 A facility with a legal (or stricter contractual) service interval was not
    serviced by its due date: a lift (every 15 days), the fire facilities (monthly), a secondary
    water-supply tank (every six months). Emitted exactly once per facility and missed due date;
    the miss stays open until the enterprise records a service."""

    topic: ClassVar[str] = topics.INSPECTIONS_EVENTS
    key_field: ClassVar[str] = "project_id"
    ce_type: ClassVar[str] = "cn.tj.wuye.inspections.StatutoryIntervalMissed.v1"

    facility_id: fields.Id = Field(description="设施编号 Facility id.")
    project_id: fields.Id = Field(description="项目编号 Project id; the Kafka key.")
    project_name: fields.Name = Field(description="项目名称 Project name.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 Enterprise of the project.")
    enterprise_name: fields.Name = Field(description="物业服务企业名称 Enterprise name.")
    district_code: fields.DistrictCode = Field(description="区划代码 District supervising it.")
    facility_kind: FacilityKind = Field(
        description="设施类型 lift = 电梯; fire = 消防设施; water_tank = 二次供水水箱."
    )
    facility_name: fields.PublicText = Field(
        min_length=1,
        max_length=100,
        description="设施名称 The enterprise's name for it, e.g. 3号楼1单元电梯; personal data masked.",
    )
    interval: str = Field(
        min_length=1,
        max_length=50,
        description="维保周期 The interval that applies, e.g. '15 天', '1 个月', '10 天（合同约定）'.",
    )
    contractual: bool = Field(
        description="合同约定周期 True when a stricter contractual interval applies."
    )
    last_serviced_on: date = Field(description="上次维保日期 Date of the last recorded service.")
    due_on: date = Field(description="应维保日期 The last day the service was due (China date).")
    days_overdue: int = Field(ge=1, description="逾期天数 Days past the due date when detected.")
    legal_basis: str = Field(
        min_length=1, max_length=500, description="法定依据 The legal basis, Chinese."
    )
    legal_basis_en: str = Field(min_length=1, max_length=500, description="Legal basis, English.")
    detected_at: AwareDatetime = Field(description="发现时间 When the miss was detected.")

    def subject(self) -> str:
        return self.facility_id
