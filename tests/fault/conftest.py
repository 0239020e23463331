"""The fault suite's report: what was submitted, what every service recorded, what was injected.

Tests fill a `FaultReport` as they go (so a failing run still shows how far it got and what it
counted); `pytest_terminal_summary` prints every report at the end of the session, where CI shows
it even with output capture on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest


@dataclass
class Count:
    what: str
    expected: int
    recorded: int
    lost: int
    duplicates: int
    unexpected: int  # recorded for an item that never got a 2xx


@dataclass
class FaultReport:
    title: str
    started: float = field(default_factory=time.monotonic)
    notes: list[str] = field(default_factory=list)
    faults: list[str] = field(default_factory=list)
    counts: list[Count] = field(default_factory=list)
    finished: float | None = None

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def note(self, line: str) -> None:
        self.notes.append(line)

    def fault(self, line: str) -> None:
        self.faults.append(f"+{self.elapsed():6.1f} s  {line}")

    def lines(self) -> list[str]:
        out = [self.title]
        if self.counts:
            out.append(
                f"  {'record':<46}{'expected':>9}{'recorded':>9}{'lost':>6}{'dupl.':>7}"
                f"{'unexp.':>8}"
            )
            out.extend(
                f"  {c.what:<46}{c.expected:>9}{c.recorded:>9}{c.lost:>6}{c.duplicates:>7}"
                f"{c.unexpected:>8}"
                for c in self.counts
            )
            total = [sum(getattr(c, a) for c in self.counts) for a in ("lost", "duplicates")]
            out.append(f"  total lost {total[0]}, total duplicates {total[1]}")
        out.extend(f"  {n}" for n in self.notes)
        if self.faults:
            out.append("  faults injected (time since start):")
            out.extend(f"    {f}" for f in self.faults)
        took = (self.finished or time.monotonic()) - self.started
        state = "scenario ran to the end" if self.finished else "scenario stopped at a failure"
        out.append(f"  {state} after {took:.0f} s")
        return out


REPORTS = pytest.StashKey[list[FaultReport]]()


@pytest.fixture
def fault_report(request: pytest.FixtureRequest) -> FaultReport:
    report = FaultReport(title=f"{request.node.nodeid}")
    request.config.stash.setdefault(REPORTS, []).append(report)
    return report


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    reports = config.stash.get(REPORTS, [])
    if not reports:
        return
    terminalreporter.section("fault suite: submitted vs recorded")
    for report in reports:
        for line in report.lines():
            terminalreporter.write_line(line)
