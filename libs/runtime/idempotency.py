"""`Idempotency-Key`: a client retrying a POST after a lost answer gets the first result again.

Shared by the services that take the header (inspections: inspections and activity records;
complaints: intake). The key is scoped to the caller (their principal's subject), stored on the
business row under a unique index, so a retry racing the original still creates one row: the
loser of the race gets a unique violation and reads the winner's row. `fingerprint` lets a service
refuse the same key with a different request (`KeyReused`, 409) instead of silently answering with
a result that does not match what was sent.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Annotated, Any

from fastapi import Header

from runtime.errors import DomainError, Message

HEADER = "Idempotency-Key"
MAX_LENGTH = 128

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        min_length=1,
        max_length=MAX_LENGTH,
        description=(
            "幂等键 A value the client chooses per request (e.g. a UUID); a retry with the same "
            "key returns the first result instead of creating a second one."
        ),
    ),
]


def fingerprint(request: Any) -> str:
    """SHA-256 of the request's canonical JSON (a dataclass or plain data), keys sorted."""
    is_instance = dataclasses.is_dataclass(request) and not isinstance(request, type)
    data = dataclasses.asdict(request) if is_instance else request
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class KeyReused(DomainError):
    """The caller used the key before for a different request (409)."""

    def __init__(self) -> None:
        super().__init__(
            "idempotency_key_reused",
            Message(
                f"{HEADER} 已用于另一份内容不同的请求；新的请求请使用新的幂等键",
                f"this {HEADER} was already used for a different request; use a new key for a "
                "new request",
            ),
            field=HEADER,
        )
