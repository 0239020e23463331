"""The exposure workspace's refusals (entrypoints/policy.py): who may open a case, act on it,
object and read the campaign overview, each refusal saying why in Chinese and English."""

from __future__ import annotations

from runtime.auth import Principal, Role
from services.exposure.entrypoints import policy

NAMES = {"120101": "和平区", "120103": "河西区"}
HEPING = Principal("a", Role.DISTRICT_OFFICE, district_code="120101")
HEXI = Principal("b", Role.DISTRICT_OFFICE, district_code="120103")
ENTERPRISE = Principal("c", Role.ENTERPRISE, enterprise_id="E-0001")
CITY = Principal("d", Role.CITY_OFFICE)
OWNER = Principal("e", Role.OWNER)


def test_a_case_is_opened_by_its_district_the_city_and_its_enterprise_only() -> None:
    assert policy.case_refusal(HEPING, "120101", "E-0009", NAMES) is None
    assert policy.case_refusal(CITY, "120103", "E-0009", NAMES) is None
    assert policy.case_refusal(ENTERPRISE, "120103", "E-0001", NAMES) is None
    other = policy.case_refusal(HEXI, "120101", "E-0001", NAMES)
    assert other is not None
    assert other.zh == "此案件属于和平区，您所在的河西区无权查看或处理"
    assert "和平区" in other.en
    not_theirs = policy.case_refusal(ENTERPRISE, "120101", "E-0009", NAMES)
    assert not_theirs is not None
    assert "不属于您的企业" in not_theirs.zh
    assert policy.case_refusal(OWNER, "120101", "E-0001", NAMES) is not None


def test_who_acts_objects_and_reads_the_campaign() -> None:
    assert policy.review_refusal(HEPING) is None
    assert policy.review_refusal(CITY) is None
    assert policy.review_refusal(ENTERPRISE) is not None
    assert policy.object_refusal(ENTERPRISE) is None
    assert policy.object_refusal(HEPING) is not None
    assert policy.campaign_refusal(CITY) is None
    for who in (HEPING, ENTERPRISE, OWNER):
        assert policy.campaign_refusal(who) is not None
    assert policy.cases_refusal(OWNER) is not None
    assert policy.cases_refusal(ENTERPRISE) is None


def test_the_figures_show_the_district_asked_for_else_a_district_offices_own() -> None:
    """One rule for the JSON figures and the figures page (`policy.figures_scope`)."""
    assert policy.figures_scope(HEPING, None) == "120101"
    assert policy.figures_scope(HEPING, "120103") == "120103"  # asked: refused by the next rule
    assert policy.figures_refusal(HEPING, policy.figures_scope(HEPING, "120103")) is not None
    assert policy.figures_scope(CITY, None) is None  # the city by district
    assert policy.figures_scope(CITY, "120103") == "120103"
    assert policy.figures_scope(ENTERPRISE, None) is None
    assert policy.figures_refusal(ENTERPRISE, policy.figures_scope(ENTERPRISE, None)) is not None
    assert [
        p.subject for p in (HEPING, HEXI, ENTERPRISE, CITY, OWNER) if policy.sees_city_figures(p)
    ] == ["d"]
