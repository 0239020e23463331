"""Complaint events, major version 1. Keyed by complaint so one complaint's events stay in order.

Only facts about the complaint's place and clock travel here: never the owner's name, phone,
address or the complaint text. Those stay in the complaints service's database.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from schemas import base, fields, topics


class _ComplaintEvent(base.Event):
    topic: ClassVar[str] = topics.COMPLAINTS_EVENTS
    key_field: ClassVar[str] = "complaint_id"

    complaint_id: fields.Id = Field(description="投诉编号 Complaint id; the Kafka key.")
    project_id: fields.Id = Field(description="项目编号 Project the complaint is about.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 Enterprise of the project.")
    district_code: fields.DistrictCode = Field(description="区划代码 District of the project.")
    category: fields.Id = Field(
        description="投诉类别 Category id from the configurable category list, e.g. water, safety."
    )


LegacyChannel = Literal["web", "open311", "phone", "counter"]
"""`ComplaintFiled.channel`'s values, fixed: consumers built before the hotline read these."""


class ComplaintFiled(_ComplaintEvent):
    """投诉登记 An owner's complaint was filed (by the owner, or by staff on their behalf)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintFiled.v1"

    urgency: Literal["normal", "urgent"] = Field(
        description=(
            "紧急程度 Urgency. An emergency (see `tier`) is `urgent` here, so consumers built "
            "before `tier` existed still read it as urgent."
        )
    )
    tier: Literal["normal", "urgent", "emergency"] | None = Field(
        default=None,
        description=(
            "时限等级 The complaint's tier: `emergency` = a life at risk now (e.g. someone trapped "
            "in a lift: accept within minutes), otherwise the same as `urgency`. Null from "
            "producers that predate it: read `urgency` then."
        ),
    )
    safety: list[fields.Id] = Field(
        default_factory=list,
        max_length=20,
        description=(
            "安全情形 Ids of the safety rules the owner's answers met (the category's `safety` "
            "list in the complaints service's categories.json), e.g. lift_entrapment, gas_smell, "
            "water_cut_building, flood_roof_drainage. Empty when none."
        ),
    )
    channel: LegacyChannel = Field(
        description=(
            "受理渠道 How it was received: web, open311, phone (also a call forwarded by the "
            "12345 hotline), counter (walk-in). `intake_channel` tells the hotline apart."
        )
    )
    intake_channel: Literal["web", "open311", "phone", "counter", "hotline"] | None = Field(
        default=None,
        description=(
            "受理渠道(细分) The channel as recorded: `channel`'s values plus `hotline` (the 12345 "
            "citizens' hotline registered it). Null from producers that predate it: read "
            "`channel`."
        ),
    )
    registered_by: Literal["enterprise", "district_office", "hotline"] | None = Field(
        default=None,
        description=(
            "代登记单位 Who registered it on the owner's behalf: enterprise staff, the district "
            "office (phone or walk-in) or the 12345 hotline; null when the owner filed it (web, "
            "Open311) and from producers that predate it. The kind only: never the owner's name "
            "or phone."
        ),
    )
    filed_at: AwareDatetime = Field(description="登记时间 When it was filed.")
    ticket_no: str | None = Field(
        default=None, max_length=32, description="受理编号 The ticket number given to the owner."
    )
    acceptance_deadline: AwareDatetime | None = Field(
        default=None,
        description=(
            "签收期限 When the enterprise must have accepted the complaint (the acceptance clock's "
            "deadline at filing). Null from producers that predate it."
        ),
    )
    owner_account: fields.Id | None = Field(
        default=None,
        description=(
            "业主账号 The signed-in owner's account id (from the city identity provider), so the "
            "owner can be sent a receipt; null for anonymous web, Open311 and staff filings."
        ),
    )
    attachments: list[fields.AttachmentRef] = Field(
        default_factory=list,
        max_length=9,
        description=(
            "照片 The photos filed with the complaint, as references (id, SHA-256, type): never "
            "bytes. The complaints service serves them only to those allowed to see the "
            "complaint; owners' photos are stored without EXIF and never published. Empty from "
            "older producers and when none was attached."
        ),
    )


class ComplaintOverdue(_ComplaintEvent):
    """投诉逾期 An SLA clock of a complaint ran out; emitted once per complaint and clock."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintOverdue.v1"

    clock: Literal["acceptance", "completion"] = Field(
        description="时限 acceptance = 签收时限; completion = 办结时限."
    )
    deadline: AwareDatetime = Field(description="期限 The deadline that passed.")
    detected_at: AwareDatetime = Field(description="发现时间 When the breach was detected.")


