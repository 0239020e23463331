"""Offered-load sweeps: steps at increasing rates until the system saturates, each summarised as
throughput and latency from event time to effect time.

A step: the load process(es) send ``rate * step_s`` requests open-loop (``bench.load``); then the
harness waits until every accepted request's effects are in the services' databases, or until
``drain_s`` after the load ended; then it reads the effects by correlation id.

- event time: when the request was due on the open-loop schedule (client wall clock; the load runs
  on this machine, so it is the same clock as the database's);
- effect time: the commit time of the transaction that wrote the effect row
  (``pg_xact_commit_timestamp(xmin)``; the harness turns ``track_commit_timestamp`` on), so a
  consumer that groups many records in one transaction is not credited with its transaction's
  start; when commit timestamps are off, the row's ``created_at``-style default ``now()`` (the
  start of that transaction) is used instead and the results say so;
- effects/s: completed effects divided by the time from the step's first due time to its last
  effect (at least the step's length): the rate at which the step's work was finished.

This module imports no platform code: the baseline uses it too.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench import cpu
from bench.load import Shot

REPO = Path(__file__).resolve().parents[1]
Say = Callable[[str], None]
# (rate, count, correlation id prefix) -> (start of the schedule, shots, error counts)
Launch = Callable[[float, int, str], Awaitable[tuple[float, list[Shot], dict[str, int]]]]


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile of sorted `values` (NaN when empty)."""
    if not values:
        return math.nan
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


@dataclass(frozen=True)
class Effect:
    """One effect of a request: a row, in a service's database, carrying its correlation id."""

    label: str
    dsn: str
    table: str
    time_column: str  # the row's own timestamp (default now()), used without commit timestamps
    where: str = "TRUE"  # a constant filter (no user input ever goes here)


@dataclass
class EffectReader:
    effects: Sequence[Effect]
    _conns: list[asyncpg.Connection] = field(default_factory=list)
    commit_timestamps: bool = False

    async def open(self) -> None:
        for e in self.effects:
            conn = await asyncpg.connect(e.dsn, timeout=30)
            self._conns.append(conn)
        setting = await self._conns[0].fetchval("SHOW track_commit_timestamp")
        self.commit_timestamps = setting == "on"

    async def close(self) -> None:
        for conn in self._conns:
            with contextlib.suppress(Exception):
                await conn.close()
        self._conns.clear()

    def _time(self, e: Effect) -> str:
        if self.commit_timestamps:
            return f"coalesce(pg_xact_commit_timestamp(xmin), {e.time_column})"
        return e.time_column

    async def count(self, prefix: str) -> int:
        """How many requests with this prefix have all their effects (the smallest count)."""
        counts = []
        for e, conn in zip(self.effects, self._conns, strict=True):
            counts.append(
                await conn.fetchval(
                    f"SELECT count(DISTINCT correlation_id) FROM {e.table} "
                    f"WHERE {e.where} AND starts_with(correlation_id, $1)",
                    prefix,
                )
            )
        return int(min(counts))

    async def fetch(self, prefix: str) -> dict[str, list[float]]:
        """Correlation id -> effect time (epoch s) per effect, for requests with every effect."""
        found: list[dict[str, float]] = []
        for e, conn in zip(self.effects, self._conns, strict=True):
            rows = await conn.fetch(
                f"SELECT correlation_id, min(extract(epoch FROM {self._time(e)}))::float8 AS t "
                f"FROM {e.table} WHERE {e.where} AND starts_with(correlation_id, $1) "
                "GROUP BY correlation_id",
                prefix,
            )
            found.append({r["correlation_id"]: r["t"] for r in rows})
        return {cid: [f[cid] for f in found] for cid in found[0] if all(cid in f for f in found)}


