"""The complaints service's settings: the runtime's, plus where its rules come from, the Open311
client keys and the owners' pages' cookie and CSRF key. Read from the environment once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from runtime.settings import Settings
from services.complaints.domain.geo import Datum

HERE = Path(__file__).parent
REPO = HERE.parents[1]


class ComplaintsSettings(Settings):
    service_name: str = "complaints"
    categories_file: Path = HERE / "data" / "categories.json"
    sla_file: Path = HERE / "data" / "sla.json"
    calendar_dir: Path = REPO / "reference" / "calendars"
    # The dates of a season of categories.json, replaced: {"flood": "06-15..09-15"} (month-day,
    # inclusive, China time). The flood season (汛期) is declared by the city's flood-control
    # headquarters (防洪法 art. 41) and has moved over the years; the file's 06-01..09-30 is the
    # wide default (docs/complaints.md).
    seasons: Mapping[str, str] = {}
    # Open311 client applications: {"client-id": "<SHA-256 hex of its api_key>"} (a Secret).
    open311_api_keys: Mapping[str, str] = {}
    # Open311 filing by lat/long: the datum clients send (GCJ-02: what the map SDKs used in China,
    # Amap, Tencent and WeChat's location API, report; raw-GPS clients send WGS-84) and how far
    # from a registered project's location a point may lie (metres).
    open311_lat_long_datum: Datum = Datum.GCJ02
    open311_match_radius_m: float = 300.0
    # Open311 media_url: the origins (scheme://host[:port]) photos may be fetched from; empty (the
    # default): a request with media_url is refused and clients upload `media` (multipart).
    open311_media_url_origins: tuple[str, ...] = ()
    open311_media_fetch_timeout_s: float = 10.0
    # Signs the owners' pages' CSRF tokens (entrypoints/csrf.py); a Secret, the same on every
    # replica. Unset: a random key per process (fine for one process; with several replicas a
    # form served by one is refused by another, so Kubernetes sets it).
    web_session_key: SecretStr = SecretStr("")
