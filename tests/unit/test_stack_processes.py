"""How the local stack tells its detached servers' processes apart from dead or reused pids
(deploy/local/stack.py), and what it does when Keycloak dies while starting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.local import stack
from deploy.local.stack import Keycloak, KeycloakExited, StackConfig


def test_a_live_process_counts_by_its_command_line_and_a_reused_pid_does_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "marker-x"])
    try:
        assert stack._runs(child.pid, "marker-x")
        assert not stack._runs(child.pid, "keycloak")  # a pid now used by something else
    finally:
        child.kill()
        child.wait()
    assert not stack._runs(child.pid, "marker-x")


def test_a_process_caught_inside_execve_is_not_taken_for_dead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """kc.sh execs the JVM after the augmentation; for a moment the kernel shows an empty command
    line. CI once polled in that moment and reported 'Keycloak exited'."""
    monkeypatch.setattr(stack, "_cmdline", lambda pid: "")
    assert stack._runs(os.getpid(), "keycloak")


said: list[str] = []


@pytest.fixture
def failing_keycloak(tmp_path: Path) -> Iterator[Keycloak]:
    """A Keycloak whose kc.sh exits with status 3 after 2 s (profile of its own, fake home)."""
    server = Keycloak(StackConfig.for_profile("kc-unit-exits"), reporter=said.append)
    server.home = tmp_path / "home"
    (server.home / "bin").mkdir(parents=True)
    script = server.home / "bin" / "kc.sh"
    script.write_text("#!/bin/sh\necho fake keycloak starting\nsleep 2\nexit 3\n")
    script.chmod(0o755)
    said.clear()
    yield server
    server.stop()
    shutil.rmtree(server.state_dir, ignore_errors=True)


def test_keycloak_that_dies_while_starting_is_started_once_more_and_its_status_kept(
    failing_keycloak: Keycloak,
) -> None:
    failing_keycloak.start()
    # start() returns at once, detached: it does not wait for the server (nor hold its output)
    assert failing_keycloak.is_running()
    with pytest.raises(KeycloakExited) as raised:
        failing_keycloak.wait_ready(timeout=30, restarts=1)
    log = failing_keycloak.log_file.read_text()
    assert log.count("fake keycloak starting") == 2  # the first start and the one retry
    assert log.count("[stack] kc.sh exited with status 3") == 2
    assert "kc.sh exited with status 3" in str(raised.value)
    assert sum("starting it again" in line for line in said) == 1
