"""Write (or check) the committed OpenAPI documents of every service: `python -m deploy.openapi`.

The services serve the same document live at `/openapi.json`; the committed copies in
docs/openapi/ let another agency or a reviewer read the HTTP contract without running anything,
and `--check` (run by the test suite) keeps them true to the code.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Any

from deploy.files import write_or_check
from runtime.service import build_app
from runtime.settings import Settings

SERVICES = ("inspections", "notifications", "exposure", "complaints")
OUT = Path(__file__).resolve().parents[1] / "docs" / "openapi"


def document(service: str) -> dict[str, Any]:
    bootstrap = importlib.import_module(f"services.{service}.bootstrap")
    settings_cls = next(
        v
        for v in vars(bootstrap).values()
        if isinstance(v, type) and issubclass(v, Settings) and v is not Settings
    )
    settings = settings_cls(database_url="postgresql://unused/unused")
    app = build_app(bootstrap.spec(settings), settings)
    doc: dict[str, Any] = app.openapi()
    return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    files = {OUT / f"{service}.json": render(document(service)) for service in SERVICES}
    return write_or_check(files, check="--check" in argv, command="python -m deploy.openapi")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
