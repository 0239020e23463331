"""The Open311 clients' API keys on the in-memory unit of work: a key is shown once and only its
SHA-256 kept, it is found by what a client presents until it is revoked, revoking keeps the first
time, and bad input is refused naming the field with nothing stored."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta

import pytest

from runtime.errors import InvalidInput, NotFound
from runtime.scheduler import FixedClock
from services.complaints.adapters.memory import MemoryComplaintsUnitOfWork, MemoryStore
from services.complaints.service import api_keys
from services.complaints.service.ports import ComplaintsUnitOfWork
from tests.unit.complaints.conftest import T0

Units = Callable[[], ComplaintsUnitOfWork]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def units(store: MemoryStore, clock: FixedClock) -> Units:
    return lambda: MemoryComplaintsUnitOfWork(store, clock)


async def test_an_issued_key_is_shown_once_and_only_its_digest_is_kept(
    units: Units, store: MemoryStore
) -> None:
    issued = await api_keys.issue(
        units, client_id="civic.app-1", name=" 津门通 ", rate_per_minute=60
    )

    assert issued.secret.startswith("o311_")
    assert len(issued.secret) > 40
    key = issued.key
    assert (key.client_id, key.name, key.rate_per_minute, key.created_at) == (
        "civic.app-1",
        "津门通",
        60,
        T0,
    )
    assert key.key_sha256 == hashlib.sha256(issued.secret.encode()).hexdigest()
    assert api_keys.digest(f" {issued.secret}\n") == key.key_sha256  # as pasted
    assert key.key_prefix == issued.secret[: api_keys.PREFIX_LENGTH]
    assert key.revoked_at is None
    assert store.api_keys == {key.key_id: key}
    assert issued.secret not in repr(store)  # the secret itself is never stored


async def test_a_presented_key_names_its_holder_until_it_is_revoked(
    units: Units, clock: FixedClock
) -> None:
    issued = await api_keys.issue(units, client_id="app", name="App", rate_per_minute=10)

    assert await api_keys.holder(units, issued.secret) == issued.key
    assert await api_keys.holder(units, f"  {issued.secret}\n") == issued.key  # as pasted
    assert await api_keys.holder(units, issued.secret + "x") is None

    clock.advance(timedelta(hours=1))
    revoked = await api_keys.revoke(units, issued.key.key_id)

    assert revoked.revoked_at == T0 + timedelta(hours=1)
    assert await api_keys.holder(units, issued.secret) is None


async def test_revoking_again_keeps_the_first_time_and_an_unknown_key_is_not_found(
    units: Units, clock: FixedClock
) -> None:
    issued = await api_keys.issue(units, client_id="app", name="App", rate_per_minute=10)
    first = await api_keys.revoke(units, issued.key.key_id)
    clock.advance(timedelta(days=1))

    again = await api_keys.revoke(units, issued.key.key_id)

    assert again.revoked_at == first.revoked_at == T0
    with pytest.raises(NotFound) as missing:
        await api_keys.revoke(units, "no-such-key")
    assert missing.value.code == "no_such_key"


async def test_the_list_is_by_client_and_leaves_out_the_revoked_unless_asked(
    units: Units, clock: FixedClock
) -> None:
    b = await api_keys.issue(units, client_id="b-app", name="B", rate_per_minute=5)
    clock.advance(timedelta(minutes=1))
    a_kept = await api_keys.issue(units, client_id="a-app", name="A2", rate_per_minute=5)
    a_revoked = await api_keys.issue(units, client_id="a-app", name="A1", rate_per_minute=5)
    await api_keys.revoke(units, a_revoked.key.key_id)

    active = await api_keys.listed(units)
    everything = await api_keys.listed(units, include_revoked=True)

    assert [k.key_id for k in active] == [a_kept.key.key_id, b.key.key_id]
    assert [k.client_id for k in everything] == ["a-app", "a-app", "b-app"]
    assert {k.key_id for k in everything} == {
        a_kept.key.key_id,
        a_revoked.key.key_id,
        b.key.key_id,
    }


@pytest.mark.parametrize(
    ("client_id", "name", "rate", "field"),
    [
        ("Civic", "App", 10, "client_id"),
        ("civic app", "App", 10, "client_id"),
        ("x" * 49, "App", 10, "client_id"),
        ("civic", "   ", 10, "name"),
        ("civic", "名" * 101, 10, "name"),
        ("civic", "App", 0, "rate_per_minute"),
        ("civic", "App", api_keys.MAX_RATE + 1, "rate_per_minute"),
    ],
)
async def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    units: Units, store: MemoryStore, client_id: str, name: str, rate: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await api_keys.issue(units, client_id=client_id, name=name, rate_per_minute=rate)

    assert refused.value.field == field
    assert refused.value.message.zh
    assert refused.value.message.en
    assert store.api_keys == {}