def summarize(
    rate: float,
    step_s: float,
    start_at: float,
    shots: list[Shot],
    effects: dict[str, list[float]],
    labels: Sequence[str],
    errors: dict[str, int],
) -> dict[str, Any]:
    accepted = [s for s in shots if 200 <= s[3] < 300]
    due = {s[0]: s[1] for s in accepted}
    done = {cid: times for cid, times in effects.items() if cid in due}
    latencies = sorted((max(t) - due[cid]) * 1000 for cid, t in done.items())
    last = max((max(t) for t in done.values()), default=start_at + step_s)
    window = max(step_s, last - start_at)
    answered = max((s[2] + s[4] / 1000 for s in accepted), default=start_at + step_s)
    http = sorted(s[4] for s in accepted)
    lag = sorted((s[2] - s[1]) * 1000 for s in shots)
    step: dict[str, Any] = {
        "offered_per_s": rate,
        "requests": len(shots),
        "accepted": len(accepted),
        "accepted_per_s": len(accepted) / max(step_s, answered - start_at),
        "errors": len(shots) - len(accepted),
        "completed": len(done),
        "missing": len(accepted) - len(done),
        "effects_per_s": len(done) / window,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else math.nan,
        "http_p50_ms": percentile(http, 50),
        "http_p99_ms": percentile(http, 99),
        "lag_p99_ms": percentile(lag, 99),
        "error_samples": errors,
    }
    if len(labels) > 1:  # each effect's own latency too
        for k, label in enumerate(labels):
            own = sorted((t[k] - due[cid]) * 1000 for cid, t in done.items())
            step[f"{label}_p50_ms"] = percentile(own, 50)
            step[f"{label}_p99_ms"] = percentile(own, 99)
    return step


@dataclass(frozen=True)
class SweepConfig:
    rates: Sequence[float]
    step_s: float = 10.0
    drain_s: float = 10.0
    lag_limit_ms: float = 250.0  # the generator's own p99 lag beyond which it is the bottleneck
    p99_limit_ms: float = 1000.0  # "p99 explodes": above this and 10x the first step's p99
    settle_s: float = 20.0


def saturation(step: dict[str, Any], first_p99: float, config: SweepConfig) -> str:
    """Why this step counts as saturated ("" if it does not)."""
    offered = step["offered_per_s"]
    if step["errors"] > 0.01 * max(1, step["requests"]):
        return "errors"
    if step["effects_per_s"] < 0.9 * offered:
        return "effects < 90% of offered"
    if step["missing"] > 0.01 * max(1, step["accepted"]):
        return "effects missing after the drain"
    if step["p99_ms"] > max(config.p99_limit_ms, 10 * first_p99):
        return "p99 exploded"
    if step["lag_p99_ms"] > config.lag_limit_ms:
        return "load generator lagging"
    return ""


async def _wait_effects(reader: EffectReader, prefix: str, expected: int, deadline: float) -> None:
    while time.time() < deadline:
        if await reader.count(prefix) >= expected:
            return
        await asyncio.sleep(0.25)


def show(name: str, step: dict[str, Any]) -> str:
    return (
        f"    {name} {step['offered_per_s']:>6.0f}/s offered: {step['accepted_per_s']:7.1f}/s "
        f"accepted, {step['effects_per_s']:7.1f}/s effects, p50/p95/p99 {step['p50_ms']:.0f}/"
        f"{step['p95_ms']:.0f}/{step['p99_ms']:.0f} ms, http p99 {step['http_p99_ms']:.0f} ms, "
        f"errors {step['errors']}, missing {step['missing']}, lag p99 {step['lag_p99_ms']:.0f} ms, "
        f"CPU {sum(step.get('cpu_ms_per_effect', {}).values()):.1f} ms/effect"
        + (f"  -> saturated ({step['saturated']})" if step.get("saturated") else "")
    )


async def warm_up(
    name: str, launch: Launch, reader: EffectReader, prefix: str, count: int, timeout_s: float
) -> None:
    """A few requests at a low rate, waiting for all their effects: pools, consumer group
    assignments and caches are ready before the first measured step; and a broken pipeline fails
    here, loudly, instead of producing a table of zeros."""
    _, shots, errors = await launch(10.0, count, prefix)
    accepted = sum(200 <= s[3] < 300 for s in shots)
    if accepted < count:
        raise RuntimeError(f"{name} warm-up: {count - accepted} of {count} refused: {errors}")
    await _wait_effects(reader, prefix, count, time.time() + timeout_s)
    have = await reader.count(prefix)
    if have < count:
        raise RuntimeError(f"{name} warm-up: {have} of {count} effects after {timeout_s:.0f} s")


