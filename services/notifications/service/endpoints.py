"""Endpoints: where else a recipient's notices go (an e-mail address, a signed webhook).

The address is checked before anything is written: an e-mail address must look like one; a
webhook URL must pass the URL rule (`domain/destinations.py`) and resolve to public addresses
only (checked again at every send, as DNS answers change)."""

from __future__ import annotations

import uuid

from runtime.errors import DomainError, InvalidInput, Message
from services.notifications.domain import destinations
from services.notifications.domain.destinations import DestinationRefused, DestinationUnresolved
from services.notifications.domain.notices import NewEndpoint, RegisteredEndpoint
from services.notifications.service.ports import (
    NotificationsUnitOfWork,
    Scope,
    WebhookDestinations,
)
from services.notifications.service.urls import parse_url


async def checked_address(
    channel: str, address: str, *, allow_http: bool, allowed: WebhookDestinations
) -> str:
    """The address to record, or InvalidInput naming what is wrong with it."""
    address = address.strip()
    if channel == "email":
        if not destinations.is_email(address):
            raise InvalidInput(
                "bad_email", Message("邮箱地址格式不正确", "not an e-mail address"), field="address"
            )
        return address
    url = parse_url(address)
    if url is None:
        raise InvalidInput("bad_url", Message("网址格式不正确", "not a URL"), field="address")
    if not destinations.callback_url_ok(url.scheme, url.host, url.userinfo, allow_http=allow_http):
        raise InvalidInput(
            "bad_url",
            Message(
                "回调地址须为 https 网址，且不含用户名密码", "use an https URL without credentials"
            ),
            field="address",
        )
    # Never an internal address (SSRF); checked again at every send, as DNS answers change.
    try:
        await allowed.resolve(url.host, url.port)
    except DestinationRefused as exc:
        raise InvalidInput(
            "webhook_destination_refused",
            Message(
                "回调地址不能指向本机、内网、保留地址或云元数据服务："
                + destinations.REASONS_ZH.get(exc.reason, exc.reason),
                "the callback URL may not point to loopback, private, reserved or cloud "
                f"metadata addresses: {exc.reason}",
            ),
            field="address",
        ) from exc
    except DestinationUnresolved as exc:
        raise InvalidInput(
            "webhook_host_unresolved",
            Message(
                "回调地址的主机名无法解析，请核对", "the callback URL's host name does not resolve"
            ),
            field="address",
        ) from exc
    return url.text


async def project_owner(uow: NotificationsUnitOfWork, project_id: str) -> str | None:
    """The enterprise that runs a project today (the registry copy), if known."""
    async with uow:
        facts = await uow.projects.facts(project_id)
    return facts.enterprise_id if facts is not None else None


async def register(
    uow: NotificationsUnitOfWork,
    *,
    recipient_kind: str,
    recipient_id: str,
    channel: str,
    address: str,
    created_by: str,
    owner_enterprise_id: str | None,
) -> RegisteredEndpoint:
    """Record an endpoint (the caller authorized it and checked the address)."""
    async with uow:
        registered = await uow.endpoints.add(
            NewEndpoint(
                endpoint_id=str(uuid.uuid4()),
                recipient_kind=recipient_kind,
                recipient_id=recipient_id,
                channel=channel,
                address=address,
                created_by=created_by,
                owner_enterprise_id=owner_enterprise_id,
            )
        )
        if registered is None:
            # The secret was shown when it was registered; to get a new one, disable and
            # register again.
            raise DomainError(
                "endpoint_exists",
                Message("该通知渠道已登记", "this channel is already registered"),
                field="address",
            )
        await uow.commit()
    return registered


async def active(uow: NotificationsUnitOfWork, scope: Scope) -> list[RegisteredEndpoint]:
    async with uow:
        return await uow.endpoints.active(scope)


async def disable(uow: NotificationsUnitOfWork, endpoint_id: str, scope: Scope) -> bool:
    """False when there is no such active endpoint in the caller's scope."""
    async with uow:
        done = await uow.endpoints.disable(endpoint_id, scope)
        await uow.commit()
    return done
