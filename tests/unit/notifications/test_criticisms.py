"""The district office's criticism drafts on the in-memory store: who reads which drafts, a
withdrawal (its reason, its event and trace, no second decision), and an issued criticism as an
official document. Signing off is `test_issuing.py`'s."""

from __future__ import annotations

import pytest

from runtime.errors import DomainError, InvalidInput, NotFound
from runtime.unit_of_work import Trace
from schemas.notifications import v1 as notifications
from services.notifications.adapters.memory import MemoryStore
from services.notifications.domain.notices import Draft
from services.notifications.service import criticisms, issuing
from services.notifications.service.ports import Scope
from tests import factories
from tests.unit.notifications.support import BOOK, NOW, delivered, sign_off_all, store

NOTICES = issuing.notices_for(BOOK)
HEPING, NANKAI = "120101", "120104"


async def drafted(db: MemoryStore, district: str = HEPING, order_id: str = "O-1") -> Draft:
    """The criticism draft the ladder writes when a rectification is rejected."""
    rejected = factories.rectification_rejected(order_id=order_id)
    uow = db.unit()
    await NOTICES(uow, [delivered(rejected.model_copy(update={"district_code": district}))])
    await uow.commit()
    return next(d for d in db.tables.drafts.values() if d.district_code == district)


async def test_a_district_office_reads_its_own_drafts_and_the_city_all() -> None:
    db = store(project=None)
    heping = await drafted(db, HEPING, "O-1")
    nankai = await drafted(db, NANKAI, "O-2")

    def ids(found: list[Draft]) -> set[str]:
        return {d.draft_id for d in found}

    async def read(scope: Scope) -> list[Draft]:
        return await criticisms.drafts(db.unit(), scope, status="draft", limit=50)

    assert ids(await read(Scope("district", HEPING))) == {heping.draft_id}
    assert ids(await read(Scope("city", None))) == {heping.draft_id, nankai.draft_id}
    assert await read(Scope("enterprise", "E-0001")) == []  # enterprises never see a draft
    assert await read(Scope("district", "120102")) == []

    await sign_off_all(db)
    assert await read(Scope("city", None)) == []
    issued = await criticisms.drafts(db.unit(), Scope("city", None), status="issued", limit=50)
    assert ids(issued) == {heping.draft_id, nankai.draft_id}


async def test_a_draft_of_another_district_answers_like_a_missing_one() -> None:
    db = store()
    draft = await drafted(db)

    assert await criticisms.get_draft(db.unit(), draft.draft_id, Scope("city", None)) == draft
    mine = await criticisms.get_draft(db.unit(), draft.draft_id, Scope("district", HEPING))
    assert mine == draft
    for scope, draft_id in (
        (Scope("district", NANKAI), draft.draft_id),
        (Scope("enterprise", "E-0001"), draft.draft_id),
        (Scope("city", None), "no-such-draft"),
    ):
        with pytest.raises(NotFound) as missing:
            await criticisms.get_draft(db.unit(), draft_id, scope)
        assert missing.value.code == "draft_not_found"


async def test_a_withdrawn_draft_keeps_its_reason_tells_why_and_is_never_issued() -> None:
    db = store()
    draft = await drafted(db)
    published = len(db.published)

    withdrawn = await criticisms.withdraw(
        db.unit(), draft.draft_id, district_code=HEPING, by="officer-2", reason="  已当面整改  "
    )

    assert (withdrawn.status, withdrawn.decided_by, withdrawn.decided_at) == (
        "withdrawn",
        "officer-2",
        NOW,
    )
    assert withdrawn.withdraw_reason == "已当面整改"
    assert withdrawn.notice_no is None
    assert db.tables.drafts[draft.draft_id] == withdrawn
    [written] = db.published[published:]
    assert isinstance(written.event, notifications.CriticismWithdrawn)
    assert (written.event.notice_id, written.event.withdraw_reason) == (
        draft.draft_id,
        "已当面整改",
    )
    assert written.trace == Trace(draft.correlation_id, draft.cause_event_id)
    assert await sign_off_all(db) == []  # nothing left to sign off
    for decide in (
        criticisms.withdraw(
            db.unit(), draft.draft_id, district_code=HEPING, by="officer-2", reason="再次"
        ),
        criticisms.sign_off(db.unit(), BOOK, draft.draft_id, district_code=HEPING, by="o"),
    ):
        with pytest.raises(DomainError) as again:
            await decide
        assert again.value.code == "draft_withdrawn"


async def test_a_withdrawal_without_a_reason_or_by_another_district_changes_nothing() -> None:
    db = store()
    draft = await drafted(db)
    published = len(db.published)

    with pytest.raises(InvalidInput) as blank:
        await criticisms.withdraw(
            db.unit(), draft.draft_id, district_code=HEPING, by="officer-2", reason=" \n"
        )
    assert (blank.value.code, blank.value.field) == ("reason_required", "reason")
    with pytest.raises(NotFound):
        await criticisms.withdraw(
            db.unit(), draft.draft_id, district_code=NANKAI, by="officer-9", reason="越权"
        )

    assert db.tables.drafts[draft.draft_id] == draft
    assert len(db.published) == published


async def test_an_issued_criticism_is_an_official_document_and_nothing_else_is() -> None:
    db = store()
    await drafted(db)
    (criticism,) = await sign_off_all(db)

    found = await criticisms.document(db.unit(), criticism.notice_id)

    assert found is not None
    doc = found.document
    assert doc.number == criticism.notice_no == "和平区物业通〔2011〕1号"
    assert doc.issuer.startswith("天津市")
    assert doc.issuer.endswith("物业管理办公室")
    assert criticism.notice_no not in doc.title
    assert doc.issued_on.isoformat() == "2011-08-22"
    assert doc.body
    assert "主送：" not in doc.body
    assert "抄送：" not in doc.body
    assert {(c["recipient_kind"], c["cc"]) for c in found.copies} == {
        ("enterprise", False),
        ("district", True),
        ("city", True),
    }
    assert found.document == criticisms.official_document(found.notice, "津城物业")
    uow = db.unit()
    await NOTICES(uow, [delivered(factories.rectification_overdue(order_id="O-2"))])
    await uow.commit()
    reminder = next(n for n in db.tables.notices.values() if n.kind == "reminder")
    assert await criticisms.document(db.unit(), reminder.notice_id) is None
    assert await criticisms.document(db.unit(), "no-such-notice") is None
    with pytest.raises(ValueError, match="only an issued criticism"):
        criticisms.official_document({**found.notice, "notice_no": None}, None)
