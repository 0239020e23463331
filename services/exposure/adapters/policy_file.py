"""The publication rules from their TOML file (data/publication.toml): invalid rules raise here,
so a service with bad rules does not start."""

from __future__ import annotations

import tomllib
from pathlib import Path

from services.exposure.domain.cases import Policy


def load(path: Path) -> Policy:
    return Policy.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