async def sweep(
    name: str,
    launch: Launch,
    reader: EffectReader,
    prefix: str,
    config: SweepConfig,
    say: Say,
) -> dict[str, Any]:
    """Steps at config.rates until one saturates; then wait (bounded) for the backlog to clear
    so the next measurement starts from an idle system."""
    steps: list[dict[str, Any]] = []
    total_accepted = 0
    first_p99 = math.nan
    labels = [e.label for e in reader.effects]
    error = ""
    for n, rate in enumerate(config.rates):
        step_prefix = f"{prefix}{n:02d}-"
        count = max(1, round(rate * config.step_s))
        cpu_before = cpu.snapshot()
        try:
            start_at, shots, errors = await launch(rate, count, step_prefix)
        except Exception as exc:  # noqa: BLE001 - the steps measured so far are kept
            error = f"step at {rate:g}/s: {type(exc).__name__}: {exc}"
            say(f"    {name} FAILED: {error}")
            break
        accepted = sum(200 <= s[3] < 300 for s in shots)
        total_accepted += accepted
        loaded = max(time.time(), start_at + config.step_s)
        await _wait_effects(reader, step_prefix, accepted, loaded + config.drain_s)
        effects = await reader.fetch(step_prefix)
        step = summarize(rate, config.step_s, start_at, shots, effects, labels, errors)
        step["cpu_ms_per_effect"] = cpu.per_effect_ms(cpu_before, cpu.snapshot(), step["completed"])
        if n == 0:
            first_p99 = step["p99_ms"]
        step["saturated"] = saturation(step, first_p99, config)
        steps.append(step)
        say(show(name, step))
        if step["saturated"]:
            break
    settled = time.time()
    await _wait_effects(reader, prefix, total_accepted, settled + config.settle_s)
    backlog = total_accepted - await reader.count(prefix)
    if backlog > 0:
        say(f"    {name}: {backlog} effects still missing {config.settle_s:.0f} s after the sweep")
    last = steps[-1] if steps else {}
    return {
        **({"error": error} if error else {}),
        "steps": steps,
        "capacity_per_s": max((s["effects_per_s"] for s in steps), default=0.0),
        "saturated_at": last.get("offered_per_s") if last.get("saturated") else None,
        "saturation_reason": last.get("saturated", ""),
        "backlog_after_settle": backlog,
        "commit_timestamps": reader.commit_timestamps,
    }


# -- processes -------------------------------------------------------------------------------------


async def run_processes(
    commands: Sequence[Sequence[str]], duration_s: float, timeout_s: float, log_path: Path
) -> float:
    """Run the load processes (each `python -m ...` from the repository) on one schedule.

    Each process prints "ready" once it has imported and connected what it needs, then reads the
    schedule's start (epoch seconds) from stdin: a slow start-up never eats into the schedule.
    Returns that start. Kills what still runs `duration_s + timeout_s` after the start, or when
    cancelled; raises if a process failed.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    procs: list[asyncio.subprocess.Process] = []
    with log_path.open("ab") as log:
        try:
            for command in commands:
                procs.append(
                    await asyncio.create_subprocess_exec(
                        sys.executable, *command, cwd=REPO,
                        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                    )
                )  # fmt: skip
            for p in procs:
                assert p.stdout is not None
                line = await asyncio.wait_for(p.stdout.readline(), 120)
                if line.strip() != b"ready":
                    await p.wait()
                    raise RuntimeError(f"load process exited with {p.returncode} before ready")
            start_at = time.time() + 0.5
            for p in procs:
                assert p.stdin is not None
                p.stdin.write(f"{start_at!r}\n".encode())
                await p.stdin.drain()
                p.stdin.close()
            await asyncio.wait_for(
                asyncio.gather(*(p.wait() for p in procs)), duration_s + timeout_s
            )
        finally:
            for p in procs:
                if p.returncode is None:
                    p.kill()
                    await p.wait()
    failed = [p.returncode for p in procs if p.returncode != 0]
    if failed:
        text = await asyncio.to_thread(log_path.read_text, errors="replace")
        tail = "\n".join(text.splitlines()[-30:])
        raise RuntimeError(f"load process exited with {failed}; {log_path}:\n{tail}")
    return start_at
