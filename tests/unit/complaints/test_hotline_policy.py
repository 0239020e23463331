"""Only the outside agency configured as the 12345 hotline registers complaints for owners
(issue 16): the rule in `service.access`, the registration page's gate in
`entrypoints.policy`, and what a complaint records of who registered it."""

from __future__ import annotations

import pytest

from runtime.auth import Principal, Role
from runtime.errors import Forbidden, InvalidInput
from runtime.unit_of_work import Trace
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.entrypoints import policy
from services.complaints.service import access, intake
from tests.unit.complaints.conftest import ALICE, CITY, DISTRICT, water

HOTLINE = Principal("clerk-7", Role.AGENCY, name="12345 热线", agency_id="12345")
WATER = Principal("clerk-9", Role.AGENCY, name="市水务局", agency_id="tj-water")


def test_the_hotline_registers_on_its_channel_and_is_recorded_as_the_registering_agency() -> None:
    registration = access.filed_by(HOTLINE, "hotline")
    assert registration == access.Registration("clerk-7", "hotline", "12345")
    with pytest.raises(InvalidInput) as wrong_channel:
        access.filed_by(HOTLINE, "phone")
    assert wrong_channel.value.field == "channel"


@pytest.mark.parametrize("channel", ["hotline", "phone", "web"])
def test_any_other_agency_is_refused_whatever_the_channel(channel: str) -> None:
    with pytest.raises(Forbidden) as refused:
        access.filed_by(WATER, channel)  # type: ignore[arg-type]
    assert refused.value.code == "not_the_hotline"
    assert "12345" in refused.value.message.zh
    assert "无权" in refused.value.message.zh
    assert "12345" in refused.value.message.en
    assert "may not" in refused.value.message.en


def test_the_hotline_is_a_setting_not_a_constant() -> None:
    assert access.filed_by(WATER, "hotline", hotline_agency="tj-water") is not None
    with pytest.raises(Forbidden):
        access.filed_by(HOTLINE, "hotline", hotline_agency="tj-water")


def test_staff_registrations_name_their_organisation() -> None:
    assert access.filed_by(ALICE, "phone") == access.Registration("alice", "enterprise", "ent-a")
    assert access.filed_by(DISTRICT, "counter") == access.Registration(
        "do-1", "district_office", "district-office-120101"
    )


def test_the_registration_page_opens_for_the_hotline_and_the_district_office_only() -> None:
    assert policy.register_refusal(HOTLINE, "12345") is None
    assert policy.register_refusal(DISTRICT, "12345") is None
    refused = policy.register_refusal(WATER, "12345")
    assert refused is not None
    assert "12345" in refused.zh
    assert refused.en
    assert policy.register_refusal(CITY, "12345") is not None
    assert policy.register_refusal(ALICE, "12345") is not None


async def test_a_filed_hotline_complaint_records_the_agency(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    filed = await intake.file(uow, rules, HOTLINE, water(channel="hotline"), trace=trace)
    c = filed.complaint
    assert (c.filed_by, c.registered_by, c.registered_org) == ("clerk-7", "hotline", "12345")
    with pytest.raises(Forbidden):
        await intake.file(uow, rules, WATER, water(channel="hotline"), trace=trace)
    assert len(uow.store.complaints) == 1  # nothing written for the refused agency


def test_the_setting_names_the_hotline(monkeypatch: pytest.MonkeyPatch) -> None:
    from services.complaints.settings import ComplaintsSettings

    assert ComplaintsSettings(database_url="postgresql://x/y").hotline_agency_id == "12345"
    monkeypatch.setenv("HOTLINE_AGENCY_ID", "tj-12345")
    assert ComplaintsSettings(database_url="postgresql://x/y").hotline_agency_id == "tj-12345"


@pytest.mark.parametrize(
    ("who", "offered"),
    [(HOTLINE, True), (WATER, False), (DISTRICT, True)],
    ids=["hotline", "another-agency", "district-office"],
)
def test_the_shared_navigation_offers_registration_to_the_hotline_only_of_the_agencies(
    who: Principal, offered: bool
) -> None:
    """Every service draws the same navigation; another agency would only be refused there."""
    from datetime import UTC, datetime

    from starlette.requests import Request

    from runtime import workspace
    from runtime.web_session import Session, Tokens

    now = datetime(2026, 3, 2, tzinfo=UTC)
    request = Request({"type": "http", "path": "/workspace/exposure/", "query_string": b"",
                       "headers": []})  # fmt: skip
    session = Session(who, "csrf", Tokens(), now, now, "hash")
    page = workspace.page_for(
        request, session, service="exposure", links="", now=now, hotline_agency="12345"
    )
    labels = [label for _href, label, _current in page.navigation()]
    assert ("代业主登记" in labels) is offered
