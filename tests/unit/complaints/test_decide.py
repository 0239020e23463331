"""The helpers every complaints handler shares: the domain's refusals as the platform's errors
(bad input 422, an illegal change 409, a calendar gap 503), the ticket number, the facts every
event carries and the channel older consumers read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runtime.calendar import CalendarError
from runtime.errors import DomainError, InvalidInput, Unavailable
from runtime.unit_of_work import Trace
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork
from services.complaints.domain import TransitionRefused
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.service import decide, intake
from tests.unit.complaints.conftest import OWNER, water


def refuse(exc: Exception) -> None:
    raise exc


def test_a_refusal_naming_a_field_is_bad_input_and_one_without_a_refused_change() -> None:
    assert decide.decide(lambda: 42) == 42
    with pytest.raises(InvalidInput) as bad:
        decide.decide(lambda: refuse(TransitionRefused("bad_org", "单位无效", "bad org", "to_org")))
    assert (bad.value.code, bad.value.field, bad.value.message.zh) == (
        "bad_org",
        "to_org",
        "单位无效",
    )
    with pytest.raises(DomainError) as illegal:
        decide.decide(lambda: refuse(TransitionRefused("closed", "已结束", "closed")))
    assert type(illegal.value) is DomainError
    assert illegal.value.field is None


def test_a_year_the_calendar_does_not_cover_is_the_platforms_gap() -> None:
    gap = CalendarError("calendar_year_missing", "缺少 2031 年日历", "no calendar for 2031")
    with pytest.raises(Unavailable) as unavailable:
        decide.decide(lambda: refuse(gap))
    assert unavailable.value.code == "calendar_year_missing"
    assert unavailable.value.message == decide.calendar_gap(gap)
    assert "缺少 2031 年日历" in unavailable.value.message.zh
    assert "no calendar for 2031" in unavailable.value.message.en
    assert "不是您填写的内容有误" in unavailable.value.message.zh


def test_the_ticket_number_counts_by_the_china_day() -> None:
    late_utc = datetime(2026, 3, 2, 16, 30, tzinfo=UTC)  # already 3 March in China
    assert intake.ticket_number(7, late_utc) == "TS-20260303-000007"


def test_older_consumers_read_a_hotline_call_as_a_phone_call() -> None:
    assert intake.wire_channel("hotline") == "phone"
    assert [intake.wire_channel(c) for c in ("web", "open311", "phone", "counter")] == [
        "web",
        "open311",
        "phone",
        "counter",
    ]


async def test_every_complaint_event_carries_the_same_facts(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules
) -> None:
    filed = await intake.file(uow, rules, OWNER, water(), trace=Trace.start())
    assert intake.facts(filed.complaint) == {
        "complaint_id": filed.complaint.complaint_id,
        "project_id": "p-1",
        "enterprise_id": "ent-a",
        "district_code": "120101",
        "category": "water",
    }
