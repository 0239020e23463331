"""Filing a complaint with the in-memory unit of work: scope from the registry copy, who files on
which channel, the event and its trace, idempotent replays (also the lost race)."""

from __future__ import annotations

import pytest

from runtime import idempotency
from runtime.auth import Principal, Role
from runtime.errors import DomainError, Forbidden, InvalidInput
from runtime.unit_of_work import Trace
from schemas.complaints import v1 as complaints
from services.complaints.adapters.memory import MemoryComplaints, MemoryComplaintsUnitOfWork
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.service import intake
from services.complaints.service.ports import Row
from tests.unit.complaints.conftest import ALICE, CITY, MALLORY, OWNER, TEXT, water


async def test_files_with_scope_from_the_registry_copy(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    filed = await intake.file(uow, rules, OWNER, water(), trace=trace)

    c = filed.complaint
    assert (c.enterprise_id, c.district_code, c.status.value) == ("ent-a", "120101", "filed")
    assert filed.ticket_no == "TS-20260302-000001"
    assert not filed.replayed
    stored = uow.store.complaints[c.complaint_id]
    assert stored.token_sha256 == intake.token_hash(filed.token) != filed.token
    [written] = uow.outbox.committed
    assert isinstance(written.event, complaints.ComplaintFiled)
    assert written.event.ticket_no == filed.ticket_no
    assert written.event.owner_account == "owner-1"
    assert written.trace == trace
    assert (written.ce.correlationid, written.ce.causationid) == ("corr-1", "cause-1")
    assert TEXT not in written.ce.data.decode()  # no owner text in events


async def test_staff_file_by_phone_for_their_own_projects_only(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    by_staff = await intake.file(uow, rules, ALICE, water(channel="phone"), trace=trace)
    assert by_staff.complaint.filed_by == "alice"
    with pytest.raises(InvalidInput) as foreign:
        await intake.file(uow, rules, MALLORY, water(channel="phone"), trace=trace)
    assert foreign.value.field == "project_id"
    with pytest.raises(InvalidInput) as web:
        await intake.file(uow, rules, ALICE, water(), trace=trace)
    assert web.value.code == "staff_channel"
    assert len(uow.outbox.committed) == 1


@pytest.mark.parametrize(
    ("who", "what", "error", "code"),
    [
        (OWNER, water(project_id="p-404"), InvalidInput, "unknown_project"),
        (OWNER, water(channel="phone"), InvalidInput, "owner_channel"),
        (CITY, water(), Forbidden, "role_not_allowed"),
        (OWNER, water(description="<b>停水</b>啦啦啦"), InvalidInput, "html_not_allowed"),
        (OWNER, water(category="nope"), InvalidInput, "unknown_category"),
    ],
)
async def test_refusals_write_nothing(
    uow: MemoryComplaintsUnitOfWork,
    rules: ComplaintRules,
    trace: Trace,
    who: Principal,
    what: intake.Intake,
    error: type[DomainError],
    code: str,
) -> None:
    with pytest.raises(error) as refused:
        await intake.file(uow, rules, who, what, trace=trace)
    assert refused.value.code == code
    assert uow.outbox.committed == []
    assert uow.store.complaints == {}


async def test_a_retry_with_the_key_replays_with_a_new_token(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    first = await intake.file(uow, rules, OWNER, water(), trace=trace, idempotency_key="k-1")
    again = await intake.file(uow, rules, OWNER, water(), trace=trace, idempotency_key="k-1")

    assert again.replayed
    assert again.complaint.complaint_id == first.complaint.complaint_id
    assert again.ticket_no == first.ticket_no
    assert again.token != first.token
    stored = uow.store.complaints[first.complaint.complaint_id]
    assert stored.token_sha256 == intake.token_hash(again.token)  # the first one is replaced
    assert len(uow.outbox.committed) == 1
    other = Principal("owner-2", Role.OWNER)  # keys are per caller
    theirs = await intake.file(uow, rules, other, water(), trace=trace, idempotency_key="k-1")
    assert not theirs.replayed
    with pytest.raises(idempotency.KeyReused):
        await intake.file(
            uow, rules, OWNER, water(description=TEXT + "!"), trace=trace, idempotency_key="k-1"
        )


class _LateRow(MemoryComplaints):
    """A concurrent request with the same key commits between our check and our insert."""

    def __init__(self, inner: MemoryComplaints, first: Row, fingerprint: str) -> None:
        super().__init__(inner._store)
        self.first, self.fingerprint, self.asked = first, fingerprint, 0

    async def get_by_idempotency_key(self, scope: str, key: str) -> tuple[Row, str] | None:
        self.asked += 1
        if self.asked == 1:
            return None  # not yet committed when we looked
        return self.first, self.fingerprint


async def test_losing_the_race_for_a_key_answers_as_a_replay(
    uow: MemoryComplaintsUnitOfWork, rules: ComplaintRules, trace: Trace
) -> None:
    first = await intake.file(uow, rules, OWNER, water(), trace=trace, idempotency_key="k-1")
    assert isinstance(uow.complaints, MemoryComplaints)
    fingerprint = intake.fingerprint(water())
    uow.complaints = _LateRow(uow.complaints, Row(first.complaint, first.ticket_no), fingerprint)

    lost = await intake.file(uow, rules, OWNER, water(), trace=trace, idempotency_key="k-1")

    assert lost.replayed
    assert lost.complaint.complaint_id == first.complaint.complaint_id
    assert len(uow.store.complaints) == 1
    assert len(uow.outbox.committed) == 1  # the loser wrote no second ComplaintFiled


def test_owner_account_only_for_signed_in_owners() -> None:
    assert intake.owner_account(OWNER) == "owner-1"
    assert intake.owner_account(Principal("owner-web", Role.OWNER)) is None
    assert intake.owner_account(Principal("open311:civic", Role.OWNER)) is None
    assert intake.owner_account(ALICE) is None
