"""How the local stack tells its detached servers' processes apart from dead or reused pids
(deploy/local/stack.py), and what it does when Keycloak dies while starting."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deploy.local import stack
from deploy.local.stack import Keycloak, KeycloakExited, StackConfig


def test_a_live_process_counts_by_its_command_line_and_a_reused_pid_does_not() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "marker-x"])
    try:
        for _ in range(100):  # until its exec is done (before, the line is the parent's or empty)
            if "marker-x" in stack._cmdline(child.pid):
                break
            time.sleep(0.05)
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


class FakeAdmin:
    """Keycloak's admin API as `sync_realm` uses it: one realm, its clients' callbacks."""

    def __init__(self, realm_exists: bool, callbacks: list[str]) -> None:
        self.realm_exists = realm_exists
        self.callbacks = callbacks
        self.calls: list[tuple[str, str]] = []

    def answers(self, url: str) -> bool:
        return self.realm_exists

    def request(self, method: str, path: str, body: Any = None) -> Any:
        self.calls.append((method, path.split("?")[0]))
        if method == "GET" and path.endswith("/clients"):
            return [{"clientId": "wuye-workspace", "redirectUris": self.callbacks},
                    {"clientId": "gone-client", "redirectUris": ["http://x:1/auth/callback"]}]  # fmt: skip
        if method == "GET":  # one client by clientId (allow_redirects)
            return [{"id": "c-1", "redirectUris": [], "attributes": {}}]
        if method == "DELETE":
            self.realm_exists = False
        if method == "POST":
            self.realm_exists = True
        if method == "PUT":
            self.put = body
        return None


@pytest.fixture
def keycloak_admin(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Keycloak, FakeAdmin]:
    server = Keycloak(StackConfig.for_profile("kc-unit-realm"), reporter=said.append)
    server.state_dir = tmp_path
    admin = FakeAdmin(realm_exists=True, callbacks=["http://127.0.0.1:8101/auth/callback"])
    monkeypatch.setattr(server, "_answers", admin.answers)
    monkeypatch.setattr(server, "admin_request", admin.request)
    said.clear()
    return server, admin


def test_a_realm_made_from_an_older_realm_file_is_made_again_keeping_the_callbacks(
    keycloak_admin: tuple[Keycloak, FakeAdmin],
) -> None:
    """A kept local state with yesterday's realm signed the agency in without its claim."""
    server, admin = keycloak_admin
    server.realm_stamp_file.write_text("an-older-file\n")
    server.sync_realm()
    methods = [m for m, _ in admin.calls]
    assert methods.index("DELETE") < methods.index("POST")  # made again from the file
    assert [u for u in admin.put["redirectUris"] if "8101" in u]  # the service's callback kept
    assert ("GET", "/realms/wuye/clients") in admin.calls
    assert not any("gone-client" in path for _, path in admin.calls)  # not in the new file
    assert any("making the realm again" in line for line in said)
    stamp = server.realm_stamp_file.read_text().strip()

    admin.calls.clear()
    server.sync_realm()  # the same file: nothing to do
    assert admin.calls == []
    assert server.realm_stamp_file.read_text().strip() == stamp


def test_a_missing_realm_is_imported_without_deleting_anything(
    keycloak_admin: tuple[Keycloak, FakeAdmin],
) -> None:
    server, admin = keycloak_admin
    admin.realm_exists = False
    server.sync_realm()
    assert [m for m, _ in admin.calls] == ["POST"]
    assert server.realm_stamp_file.exists()
