"""CPU seconds used by each part of the stack, from /proc (Linux): where a step's work went.

Every process on the machine is counted under one label: a service (`python -m services.<name>`),
PostgreSQL, Kafka, the load generator and harness (`bench.*`), or "other". A step's CPU per effect
is the difference between two snapshots divided by the effects completed: on a 2-core machine
with everything on it, the sum says how many effects per second the machine can do at most.
"""

from __future__ import annotations

import os

_TICKS = os.sysconf("SC_CLK_TCK")


def _label(cmdline: bytes) -> str:
    if b"services." in cmdline:
        name = cmdline.split(b"services.", 1)[1].split(b"\0", 1)[0].decode(errors="replace")
        return name
    if cmdline.startswith(b"postgres") or b"/postgres\0" in cmdline or b"postgres:" in cmdline:
        return "postgresql"
    if b"kafka" in cmdline and b"java" in cmdline:
        return "kafka"
    if b"bench." in cmdline:
        return "load generator + harness"
    return "other"


def snapshot() -> dict[str, float]:
    """CPU seconds (user + system) per label, of the processes alive now."""
    totals: dict[str, float] = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                stat = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue  # gone meanwhile
        fields = stat.rsplit(b")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        label = _label(cmdline)
        totals[label] = totals.get(label, 0.0) + (utime + stime) / _TICKS
    return totals


def per_effect_ms(
    before: dict[str, float], after: dict[str, float], effects: int
) -> dict[str, float]:
    """CPU milliseconds per effect for each label (processes that exited meanwhile are lost)."""
    if effects <= 0:
        return {}
    return {
        label: max(0.0, after[label] - before.get(label, 0.0)) * 1000 / effects
        for label in sorted(after)
    }
