"""The staff's handling and the owner's feedback with the in-memory unit of work: what each
handler stores, which events it commits with which trace, and what it refuses."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runtime.errors import DomainError, Forbidden, InvalidInput, NotFound
from runtime.scheduler import FixedClock
from runtime.unit_of_work import Trace
from schemas.complaints import v1 as complaints
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.service import access, handling, intake
from tests.unit.complaints.conftest import (
    ALICE,
    BOB,
    CITY,
    DISTRICT,
    MALLORY,
    OTHER_DISTRICT,
    OWNER,
    water,
)

Filed = tuple[str, str]  # complaint id, follow-up token


async def _filed(uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules) -> Filed:
    filed = await intake.file(uow, rules, OWNER, water(), trace=Trace.start())
    uow.outbox.committed.clear()
    return filed.complaint.complaint_id, filed.token


async def _pass_it_on_until_escalated(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, cid: str, trace: Trace
) -> None:
    """One transfer more than the policy allows, back and forth (首问 ping-pong): escalated."""
    for org in (["ent-a-water", "ent-a"] * 4)[: rules.policy.max_transfers + 1]:
        await handling.transfer(
            uow, rules, ALICE, cid, to_org=org, reason="非本单位职责", trace=trace
        )


def _types(uow: MemoryComplaintsUnitOfWork) -> list[str]:
    return [type(w.event).__name__ for w in uow.outbox.committed]


async def test_accept_makes_the_first_acceptor_responsible(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, clock: FixedClock, trace: Trace
) -> None:
    cid, _ = await _filed(uow, rules)
    clock.advance(timedelta(minutes=10))

    row = await handling.accept(uow, ALICE, cid, trace=trace)

    assert row.complaint.responsible is not None
    assert row.complaint.responsible.staff_id == "alice"
    assert row.complaint.accepted_at == clock.now()
    [written] = uow.outbox.committed
    assert isinstance(written.event, complaints.ComplaintAccepted)
    assert (written.event.responsible_staff_id, written.trace) == ("alice", trace)
    with pytest.raises(DomainError) as taken:
        await handling.accept(uow, BOB, cid, trace=trace)
    assert taken.value.code == "already_accepted"
    again = await handling.accept(uow, ALICE, cid, trace=trace)  # the same person: nothing
    assert again.complaint == row.complaint
    assert _types(uow) == ["ComplaintAccepted"]


async def test_only_enterprise_staff_in_scope_act(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    cid, _ = await _filed(uow, rules)
    with pytest.raises(NotFound):
        await handling.accept(uow, MALLORY, cid, trace=trace)
    with pytest.raises(Forbidden):
        await handling.accept(uow, DISTRICT, cid, trace=trace)
    with pytest.raises(NotFound):
        await handling.accept(uow, ALICE, "no-such-id", trace=trace)
    assert uow.outbox.committed == []


async def test_transfers_escalate_once_past_the_limit(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    cid, _ = await _filed(uow, rules)
    await handling.accept(uow, ALICE, cid, trace=trace)
    limit = rules.policy.max_transfers
    for org in (["ent-a-water", "ent-a"] * limit)[: limit + 2]:
        row = await handling.transfer(
            uow, rules, ALICE, cid, to_org=org, reason="非本单位职责", trace=trace
        )
    assert len(row.complaint.transfers) == limit + 2
    assert row.complaint.responsible is not None
    assert row.complaint.responsible.staff_id == "alice"  # responsibility never moves
    escalated = [
        w.event.escalated
        for w in uow.outbox.committed
        if isinstance(w.event, complaints.ComplaintTransferred)
    ]
    assert escalated == [False] * limit + [True, False]
    with pytest.raises(InvalidInput) as same:
        await handling.transfer(uow, rules, ALICE, cid, to_org="ent-a", reason="再转", trace=trace)
    assert same.value.field == "to_org"


async def test_the_district_office_assigns_an_escalated_complaint_and_it_stays_there(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    cid, _ = await _filed(uow, rules)
    await handling.accept(uow, ALICE, cid, trace=trace)
    reason = "多次转办,由首问企业继续办理"
    # Not escalated yet: nothing to assign.
    with pytest.raises(DomainError) as early:
        await handling.assign(uow, DISTRICT, cid, to_org="E-0001", reason=reason, trace=trace)
    assert early.value.code == "not_escalated"
    await _pass_it_on_until_escalated(uow, rules, cid, trace)
    uow.outbox.committed.clear()

    with pytest.raises(Forbidden):
        await handling.assign(uow, ALICE, cid, to_org="E-0001", reason=reason, trace=trace)
    with pytest.raises(NotFound):
        await handling.assign(uow, OTHER_DISTRICT, cid, to_org="E-0001", reason=reason, trace=trace)
    with pytest.raises(InvalidInput) as blank:
        await handling.assign(uow, DISTRICT, cid, to_org="  ", reason=reason, trace=trace)
    assert blank.value.field == "to_org"
    assert uow.outbox.committed == []  # nothing half-written

    row = await handling.assign(uow, DISTRICT, cid, to_org="E-0001", reason=reason, trace=trace)
    assert row.complaint.handling_org == "E-0001"
    assert row.complaint.assignment is not None
    assert row.complaint.assignment.by == DISTRICT.subject
    assert row.complaint.responsible is not None
    assert row.complaint.responsible.staff_id == "alice"  # responsibility never moves
    (written,) = uow.outbox.committed
    assert isinstance(written.event, complaints.ComplaintAssigned)
    assert (written.event.from_org, written.event.to_org) == ("ent-a-water", "E-0001")
    assert written.trace == trace
    with pytest.raises(InvalidInput) as locked:
        await handling.transfer(
            uow, rules, ALICE, cid, to_org="ent-b", reason="再转出去", trace=trace
        )
    assert locked.value.code == "assigned_by_district"
    # The office may name the organisation again (e.g. the one it named cannot do the work).
    again = await handling.assign(uow, DISTRICT, cid, to_org="ent-a", reason=reason, trace=trace)
    assert again.complaint.handling_org == "ent-a"


async def test_the_district_office_takes_an_escalated_complaint_over_and_replies_itself(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    cid, _ = await _filed(uow, rules)
    await handling.accept(uow, ALICE, cid, trace=trace)
    reason = "企业多次推诿，由区物业办自行办理"
    with pytest.raises(DomainError) as early:
        await handling.take_over(uow, DISTRICT, cid, reason=reason, trace=trace)
    assert early.value.code == "not_escalated"
    await _pass_it_on_until_escalated(uow, rules, cid, trace)
    uow.outbox.committed.clear()
    with pytest.raises(Forbidden):
        await handling.take_over(uow, ALICE, cid, reason=reason, trace=trace)
    with pytest.raises(NotFound):
        await handling.take_over(uow, OTHER_DISTRICT, cid, reason=reason, trace=trace)
    assert uow.outbox.committed == []

    row = await handling.take_over(uow, DISTRICT, cid, reason=reason, trace=trace)

    office = access.office_org(DISTRICT.district_code or "")
    assert row.complaint.handling_org == office == "district-office-120101"
    (written,) = uow.outbox.committed
    assert isinstance(written.event, complaints.ComplaintAssigned)
    assert (written.event.from_org, written.event.to_org, written.event.taken_over) == (
        "ent-a-water",
        office,
        True,
    )
    assert written.trace == trace
    replied = await handling.reply(uow, rules, DISTRICT, cid, text="已派员现场处理", trace=trace)
    assert replied.complaint.status.value == "replied"
    with pytest.raises(NotFound):  # another district's office does not even see it
        await handling.reply(uow, rules, OTHER_DISTRICT, cid, text="越权答复", trace=trace)


async def test_reply_by_the_responsible_person_starts_the_auto_close(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, clock: FixedClock, trace: Trace
) -> None:
    cid, _ = await _filed(uow, rules)
    await handling.accept(uow, ALICE, cid, trace=trace)
    with pytest.raises(DomainError) as not_theirs:
        await handling.reply(uow, rules, BOB, cid, text="我来答复", trace=trace)
    assert not_theirs.value.code == "not_responsible"

    row = await handling.reply(uow, rules, ALICE, cid, text="已安排维修", trace=trace)

    assert row.complaint.status.value == "replied"
    stored = uow.store.complaints[cid]
    assert stored.auto_close_at == clock.now() + timedelta(days=rules.policy.auto_close_days)
    assert _types(uow) == ["ComplaintAccepted", "ComplaintReplied"]
    assert uow.outbox.committed[-1].trace == trace


async def test_extension_requested_then_decided_by_the_district(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    cid, _ = await _filed(uow, rules)
    accepted = await handling.accept(uow, ALICE, cid, trace=trace)
    before = accepted.complaint.completion.deadline

    asked = await handling.request_extension(
        uow, ALICE, cid, working_days=3, reason="需要更换主管道阀门", trace=trace
    )
    assert asked.complaint.pending_extension is not None
    with pytest.raises(Forbidden):
        await handling.decide_extension(uow, rules, ALICE, cid, approve=True, trace=trace)
    with pytest.raises(NotFound):
        await handling.decide_extension(uow, rules, OTHER_DISTRICT, cid, approve=True, trace=trace)
    decided = await handling.decide_extension(uow, rules, DISTRICT, cid, approve=True, trace=trace)

    assert decided.complaint.extensions[-1].decision == "approved"
    assert decided.complaint.completion.deadline > before
    assert _types(uow) == [
        "ComplaintAccepted",
        "ComplaintExtensionRequested",
        "ComplaintExtensionDecided",
    ]
    granted = uow.outbox.committed[-1].event
    assert granted.granted is True  # type: ignore[attr-defined]
    assert granted.completion_deadline == decided.complaint.completion.deadline  # type: ignore[attr-defined]
    assert granted.working_days == 3  # type: ignore[attr-defined]
    with pytest.raises(DomainError) as nothing:
        await handling.decide_extension(uow, rules, DISTRICT, cid, approve=False, trace=trace)
    assert nothing.value.code == "no_pending_extension"


async def test_dissatisfied_feedback_reopens_and_satisfied_closes(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    cid, token = await _filed(uow, rules)
    await handling.accept(uow, ALICE, cid, trace=trace)
    await handling.reply(uow, rules, ALICE, cid, text="已安排维修", trace=trace)
    uow.outbox.committed.clear()

    reopened = await handling.feedback(
        uow, rules, token, satisfied=False, rating=2, comment="还是没水", trace=trace
    )
    assert (reopened.complaint.status.value, reopened.complaint.reopen_count) == ("reopened", 1)
    assert _types(uow) == ["ComplaintFeedbackReceived", "ComplaintReopened"]
    assert uow.store.complaints[cid].auto_close_at is None

    await handling.reply(uow, rules, ALICE, cid, text="已恢复供水", trace=trace)
    closed = await handling.feedback(
        uow, rules, token, satisfied=True, rating=5, comment=None, trace=trace
    )
    assert closed.complaint.status.value == "closed"
    assert _types(uow)[-2:] == ["ComplaintFeedbackReceived", "ComplaintClosed"]
    assert {w.trace for w in uow.outbox.committed} == {trace}
    with pytest.raises(DomainError):
        await handling.feedback(
            uow, rules, token, satisfied=True, rating=5, comment=None, trace=trace
        )
    with pytest.raises(NotFound):
        await handling.feedback(
            uow, rules, "x" * 43, satisfied=True, rating=5, comment=None, trace=trace
        )


async def test_reading_in_scope(uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules) -> None:
    cid, token = await _filed(uow, rules)
    assert (await handling.get_by_token(uow, token)).complaint.complaint_id == cid
    with pytest.raises(NotFound):
        await handling.get_by_token(uow, token + "x")
    for reader in (ALICE, DISTRICT, CITY):
        assert (await handling.get(uow, reader, cid)).complaint.complaint_id == cid
    for outsider in (MALLORY, OTHER_DISTRICT, OWNER):
        with pytest.raises(NotFound):
            await handling.get(uow, outsider, cid)
    assert len(await handling.list_for(uow, DISTRICT, status="filed", limit=10)) == 1
    assert await handling.list_for(uow, DISTRICT, status="closed", limit=10) == []
    assert await handling.list_for(uow, MALLORY, status=None, limit=10) == []
    with pytest.raises(Forbidden):
        await handling.list_for(uow, OWNER, status=None, limit=10)


async def test_contact_details_only_for_the_handling_enterprise_and_the_district(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    cid, _ = await _filed(uow, rules)
    await handling.accept(uow, ALICE, cid, trace=trace)
    row = await handling.transfer(
        uow, rules, ALICE, cid, to_org="ent-b", reason="属于南开物业", trace=trace
    )
    c = row.complaint
    assert access.may_see_contact(MALLORY, c)  # ent-b handles it now
    assert not access.may_see_contact(ALICE, c)
    assert access.may_see_contact(DISTRICT, c)
    assert not access.may_see_contact(CITY, c)
    assert access.can_see(ALICE, c)  # its project's complaint still
