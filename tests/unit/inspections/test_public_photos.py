"""Which photos the public may see (issue 15), with the in-memory unit of work: an exposure case's
publication opens only this service's own inspection-item photos of the case's project with the
named content hash; its withdrawal closes them; the public route's rule never admits an original,
a draft's photo or an enterprise's evidence."""

from __future__ import annotations

import uuid
from datetime import timedelta

from runtime import attachments
from runtime.unit_of_work import Delivered
from schemas import cloudevents, fields
from schemas.exposure import v1 as exposure
from services.inspections.adapters.memory import MemoryInspectionsUnitOfWork
from services.inspections.entrypoints import policy
from services.inspections.service import exposure_reactions, rectifications
from services.inspections.service.record_inspection import DRAFT_KIND, ITEM_KIND
from tests import images
from tests.unit.inspections.conftest import NOW

PROJECT = "P-120101-0001"


def photo(color: str) -> attachments.Prepared:
    return attachments.prepare(attachments.Upload(images.jpeg((64, 48), gps=True, color=color)))


def ref(p: attachments.Prepared, sha256: str | None = None) -> fields.AttachmentRef:
    return fields.AttachmentRef(
        attachment_id=p.attachment_id, sha256=sha256 or p.sha256, content_type="image/jpeg"
    )


def delivered(event: exposure._CaseEvent) -> Delivered[exposure._CaseEvent]:
    return Delivered(event, cloudevents.from_event(event, source="/wuye/exposure"))


def published(
    case_id: str, project_id: str, *refs: fields.AttachmentRef
) -> exposure.ExposurePublished:
    return exposure.ExposurePublished(
        case_id=case_id, project_id=project_id, tier="serious", published_at=NOW,
        min_until=NOW + timedelta(days=90), max_until=NOW + timedelta(days=365), attachments=refs,
    )  # fmt: skip


async def test_publication_opens_only_the_cases_inspection_photos_and_withdrawal_closes_them(
    uow: MemoryInspectionsUnitOfWork,
) -> None:
    item, draft, evidence, other_bytes = (photo(c) for c in ("teal", "red", "blue", "olive"))
    inspection_id = str(uuid.uuid4())
    uow.inspections.rows[inspection_id] = {"inspection_id": inspection_id, "project_id": PROJECT}
    await uow.attachments.put(ITEM_KIND, f"{inspection_id}:waste.daily", [item, other_bytes], NOW)
    await uow.attachments.put(DRAFT_KIND, "draft-1:waste.daily", [draft], NOW)
    await uow.attachments.put(rectifications.EVIDENCE_KIND, "O-1:1", [evidence], NOW)
    uow.attachments.commit()
    owners = photo("white")  # kept by the complaints service: unknown here
    case = str(uuid.uuid4())
    event = published(
        case, PROJECT, ref(item), ref(draft), ref(evidence), ref(owners),
        ref(other_bytes, "0" * 64),
    )  # fmt: skip
    await exposure_reactions.on_published(uow, [delivered(event)])
    assert await uow.public_photos.is_public(item.attachment_id)
    for closed in (draft, evidence, owners, other_bytes):
        assert not await uow.public_photos.is_public(closed.attachment_id)
    # another project's case naming our photo opens nothing
    elsewhere = published(str(uuid.uuid4()), "P-120104-0001", ref(other_bytes))
    await exposure_reactions.on_published(uow, [delivered(elsewhere)])
    assert not await uow.public_photos.is_public(other_bytes.attachment_id)

    withdrawn = exposure.ExposureWithdrawn(
        case_id=case, project_id=PROJECT, reason="withdrawn_by_district", withdrawn_at=NOW
    )
    await exposure_reactions.on_withdrawn(uow, [delivered(withdrawn)])
    assert not await uow.public_photos.is_public(item.attachment_id)


def test_the_public_route_serves_only_an_open_inspection_items_re_encoded_image() -> None:
    assert policy.publicly_served(ITEM_KIND, "image", named_by_published_case=True)
    assert policy.publicly_served(ITEM_KIND, "thumbnail", named_by_published_case=True)
    assert not policy.publicly_served(ITEM_KIND, "original", named_by_published_case=True)
    assert not policy.publicly_served(ITEM_KIND, "image", named_by_published_case=False)
    for kind in (DRAFT_KIND, rectifications.EVIDENCE_KIND, "complaint"):
        assert not policy.publicly_served(kind, "image", named_by_published_case=True)
