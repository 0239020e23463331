"""Generated files that are committed: write them, or check that they are fresh."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_or_check(files: Mapping[Path, str], *, check: bool, command: str) -> int:
    """Write every file whose content differs; with `check`, write nothing and return 1 (listing
    the stale files) if any differs."""
    stale = []
    for path, text in files.items():
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        if check:
            stale.append(str(path))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"stale (run `{command}`):", *stale, sep="\n  ")
        return 1
    return 0
