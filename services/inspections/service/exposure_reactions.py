"""Reacting to exposure cases (issue 15): a published case's photos become public, a withdrawn
case's photos private again.

The exposure service names, in `ExposurePublished.attachments`, the inspector's photos of the
failed items it publishes (references it received in `InspectionFailed`; never bytes). This
service owns the photos and decides for itself what it serves: it opens a named photo only when
it is one of its own inspection-item photos (never a patrol draft's, never an enterprise's
rectification evidence; owners' photos are not even stored here), of the case's project, with the
SHA-256 the reference names. Anything else is logged and left private. `ExposureWithdrawn`
closes every photo the case opened. Batch handlers run event by event in the consumer's
transaction (the inbox makes a redelivery a no-op; the writes hold without it too)."""

from __future__ import annotations

import hashlib

import structlog

from runtime.unit_of_work import Delivered, each
from schemas.base import Event
from schemas.exposure import v1 as exposure
from services.inspections.service.ports import InspectionsUnitOfWork
from services.inspections.service.record_inspection import ITEM_KIND

log = structlog.get_logger(__name__)


async def _publishable(
    uow: InspectionsUnitOfWork, event: exposure.ExposurePublished, attachment_id: str, sha256: str
) -> str | None:
    """Why the named photo may not become public, or None when it may."""
    stored = await uow.attachments.get(attachment_id, "image")
    if stored is None:
        return "unknown_attachment"
    if stored.owner_kind != ITEM_KIND:
        return "not_an_inspection_item_photo"
    inspection = await uow.inspections.get(stored.owner_id.split(":", 1)[0])
    if inspection is None or inspection["project_id"] != event.project_id:
        return "other_project"
    if hashlib.sha256(stored.data).hexdigest() != sha256:
        return "content_hash_differs"
    return None


async def _on_published(uow: InspectionsUnitOfWork, delivered: Delivered[Event]) -> None:
    event = delivered.event
    assert isinstance(event, exposure.ExposurePublished)
    opened: list[str] = []
    for ref in event.attachments:
        refusal = await _publishable(uow, event, ref.attachment_id, ref.sha256)
        if refusal is None:
            opened.append(ref.attachment_id)
        else:
            log.warning(
                "public_photo_refused",
                case_id=event.case_id,
                attachment_id=ref.attachment_id,
                reason=refusal,
            )
    await uow.public_photos.publish(event.case_id, event.project_id, opened, event.published_at)
    if opened:
        log.info("public_photos_opened", case_id=event.case_id, count=len(opened))


async def _on_withdrawn(uow: InspectionsUnitOfWork, delivered: Delivered[Event]) -> None:
    event = delivered.event
    assert isinstance(event, exposure.ExposureWithdrawn)
    closed = await uow.public_photos.withdraw(event.case_id, event.withdrawn_at)
    if closed:
        log.info("public_photos_closed", case_id=event.case_id, count=closed)


on_published = each(_on_published)
on_withdrawn = each(_on_withdrawn)
