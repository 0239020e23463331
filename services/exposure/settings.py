"""The exposure service's settings (read once, from the environment, by pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, HttpUrl

from runtime.settings import Settings

HERE = Path(__file__).parent
PUBLICATION_FILE = HERE / "data" / "publication.toml"


class ExposureSettings(Settings):
    service_name: str = "exposure"
    publication_file: Path = PUBLICATION_FILE
    publication_interval_s: float = Field(default=30.0, gt=0)
    # Where the public reaches the board: the absolute links of the Atom feed are built from it,
    # never from a request's Host header (anyone can send any Host). Kubernetes sets the ingress
    # host; `make demo` its local address.
    public_base_url: HttpUrl = HttpUrl("http://127.0.0.1:8000")

    # Where the public fetches a published case's photos: the inspections service's public photo
    # route (`/public/photos/{attachment_id}`), which the ingress routes by path on the board's
    # host; `make demo` sets the inspections port's address. The board never holds the bytes.
    public_photos_url: str = "/public/photos/"

    def photos_base(self) -> str:
        base = self.public_photos_url
        return base if base.endswith("/") else base + "/"

    def public_base(self) -> str:
        """The base URL without a trailing slash (links append "/feed.atom", "/cases/...")."""
        return str(self.public_base_url).rstrip("/")
