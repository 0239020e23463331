"""The service's one authorization policy: whose inbox, who sees a notice's history and its
deliveries, which part an office sees and manages, for whom it may register channels."""

from __future__ import annotations

import pytest

from runtime.auth import Principal, Role
from runtime.errors import Forbidden
from services.notifications.entrypoints import policy
from services.notifications.service.ports import Scope

CITY = Principal("city-1", Role.CITY_OFFICE)
HEPING = Principal("d-1", Role.DISTRICT_OFFICE, district_code="120101")
JINCHENG = Principal("e-1", Role.ENTERPRISE, enterprise_id="E-0001")
OWNER = Principal("owner-42", Role.OWNER)
AGENCY = Principal("agency-1", Role.AGENCY, agency_id="tj-fire")
NOTICE = {"district_code": "120101"}
COPIES = [
    {"recipient_kind": "enterprise", "recipient_id": "E-0001"},
    {"recipient_kind": "district", "recipient_id": "120101"},
]


def test_each_caller_reads_its_own_inbox_and_an_agency_has_none() -> None:
    assert policy.inbox_of(CITY) == ("city", "city")
    assert policy.inbox_of(HEPING) == ("district", "120101")
    assert policy.inbox_of(JINCHENG) == ("enterprise", "E-0001")
    assert policy.inbox_of(OWNER) == ("owner", "owner-42")
    with pytest.raises(Forbidden):
        policy.inbox_of(AGENCY)


def test_a_history_is_for_its_recipients_its_district_and_the_city() -> None:
    assert policy.may_see_history(CITY, NOTICE, COPIES)
    assert policy.may_see_history(HEPING, NOTICE, COPIES)
    assert not policy.may_see_history(HEPING, {"district_code": "120104"}, COPIES)
    assert policy.may_see_history(JINCHENG, NOTICE, COPIES)
    assert not policy.may_see_history(OWNER, NOTICE, COPIES)
    assert not policy.may_see_history(AGENCY, NOTICE, COPIES)


def test_a_recipient_sees_only_its_own_deliveries_and_offices_all() -> None:
    enterprise_copy, district_copy = COPIES
    assert policy.sees_deliveries_of(JINCHENG, enterprise_copy)
    assert not policy.sees_deliveries_of(JINCHENG, district_copy)
    assert policy.sees_deliveries_of(CITY, enterprise_copy)
    assert policy.sees_deliveries_of(HEPING, enterprise_copy)


def test_an_offices_scope() -> None:
    assert policy.office_scope(CITY) == Scope("city", None)
    assert policy.office_scope(HEPING) == Scope("district", "120101")
    assert policy.office_scope(JINCHENG) == Scope("enterprise", "E-0001")


@pytest.mark.parametrize(
    ("who", "kind", "recipient", "owner", "allowed"),
    [
        (CITY, "city", "city", None, True),
        (CITY, "district", "120101", None, False),
        (HEPING, "district", "120101", None, True),
        (HEPING, "district", "120104", None, False),
        (JINCHENG, "enterprise", "E-0001", None, True),
        (JINCHENG, "enterprise", "E-0002", None, False),
        (JINCHENG, "manager", "P-1", "E-0001", True),
        (JINCHENG, "manager", "P-1", "E-0002", False),  # another enterprise's project
        (JINCHENG, "manager", "P-1", None, False),  # a project the registry does not know
        (JINCHENG, "district", "120101", None, False),
    ],
)
def test_channels_are_registered_for_oneself_and_ones_projects_managers(
    who: Principal, kind: str, recipient: str, owner: str | None, allowed: bool
) -> None:
    if allowed:
        policy.check_registration(who, kind, recipient, owner)
    else:
        with pytest.raises(Forbidden):
            policy.check_registration(who, kind, recipient, owner)


def test_an_endpoint_is_registered_by_an_enterprise_or_by_an_office() -> None:
    """An enterprise's endpoints name it (it manages its managers' too); an office's name none."""
    assert policy.registering_enterprise(JINCHENG) == "E-0001"
    assert policy.registering_enterprise(HEPING) is None
    assert policy.registering_enterprise(CITY) is None
