"""`make suite-timing` (bench/suite.py) reads pytest's closing line of a CI run."""

from __future__ import annotations

import pytest

from bench.suite import REPO, SUMMARY, _ci_environment, _minutes


@pytest.mark.parametrize(
    ("line", "counts", "seconds"),
    [
        ("=== 1957 passed in 1056.20s (0:17:36) ===", "1957 passed", "1056.20"),
        (
            "================= 1949 passed, 8 errors in 1088.37s (0:18:08) ==================",
            "1949 passed, 8 errors",
            "1088.37",
        ),
        (
            "==== 1 failed, 3 passed, 2 warnings in 4.01s ====",
            "1 failed, 3 passed, 2 warnings",
            "4.01",
        ),
    ],
)
def test_the_closing_line_gives_counts_and_seconds(line: str, counts: str, seconds: str) -> None:
    log = f"tests/unit/test_x.py ....\n{line}\nmake: leaving\n"
    found = SUMMARY.search(log)
    assert found is not None
    assert (found["counts"], found["seconds"]) == (counts, seconds)


def test_a_log_without_a_closing_line_has_no_summary() -> None:
    assert SUMMARY.search("make: *** [Makefile:45: lint] Error 1\n") is None


def test_minutes_read_as_people_write_them() -> None:
    assert _minutes(1056.2) == "17 min 36 s"
    assert _minutes(59.9) == "0 min 59 s"


def test_the_clone_runs_without_this_checkouts_virtualenv(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make suite-timing` runs inside `uv run`: the clone's `python3 -m uv` must not find
    this checkout's .venv python (it has no uv) first on PATH."""
    venv = str(REPO / ".venv")
    monkeypatch.setenv("VIRTUAL_ENV", venv)
    monkeypatch.setenv("PATH", f"{venv}/bin:/usr/local/bin:/usr/bin")
    monkeypatch.setenv("WUYE_STACK_PROFILE", "mine")
    env = _ci_environment()
    assert env["PATH"] == "/usr/local/bin:/usr/bin"
    assert env["CI"] == "true"
    assert "VIRTUAL_ENV" not in env
    assert "WUYE_STACK_PROFILE" not in env
