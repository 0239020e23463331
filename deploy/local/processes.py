"""Start, watch and stop the platform's service processes on this machine.

Used by `make demo` and by the end-to-end and fault tests, so both run the services exactly as
Kubernetes would: one process per service, configured only through environment variables.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = ("inspections", "notifications", "exposure", "complaints")
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_port_block(size: int, first: int = 28000, last: int = 32700) -> int:
    """The first port of `size` consecutive free ports, below Linux's ephemeral range (32768+)
    so an outgoing connection cannot take one between this check and the bind; above the stack
    profiles' blocks (20000-27999)."""
    for base in range(first, last - size, size + 10):
        sockets = []
        try:
            for port in range(base, base + size):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no {size} consecutive free ports in {first}-{last}")


def oidc_env(issuer: str, jwks_url: str, client_secret: str, base_url: str) -> dict[str, str]:
    """A service's identity-provider settings (runtime.oidc): APIs accept the provider's access
    tokens (JWKS); its workspace pages sign in through the provider's `wuye-workspace` client,
    back to `<base_url>/auth/callback`."""
    return {
        "AUTH_JWKS_URL": jwks_url,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": "wuye-workspace",
        "OIDC_CLIENT_SECRET": client_secret,
        "OIDC_REDIRECT_BASE_URL": base_url,
    }


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    # Prometheus metrics listen on a port of their own (METRICS_PORT); 0 picks a free one.
    metrics_port: int = 0
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        while not self.metrics_port or self.metrics_port == self.port:
            self.metrics_port = free_port()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}/metrics"

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            **self.env,
            "HTTP_PORT": str(self.port),
            "METRICS_PORT": str(self.metrics_port),
            "LOG_FORMAT": "json",
        }
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", f"services.{self.name}"],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def wait_ready(self, timeout: float = 60.0, *, degraded_ok: bool = False) -> float:
        """Wait until /readyz says "ready" (consumers and relay connected to Kafka too), or with
        `degraded_ok` until it answers 200 at all ("degraded": serving HTTP without Kafka)."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}; log tail:\n{self.tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as resp:  # noqa: S310 - loopback
                    status = json.loads(resp.read() or b"{}").get("status")
                    if resp.status == 200 and (status == "ready" or degraded_ok):
                        return time.monotonic() - started
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; log tail:\n{self.tail()}")

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful: SIGTERM lets uvicorn drain requests and the consumers commit."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """Abrupt: what a crash or an OOM kill looks like."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"
