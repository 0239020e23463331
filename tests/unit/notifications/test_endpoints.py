"""Registering, listing and disabling endpoints, and the checks on an address before anything is
written (e-mail form, the webhook URL rule, where a webhook host resolves)."""

from __future__ import annotations

import pytest

from runtime.errors import DomainError, InvalidInput
from services.notifications.adapters.channels import Destinations
from services.notifications.adapters.memory import MemoryStore
from services.notifications.domain import destinations
from services.notifications.domain.notices import RegisteredEndpoint
from services.notifications.service import endpoints, urls
from services.notifications.service.ports import Scope
from tests.unit.notifications.support import NOW, endpoint, store

PUBLIC = Destinations(resolver=lambda host, port: _answer(["93.184.216.34"]))
LOOPBACK = Destinations(resolver=lambda host, port: _answer(["127.0.0.1"]))


async def _answer(addresses: list[str]) -> list[str]:
    return addresses


async def _unresolved(host: str, port: int) -> list[str]:
    raise OSError("no such host")


async def register(db: MemoryStore, **changes: str | None) -> RegisteredEndpoint:
    fields: dict[str, str | None] = {
        "recipient_kind": "enterprise",
        "recipient_id": "E-0001",
        "channel": "email",
        "address": "office@jincheng.cn",
        "created_by": "user-1",
        "owner_enterprise_id": "E-0001",
    } | changes
    return await endpoints.register(db.unit(), **fields)  # type: ignore[arg-type]


async def test_an_endpoint_is_registered_once() -> None:
    db = store()

    registered = await register(db)

    assert (registered.recipient_kind, registered.address, registered.created_at) == (
        "enterprise",
        "office@jincheng.cn",
        NOW,
    )
    with pytest.raises(DomainError) as refused:
        await register(db)
    assert refused.value.code == "endpoint_exists"
    assert len(db.tables.endpoints) == 1


async def test_an_office_lists_and_disables_only_its_own_endpoints() -> None:
    db = store()
    mine = await endpoint(db, "enterprise", "E-0001")
    manager = await endpoint(db, "manager", "P-120101-0001", owner="E-0001")
    theirs = await endpoint(db, "enterprise", "E-0002", owner="E-0002")
    enterprise = Scope("enterprise", "E-0001")

    listed = await endpoints.active(db.unit(), enterprise)
    assert sorted(e.endpoint_id for e in listed) == sorted([mine, manager])
    assert not await endpoints.disable(db.unit(), theirs, enterprise)
    assert await endpoints.disable(db.unit(), manager, enterprise)
    assert not await endpoints.disable(db.unit(), manager, enterprise)  # once
    assert [e.endpoint_id for e in await endpoints.active(db.unit(), enterprise)] == [mine]
    assert await endpoints.active(db.unit(), Scope("city", None)) == []


async def test_a_projects_owner_comes_from_the_registry_copy() -> None:
    db = store()

    assert await endpoints.project_owner(db.unit(), "P-120101-0001") == "E-0001"
    assert await endpoints.project_owner(db.unit(), "P-unknown") is None


async def test_an_email_address_must_look_like_one() -> None:
    assert (
        await endpoints.checked_address(
            "email", " office@jincheng.cn ", allow_http=False, allowed=PUBLIC
        )
        == "office@jincheng.cn"
    )
    with pytest.raises(InvalidInput) as refused:
        await endpoints.checked_address("email", "office", allow_http=False, allowed=PUBLIC)
    assert refused.value.code == "bad_email"


@pytest.mark.parametrize(
    ("address", "allow_http"),
    [
        ("http://hooks.example.cn/x", False),
        ("https://user:pw@hooks.example.cn/x", False),
        ("ftp://hooks.example.cn/x", True),
        ("https:///nohost", False),
    ],
)
async def test_a_webhook_url_must_be_https_with_a_host_and_no_credentials(
    address: str, allow_http: bool
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await endpoints.checked_address("webhook", address, allow_http=allow_http, allowed=PUBLIC)
    assert refused.value.code == "bad_url"


async def test_plain_http_is_taken_where_allowed() -> None:
    assert (
        await endpoints.checked_address(
            "webhook", "http://hooks.example.cn/x", allow_http=True, allowed=PUBLIC
        )
        == "http://hooks.example.cn/x"
    )


async def test_a_webhook_host_resolving_to_an_internal_address_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        await endpoints.checked_address(
            "webhook", "https://hooks.example.cn/x", allow_http=False, allowed=LOOPBACK
        )
    assert refused.value.code == "webhook_destination_refused"
    assert "本机回环地址" in refused.value.message.zh


async def test_a_webhook_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(InvalidInput) as refused:
        await endpoints.checked_address(
            "webhook",
            "https://nowhere.example.cn/x",
            allow_http=False,
            allowed=Destinations(resolver=_unresolved),
        )
    assert refused.value.code == "webhook_host_unresolved"


def test_the_callback_url_rule() -> None:
    assert destinations.callback_url_ok("https", "a.cn", "", allow_http=False)
    assert not destinations.callback_url_ok("http", "a.cn", "", allow_http=False)
    assert destinations.callback_url_ok("http", "a.cn", "", allow_http=True)
    assert not destinations.callback_url_ok("https", "", "", allow_http=False)
    assert not destinations.callback_url_ok("https", "a.cn", "u:p", allow_http=False)


def test_a_url_is_read_as_the_sender_reads_it() -> None:
    parsed = urls.parse_url("https://user:pw@BÜCHER.example.cn/hook?x=1")
    assert parsed is not None
    assert (parsed.scheme, parsed.host, parsed.userinfo, parsed.port) == (
        "https",
        "bücher.example.cn",
        "user:pw",
        443,
    )
    plain = urls.parse_url("http://hooks.example.cn:8080/x")
    assert plain is not None
    assert (plain.port, plain.userinfo) == (8080, "")
    assert urls.parse_url("http://[::1") is None  # not a URL at all
