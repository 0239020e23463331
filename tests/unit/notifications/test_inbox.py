"""What recipients and offices read: an inbox (filters, newest first), marking a copy read, a
notice's history with its deliveries and attempts, the criticism register by scope and year."""

from __future__ import annotations

from datetime import timedelta

import pytest

from runtime.errors import NotFound
from runtime.scheduler import FixedClock
from schemas.base import Event
from services.notifications.adapters.memory import MemoryStore
from services.notifications.domain.notices import DeliveryResult
from services.notifications.service import delivery, inbox, issuing
from services.notifications.service.ports import Scope
from tests import factories
from tests.unit.notifications.support import BOOK, NOW, delivered, endpoint, sign_off_all, store

NOTICES = issuing.notices_for(BOOK)
ENTERPRISE = ("enterprise", "E-0001")


async def issue(db: MemoryStore, *events: Event) -> None:
    for e in events:
        await NOTICES(db.unit(), [delivered(e)])


async def test_an_inbox_lists_the_recipients_copies_newest_first_with_filters() -> None:
    db = store()
    await issue(db, factories.inspection_failed())
    db.clock = FixedClock(NOW + timedelta(hours=1))
    await issue(db, factories.rectification_overdue(order_id="O-1"))

    rows = await inbox.copies(
        db.unit(), ENTERPRISE, kind=None, unread=False, project_id=None, limit=50
    )
    assert [r["kind"] for r in rows] == ["reminder", "notice"]
    assert [r["cc"] for r in rows] == [False, False]
    reminders = await inbox.copies(
        db.unit(), ENTERPRISE, kind="reminder", unread=False, project_id=None, limit=50
    )
    assert [r["kind"] for r in reminders] == ["reminder"]
    other = await inbox.copies(
        db.unit(), ENTERPRISE, kind=None, unread=False, project_id="P-other", limit=50
    )
    assert other == []
    assert (
        await inbox.copies(
            db.unit(), ("enterprise", "E-0002"), kind=None, unread=False, project_id=None, limit=50
        )
        == []
    )


async def test_marking_read_keeps_the_first_time_and_hides_it_from_unread() -> None:
    db = store()
    await issue(db, factories.inspection_failed())
    (notice_id,) = db.tables.notices

    first = await inbox.mark_read(db.unit(), notice_id, ENTERPRISE)
    db.clock = FixedClock(NOW + timedelta(hours=2))
    again = await inbox.mark_read(db.unit(), notice_id, ENTERPRISE)

    assert first == again == NOW
    unread = await inbox.copies(
        db.unit(), ENTERPRISE, kind=None, unread=True, project_id=None, limit=50
    )
    assert unread == []


async def test_marking_a_copy_one_does_not_have_is_not_found() -> None:
    db = store()
    await issue(db, factories.inspection_failed())
    (notice_id,) = db.tables.notices

    with pytest.raises(NotFound):
        await inbox.mark_read(db.unit(), notice_id, ("enterprise", "E-0002"))
    with pytest.raises(NotFound):
        await inbox.mark_read(db.unit(), "no-such-notice", ENTERPRISE)


async def test_a_history_shows_copies_deliveries_and_attempts() -> None:
    db = store()
    await endpoint(db, "enterprise", "E-0001")
    await issue(db, factories.inspection_failed())
    (notice_id,) = db.tables.notices

    class Once:
        async def send(self, *_: object) -> DeliveryResult:
            return DeliveryResult.transient("http 503")

        async def aclose(self) -> None:
            pass

    await delivery.DeliveryWorker(Once, delivery.DeliveryPolicy()).run(db.unit)

    found = await inbox.history(db.unit(), notice_id)
    assert found is not None
    assert found.notice["notice_id"] == notice_id
    assert [(c["recipient_kind"], c["cc"]) for c in found.copies] == [
        ("enterprise", False),
        ("district", True),
    ]
    (sent,) = found.deliveries
    assert (sent["status"], sent["attempts"], sent["last_error"]) == ("pending", 1, "http 503")
    assert [(a["attempt"], a["outcome"]) for a in sent["attempts_log"]] == [(1, "transient")]
    assert await inbox.history(db.unit(), "no-such-notice") is None


async def test_the_criticism_register_is_scoped_and_filtered_by_year() -> None:
    db = store(project=None)
    for district, enterprise in (("120101", "E-0001"), ("120104", "E-0002")):
        rejected = factories.rectification_rejected(order_id=f"O-{district}")
        await issue(
            db, rejected.model_copy(update={"district_code": district, "enterprise_id": enterprise})
        )
    await issue(db, factories.inspection_failed())  # not a criticism
    await sign_off_all(db)  # the district offices sign the drafts off

    def numbers(rows: list[dict[str, object]]) -> list[object]:
        return sorted(str(r["notice_no"]) for r in rows)

    city = await inbox.criticisms(db.unit(), Scope("city", None), year=None, limit=100)
    assert numbers(city) == ["南开区物业通〔2011〕1号", "和平区物业通〔2011〕1号"]
    district = await inbox.criticisms(db.unit(), Scope("district", "120104"), year=None, limit=100)
    assert numbers(district) == ["南开区物业通〔2011〕1号"]
    enterprise = await inbox.criticisms(
        db.unit(), Scope("enterprise", "E-0001"), year=None, limit=100
    )
    assert numbers(enterprise) == ["和平区物业通〔2011〕1号"]
    assert await inbox.criticisms(db.unit(), Scope("city", None), year=2012, limit=100) == []
    assert await inbox.criticisms(db.unit(), Scope("district", None), year=None, limit=100) == []


async def test_a_recipient_opens_only_its_own_copy_with_the_projects_names() -> None:
    db = store()
    await issue(db, factories.inspection_failed())
    (notice_id,) = db.tables.notices

    found = await inbox.inbox_notice(db.unit(), notice_id, ENTERPRISE)

    assert found is not None
    assert (found.notice["notice_id"], found.copy["recipient_id"]) == (notice_id, "E-0001")
    assert (found.project_name, found.district_name) == ("海河花园", "和平区")
    assert await inbox.inbox_notice(db.unit(), notice_id, ("enterprise", "E-0002")) is None
    assert await inbox.inbox_notice(db.unit(), "no-such-notice", ENTERPRISE) is None
    db.tables.projects.clear()  # a project the registry copy does not know (yet)
    unknown = await inbox.inbox_notice(db.unit(), notice_id, ENTERPRISE)
    assert unknown is not None
    assert (unknown.project_name, unknown.district_name) == (None, None)


async def test_the_pages_name_projects_with_their_enterprise_once_each() -> None:
    db = store()

    names = await inbox.project_names(db.unit(), ["P-120101-0001", "P-unknown", "P-120101-0001"])

    assert names == {"P-120101-0001": "海河花园 · 津城物业"}
