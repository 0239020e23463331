"""The generator: --check writes nothing, and a non-additive change is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from schemas import generate


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(generate, "JSONSCHEMA_DIR", tmp_path / "jsonschema")
    monkeypatch.setattr(generate, "ASYNCAPI_PATH", tmp_path / "asyncapi.json")
    return tmp_path


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text("utf-8") for p in root.rglob("*") if p.is_file()}


def test_check_reports_missing_files_and_writes_nothing(
    out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert generate.main(["--check"]) == 1
    assert "asyncapi.json" in capsys.readouterr().err
    assert _files(out) == {}


def test_generate_writes_then_check_passes(out: Path) -> None:
    assert generate.main([]) == 0
    written = _files(out)
    assert "asyncapi.json" in written
    assert all(text.endswith("}\n") for text in written.values())
    assert generate.main(["--check"]) == 0


def test_an_additive_change_is_written(out: Path) -> None:
    generate.main([])
    path = out / "jsonschema" / "cn.tj.wuye.inspections.InspectionFailed.v1.json"
    committed = json.loads(path.read_text("utf-8"))
    committed["properties"]["recorded_by"]["description"] = "older wording"
    committed["properties"]["recorded_by"]["maxLength"] = 32  # the current model widened it to 64
    path.write_text(json.dumps(committed), "utf-8")

    assert generate.main(["--check"]) == 1  # stale
    assert generate.main([]) == 0
    assert path.read_text("utf-8") == generate.expected_files()[path]


def test_a_non_additive_change_is_refused(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate.main([])
    path = out / "jsonschema" / "cn.tj.wuye.inspections.InspectionFailed.v1.json"
    committed = json.loads(path.read_text("utf-8"))
    committed["properties"]["legacy_field"] = {"type": "string"}
    path.write_text(json.dumps(committed), "utf-8")
    (out / "asyncapi.json").unlink()
    before = _files(out)

    assert generate.main([]) == 1

    assert "property 'legacy_field' removed" in capsys.readouterr().err
    assert _files(out) == before  # nothing written, not even the missing AsyncAPI document


def test_a_removed_event_version_is_refused(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    generate.main([])
    (out / "jsonschema" / "cn.tj.wuye.inspections.Retired.v1.json").write_text("{}\n", "utf-8")
    assert generate.main([]) == 1
    assert "never removed" in capsys.readouterr().err
