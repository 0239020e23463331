"""Owner satisfaction survey events (业主满意度调查), major version 1. Keyed by survey.

Survey results per project are public facts. Nothing about a household travels here: no token,
no individual answer, no comment; only counts, means and rates.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from schemas import base, fields, topics

Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Mean = Annotated[float, Field(ge=1, le=5, allow_inf_nan=False)]


class _SurveyEvent(base.Event):
    topic: ClassVar[str] = topics.SURVEYS_EVENTS
    key_field: ClassVar[str] = "survey_id"

    survey_id: fields.Id = Field(description="调查编号 Survey id; the Kafka key.")
    campaign_id: fields.Id = Field(description="活动编号 Campaign the survey belongs to.")
    enterprise_id: fields.Id = Field(description="物业服务企业编号 Enterprise that ran it.")


class _ProjectSurveyEvent(_SurveyEvent):
    project_id: fields.Id = Field(description="项目编号 Project surveyed.")
    district_code: fields.DistrictCode = Field(description="区划代码 District of the project.")
    households: int = Field(ge=1, description="户数 Households the survey addresses.")


class SurveyOpened(_ProjectSurveyEvent):
    """满意度调查发起 An enterprise opened a satisfaction survey for one of its projects."""

    ce_type: ClassVar[str] = "cn.tj.wuye.surveys.SurveyOpened.v1"

    questions: tuple[fields.Id, ...] = Field(
        min_length=1, description="问题 Question ids, each scored 1-5; always includes overall."
    )
    opened_at: AwareDatetime = Field(description="发起时间 When it was opened.")
    closes_at: AwareDatetime = Field(
        description="截止时间 When it closes for answers at the latest."
    )


class SurveyClosed(_ProjectSurveyEvent):
    """满意度调查结束 A survey closed (by the enterprise or at its closing time) with its scores."""

    ce_type: ClassVar[str] = "cn.tj.wuye.surveys.SurveyClosed.v1"

    how: Literal["enterprise", "auto"] = Field(
        description="结束方式 enterprise = closed by the enterprise; auto = its closing time came."
    )
    responses: int = Field(ge=0, description="答卷数 Households that answered.")
    coverage: Rate = Field(description="覆盖率 responses / households.")
    satisfaction_rate: Rate | None = Field(
        description="满意率 Share of responses with an overall score of 4 or 5; null without any.",
    )
    means: dict[fields.Id, Mean | None] = Field(
        description="平均分 Mean score (1-5) per question id; null for a question nobody answered."
    )
    closed_at: AwareDatetime = Field(description="结束时间 When it closed.")


class SurveyMissing(_SurveyEvent):
    """未开展满意度调查 An enterprise running projects opened no survey by the end of the
    campaign's implementation phase (emitted once per campaign and enterprise)."""

    ce_type: ClassVar[str] = "cn.tj.wuye.surveys.SurveyMissing.v1"

    survey_id: fields.Id = Field(
        description=(
            "调查编号 No survey exists: a stable id derived from campaign and enterprise (UUID v5), "
            "so the event has a key and a repeat would be recognisable."
        )
    )
    deadline: AwareDatetime = Field(
        description="截止时间 End of the implementation phase (end of its last day, China time)."
    )
    detected_at: AwareDatetime = Field(description="发现时间 When the missing survey was detected.")
