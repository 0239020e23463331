"""A complaint's photos: listed and served only to those who may see the complaint itself.

The same rules as the complaint (`access.can_see` for staff; the follow-up token for the owner);
anyone else gets the same 404 as for a complaint that does not exist, so a photo's id reveals
nothing. Owners' photos are stored without EXIF and no original is kept (`runtime.attachments`),
so every variant served is location-free.
"""

from __future__ import annotations

from runtime import attachments
from runtime.auth import Principal
from runtime.errors import Message, NotFound
from services.complaints.service import access
from services.complaints.service.intake import OWNER_KIND, token_hash
from services.complaints.service.ports import ComplaintsUnitOfWork

NOT_FOUND = Message("照片不存在", "photo not found")
VARIANTS: dict[str, attachments.Variant] = {"image": "image", "thumbnail": "thumbnail"}


def _variant(name: str) -> attachments.Variant:
    variant = VARIANTS.get(name)
    if variant is None:
        raise NotFound("photo_not_found", NOT_FOUND)
    return variant


async def listed(
    uow: ComplaintsUnitOfWork, principal: Principal, complaint_id: str
) -> list[attachments.Ref]:
    """The complaint's photos, for someone who may see the complaint."""
    async with uow:
        row = await uow.complaints.get(complaint_id)
        if row is None or not access.can_see(principal, row.complaint):
            raise NotFound("complaint_not_found", Message("投诉不存在", "complaint not found"))
        return await uow.attachments.listed(OWNER_KIND, complaint_id)


async def for_staff(
    uow: ComplaintsUnitOfWork, principal: Principal, attachment_id: str, variant: str
) -> attachments.Stored:
    async with uow:
        stored = await uow.attachments.get(attachment_id, _variant(variant))
        if stored is None or stored.owner_kind != OWNER_KIND:
            raise NotFound("photo_not_found", NOT_FOUND)
        row = await uow.complaints.get(stored.owner_id)
    if row is None or not access.can_see(principal, row.complaint):
        raise NotFound("photo_not_found", NOT_FOUND)
    return stored


async def owner_refs(uow: ComplaintsUnitOfWork, token: str) -> list[attachments.Ref]:
    """The photos of the complaint the follow-up token belongs to."""
    async with uow:
        row = await uow.complaints.get_by_token(token_hash(token))
        if row is None:
            return []
        return await uow.attachments.listed(OWNER_KIND, row.complaint.complaint_id)


async def for_owner(
    uow: ComplaintsUnitOfWork, token: str, attachment_id: str, variant: str
) -> attachments.Stored:
    """A photo of the complaint the follow-up token belongs to (and of no other)."""
    async with uow:
        row = await uow.complaints.get_by_token(token_hash(token))
        stored = await uow.attachments.get(attachment_id, _variant(variant))
    if (
        row is None
        or stored is None
        or stored.owner_kind != OWNER_KIND
        or stored.owner_id != row.complaint.complaint_id
    ):
        raise NotFound("photo_not_found", NOT_FOUND)
    return stored


async def linked(uow: ComplaintsUnitOfWork, attachment_id: str, variant: str) -> attachments.Stored:
    """A complaint photo behind a signed status-page link: the link was made only after the
    follow-up token was checked, for this browser, for that token's complaint's photos."""
    async with uow:
        stored = await uow.attachments.get(attachment_id, _variant(variant))
    if stored is None or stored.owner_kind != OWNER_KIND:
        raise NotFound("photo_not_found", NOT_FOUND)
    return stored
