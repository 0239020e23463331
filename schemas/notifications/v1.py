"""Notice events (通知), major version 1. Keyed by notice, so a notice and its deliveries stay in order.

A notice is one formal message issued for one cause (an event) under one rule, e.g. the reminder
(催办) for an overdue rectification or the circulated criticism (通报批评) that follows it. It is
addressed to one or more recipients (enterprise, its project manager, district office, city office);
each recipient's copy is delivered through that recipient's channels (in-app inbox, e-mail,
webhook). A criticism is first drafted (``CriticismDrafted``) and issued only when the district
office signs it off, or withdrawn (``CriticismWithdrawn``). ``NoticeIssued`` is published once per
notice; ``NotificationDelivered`` /
``NotificationFailed`` once per delivery (recipient and external channel).

This topic is public: notices to owners are never published here, and deliveries name the
recipient organisation and the channel, never an address. Titles, bodies and failure reasons are
``fields.PublicText``: personal data in them is masked.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import pydantic
from pydantic import AwareDatetime, ConfigDict, Field

from schemas import base, fields, topics

NoticeKind = Literal["notice", "reminder", "criticism"]
RecipientKind = Literal["enterprise", "manager", "district", "city", "owner"]
Channel = Literal["email", "webhook"]


class _NoticeEvent(base.Event):
    topic: ClassVar[str] = topics.NOTIFICATIONS_EVENTS
    key_field: ClassVar[str] = "notice_id"

    notice_id: fields.Id = Field(description="通知编号 Notice id; the Kafka key.")


class Recipient(pydantic.BaseModel):
    """One addressee of a notice."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    kind: RecipientKind = Field(description="收件方类别 enterprise, manager, district, city.")
    id: fields.Id = Field(
        description="收件方编号 Enterprise id, project id (manager), district code or 'city'."
    )
    cc: bool = Field(description="是否抄送 True for a copy (抄送), false for the addressee (主送).")


class NoticeIssued(_NoticeEvent):
    """通知发出 A notice was issued; for ``kind = criticism`` this is the circulated criticism
    (通报批评) itself, with its official number."""

    ce_type: ClassVar[str] = "cn.tj.wuye.notifications.NoticeIssued.v1"

    kind: NoticeKind = Field(
        description="类别 notice (告知), reminder (催办) or criticism (通报批评)."
    )
    rule_id: fields.Id = Field(description="规则 The notice rule that produced it.")
    notice_no: str | None = Field(
        max_length=100,
        description="文号 Official number of a criticism, e.g. 和平区物业通〔2011〕3号; null otherwise.",
    )
    reason: str = Field(
        min_length=1,
        max_length=64,
        description="事由 e.g. rectification_overdue, rectification_inadequate, complaint_overdue.",
    )
    subject_kind: fields.Id = Field(
        description="对象类别 What the notice is about: rectification_order, complaint, "
        "inspection, plan, survey."
    )
    subject_id: fields.Id = Field(description="对象编号 The order, complaint, ... id.")
    project_id: fields.Id | None = Field(description="项目编号 Project concerned, if any.")
    project_name: str | None = Field(max_length=200, description="项目名称 Project name.")
    enterprise_id: fields.Id | None = Field(description="物业服务企业编号 Enterprise concerned.")
    enterprise_name: str | None = Field(max_length=200, description="物业服务企业名称.")
    district_code: fields.DistrictCode | None = Field(description="区划代码 District concerned.")
    recipients: tuple[Recipient, ...] = Field(
        min_length=1, description="收件方 Addressees and copies (主送、抄送)."
    )
    title_zh: fields.PublicText = Field(
        min_length=1, max_length=300, description="标题 Title in Chinese; personal data masked."
    )
    body_zh: fields.PublicText = Field(
        min_length=1, max_length=20000, description="正文 Body in Chinese; personal data masked."
    )
    title_en: fields.PublicText = Field(
        max_length=300, description="Title in English; personal data masked."
    )
    body_en: fields.PublicText = Field(
        max_length=20000, description="Body in English; personal data masked."
    )
    cause_event_id: fields.Id = Field(description="起因事件 CloudEvents id of the cause.")
    cause_type: str = Field(
        max_length=200, description="起因事件类型 CloudEvents type of the cause."
    )
    issued_at: AwareDatetime = Field(description="发出时间 When it was issued.")
    sign_off: Literal["office", "automatic"] | None = Field(
        default=None,
        description="签发 For a criticism: 'office' when the district office signed it off "
        "(today every criticism is); null for other notices and for criticisms issued before "
        "sign-off existed.",
    )


