"""Who may record which inspection (DESIGN.md section 1), as a pure rule.

- an enterprise self-inspects only its own projects;
- a district office patrol-inspects only projects in its own district;
- the city office may patrol-inspect any project;
- owners, outside agencies and the public record nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    role: str
    district_code: str | None
    enterprise_id: str | None


@dataclass(frozen=True)
class Refusal:
    code: str
    zh: str
    en: str


def may_record(
    actor: Actor, kind: str, project_district: str, project_enterprise: str
) -> Refusal | None:
    if kind == "self":
        if actor.role != "enterprise":
            return Refusal(
                "wrong_role",
                "自查只能由物业企业提交",
                "only an enterprise submits a self-inspection",
            )
        if actor.enterprise_id != project_enterprise:
            return Refusal(
                "out_of_scope",
                "只能对本企业服务的物业项目自查",
                "an enterprise self-inspects only its own projects",
            )
        return None
    if actor.role == "city_office":
        return None
    if actor.role != "district_office":
        return Refusal(
            "wrong_role",
            "巡查只能由区县物业办或市物业办记录",
            "only a district or city office records a patrol inspection",
        )
    if actor.district_code != project_district:
        return Refusal(
            "out_of_scope",
            "只能巡查本辖区的物业项目",
            "a district office patrols only projects in its own district",
        )
    return None
