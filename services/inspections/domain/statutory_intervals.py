"""Statutory service intervals (法定维保周期, issue 16) as pure rules: no I/O.

Some facilities of a property project must be serviced at least every so often by law: lifts,
the building's fire facilities, the secondary water-supply tanks. `KINDS` is the table of those
intervals with their legal basis (shown to people and carried by the events). An enterprise may
register a stricter contractual interval (in days), never a looser one than the law's.

A facility's next due date is its last service date plus its interval; when that date has passed
(in China time) the interval is missed. One missed interval is one fact: it stays open, its days
overdue growing, until a service is recorded; only then does a new interval start.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Literal

from runtime.calendar import CHINA
from services.inspections.domain.problems import Invalid, Problem, has_control

Unit = Literal["day", "month"]


@dataclass(frozen=True)
class IntervalKind:
    kind: str
    name_zh: str
    name_en: str
    count: int
    unit: Unit
    legal_basis_zh: str
    legal_basis_en: str

    @property
    def max_contract_days(self) -> int:
        """The longest contractual interval in days that is never looser than the law's: the
        shortest span the legal interval can have (one month is at least 28 days, six at least
        181)."""
        return self.count if self.unit == "day" else _shortest_months(self.count)

    def interval_zh(self) -> str:
        return f"{self.count} 天" if self.unit == "day" else f"{self.count} 个月"

    def interval_en(self) -> str:
        if self.unit == "day":
            return f"{self.count} days"
        return "1 month" if self.count == 1 else f"{self.count} months"


KINDS: Mapping[str, IntervalKind] = MappingProxyType(
    {
        k.kind: k
        for k in (
            IntervalKind(
                "lift",
                "电梯",
                "Lift",
                15,
                "day",
                "《中华人民共和国特种设备安全法》第三十九条、《特种设备安全监察条例》第三十一条、"
                "TSG T5002《电梯维护保养规则》：电梯至少每 15 日进行一次维护保养",
                "Special Equipment Safety Law art. 39, Special Equipment Safety Regulations "
                "art. 31 and TSG T5002 (lift maintenance rules): a lift is maintained at least "
                "once every 15 days",
            ),
            IntervalKind(
                "fire",
                "消防设施",
                "Fire facilities",
                1,
                "month",
                "《中华人民共和国消防法》第十六条、GB 25201《建筑消防设施的维护管理》："
                "建筑消防设施每月至少检查一次",
                "Fire Protection Law art. 16 and GB 25201 (maintenance of building fire "
                "facilities): the building's fire facilities are checked at least monthly",
            ),
            IntervalKind(
                "water_tank",
                "二次供水水箱",
                "Secondary water-supply tank",
                6,
                "month",
                "《二次供水设施卫生规范》GB 17051、《生活饮用水卫生监督管理办法》及本市二次供水管理规定："
                "二次供水水箱每半年至少清洗、消毒一次",
                "GB 17051 (hygiene of secondary water supply), the drinking-water hygiene rules "
                "and the city's secondary water-supply rules: the tank is cleaned and "
                "disinfected at least every six months",
            ),
        )
    }
)

MAX_NAME = 100
MAX_BY = 200
MAX_NOTE = 1000


class InvalidFacility(Invalid):
    code = "facility_invalid"
    zh = "设施信息不符合要求"
    en = "facility refused"


class InvalidService(Invalid):
    code = "service_record_invalid"
    zh = "维保记录不符合要求"
    en = "service record refused"


def _shortest_months(months: int) -> int:
    """The fewest days `months` calendar months can span (from a date in any month)."""
    return min(
        (add_months(date(2000 + y, m, 1), months) - date(2000 + y, m, 1)).days
        for y in range(4)
        for m in range(1, 13)
    )


def add_months(day: date, months: int) -> date:
    """The same day `months` later; a day the target month lacks becomes its last day (31 Jan
    plus one month is 28 or 29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def next_due(kind: IntervalKind, last_serviced_on: date, contract_days: int | None) -> date:
    """The last day the next service may be done."""
    if contract_days is not None:
        return date.fromordinal(last_serviced_on.toordinal() + contract_days)
    if kind.unit == "day":
        return date.fromordinal(last_serviced_on.toordinal() + kind.count)
    return add_months(last_serviced_on, kind.count)


def today_in_china(now: datetime) -> date:
    return now.astimezone(CHINA).date()


def days_overdue(due_on: date, today: date) -> int:
    """Days past the due date (0 on the due date itself and before)."""
    return max(0, (today - due_on).days)


def is_missed(due_on: date, today: date) -> bool:
    return today > due_on


@dataclass(frozen=True)
class NewFacility:
    project_id: str
    kind: IntervalKind
    name: str
    contract_days: int | None
    last_serviced_on: date

    @property
    def next_due_on(self) -> date:
        return next_due(self.kind, self.last_serviced_on, self.contract_days)


def _text(problems: list[Problem], field: str, value: str, limit: int, zh: str, en: str) -> str:
    value = value.strip()
    if not value:
        problems.append(Problem(field, f"请填写{zh}", f"{en} is required"))
    elif len(value) > limit:
        problems.append(Problem(field, f"{zh}不能超过 {limit} 个字", f"{en}: at most {limit}"))
    elif has_control(value):
        problems.append(
            Problem(field, f"{zh}含有不可见的控制字符", f"{en} contains control characters")
        )
    return value


def _service_date(problems: list[Problem], field: str, day: date, today: date) -> None:
    if day > today:
        problems.append(
            Problem(field, "维保日期不能晚于今天", "the service date cannot be in the future")
        )


def new_facility(
    *,
    project_id: str,
    kind: str,
    name: str,
    contract_days: int | None,
    last_serviced_on: date,
    today: date,
) -> NewFacility:
    """A facility to register, or every problem found (InvalidFacility)."""
    problems: list[Problem] = []
    found = KINDS.get(kind)
    if found is None:
        problems.append(
            Problem(
                "kind",
                "设施类型须为：" + "、".join(f"{k.name_zh}（{k.kind}）" for k in KINDS.values()),
                "kind must be one of: " + ", ".join(KINDS),
            )
        )
    name = _text(problems, "name", name, MAX_NAME, "设施名称", "name")
    if contract_days is not None and found is not None:
        limit = found.max_contract_days
        if not 1 <= contract_days <= limit:
            problems.append(
                Problem(
                    "interval_days",
                    f"合同约定周期须为 1 至 {limit} 天：不得宽于法定周期"
                    f"（{found.name_zh}至少每 {found.interval_zh()}一次）",
                    f"a contractual interval is 1 to {limit} days: never looser than the law's "
                    f"({found.name_en}: at least every {found.interval_en()})",
                )
            )
    _service_date(problems, "last_serviced_on", last_serviced_on, today)
    if problems or found is None:
        raise InvalidFacility(problems)
    return NewFacility(project_id, found, name, contract_days, last_serviced_on)


@dataclass(frozen=True)
class ServiceRecord:
    serviced_on: date
    serviced_by: str
    note: str


def service_record(
    *, serviced_on: date, serviced_by: str, note: str, last_serviced_on: date, today: date
) -> ServiceRecord:
    """A service done, or every problem found (InvalidService). A service older than the one
    already recorded would move the due date backwards, so it is refused."""
    problems: list[Problem] = []
    serviced_by = _text(problems, "serviced_by", serviced_by, MAX_BY, "维保单位或人员", "by")
    note = note.strip()
    if len(note) > MAX_NOTE:
        problems.append(
            Problem("note", f"备注不能超过 {MAX_NOTE} 个字", f"note: at most {MAX_NOTE}")
        )
    elif has_control(note.replace("\n", "").replace("\r", "")):
        problems.append(
            Problem("note", "备注含有不可见的控制字符", "note contains control characters")
        )
    _service_date(problems, "serviced_on", serviced_on, today)
    if serviced_on < last_serviced_on:
        problems.append(
            Problem(
                "serviced_on",
                f"维保日期早于已记录的上次维保（{last_serviced_on.isoformat()}）",
                f"the date is before the last recorded service ({last_serviced_on.isoformat()})",
            )
        )
    if problems:
        raise InvalidService(problems)
    return ServiceRecord(serviced_on, serviced_by, note)
