"""The statutory-interval tracker (法定维保周期): the interval table and its arithmetic (month
ends, China dates), stricter-never-looser contractual intervals, and the service handlers on the
in-memory unit (register, record, the sweep once per missed due date)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from runtime.errors import DomainError, Forbidden, InvalidInput, NotFound
from runtime.scheduler import FixedClock
from schemas.inspections import v1 as inspections
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork
from services.inspections.domain import statutory_intervals as rules
from services.inspections.domain.statutory_intervals import KINDS, InvalidFacility, InvalidService
from services.inspections.service import statutory_intervals as handlers
from tests.unit.inspections.conftest import E1, E2, HEPING, NANKAI, NOW, OWNER

TODAY = date(2026, 3, 2)


def test_the_table_holds_the_three_legal_intervals_with_their_basis() -> None:
    assert (KINDS["lift"].count, KINDS["lift"].unit) == (15, "day")
    assert (KINDS["fire"].count, KINDS["fire"].unit) == (1, "month")
    assert (KINDS["water_tank"].count, KINDS["water_tank"].unit) == (6, "month")
    assert all(k.legal_basis_zh and k.legal_basis_en for k in KINDS.values())
    assert "15" in KINDS["lift"].legal_basis_zh


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 7, 1), 6, date(2027, 1, 1)),
    ],
)
def test_months_end_on_the_last_day_the_target_month_has(
    start: date, months: int, expected: date
) -> None:
    assert rules.add_months(start, months) == expected


def test_due_dates_per_kind_and_contract() -> None:
    assert rules.next_due(KINDS["lift"], date(2026, 2, 20), None) == date(2026, 3, 7)
    assert rules.next_due(KINDS["fire"], date(2026, 1, 31), None) == date(2026, 2, 28)
    assert rules.next_due(KINDS["water_tank"], date(2025, 12, 31), None) == date(2026, 6, 30)
    assert rules.next_due(KINDS["lift"], date(2026, 2, 20), 10) == date(2026, 3, 2)


def test_a_contract_may_be_stricter_never_looser() -> None:
    assert KINDS["lift"].max_contract_days == 15
    assert KINDS["fire"].max_contract_days == 28  # February: a month is at least 28 days
    assert KINDS["water_tank"].max_contract_days == 181
    ok = rules.new_facility(
        project_id="P", kind="lift", name="1号电梯", contract_days=15,
        last_serviced_on=TODAY, today=TODAY,
    )  # fmt: skip
    assert ok.next_due_on == TODAY + timedelta(days=15)
    with pytest.raises(InvalidFacility) as refused:
        rules.new_facility(
            project_id="P", kind="lift", name="1号电梯", contract_days=16,
            last_serviced_on=TODAY, today=TODAY,
        )  # fmt: skip
    (problem,) = refused.value.problems
    assert problem.field == "interval_days"
    assert "不得宽于法定周期" in problem.zh
    assert "never looser" in problem.en
    with pytest.raises(InvalidFacility):
        rules.new_facility(
            project_id="P", kind="fire", name="消防", contract_days=29,
            last_serviced_on=TODAY, today=TODAY,
        )  # fmt: skip


def test_every_problem_is_reported_on_its_field() -> None:
    with pytest.raises(InvalidFacility) as refused:
        rules.new_facility(
            project_id="P", kind="boiler", name="  ", contract_days=None,
            last_serviced_on=TODAY + timedelta(days=1), today=TODAY,
        )  # fmt: skip
    assert [p.field for p in refused.value.problems] == ["kind", "name", "last_serviced_on"]
    with pytest.raises(InvalidService) as bad:
        rules.service_record(
            serviced_on=date(2026, 1, 1), serviced_by="", note="x" * 1001,
            last_serviced_on=date(2026, 2, 1), today=TODAY,
        )  # fmt: skip
    assert [p.field for p in bad.value.problems] == ["serviced_by", "note", "serviced_on"]


def test_the_day_is_chinas_and_a_miss_starts_the_day_after_the_due_date() -> None:
    late_evening_utc = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)  # 01:00 on 2 March in Tianjin
    assert rules.today_in_china(late_evening_utc) == date(2026, 3, 2)
    assert not rules.is_missed(date(2026, 3, 2), date(2026, 3, 2))
    assert rules.is_missed(date(2026, 3, 1), date(2026, 3, 2))
    assert rules.days_overdue(date(2026, 2, 20), date(2026, 3, 2)) == 10


async def register(uow: MemoryInspectionsUnitOfWork, last: date, **kw: object) -> str:
    cmd = handlers.RegisterFacility(
        project_id=str(kw.get("project_id", "P-120101-0001")),
        kind=str(kw.get("kind", "lift")),
        name=str(kw.get("name", "3号楼1单元电梯")),
        contract_days=None,
        last_serviced_on=last,
    )
    row = await handlers.register(uow, E1, cmd, by="e1-staff")
    return row.facility_id


async def test_the_sweep_emits_once_per_missed_due_date_and_a_service_closes_it(
    uow: MemoryInspectionsUnitOfWork, clock: FixedClock
) -> None:
    lift = await register(uow, date(2026, 2, 10))  # due 25 Feb: 5 days overdue on 2 March
    await register(uow, date(2026, 2, 20), name="2号电梯")  # due 7 March: not yet

    def units() -> MemoryInspectionsUnitOfWork:
        return uow

    assert await handlers.sweep_missed(units) == 1
    assert await handlers.sweep_missed(units) == 0  # the same due date never twice
    (event,) = uow.outbox.events
    assert isinstance(event, inspections.StatutoryIntervalMissed)
    assert (event.facility_id, event.due_on, event.days_overdue) == (lift, date(2026, 2, 25), 5)
    assert (event.district_code, event.enterprise_id) == ("120101", "E-0001")
    assert event.facility_kind == "lift"
    assert "15" in event.legal_basis
    clock.advance(timedelta(days=10))  # still not serviced: the miss stays one open item
    assert await handlers.sweep_missed(units) == 1  # only 2号电梯's own due date
    (open_,) = [m for m in await uow.facilities.misses(
        district_code="120101", enterprise_id=None, open_only=True, limit=10
    ) if m.facility.facility_id == lift]  # fmt: skip
    assert open_.due_on == date(2026, 2, 25)

    row, closed = await handlers.record_service(
        uow, E1, handlers.RecordService(lift, date(2026, 3, 10), "津安电梯维保公司"), by="e1"
    )
    assert closed == 1
    assert row.next_due_on == date(2026, 3, 25)
    assert row.open_miss_due_on is None
    still_open = await uow.facilities.misses(
        district_code=None, enterprise_id=None, open_only=True, limit=10
    )
    assert lift not in {m.facility.facility_id for m in still_open}
    assert len(still_open) == 1  # 2号电梯's


async def test_only_the_projects_enterprise_registers_and_records(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    cmd = handlers.RegisterFacility("P-120101-0001", "fire", "消防设施", None, TODAY)
    with pytest.raises(InvalidInput) as other:
        await handlers.register(uow, E2, cmd, by="e2")
    assert other.value.field == "project_id"
    for actor in (HEPING, OWNER):
        with pytest.raises(Forbidden):
            await handlers.register(uow, actor, cmd, by="x")
    facility = await register(uow, TODAY, kind="fire", name="消防设施")
    record = handlers.RecordService(facility, TODAY, "自行检查")
    with pytest.raises(NotFound):
        await handlers.record_service(uow, E2, record, by="e2")
    with pytest.raises(Forbidden):
        await handlers.record_service(uow, HEPING, record, by="office")
    with pytest.raises(NotFound):
        await handlers.get(uow, NANKAI, facility)
    row, _ = await handlers.get(uow, HEPING, facility)
    assert row.next_due_on == date(2026, 4, 2)


async def test_a_duplicate_name_in_one_project_is_refused(uow: MemoryInspectionsUnitOfWork) -> None:
    await register(uow, TODAY)
    with pytest.raises(DomainError) as dup:
        await register(uow, TODAY)
    assert dup.value.code == "facility_exists"


def test_now_is_a_monday_in_march() -> None:
    assert rules.today_in_china(NOW) == TODAY
