"""The complaints service's settings: the runtime's, plus where its rules come from, the Open311
client keys and the owners' pages' cookie and CSRF key. Read from the environment once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from runtime.settings import Settings

HERE = Path(__file__).parent
REPO = HERE.parents[1]


class ComplaintsSettings(Settings):
    service_name: str = "complaints"
    categories_file: Path = HERE / "data" / "categories.json"
    sla_file: Path = HERE / "data" / "sla.json"
    calendar_dir: Path = REPO / "reference" / "calendars"
    # Open311 client applications: {"client-id": "<SHA-256 hex of its api_key>"} (a Secret).
    open311_api_keys: Mapping[str, str] = {}
    # Signs the owners' pages' CSRF tokens (entrypoints/csrf.py); a Secret, the same on every
    # replica. Unset: a random key per process (fine for one process; with several replicas a
    # form served by one is refused by another, so Kubernetes sets it).
    web_session_key: SecretStr = SecretStr("")
