"""kustomize, fetched on demand: `go install` of a pinned release into .cache/bin (git-ignored).

Go and the Go module proxy are on every development and CI machine; kubectl is not (and its
embedded kustomize lags behind), so the tests and `make k8s` use this one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
KUSTOMIZE_VERSION = "v5.7.1"
BIN = REPO / ".cache" / "bin"


def kustomize() -> Path:
    """The pinned kustomize binary, built with `go install` the first time (about a minute)."""
    binary = BIN / "kustomize"
    marker = BIN / "kustomize.version"
    if binary.exists() and marker.exists() and marker.read_text().strip() == KUSTOMIZE_VERSION:
        return binary
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        raise RuntimeError("Go is needed to build kustomize (https://go.dev/dl); not found on PATH")
    BIN.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(BIN), "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"}
    subprocess.run(
        [go, "install", f"{KUSTOMIZE_MODULE}@{KUSTOMIZE_VERSION}"],
        check=True,
        env=env,
        capture_output=True,
        timeout=900,
    )
    marker.write_text(KUSTOMIZE_VERSION + "\n")
    return binary


def build(overlay: Path) -> str:
    result = subprocess.run(
        [str(kustomize()), "build", str(overlay)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.stdout
