"""The complaints service's access rules (`service.access`), one table per rule, and the routes'
policy built on them (`entrypoints.policy`): who sees a complaint, its contact details and a
survey, who files for which project on which channel, and who handles, decides and supervises."""

from __future__ import annotations

from dataclasses import replace

import pytest

from runtime.auth import Principal, Role
from runtime.errors import DomainError, Forbidden
from runtime.unit_of_work import Trace
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork
from services.complaints.domain import survey as survey_model
from services.complaints.domain.complaint import Complaint
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.entrypoints import policy
from services.complaints.service import access, intake
from tests.unit.complaints.conftest import (
    ALICE,
    CITY,
    DISTRICT,
    MALLORY,
    OTHER_DISTRICT,
    OWNER,
    PROJECTS,
    T0,
    water,
)

HOTLINE = Principal("clerk-7", Role.AGENCY, agency_id="12345")
WATER = Principal("clerk-9", Role.AGENCY, agency_id="tj-water")
EVERYONE = (OWNER, ALICE, MALLORY, DISTRICT, OTHER_DISTRICT, CITY, HOTLINE)


@pytest.fixture
async def filed(uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules) -> Complaint:
    """A complaint about ent-a's project p-1 in 120101, with the owner's contact details."""
    return (await intake.file(uow, rules, OWNER, water(), trace=Trace.start())).complaint


def who(*principals: Principal) -> set[str]:
    return {p.subject for p in principals}


def test_a_complaint_is_seen_by_the_city_its_district_and_its_enterprises(
    filed: Complaint,
) -> None:
    c = filed
    assert who(*(p for p in EVERYONE if access.can_see(p, c))) == who(ALICE, DISTRICT, CITY)
    moved = replace(c, handling_org="ent-b")  # transferred to ent-b: both enterprises see it
    assert access.can_see(MALLORY, moved)
    assert access.can_see(ALICE, moved)


def test_contact_details_go_to_the_handling_enterprise_and_the_district_office(
    filed: Complaint,
) -> None:
    c = filed
    assert c.contact is not None
    assert who(*(p for p in EVERYONE if access.may_see_contact(p, c))) == who(ALICE, DISTRICT)
    moved = replace(c, handling_org="ent-b")
    assert who(*(p for p in EVERYONE if access.may_see_contact(p, moved))) == who(MALLORY, DISTRICT)
    assert policy.shows_contact(DISTRICT, c)
    assert not policy.shows_contact(CITY, c)
    assert not policy.shows_contact(DISTRICT, replace(c, contact=None))


def test_registrars_file_for_the_projects_in_their_scope_on_their_channels() -> None:
    heping, nankai = PROJECTS
    assert access.may_file_for(ALICE, "ent-a", "120101")
    assert not access.may_file_for(ALICE, "ent-b", "120101")
    assert access.may_file_for(DISTRICT, "ent-b", "120101")
    assert not access.may_file_for(DISTRICT, "ent-a", "120102")
    assert access.may_file_for(HOTLINE, "ent-b", "120102")  # the city-wide hotline
    assert [p.project_id for p in PROJECTS if policy.may_register_for(DISTRICT, p)] == ["p-1"]
    assert [p.project_id for p in PROJECTS if policy.may_register_for(HOTLINE, p)] == [
        heping.project_id,
        nankai.project_id,
    ]
    assert access.registration_channels(ALICE) == ("phone", "counter")
    assert policy.register_channels(DISTRICT) == ("phone", "counter")
    assert policy.register_channels(HOTLINE) == ("hotline",)
    assert access.registration_channels(CITY) == access.registration_channels(OWNER) == ()
    for registrar in (ALICE, DISTRICT, HOTLINE):  # filing admits exactly the channels offered
        for channel in ("web", "open311", "phone", "counter", "hotline"):
            offered = channel in access.registration_channels(registrar)
            try:
                access.filed_by(registrar, channel)  # type: ignore[arg-type]
            except DomainError:
                assert not offered, (registrar.subject, channel)
            else:
                assert offered, (registrar.subject, channel)


def test_only_the_configured_hotline_registers_of_the_agencies() -> None:
    assert access.hotline_refusal(HOTLINE, "12345") is None
    assert access.hotline_refusal(WATER, "12345") is not None
    assert access.hotline_refusal(HOTLINE, "96196") is not None  # another number configured
    access.require_hotline(HOTLINE, "12345")
    with pytest.raises(Forbidden) as refused:
        access.require_hotline(WATER, "12345")
    assert refused.value.code == "not_the_hotline"


@pytest.mark.parametrize(
    ("rule", "admitted"),
    [
        (access.require_list_reader, {"alice", "mallory", "do-1", "do-2", "city-1"}),
        (access.require_handler, {"alice", "mallory"}),
        (access.require_district_office, {"do-1", "do-2"}),
        (access.require_supervisor, {"do-1", "do-2"}),
        (access.require_survey_runner, {"alice", "mallory"}),
        (access.require_survey_reader, {"alice", "mallory", "do-1", "do-2", "city-1"}),
    ],
)
def test_who_each_role_rule_admits(rule: object, admitted: set[str]) -> None:
    passed, refusals = set(), []
    for p in EVERYONE:
        try:
            rule(p)  # type: ignore[operator]
        except Forbidden as refused:
            refusals.append(refused.message)
        else:
            passed.add(p.subject)
    assert passed == admitted
    assert all(m.zh and m.en for m in refusals)
    assert len(refusals) == len(EVERYONE) - len(admitted)


def test_a_district_office_replies_only_to_a_complaint_it_took_over(filed: Complaint) -> None:
    office = access.office_org("120101")
    assert office == "district-office-120101"
    taken_over = replace(filed, handling_org=office)
    access.require_replier(ALICE, filed)
    access.require_replier(DISTRICT, taken_over)
    with pytest.raises(Forbidden):
        access.require_replier(DISTRICT, filed)
    with pytest.raises(Forbidden):
        access.require_replier(OTHER_DISTRICT, taken_over)


def test_survey_results_are_read_in_scope() -> None:
    survey = survey_model.Survey(
        survey_id="s-1",
        enterprise_id="ent-a",
        project_id="p-1",
        campaign_id="C-2026",
        households=100,
        questions=(),
        opened_at=T0,
        closes_at=T0,
    )
    seen = {p.subject for p in EVERYONE if access.can_see_survey(p, survey, "120101")}
    assert seen == who(ALICE, DISTRICT, CITY)
    assert access.may_read_enterprise_results(ALICE, "ent-a")
    assert not access.may_read_enterprise_results(ALICE, "ent-b")
    assert access.may_read_enterprise_results(OTHER_DISTRICT, "ent-a")
    with pytest.raises(Forbidden):
        access.may_read_enterprise_results(OWNER, "ent-a")


def test_the_desk_shows_the_offices_their_escalations() -> None:
    assert [p.subject for p in EVERYONE if policy.sees_escalations(p)] == [
        "do-1",
        "do-2",
        "city-1",
    ]


def test_an_owner_is_an_owner_whichever_way_they_came() -> None:
    assert [p.subject for p in EVERYONE if access.is_owner(p)] == ["owner-1"]
    assert access.is_owner(Principal("open311:civic", Role.OWNER))
