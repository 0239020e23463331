"""Project registry events, major version 1.

The registry topic is log-compacted, so only the latest record per project survives: every
event here carries the project's full current facts, never a delta.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field, model_validator

from schemas import base, fields, topics


class _ProjectFacts(base.Event):
    topic: ClassVar[str] = topics.REGISTRY_PROJECTS
    key_field: ClassVar[str] = "project_id"

    project_id: fields.Id = Field(description="项目编号 Project id; the Kafka key.")
    project_name: fields.Name = Field(description="项目名称 Project (residential estate) name.")
    address: str = Field(min_length=1, max_length=500, description="项目地址 Street address.")
    district_code: fields.DistrictCode = Field(
        description="区划代码 Six-digit administrative code of the district, e.g. 120101."
    )
    district_name: fields.Name = Field(description="区名称 District name, e.g. 和平区.")
    enterprise_id: fields.Id = Field(
        description="物业服务企业编号 Id of the property-service enterprise managing the project."
    )
    enterprise_name: fields.Name = Field(description="物业服务企业名称 Enterprise name.")
    service_grade: str = Field(
        min_length=1,
        max_length=32,
        description="合同约定服务等级 Contracted service grade, e.g. 一级.",
    )
    latitude: float | None = Field(
        default=None,
        ge=-90,
        le=90,
        description="纬度 Latitude of the project's main gate, WGS-84 degrees (GPS; never GCJ-02). "
        "Optional, with longitude: both or neither. Added in 1.x; older records have none.",
    )
    longitude: float | None = Field(
        default=None,
        ge=-180,
        le=180,
        description="经度 Longitude of the project's main gate, WGS-84 degrees. Optional, with "
        "latitude: both or neither.",
    )
    occurred_at: AwareDatetime = Field(description="When the change took effect (with UTC offset).")

    @model_validator(mode="after")
    def _both_or_neither(self) -> _ProjectFacts:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("latitude and longitude come together (both or neither)")
        return self


class ProjectRegistered(_ProjectFacts):
    """项目登记 A project entered the registry."""

    ce_type: ClassVar[str] = "cn.tj.wuye.registry.ProjectRegistered.v1"


class ProjectUpdated(_ProjectFacts):
    """项目变更 A project's facts changed; carries all current facts, not only the changed ones."""

    ce_type: ClassVar[str] = "cn.tj.wuye.registry.ProjectUpdated.v1"
