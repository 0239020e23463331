"""What recipients and offices read: inboxes, a notice's history, the criticism register."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from runtime.errors import Message, NotFound
from services.notifications.service.ports import NotificationsUnitOfWork, Row, Scope


async def copies(
    uow: NotificationsUnitOfWork,
    recipient: tuple[str, str],
    *,
    kind: str | None,
    unread: bool,
    project_id: str | None,
    limit: int,
) -> list[Row]:
    """A recipient's copies of notices, newest first."""
    async with uow:
        return await uow.inbox.copies(
            recipient, kind=kind, unread=unread, project_id=project_id, limit=limit
        )


async def mark_read(
    uow: NotificationsUnitOfWork, notice_id: str, recipient: tuple[str, str]
) -> datetime:
    """When the recipient's copy was (first) read; NotFound when it has no such copy."""
    async with uow:
        read_at = await uow.inbox.mark_read(notice_id, recipient)
        await uow.commit()
    if read_at is None:
        raise NotFound("notice_not_found", Message("通知不存在", "no such notice in your inbox"))
    return read_at


@dataclass(frozen=True)
class InboxNotice:
    """A notice as one recipient reads it: its copy, and the project it concerns (if known)."""

    notice: Row
    copy: Row
    project_name: str | None
    district_name: str | None


async def inbox_notice(
    uow: NotificationsUnitOfWork, notice_id: str, recipient: tuple[str, str]
) -> InboxNotice | None:
    """The notice if the recipient has a copy of it; None otherwise (as if it did not exist)."""
    async with uow:
        notice = await uow.inbox.notice(notice_id)
        if notice is None:
            return None
        mine = [
            c
            for c in await uow.inbox.recipients(notice_id)
            if (c["recipient_kind"], c["recipient_id"]) == recipient
        ]
        if not mine:
            return None
        facts = await uow.projects.facts(notice["project_id"]) if notice["project_id"] else None
    return InboxNotice(
        notice,
        mine[0],
        facts.project_name if facts else None,
        facts.district_name if facts else None,
    )


@dataclass(frozen=True)
class History:
    notice: Row
    copies: list[Row]
    deliveries: list[Row]  # each with its attempts (`attempts_log`), oldest first


async def history(uow: NotificationsUnitOfWork, notice_id: str) -> History | None:
    async with uow:
        notice = await uow.inbox.notice(notice_id)
        if notice is None:
            return None
        recipients = await uow.inbox.recipients(notice_id)
        deliveries = await uow.inbox.deliveries(notice_id)
    return History(notice, recipients, deliveries)


async def criticisms(
    uow: NotificationsUnitOfWork, scope: Scope, *, year: int | None, limit: int
) -> list[Row]:
    async with uow:
        return await uow.inbox.criticisms(scope, year=year, limit=limit)


async def project_names(uow: NotificationsUnitOfWork, project_ids: list[str]) -> dict[str, str]:
    """Project id -> "project · enterprise" from the registry copy, for the pages."""
    names: dict[str, str] = {}
    async with uow:
        for project_id in dict.fromkeys(project_ids):
            facts = await uow.projects.facts(project_id)
            if facts is not None:
                names[project_id] = f"{facts.project_name} · {facts.enterprise_name}"
    return names
