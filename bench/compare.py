"""Before and after, back to back: `make bench-compare BEFORE=<commit>` (never part of `make test`).

This VM's speed drifts from hour to hour, so a change is judged only against the code before it
measured in the same hour on the same machine. The command:

1. checks `<commit>` out into a temporary git worktree with its own virtual environment
   (`uv sync --frozen`), and runs that code's own `python -m bench.run --only <sections>
   --no-write` there, on its own stack profile;
2. runs the same at the current checkout;
3. writes both result sets, the machine, the times and the commits to
   `docs/performance/comparisons/<date>-<before>-<after>.json` and re-renders
   `docs/performance/comparisons.md` from every file in that folder.

Nothing here is typed by hand: the page is rendered from the JSON the runs printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "performance" / "comparisons"
PAGE = REPO / "docs" / "performance" / "comparisons.md"


def say(message: str) -> None:
    print(message, flush=True)


def git(*args: str, cwd: Path = REPO) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


def last_json(stdout: str) -> dict[str, Any]:
    """`bench.run --no-write` prints its progress, then the results as indented JSON: the last
    line that is exactly "{" opens it."""
    lines = stdout.splitlines()
    starts = [i for i, line in enumerate(lines) if line == "{"]
    if not starts:
        raise RuntimeError("the benchmark printed no results:\n" + "\n".join(lines[-30:]))
    parsed: dict[str, Any] = json.loads("\n".join(lines[starts[-1] :]))
    return parsed


def measure(checkout: Path, only: str, profile: str, extra: list[str]) -> dict[str, Any]:
    command = [
        sys.executable.replace(str(REPO), str(checkout)) if checkout != REPO else sys.executable,
        "-m",
        "bench.run",
        "--only",
        only,
        "--no-write",
        "--profile",
        profile,
        *extra,
    ]
    say(f"· {checkout.name}: {' '.join(command[1:])}")
    started = datetime.now(UTC)
    done = subprocess.run(command, cwd=checkout, capture_output=True, text=True, check=False)
    # --no-write exits 1 when the end-to-end section saw a saturation it reports as a failure;
    # the numbers are what we compare, so only a run that printed none is an error
    results = last_json(done.stdout)
    results["_run"] = {
        "started": started.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        "exit": done.returncode,
    }
    return results


def worktree(commit: str) -> tuple[Path, Path]:
    base = Path(tempfile.mkdtemp(prefix="wuye-bench-before-"))
    tree = base / git("rev-parse", "--short", commit)
    git("worktree", "add", "--detach", str(tree), commit)
    return base, tree


def prepare(tree: Path) -> None:
    """The checkout's own environment (its lock file), and the Kafka jars copied over."""
    cache = REPO / ".cache"
    if cache.is_dir():
        shutil.copytree(cache, tree / ".cache", symlinks=True)
    uv = os.environ.get("UV", "python3 -m uv").split()  # the Makefile passes its own
    say(f"· {tree}: uv sync --frozen")
    subprocess.run(
        [*uv, "sync", "--frozen", "--quiet"],
        cwd=tree,
        check=True,
        env={k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
    )


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu": cpu, "python": platform.python_version()}


# -- the page --------------------------------------------------------------------------------


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _factor(before: float | None, after: float | None) -> str:
    if not before or after is None:
        return "–"
    return f"{after / before:.2f}×"


def _e2e_rows(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    rows = []
    for flow in ("complaints", "inspections"):
        b, a = before.get("e2e", {}).get(flow), after.get("e2e", {}).get(flow)
        if not b or not a:
            continue
        rows.append(
            f"| end to end, {flow}: capacity (effects/s at the last unsaturated step) | "
            f"{_rate(b.get('capacity_per_s'))} | {_rate(a.get('capacity_per_s'))} | "
            f"{_factor(b.get('capacity_per_s'), a.get('capacity_per_s'))} |"
        )
        b_steps = {s["offered_per_s"]: s for s in b.get("steps", [])}
        for step in a.get("steps", []):
            rate = step["offered_per_s"]
            if rate not in b_steps or step.get("saturated") or b_steps[rate].get("saturated"):
                continue
            rows.append(
                f"| end to end, {flow} at {rate:,.0f}/s: p99 latency (ms) | "
                f"{b_steps[rate]['p99_ms']:,.0f} | {step['p99_ms']:,.0f} | "
                f"{_factor(b_steps[rate]['p99_ms'], step['p99_ms'])} |"
            )
    return rows


def section(record: dict[str, Any]) -> str:
    before, after = record["before"]["results"], record["after"]["results"]
    rows = [
        "| measure | before | after | after ÷ before |",
        "|---|---|---|---|",
    ]
    for key, label in (("enqueue_per_s", "outbox enqueue (events/s)"),
                       ("relay_per_s", "outbox relay to Kafka (events/s)")):  # fmt: skip
        b, a = before.get("relay", {}).get(key), after.get("relay", {}).get(key)
        if b is not None and a is not None:
            rows.append(f"| {label} | {_rate(b)} | {_rate(a)} | {_factor(b, a)} |")
    b, a = before.get("consumer", {}).get("per_s"), after.get("consumer", {}).get("per_s")
    if b is not None and a is not None:
        rows.append(
            f"| one consumer with inbox (events/s) | {_rate(b)} | {_rate(a)} | {_factor(b, a)} |"
        )
    rows += _e2e_rows(before, after)
    for side, results in (("before", before), ("after", after)):
        error = results.get("e2e", {}).get("error")
        if error:
            rows.append(f"| end to end: the {side} run failed | {error} | | |")
    m = record["machine"]
    return "\n".join(
        [
            f"## {record['title']}",
            "",
            f"Before: commit `{record['before']['commit']}` "
            f"({record['before']['results']['_run']['started']} – "
            f"{record['before']['results']['_run']['finished']}); after: commit "
            f"`{record['after']['commit']}` ({record['after']['results']['_run']['started']} – "
            f"{record['after']['results']['_run']['finished']}). Machine: {m['cpus']} CPUs "
            f"({m['cpu']}), Python {m['python']}. Command: `{record['command']}`.",
            "",
            *rows,
            "",
            "Latency p99 is lower-is-better (a factor below 1 is an improvement); the rates are "
            "higher-is-better. One pair of short runs: compare it with the other sections of the "
            "same change before reading a factor as an effect (this VM's speed drifts, see "
            "performance.md).",
            "",
        ]
    )


def render() -> None:
    records = sorted(
        (json.loads(p.read_text(encoding="utf-8")) for p in OUT.glob("*.json")),
        key=lambda r: r["at"],
        reverse=True,
    )
    head = (
        "# Before and after\n\n"
        "Each section: the code before a change and after it, measured back to back on the same "
        "machine by `make bench-compare BEFORE=<commit>` (bench/compare.py), newest first. "
        "Written by that command from the JSON files beside this page.\n\n"
    )
    PAGE.write_text(head + "\n".join(section(r) for r in records), encoding="utf-8")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--before", required=True, help="the commit before the change")
    parser.add_argument("--only", default="relay,consumer,e2e")
    parser.add_argument("--title", default="", help="what changed (the section's heading)")
    parser.add_argument("--render", action="store_true", help="only re-render the page")
    args, extra = parser.parse_known_args(argv)
    if args.render:
        render()
        return 0
    after_commit = git("rev-parse", "--short", "HEAD")
    if git("status", "--porcelain", "--untracked-files=no"):
        # the "after" run measures the working tree, which must be the commit it is named for
        # (and stay so while the benchmark runs: do not edit meanwhile)
        parser.error("commit your changes first: the after run is recorded as HEAD")
    dirty = False
    before_commit = git("rev-parse", "--short", args.before)
    base, tree = worktree(args.before)
    try:
        prepare(tree)
        before = measure(tree, args.only, "bench-before", extra)
    finally:
        git("worktree", "remove", "--force", str(tree))
        shutil.rmtree(base, ignore_errors=True)
    after = measure(REPO, args.only, "bench", extra)
    at = datetime.now(UTC)
    record = {
        "at": at.strftime("%Y-%m-%d %H:%M UTC"),
        "title": args.title or f"{before_commit} → {after_commit}",
        "command": "make bench-compare BEFORE="
        + args.before
        + (f" BENCH_ARGS='{' '.join(extra)}'" if extra else ""),
        "machine": machine(),
        "before": {"commit": before_commit, "results": before},
        "after": {"commit": after_commit + ("-dirty" if dirty else ""), "results": after},
    }
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"{at:%Y-%m-%d-%H%M}-{before_commit}-{after_commit}.json"
    (OUT / name).write_text(json.dumps(record, indent=2, ensure_ascii=False), encoding="utf-8")
    render()
    say(f"wrote docs/performance/comparisons/{name} and docs/performance/comparisons.md")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