class ComplaintAccepted(_ComplaintEvent):
    """投诉签收 A staff member accepted the complaint and became its responsible person (首问)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintAccepted.v1"

    responsible_org_id: fields.Id = Field(description="首问责任单位 Organisation of the acceptor.")
    responsible_staff_id: fields.Id = Field(description="首问责任人 Staff id of the acceptor.")
    accepted_at: AwareDatetime = Field(description="签收时间 When it was accepted.")


class ComplaintTransferred(_ComplaintEvent):
    """投诉转办 The complaint moved to another organisation; the responsible person stays."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintTransferred.v1"

    from_org: fields.Id = Field(description="转出单位 Organisation that handled it until now.")
    to_org: fields.Id = Field(description="转入单位 Organisation that handles it now.")
    transfer_count: int = Field(ge=1, description="转办次数 Transfers so far, this one included.")
    escalated: bool = Field(
        description="提交督办 True once, for the transfer that crossed the limit: the district "
        "office supervises the complaint from now on."
    )
    transferred_at: AwareDatetime = Field(description="转办时间 When it was transferred.")


class ComplaintReplied(_ComplaintEvent):
    """投诉答复 The responsible person replied to the owner; the owner's feedback is awaited."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintReplied.v1"

    reply_no: int = Field(ge=1, description="答复序号 1 for the first reply, 2 after a reopening.")
    replied_at: AwareDatetime = Field(description="答复时间 When the reply was given.")


class ComplaintFeedbackReceived(_ComplaintEvent):
    """业主评价 The owner rated the reply (the comment text stays in the service)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintFeedbackReceived.v1"

    satisfied: bool = Field(description="是否满意 Satisfied closes; dissatisfied reopens.")
    rating: int = Field(ge=1, le=5, description="评分 1-5.")
    received_at: AwareDatetime = Field(description="评价时间 When the feedback was given.")


class ComplaintReopened(_ComplaintEvent):
    """投诉重办 The owner was not satisfied: back to the same responsible person."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintReopened.v1"

    reopen_count: int = Field(ge=1, description="重办次数 Reopenings so far.")
    completion_deadline: AwareDatetime = Field(description="办结期限 The completion deadline now.")
    completion_deadline_calendar: str | None = Field(
        default=None,
        max_length=200,
        description=(
            "期限依据的日历 The calendar the completion deadline was counted on: "
            "'official:<year>@<fingerprint>', 'provisional:holidays-<version>:<year>' (no official file for "
            "that year yet), 'elapsed'; several joined with '+'. Null from older producers."
        ),
    )
    reopened_at: AwareDatetime = Field(description="重办时间 When it was reopened.")


class ComplaintClosed(_ComplaintEvent):
    """投诉办结 Closed after the owner's satisfied feedback, or automatically without one."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintClosed.v1"

    how: Literal["feedback", "auto"] = Field(
        description="办结方式 feedback = 业主满意; auto = 答复后逾期未评价自动办结."
    )
    closed_at: AwareDatetime = Field(description="办结时间 When it was closed.")


class ComplaintWarning(_ComplaintEvent):
    """投诉预警 An SLA clock reached its warning point; emitted once per complaint and clock."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintWarning.v1"

    clock: Literal["acceptance", "completion"] = Field(
        description="时限 acceptance = 签收时限; completion = 办结时限."
    )
    deadline: AwareDatetime = Field(description="期限 The deadline that approaches.")
    detected_at: AwareDatetime = Field(description="发现时间 When the warning was detected.")


class ComplaintExtensionRequested(_ComplaintEvent):
    """申请延期 The responsible enterprise asked the district office for more working days to
    complete the complaint (the reason text stays in the complaints service)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintExtensionRequested.v1"

    working_days: int = Field(ge=1, le=30, description="延长工作日 Working days asked for.")
    completion_deadline: AwareDatetime = Field(
        description="办结期限 The completion deadline before the extension."
    )
    requested_at: AwareDatetime = Field(description="申请时间 When it was asked.")


class ComplaintExtensionDecided(_ComplaintEvent):
    """延期审批 The district office granted or refused an extension asked for."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintExtensionDecided.v1"

    granted: bool = Field(description="是否批准 True: the completion deadline moved.")
    working_days: int = Field(ge=1, le=30, description="延长工作日 Working days asked for.")
    completion_deadline: AwareDatetime = Field(
        description="办结期限 The completion deadline now (moved when granted, unchanged when refused)."
    )
    decided_at: AwareDatetime = Field(description="审批时间 When it was decided.")


class ComplaintAssigned(_ComplaintEvent):
    """指定办理 The district office named the organisation that must handle a complaint escalated
    for being passed on too often (首问责任), or took it over itself (自行办理, `taken_over`); it is
    not transferred again. The office's reason stays in the complaints service."""

    ce_type: ClassVar[str] = "cn.tj.wuye.complaints.ComplaintAssigned.v1"

    from_org: fields.Id = Field(description="原办理单位 Organisation that handled it until now.")
    to_org: fields.Id = Field(
        description="指定办理单位 Organisation that must handle it now (may be the same one: ordered to)."
    )
    assigned_at: AwareDatetime = Field(description="指定时间 When the office assigned it.")
    taken_over: bool = Field(
        default=False,
        description=(
            "自行办理 True when the district office took the complaint over itself: `to_org` is "
            "the office (`district-office-<district_code>`) and its officer is the responsible "
            "person (首问责任人) from now on. False (and absent from older producers) when it "
            "named an enterprise."
        ),
    )
