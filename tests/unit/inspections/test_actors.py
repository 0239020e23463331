"""Who may do what in the inspections service: the domain's rules (`domain.actors`) and the
routes' policy that applies them to a token's principal (`entrypoints.policy`), one rule each."""

from __future__ import annotations

import pytest

from runtime.auth import Principal, Role
from services.inspections.domain import actors
from services.inspections.entrypoints import policy
from tests.unit.inspections.conftest import CITY, E1, E2, HEPING, NANKAI, OWNER

EVERYONE = {"city": CITY, "heping": HEPING, "nankai": NANKAI, "e1": E1, "e2": E2, "owner": OWNER}
PRINCIPALS = (
    Principal("c", Role.CITY_OFFICE),
    Principal("d", Role.DISTRICT_OFFICE, district_code="120101"),
    Principal("e", Role.ENTERPRISE, enterprise_id="E-0001"),
    Principal("o", Role.OWNER),
    Principal("a", Role.AGENCY, agency_id="12345"),
)


def admitted(rule: object) -> set[str]:
    return {name for name, actor in EVERYONE.items() if rule(actor) is None}  # type: ignore[operator]


def test_the_domains_role_names_are_the_tokens_roles() -> None:
    """The domain imports no runtime: its role names must stay `runtime.auth.Role`'s values."""
    assert Role.ENTERPRISE.value == actors.ENTERPRISE
    assert Role.DISTRICT_OFFICE.value == actors.DISTRICT_OFFICE
    assert Role.CITY_OFFICE.value == actors.CITY_OFFICE
    assert {r.value for r in Role} >= actors.ROLES
    assert {policy.actor_of(p).role for p in PRINCIPALS} == {r.value for r in Role}


def test_who_the_actor_is() -> None:
    assert [n for n, a in EVERYONE.items() if actors.is_city_office(a)] == ["city"]
    assert [n for n, a in EVERYONE.items() if actors.is_office(a)] == ["city", "heping", "nankai"]
    assert {
        n: actors.office_district(a) for n, a in EVERYONE.items() if actors.office_district(a)
    } == {
        "heping": "120101",
        "nankai": "120104",
    }
    assert [n for n, a in EVERYONE.items() if actors.runs(a, "E-0001")] == ["e1"]


def test_the_ordered_enterprise_submits_and_an_office_decides() -> None:
    assert admitted(lambda a: actors.may_submit_rectification(a, "E-0001")) == {"e1"}
    assert admitted(actors.may_decide_rectification) == {"city", "heping", "nankai"}
    assert admitted(actors.may_keep_facilities) == {"e1", "e2"}
    refusal = actors.may_submit_rectification(E2, "E-0001")
    assert refusal is not None
    assert refusal.code == "not_the_enterprise"
    decided = actors.may_decide_rectification(E1)
    assert decided is not None
    assert decided.code == "not_a_supervisor"


@pytest.mark.parametrize("principal", PRINCIPALS, ids=lambda p: p.role.value)
def test_the_pages_refuse_with_the_domains_words(principal: Principal) -> None:
    """The pages' refusals are the rules the handlers apply, in the same words."""
    actor = policy.actor_of(principal)
    for page, rule in (
        (policy.decide_refusal(principal), actors.may_decide_rectification(actor)),
        (
            policy.submit_refusal(principal, "E-0001"),
            actors.may_submit_rectification(actor, "E-0001"),
        ),
        (policy.facility_write_refusal(principal), actors.may_keep_facilities(actor)),
    ):
        assert (page is None) == (rule is None)
        if page is not None and rule is not None:
            assert (page.zh, page.en) == (rule.zh, rule.en)
