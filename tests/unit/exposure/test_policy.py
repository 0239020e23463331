"""Who sees which cases and acts for which district (entrypoints/policy.py)."""

from __future__ import annotations

from runtime.auth import Principal, Role
from services.exposure.entrypoints import policy
from services.exposure.service.ports import Scope

CITY = Principal("city-1", Role.CITY_OFFICE)
DISTRICT = Principal("district-1", Role.DISTRICT_OFFICE, district_code="120101")
ENTERPRISE = Principal("enterprise-1", Role.ENTERPRISE, enterprise_id="E-0001")


def test_each_role_sees_its_own_scope_of_cases() -> None:
    assert policy.case_scope(CITY) == Scope("all")
    assert policy.case_scope(DISTRICT) == Scope("district", "120101")
    assert policy.case_scope(ENTERPRISE) == Scope("enterprise", "E-0001")


def test_a_district_office_acts_for_its_district_the_city_office_for_all() -> None:
    assert policy.acting_district(DISTRICT) == "120101"
    assert policy.acting_district(CITY) is None
    assert policy.evidence_district(DISTRICT) == "120101"
    assert policy.evidence_district(CITY) is None


def test_an_enterprise_objects_for_its_own_enterprise() -> None:
    assert policy.objecting_enterprise(ENTERPRISE) == "E-0001"
