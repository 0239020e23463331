"""Open311 client applications' API keys: issue (the key is shown once, only its SHA-256 is
kept), list, revoke, and who a presented key belongs to. Run by operators through
`python -m services.complaints.apikeys`; checked on every Open311 POST."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from runtime.errors import InvalidInput, Message, NotFound
from services.complaints.service.ports import ApiKey, ComplaintsUnitOfWork

CLIENT_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,47}")
MAX_RATE = 10_000
PREFIX_LENGTH = 8


@dataclass(frozen=True)
class Issued:
    key: ApiKey
    secret: str  # the API key itself: shown once, never stored


def digest(secret: str) -> str:
    return hashlib.sha256(secret.strip().encode()).hexdigest()


async def issue(
    units: Callable[[], ComplaintsUnitOfWork], *, client_id: str, name: str, rate_per_minute: int
) -> Issued:
    if not CLIENT_ID.fullmatch(client_id):
        raise InvalidInput(
            "bad_client_id",
            Message(
                "客户端编号须为小写字母、数字、点、下划线或连字符，最多 48 个字符",
                "client id: lower-case letters, digits, '.', '_' or '-', at most 48 characters",
            ),
            field="client_id",
        )
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput(
            "bad_name", Message("名称须为 1-100 个字符", "name: 1 to 100 characters"), field="name"
        )
    if not 1 <= rate_per_minute <= MAX_RATE:
        raise InvalidInput(
            "bad_rate",
            Message(f"每分钟次数须在 1 至 {MAX_RATE} 之间", f"rate per minute: 1 to {MAX_RATE}"),
            field="rate_per_minute",
        )
    secret = f"o311_{secrets.token_urlsafe(32)}"
    async with units() as uow:
        key = ApiKey(
            key_id=str(uuid.uuid4()),
            client_id=client_id,
            name=name,
            key_sha256=digest(secret),
            key_prefix=secret[:PREFIX_LENGTH],
            rate_per_minute=rate_per_minute,
            created_at=uow.clock.now(),
        )
        await uow.api_keys.insert(key)
        await uow.commit()
    return Issued(key, secret)


async def listed(
    units: Callable[[], ComplaintsUnitOfWork], *, include_revoked: bool = False
) -> list[ApiKey]:
    async with units() as uow:
        return await uow.api_keys.listed(include_revoked=include_revoked)


async def revoke(units: Callable[[], ComplaintsUnitOfWork], key_id: str) -> ApiKey:
    async with units() as uow:
        key = await uow.api_keys.revoke(key_id, uow.clock.now())
        if key is None:
            raise NotFound("no_such_key", Message("没有这个密钥", f"no API key {key_id!r}"))
        await uow.commit()
    return key


async def holder(units: Callable[[], ComplaintsUnitOfWork], secret: str) -> ApiKey | None:
    """The key presented, if issued and not revoked."""
    async with units() as uow:
        key = await uow.api_keys.by_hash(digest(secret))
    return key if key is not None and key.revoked_at is None else None
