"""Boundaries: services meet only through schemas/ and Kafka (import-linter contracts in pyproject)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None, "import-linter is a dev dependency"
    return subprocess.run(
        [exe, "--no-cache"], cwd=root, capture_output=True, text=True, check=False
    )


def test_the_import_contracts_hold() -> None:
    result = lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_service_importing_another_is_caught(tmp_path: Path) -> None:
    """The check can fail: a copy of the tree with one forbidden import breaks a contract."""
    for name in ("schemas", "services", "libs", "pyproject.toml"):
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / name)
    offender = tmp_path / "services" / "exposure" / "service" / "peek.py"
    offender.write_text(
        textwrap.dedent("""
            from services.notifications.service import handlers  # forbidden: another service
        """)
    )
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from importlinter.cli import lint_imports_command; "
            "sys.exit(lint_imports_command())",
            "--no-cache",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": f"{tmp_path}:{tmp_path / 'libs'}", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "Services never import each other BROKEN" in result.stdout


def test_services_build_events_through_validation() -> None:
    """``model_copy(update=...)`` and ``model_construct`` skip validation, so they would skip the
    masking of personal data in ``PublicText`` fields: services build events with the
    constructor or ``model_validate`` (settings may use ``model_construct``)."""
    import ast

    root = Path(__file__).resolve().parents[2] / "services"
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            copy_with_update = node.func.attr == "model_copy" and any(
                k.arg == "update" for k in node.keywords
            )
            construct = node.func.attr == "model_construct" and not ast.unparse(
                node.func.value
            ).endswith("Settings")
            if copy_with_update or construct:
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not offenders, offenders