class _DraftEvent(_NoticeEvent):
    """What a criticism draft is about; ``notice_id`` is the id of the notice it becomes when
    signed off (the same Kafka key, so draft, issue and withdrawal stay in order)."""

    rule_id: fields.Id = Field(description="规则 The criticism rule that drafted it.")
    reason: str = Field(
        min_length=1,
        max_length=64,
        description="事由 e.g. rectification_overdue, rectification_inadequate, complaint_overdue.",
    )
    subject_kind: fields.Id = Field(description="对象类别 rectification_order, complaint, ...")
    subject_id: fields.Id = Field(description="对象编号 The order, complaint, ... id.")
    project_id: fields.Id | None = Field(description="项目编号 Project concerned, if any.")
    enterprise_id: fields.Id | None = Field(description="物业服务企业编号 Enterprise concerned.")
    district_code: fields.DistrictCode | None = Field(
        description="区划代码 The district whose office decides."
    )
    cause_event_id: fields.Id = Field(description="起因事件 CloudEvents id of the cause.")
    cause_type: str = Field(
        max_length=200, description="起因事件类型 CloudEvents type of the cause."
    )


class CriticismDrafted(_DraftEvent):
    """通报批评拟稿 The ladder drafted a circulated criticism; it waits for the district office's
    sign-off (签发), which numbers it and issues it as ``NoticeIssued`` (kind criticism), or its
    withdrawal. A draft has no number and is no criticism yet: no text is published."""

    ce_type: ClassVar[str] = "cn.tj.wuye.notifications.CriticismDrafted.v1"

    drafted_at: AwareDatetime = Field(description="拟稿时间 When it was drafted.")


class CriticismWithdrawn(_DraftEvent):
    """通报批评撤回 The district office withdrew a draft: it is never issued and never had a
    number (文号)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.notifications.CriticismWithdrawn.v1"

    withdraw_reason: fields.PublicText = Field(
        min_length=1,
        max_length=500,
        description="撤回理由 Why the office withdrew it; personal data masked.",
    )
    withdrawn_at: AwareDatetime = Field(description="撤回时间 When it was withdrawn.")


class _DeliveryEvent(_NoticeEvent):
    delivery_id: fields.Id = Field(description="投递编号 Delivery id (one recipient, one channel).")
    kind: NoticeKind = Field(description="通知类别 Kind of the notice delivered.")
    recipient_kind: RecipientKind = Field(description="收件方类别 Recipient kind.")
    recipient_id: fields.Id = Field(description="收件方编号 Recipient id.")
    channel: Channel = Field(description="渠道 email or webhook (the inbox needs no delivery).")
    attempts: int = Field(ge=1, description="尝试次数 Attempts made, this one included.")


class NotificationDelivered(_DeliveryEvent):
    """通知送达 One recipient's channel accepted the notice (SMTP 250, webhook 2xx)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.notifications.NotificationDelivered.v1"

    delivered_at: AwareDatetime = Field(description="送达时间 When the channel accepted it.")


class NotificationFailed(_DeliveryEvent):
    """通知投递失败 A delivery failed for good: a permanent refusal, or retries exhausted."""

    ce_type: ClassVar[str] = "cn.tj.wuye.notifications.NotificationFailed.v1"

    reason: fields.PublicText = Field(
        min_length=1,
        max_length=500,
        description="原因 Why, e.g. 'http 410'; addresses and other personal data masked.",
    )
    failed_at: AwareDatetime = Field(description="失败时间 When it was given up.")
