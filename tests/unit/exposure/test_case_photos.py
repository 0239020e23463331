"""The photos of a case's evidence (issue 15), with the in-memory unit of work: the references
InspectionFailed carried are kept per item, and publication names exactly the photos of the
case's own failed items (never another item's, another inspection's, nor bytes)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta

from runtime.unit_of_work import Trace
from schemas import fields
from schemas.exposure import v1 as exposure
from schemas.inspections import v1 as inspections
from services.exposure.adapters.memory import MemoryExposureUnitOfWork
from services.exposure.adapters.memory_queries import MemoryCaseQueries
from services.exposure.domain import decisions
from services.exposure.service import cases, commands, facts, publication
from services.exposure.service.ports import Scope
from tests import factories
from tests.unit.exposure.builders import T0, delivered, notice, overdue, unit


def ref(n: int) -> fields.AttachmentRef:
    return fields.AttachmentRef(
        attachment_id=str(uuid.UUID(int=n)),
        sha256=hashlib.sha256(str(n).encode()).hexdigest(),
        content_type="image/jpeg",
    )


def failed_with_photos(inspection_id: str) -> inspections.InspectionFailed:
    base = factories.ITEM
    return factories.inspection_failed(
        inspection_id=inspection_id,
        failed_items=(
            base.model_copy(update={"attachments": (ref(1), ref(2))}),
            base.model_copy(update={"item_id": "waste.bins", "attachments": (ref(3),)}),
        ),
    )


async def case_with_photos(uow: MemoryExposureUnitOfWork) -> str:
    """A case on the order of the fire item, whose inspection also failed waste.bins."""
    inspection_id = str(uuid.uuid4())
    await facts.record_evidence(uow, [delivered(failed_with_photos(inspection_id))])
    other = factories.inspection_failed(
        failed_items=(factories.ITEM.model_copy(update={"attachments": (ref(9),)}),)
    )
    await facts.record_evidence(uow, [delivered(other)])  # another inspection's photo
    opened = overdue("O-1")
    opened = opened.model_copy(update={"inspection_id": inspection_id})
    await cases.open_or_raise(uow, [delivered(opened)])
    issued = delivered(notice("O-1", T0))
    await facts.record_criticisms(uow, [issued])
    await cases.criticism(uow, [issued])
    await uow.commit()
    return decisions.case_id_of("O-1")


async def test_confirming_publishes_the_photos_of_the_cases_own_items_only() -> None:
    uow = unit(T0 + timedelta(hours=2))
    case_id = await case_with_photos(uow)
    before = len(uow.outbox.committed)
    await commands.review(
        uow, case_id, decision="confirm", note="", district_code="120101", trace=Trace.start()
    )
    published = uow.outbox.committed[before:][-1].event
    assert isinstance(published, exposure.ExposurePublished)
    assert published.attachments == (ref(1), ref(2))  # in order; not waste.bins', not ref(9)
    assert "data" not in published.model_dump_json()  # references only
    assert uow.cases.cases[case_id]["published_photos"] == [
        ref(1).model_dump(mode="json"),
        ref(2).model_dump(mode="json"),
    ]


async def test_publication_by_time_names_the_same_photos() -> None:
    uow = unit()
    case_id = await case_with_photos(uow)
    before = len(uow.outbox.committed)
    assert await publication.act_on_due(lambda: uow, T0 + timedelta(days=30)) == 1
    [published] = [w.event for w in uow.outbox.committed[before:]]
    assert isinstance(published, exposure.ExposurePublished)
    assert published.case_id == case_id
    assert published.attachments == (ref(1), ref(2))


async def test_the_offices_case_page_gets_the_photos_by_item() -> None:
    uow = unit()
    case_id = await case_with_photos(uow)
    queries = MemoryCaseQueries(uow.cases, uow.facts)
    case = await queries.case(case_id, Scope("all"))
    assert case is not None
    assert case["photos"] == {
        "facilities.fire": [ref(1).attachment_id, ref(2).attachment_id],
        "waste.bins": [ref(3).attachment_id],
    }


async def test_a_redelivered_inspection_failure_keeps_each_photo_once() -> None:
    uow = unit()
    event = delivered(failed_with_photos("I-1"))
    await facts.record_evidence(uow, [event, event])
    assert len(uow.facts.evidence_photos) == 3
    assert await uow.facts.photos_of("I-1", ["waste.bins", "facilities.fire"]) == [
        ref(3),
        ref(1),
        ref(2),
    ]
