"""The Open311 clients' API keys (asyncpg, plain SQL): hashes only."""

from __future__ import annotations

from datetime import datetime

from runtime import db
from services.complaints.service.ports import ApiKey

_COLUMNS = """key_id, client_id, name, key_sha256, key_prefix, rate_per_minute, created_at,
              revoked_at"""


class PgApiKeys:
    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def insert(self, key: ApiKey) -> None:
        await self._conn.execute(
            f"INSERT INTO open311_api_keys ({_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            key.key_id,
            key.client_id,
            key.name,
            key.key_sha256,
            key.key_prefix,
            key.rate_per_minute,
            key.created_at,
            key.revoked_at,
        )

    async def by_hash(self, key_sha256: str) -> ApiKey | None:
        r = await self._conn.fetchrow(
            f"SELECT {_COLUMNS} FROM open311_api_keys WHERE key_sha256 = $1", key_sha256
        )
        return None if r is None else ApiKey(**dict(r))

    async def listed(self, *, include_revoked: bool) -> list[ApiKey]:
        rows = await self._conn.fetch(
            f"""SELECT {_COLUMNS} FROM open311_api_keys
                 WHERE $1 OR revoked_at IS NULL ORDER BY client_id, created_at, key_id""",
            include_revoked,
        )
        return [ApiKey(**dict(r)) for r in rows]

    async def revoke(self, key_id: str, at: datetime) -> ApiKey | None:
        r = await self._conn.fetchrow(
            f"""UPDATE open311_api_keys SET revoked_at = coalesce(revoked_at, $2)
                 WHERE key_id = $1 RETURNING {_COLUMNS}""",
            key_id,
            at,
        )
        return None if r is None else ApiKey(**dict(r))
