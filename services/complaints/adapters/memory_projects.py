"""In-memory fakes of the local project registry and the Open311 API keys (see `memory` for the
other fakes): the same answers as `projects` and `api_keys`, the nearest project by haversine
distance instead of PostGIS."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import TYPE_CHECKING

from services.complaints.domain import geo
from services.complaints.service.ports import ApiKey, Project

if TYPE_CHECKING:
    from services.complaints.adapters.memory import MemoryStore


class MemoryProjects:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def get(self, project_id: str) -> Project | None:
        return self._store.projects.get(project_id)

    async def listed(self, limit: int) -> list[Project]:
        ordered = sorted(
            self._store.projects.values(), key=lambda p: (p.district_name, p.project_name)
        )
        return ordered[:limit]

    async def search(self, text: str, limit: int) -> list[Project]:
        found = [p for p in self._store.projects.values() if text.casefold() in
                 f"{p.project_name}\n{p.address or ''}".casefold()]  # fmt: skip
        return sorted(found, key=lambda p: (p.project_name, p.project_id))[:limit]

    async def nearest(
        self, latitude: float, longitude: float, radius_m: float
    ) -> tuple[Project, float] | None:
        here = geo.Point(latitude, longitude)
        found = sorted(
            (geo.distance_m(here, geo.Point(p.latitude, p.longitude)), p.project_id, p)
            for p in self._store.projects.values()
            if p.latitude is not None and p.longitude is not None
        )
        if not found or found[0][0] > radius_m:
            return None
        return found[0][2], found[0][0]

    async def by_address(self, text: str, limit: int) -> list[Project]:
        wanted = "".join(text.split())

        def hit(p: Project) -> bool:
            address = "".join((p.address or "").split())
            return bool(address and address in wanted) or "".join(p.project_name.split()) in wanted

        found = [p for p in self._store.projects.values() if hit(p)]
        found.sort(key=lambda p: (-max(len(p.address or ""), len(p.project_name)), p.project_id))
        return found[:limit]


class MemoryApiKeys:
    def __init__(self, rows: dict[str, ApiKey]) -> None:
        self._rows = rows

    async def insert(self, key: ApiKey) -> None:
        if key.key_id in self._rows or any(
            k.key_sha256 == key.key_sha256 for k in self._rows.values()
        ):
            raise ValueError("duplicate key")
        self._rows[key.key_id] = key

    async def by_hash(self, key_sha256: str) -> ApiKey | None:
        return next((k for k in self._rows.values() if k.key_sha256 == key_sha256), None)

    async def listed(self, *, include_revoked: bool) -> list[ApiKey]:
        keys = [k for k in self._rows.values() if include_revoked or k.revoked_at is None]
        return sorted(keys, key=lambda k: (k.client_id, k.created_at, k.key_id))

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        key = self._rows.get(key_id)
        if key is None:
            return None
        if key.revoked_at is None:
            key = self._rows[key_id] = dataclasses.replace(key, revoked_at=at)
        return key
