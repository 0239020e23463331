"""The demo's business clock: fast for the scripted campaign, then real speed in every process
without a restart (runtime.scheduler.ControlledClock and its control file)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runtime.calendar import CHINA
from runtime.scheduler import (
    ControlledClock,
    SimulatedClock,
    SystemClock,
    change_speed,
    clock_from,
)

START = datetime(2011, 8, 6, 9, 0, tzinfo=CHINA)
FAST = 12 * 3600.0


def test_clock_from_uses_the_control_file_only_when_given(tmp_path: Path) -> None:
    assert isinstance(clock_from(None, None, 1.0, tmp_path / "c.json"), SystemClock)
    assert isinstance(clock_from(START, None, FAST), SimulatedClock)
    assert isinstance(clock_from(START, None, FAST, tmp_path / "c.json"), ControlledClock)


def test_without_a_file_it_is_the_base_clock(tmp_path: Path) -> None:
    base = SimulatedClock(START, datetime.now(UTC), FAST)
    clock = ControlledClock(base, tmp_path / "missing.json")
    assert abs((clock.now() - base.now()).total_seconds()) < 60  # a millisecond of wall time


def test_a_speed_change_reaches_every_process_and_never_runs_backwards(tmp_path: Path) -> None:
    control = tmp_path / "clock.json"
    anchor = datetime.now(UTC) - timedelta(seconds=30)  # the campaign ran for 30 s
    base = SimulatedClock(START, anchor, FAST)
    a, b = ControlledClock(base, control), ControlledClock(base, control)
    before = a.now()
    assert before - START > timedelta(days=14)  # 30 s at twelve hours a second
    segment = change_speed(control, base, 1.0, after_s=0.3)
    assert segment.speed == 1.0
    assert segment.start >= before  # continues from where the fast clock is then
    readings = []
    for _ in range(8):
        readings.append(a.now())
        time.sleep(0.1)
    assert readings == sorted(readings)  # monotonic across the switch
    time.sleep(0.2)
    first_a, first_b = a.now(), b.now()
    time.sleep(1.0)
    second_a = a.now()
    assert timedelta(seconds=0.9) < second_a - first_a < timedelta(seconds=1.5)  # real speed
    assert abs((first_b - first_a).total_seconds()) < 0.5  # both processes agree
    # a process started after the change (same environment, same file) agrees too
    late = ControlledClock(base, control)
    assert abs((late.now() - a.now()).total_seconds()) < 0.5


def test_an_unreadable_file_keeps_the_segments_already_read(tmp_path: Path) -> None:
    control = tmp_path / "clock.json"
    base = SimulatedClock(START, datetime.now(UTC) - timedelta(seconds=10), FAST)
    change_speed(control, base, 1.0, after_s=0.0)
    clock = ControlledClock(base, control)
    good = clock.now()
    control.write_text("{not json", encoding="utf-8")
    time.sleep(ControlledClock.REFRESH_S * 2)
    assert abs((clock.now() - good).total_seconds()) < 2  # still real speed, not back to fast
