"""The district office decides on circulated criticisms (通报批评): the ladder drafts them
(`issuing.draft`), the office signs a draft off — numbered (文号) and issued in that one
transaction — or withdraws it with a reason. And the issued criticism as an official document.

Sign-off is the office's act, never a timer's: the notice (津物业〔2011〕4号) has the district
office circulate criticism, and a criticism is an administrative act of that office, so a draft
waits on its list (oldest first) until someone there decides.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import structlog

from runtime.documents import OfficialDocument
from runtime.errors import DomainError, InvalidInput, Message, NotFound
from runtime.unit_of_work import Trace
from schemas import catalog
from schemas.notifications import v1 as notifications
from services.notifications.domain import rules
from services.notifications.domain.notices import Draft, DraftStatus, Notice
from services.notifications.service import issuing
from services.notifications.service.ports import NotificationsUnitOfWork, Row, Scope

log = structlog.get_logger(__name__)

_NOT_FOUND = NotFound("draft_not_found", Message("通报批评草稿不存在", "no such criticism draft"))


def _in_scope(draft: Draft, scope: Scope) -> bool:
    return scope.level == "city" or (scope.level == "district" and draft.district_code == scope.id)


async def drafts(
    uow: NotificationsUnitOfWork, scope: Scope, *, status: DraftStatus, limit: int
) -> list[Draft]:
    """A district office's drafts (the city's: all), oldest first."""
    if scope.level == "enterprise":
        return []
    async with uow:
        return await uow.drafts.listed(scope, status=status, limit=limit)


async def get_draft(uow: NotificationsUnitOfWork, draft_id: str, scope: Scope) -> Draft:
    async with uow:
        found = await uow.drafts.get(draft_id)
    if found is None or not _in_scope(found, scope):
        raise _NOT_FOUND  # outside the caller's district: as if it did not exist
    return found


def _decided(found: Draft) -> DomainError:
    said = {
        "issued": Message(
            f"该通报批评已签发（{found.notice_no}），不能再次签发或撤回",
            f"this criticism was signed off already ({found.notice_no})",
        ),
        "withdrawn": Message(
            "该通报批评草稿已撤回，不能再签发或撤回", "this criticism draft was withdrawn"
        ),
    }[found.status]
    return DomainError(f"draft_{found.status}", said)


async def _open_draft(uow: NotificationsUnitOfWork, draft_id: str, district_code: str) -> Draft:
    found = await uow.drafts.get(draft_id, lock=True)  # two decisions take turns
    if found is None or found.district_code != district_code:
        raise _NOT_FOUND
    if found.status != "draft":
        raise _decided(found)
    return found


async def sign_off(
    uow: NotificationsUnitOfWork,
    book: rules.RuleBook,
    draft_id: str,
    *,
    district_code: str,
    by: str,
) -> Notice:
    """The district office signs the draft off: in one transaction it takes the next number of
    its district and year, renders and records the criticism with its copies and deliveries,
    publishes `NoticeIssued` (kind criticism, sign_off office) and marks the draft issued."""
    async with uow:
        found = await _open_draft(uow, draft_id, district_code)
        now = uow.clock.now()
        rule = book.rules.get(found.rule_id)
        if rule is None or rule.kind != "criticism":
            raise DomainError(
                "rule_gone",
                Message(
                    f"草稿所依据的规则 {found.rule_id} 已不存在，请撤回后重新处理",
                    f"the draft's rule {found.rule_id} no longer exists: withdraw it",
                ),
            )
        event = catalog.EVENT_TYPES[found.cause_type].model_validate_json(found.cause_payload)
        cause = issuing.Cause(found.cause_event_id, found.cause_type, found.correlation_id)
        notice = await issuing.issue(
            uow, book, rule, event, cause, now, drafted_at=found.drafted_at
        )
        if notice is None or notice.notice_id != found.draft_id:
            raise DomainError(
                "no_recipient",
                Message(
                    "无法确定通报批评的主送单位，请撤回该草稿",
                    "the criticism's addressee cannot be named: withdraw the draft",
                ),
            )
        await uow.notices.add([notice])
        await uow.drafts.decided(
            replace(
                found, status="issued", decided_at=now, decided_by=by, notice_no=notice.notice_no
            )
        )
        await uow.commit()
    log.info("criticism_signed_off", draft_id=draft_id, notice_no=notice.notice_no, by=by)
    return notice


async def withdraw(
    uow: NotificationsUnitOfWork, draft_id: str, *, district_code: str, by: str, reason: str
) -> Draft:
    """The district office withdraws the draft: it is never issued and never has a number."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput(
            "reason_required",
            Message("撤回须写明理由", "a withdrawal needs a reason"),
            field="reason",
        )
    async with uow:
        found = await _open_draft(uow, draft_id, district_code)
        now = uow.clock.now()
        withdrawn = replace(
            found, status="withdrawn", decided_at=now, decided_by=by, withdraw_reason=reason
        )
        await uow.drafts.decided(withdrawn)
        await uow.outbox.add(
            notifications.CriticismWithdrawn(
                notice_id=found.draft_id,
                rule_id=found.rule_id,
                reason=found.reason,
                subject_kind=found.subject_kind,
                subject_id=found.subject_id,
                project_id=found.project_id,
                enterprise_id=found.enterprise_id,
                district_code=found.district_code,
                cause_event_id=found.cause_event_id,
                cause_type=found.cause_type,
                withdraw_reason=rules.clip(reason, 500),
                withdrawn_at=now,
            ),
            Trace(found.correlation_id, found.cause_event_id),
        )
        await uow.commit()
    log.info("criticism_withdrawn", draft_id=draft_id, by=by)
    return withdrawn


