"""How long `make test` takes as CI runs it: `make suite-timing` (never part of `make test`).

Clones the committed HEAD of this checkout into a temporary folder (what CI does: a fresh clone,
nothing fetched or built yet), runs `CI=true bash .ci/run` there with no standard input, and
appends one row to docs/performance/suite-duration.md: date, commit, machine, the load average
before the run (other work on the machine slows the suite), the wall time of the whole run, the
time pytest reports, its counts, and whether it passed. The clone's full output is kept in
.local/suite-timing/<commit>.log for reading the failures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.run import machine

REPO = Path(__file__).resolve().parent.parent
TABLE = REPO / "docs" / "performance" / "suite-duration.md"
HEADER = """# How long the whole suite takes

Written by `make suite-timing` (bench/suite.py), never by hand: a fresh clone of the commit, then
`CI=true bash .ci/run` as CI runs it. The limit the project keeps is 30 minutes on the 2-core
machine; CI's is 90. A load average above 2 before the run means other work shared the machine.

| date (UTC) | commit | machine | load before | whole run | pytest | tests | result |
|---|---|---|---|---|---|---|---|
"""
SUMMARY = re.compile(r"^=+ (?P<counts>.*?) in (?P<seconds>[\d.]+)s(?: \([\d:]+\))? =+$", re.M)


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def run(keep: bool) -> int:
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    logs = REPO / ".local" / "suite-timing"
    logs.mkdir(parents=True, exist_ok=True)
    log_file = logs / f"{commit}.log"
    clone = Path(tempfile.mkdtemp(prefix="wuye-suite-"))
    load = os.getloadavg()[0]
    print(f"· fresh clone of {commit} in {clone}; output in {log_file}", flush=True)
    t0 = time.monotonic()
    try:
        subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
        env = _ci_environment()
        with log_file.open("w") as out:
            code = subprocess.run(
                ["bash", ".ci/run"], cwd=clone, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, env=env,
            ).returncode  # fmt: skip
        whole = time.monotonic() - t0
    finally:
        if not keep:
            _stop_and_remove(clone)
    text = log_file.read_text(errors="replace")
    found = list(SUMMARY.finditer(text))
    counts = found[-1]["counts"] if found else "no pytest summary"
    pytest_time = _minutes(float(found[-1]["seconds"])) if found else "–"
    row = (
        f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {commit} | {machine().split(';')[0]} | {load:.1f} "
        f"| {_minutes(whole)} | {pytest_time} | {counts} | {'passed' if code == 0 else 'FAILED'} |"
    )
    if not TABLE.exists():
        TABLE.write_text(HEADER)
    with TABLE.open("a") as table:
        table.write(row + "\n")
    print(row)
    print(f"✓ written to {TABLE.relative_to(REPO)}")
    return code


def _ci_environment() -> dict[str, str]:
    """This environment as CI would have it: without this checkout's virtualenv (`make` runs us
    through `uv run`, which puts .venv/bin first on PATH: the clone's `python3 -m uv` would
    find a python without uv) and without a chosen stack profile (the clone uses its own)."""
    env = {**os.environ, "CI": "true"}
    venv = env.pop("VIRTUAL_ENV", None)
    env.pop("WUYE_STACK_PROFILE", None)
    inside = [str(REPO / ".venv")] + ([venv] if venv else [])
    env["PATH"] = os.pathsep.join(
        p for p in env.get("PATH", "").split(os.pathsep) if not any(p.startswith(v) for v in inside)
    )
    return env


def _stop_and_remove(clone: Path) -> None:
    """Stop what the clone's suite may have left running (its stack profiles), then delete it."""
    local = clone / ".local"
    for profile in sorted(p.name for p in local.iterdir()) if local.is_dir() else []:
        subprocess.run(
            [sys.executable, "-m", "deploy.local.stack", "down", "--profile", profile, "--wipe"],
            cwd=clone, stdin=subprocess.DEVNULL, capture_output=True, check=False,
        )  # fmt: skip
    shutil.rmtree(clone, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the clone (and its stack)")
    sys.exit(run(parser.parse_args().keep))


if __name__ == "__main__":
    main()
