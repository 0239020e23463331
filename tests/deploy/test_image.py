"""The container image: deploy/Dockerfile cannot be built here (no Docker engine), so this checks
what can be checked — its shape, and that the entry point it names starts every service from the
project installed as a package (a wheel in a fresh virtualenv, outside the source tree)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from services.__main__ import SERVICES

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "deploy" / "Dockerfile"


def stages() -> list[list[str]]:
    """The Dockerfile's instructions, split into stages (comments and continuations folded)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            out.append([])
        out[-1].append(line)
    return out


def test_two_stages_and_the_final_one_runs_as_a_non_root_user_without_build_tools() -> None:
    build, run = stages()
    assert build[0].startswith("FROM python:3.11-slim")
    assert build[0].endswith("AS build")
    assert run[0].startswith("FROM python:3.11-slim")
    final = "\n".join(run)
    assert re.search(r"^USER 10001:10001$", final, re.M)  # numeric: runAsNonRoot can verify it
    for tool in ("pip install", "uv ", "apt-get", "gcc", "build-essential"):
        assert tool not in final, tool
    assert 'ENTRYPOINT ["wuye-service"]' in final
    assert "COPY --from=build /app/.venv /app/.venv" in final
    assert "CALENDAR_DIR=/app/reference/calendars" in final  # the complaints/inspections setting


def test_the_entry_point_is_the_packaged_service_launcher() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["wuye-service"] == "services.__main__:main"
    on_disk = {p.name for p in (REPO / "services").iterdir() if (p / "bootstrap.py").exists()}
    assert set(SERVICES) == on_disk


def test_the_build_context_holds_what_the_dockerfile_copies() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.M)
    for sources in copied:
        for source in sources.split():
            assert f"!{source.rstrip('/')}/" in ignore or f"!{source}" in ignore, source


def uv_command() -> list[str]:
    """`uv run` names its own executable in UV; otherwise the one `make` installed."""
    if os.environ.get("UV"):
        return [os.environ["UV"]]
    found = shutil.which("uv")
    return [found] if found else ["python3", "-m", "uv"]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project built as a wheel and installed, with its locked dependencies, into a new
    virtualenv: what `uv sync --no-editable` puts into the image."""
    tmp = tmp_path_factory.mktemp("wheel")
    uv = uv_command()
    subprocess.run([*uv, "build", "--wheel", "--out-dir", str(tmp / "dist")], cwd=REPO,
                   check=True, capture_output=True)  # fmt: skip
    wheel = next((tmp / "dist").glob("*.whl"))
    requirements = tmp / "requirements.txt"
    subprocess.run([*uv, "export", "--frozen", "--no-dev", "--no-emit-project", "--no-hashes",
                    "-o", str(requirements)], cwd=REPO, check=True, capture_output=True)  # fmt: skip
    venv = tmp / "venv"
    subprocess.run([*uv, "venv", "--python", sys.executable, str(venv)], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([*uv, "pip", "install", "--python", str(venv / "bin" / "python"), "-r",
                    str(requirements), str(wheel)], check=True, capture_output=True)  # fmt: skip
    return venv


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_starts_from_the_installed_package(installed: Path, service: str) -> None:
    env = {
        "PATH": f"{installed / 'bin'}:{os.environ['PATH']}",
        "DATABASE_URL": "postgresql://unused@127.0.0.1:1/unused",
        "CALENDAR_DIR": str(REPO / "reference" / "calendars"),  # /app/reference in the image
        "HOME": str(installed),
    }
    result = subprocess.run(
        [str(installed / "bin" / "wuye-service"), service, "--check"],
        cwd=installed,  # not the source tree: only the installed package can be imported
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith(f"{service}: ok")
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import services; print(services.__file__)"],
        cwd=installed, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert str(installed) in where.stdout  # imported from site-packages, not from the checkout