# -- the official document ------------------------------------------------------------------------


def official_document(notice: Row, enterprise_name: str | None) -> OfficialDocument:
    """An issued criticism as an official document. Its rule's Chinese body starts with the
    office, 通报批评 and the number (the red header says them) and the addressee line, and ends
    with 主送/抄送 lines: those become the document's parts, the rest its body."""
    if notice["kind"] != "criticism" or not notice["notice_no"]:
        raise ValueError("only an issued criticism is an official document")
    lines = [line.rstrip() for line in notice["body_zh"].splitlines()]
    issuer = lines[0].strip() if lines and lines[0].endswith("物业管理办公室") else "物业管理办公室"
    header = {issuer, "通报批评", notice["notice_no"]}
    while lines and (not lines[0].strip() or lines[0].strip() in header):
        lines.pop(0)
    addressee = enterprise_name
    if lines and lines[0].rstrip(":：") != lines[0] and len(lines[0]) <= 100:
        addressee = lines.pop(0).rstrip(":：")
    copy_to = None
    body: list[str] = []
    for line in lines:
        if line.startswith(("主送：", "主送：")):
            continue
        if line.startswith(("抄送：", "抄送：")):
            copy_to = line[3:].strip().rstrip("。") or None
            continue
        body.append(line)
    issued_at: datetime = notice["issued_at"]
    return OfficialDocument(
        issuer=f"天津市{issuer}" if not issuer.startswith("天津") else issuer,
        number=notice["notice_no"],
        title=notice["title_zh"]
        .replace(f"({notice['notice_no']})", "")
        .replace(f"（{notice['notice_no']}）", "")
        .strip(),
        addressee=addressee,
        body="\n".join(body).strip(),
        issued_on=rules.in_china(issued_at).date(),
        copy_to=copy_to,
    )


@dataclass(frozen=True)
class Document:
    notice: Row
    copies: list[Row]  # its recipients: who may open it (entrypoints/policy.py)
    document: OfficialDocument


async def document(uow: NotificationsUnitOfWork, notice_id: str) -> Document | None:
    """An issued criticism as an official document; None for any other notice or none."""
    async with uow:
        notice = await uow.inbox.notice(notice_id)
        if notice is None or notice["kind"] != "criticism" or not notice["notice_no"]:
            return None
        copies = await uow.inbox.recipients(notice_id)
        facts = await uow.projects.facts(notice["project_id"]) if notice["project_id"] else None
    return Document(
        notice, copies, official_document(notice, facts.enterprise_name if facts else None)
    )
