"""Campaign events, major version 1. Keyed by campaign so one campaign's events stay in order.

Plans name their responsible departments and staff (with phone numbers); none of that travels
here. Consumers learn who submitted, not who works on it.
"""

from __future__ import annotations

import datetime as dt
from typing import ClassVar, Literal, Self

import pydantic
from pydantic import AwareDatetime, Field

from schemas import base, fields, topics

PhaseKind = Literal["mobilisation", "planning", "implementation"]
SubmitterKind = Literal["district", "enterprise"]


class _CampaignEvent(base.Event):
    topic: ClassVar[str] = topics.CAMPAIGNS_EVENTS
    key_field: ClassVar[str] = "campaign_id"

    campaign_id: fields.Id = Field(
        description="活动编号 Campaign id, e.g. quality-month-2011; the Kafka key."
    )


class CampaignPhaseStarted(_CampaignEvent):
    """活动阶段开始 A phase of a campaign began (emitted once per campaign and phase)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.campaigns.CampaignPhaseStarted.v1"

    phase: PhaseKind = Field(
        description=(
            "阶段 mobilisation = 动员部署, planning = 制定方案 (activity plans are due), "
            "implementation = 实施."
        )
    )
    phase_title_zh: str = Field(
        min_length=1,
        max_length=50,
        description="阶段名称 Phase name in Chinese, e.g. 制定方案阶段.",
    )
    starts_on: dt.date = Field(description="开始日期 First day of the phase (China time).")
    ends_on: dt.date = Field(description="结束日期 Last day of the phase, inclusive (China time).")
    title_zh: fields.Name = Field(description="活动名称 Campaign title in Chinese.")

    def subject(self) -> str:
        return f"{self.campaign_id}/{self.phase}"


class _SubmitterEvent(_CampaignEvent):
    submitter_kind: SubmitterKind = Field(
        description="提交方 district = 区县物业办 (for its district); enterprise = 物业企业."
    )
    district_code: fields.DistrictCode | None = Field(
        default=None, description="区划代码 The district, when submitter_kind is district."
    )
    enterprise_id: fields.Id | None = Field(
        default=None,
        description="物业服务企业编号 The enterprise, when submitter_kind is enterprise.",
    )

    @pydantic.model_validator(mode="after")
    def _one_submitter(self) -> Self:
        if (self.submitter_kind == "district") != (self.district_code is not None) or (
            self.submitter_kind == "enterprise"
        ) != (self.enterprise_id is not None):
            raise ValueError(
                "district_code is set exactly for district submitters, enterprise_id exactly for "
                "enterprise submitters"
            )
        return self

    def submitter_id(self) -> str:
        return self.district_code or self.enterprise_id or ""


class PlanSubmitted(_SubmitterEvent):
    """活动方案已提交 A district office or enterprise submitted (or replaced) its activity plan."""

    ce_type: ClassVar[str] = "cn.tj.wuye.campaigns.PlanSubmitted.v1"

    plan_id: fields.Id = Field(
        description="方案编号 Plan id; stays the same when the submitter replaces its plan."
    )
    version: int = Field(ge=1, description="版本 1 for the first submission, +1 per resubmission.")
    submitter_name: fields.Name = Field(description="提交方名称 District or enterprise name.")
    submitted_at: AwareDatetime = Field(description="提交时间 When this version was submitted.")

    def subject(self) -> str:
        return self.plan_id


class PlanOverdue(_SubmitterEvent):
    """活动方案逾期未交 The planning phase ended without a plan from this district office or
    enterprise (emitted once per campaign and submitter)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.campaigns.PlanOverdue.v1"

    submitter_name: fields.Name = Field(description="提交方名称 District or enterprise name.")
    deadline: AwareDatetime = Field(
        description="截止时间 The last instant of the planning phase (end of its last day, China time)."
    )
    deadline_on: dt.date = Field(description="截止日期 Last day of the planning phase, inclusive.")
    detected_at: AwareDatetime = Field(description="发现时间 When the missing plan was detected.")

    def subject(self) -> str:
        return f"{self.campaign_id}/{self.submitter_kind}/{self.submitter_id()}"


class ActivityHeld(base.Event):
    """活动已举办 An enterprise recorded a community cultural activity (notice 三(一)3) or a
    publicity activity (三(二)) held at one of its projects. Counted per campaign by the day it was
    held; no title, description or photos travel here (the record stays with the inspections
    service), only what the figures need.

    On the inspections topic, keyed by project (an activity belongs to a project, not to a
    campaign): the consumers of inspection events already read it, in the project's order."""

    topic: ClassVar[str] = topics.INSPECTIONS_EVENTS
    key_field: ClassVar[str] = "project_id"
    ce_type: ClassVar[str] = "cn.tj.wuye.campaigns.ActivityHeld.v1"

    record_id: fields.Id = Field(description="活动记录编号 Activity record id.")
    project_id: fields.Id = Field(description="项目编号 Project id; the Kafka key.")
    enterprise_id: fields.Id = Field(
        description="物业服务企业编号 The enterprise that held it (the project's, when recorded)."
    )
    district_code: fields.DistrictCode = Field(description="区划代码 The project's district.")
    kind: Literal["cultural", "publicity"] = Field(
        description="活动类型 cultural = 社区文化活动 (三(一)3); publicity = 宣传活动 (三(二))."
    )
    held_on: dt.date = Field(description="举办日期 The day it was held (China time).")
    participants: int = Field(ge=0, le=1_000_000, description="参与人数 People taking part.")
    recorded_at: AwareDatetime = Field(description="记录时间 When the enterprise recorded it.")

    def subject(self) -> str:
        return self.record_id
