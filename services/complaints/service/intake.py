"""Filing a complaint: who may file on which channel, the project's scope from the local registry
copy, the domain's checks, the ticket number and the follow-up token; replays of an
Idempotency-Key; the photos (already checked and re-encoded by `runtime.attachments.prepare`,
never with EXIF) written with the complaint. One transaction, one ComplaintFiled."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from typing import Any

from runtime import attachments, idempotency
from runtime.auth import Principal
from runtime.calendar import CHINA
from runtime.errors import InvalidInput, Message
from runtime.unit_of_work import Trace
from schemas import fields
from schemas.complaints import v1 as complaints
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.domain.sla import Urgency
from services.complaints.service import access
from services.complaints.service.decide import decide
from services.complaints.service.ports import (
    ComplaintsUnitOfWork,
    Idempotency,
    IdempotencyKeyTaken,
)


@dataclass(frozen=True)
class Filed:
    complaint: complaint_model.Complaint
    ticket_no: str
    token: str  # shown once to the owner; only its SHA-256 is stored
    # a retry with the caller's Idempotency-Key: the complaint filed the first time, and a new
    # follow-up token that replaces the earlier one (which cannot be shown again)
    replayed: bool = False


@dataclass(frozen=True)
class Intake:
    project_id: str
    category: str
    description: str
    channel: complaint_model.Channel
    urgency: Urgency | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    address: str | None = None
    answers: Mapping[str, str | bool] | None = None
    photo_refs: tuple[str, ...] = ()
    # uploaded photos, checked and re-encoded (`runtime.attachments.prepare_all`): stored with the
    # complaint, their ids added to its photo references
    photos: tuple[attachments.Prepared, ...] = ()


OWNER_KIND = "complaint"  # the attachments' owner kind of a complaint's photos


def fingerprint(intake: Intake) -> str:
    """The request's fingerprint for Idempotency-Key replays: photos count by their content
    hash (their ids are new on every upload); without photos the same as before photos existed."""
    data = asdict(replace(intake, photos=()))
    del data["photos"]
    if intake.photos:
        data["photo_sha256"] = [p.sha256 for p in intake.photos]
    return idempotency.fingerprint(data)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ticket_number(n: int, filed_at: datetime) -> str:
    return f"TS-{filed_at.astimezone(CHINA):%Y%m%d}-{n:06d}"


def facts(c: complaint_model.Complaint) -> dict[str, Any]:
    """The fields every complaint event carries."""
    return {
        "complaint_id": c.complaint_id,
        "project_id": c.project_id,
        "enterprise_id": c.enterprise_id,
        "district_code": c.district_code,
        "category": c.category,
    }


async def file(
    uow: ComplaintsUnitOfWork,
    rules: ComplaintRules,
    principal: Principal,
    intake: Intake,
    *,
    trace: Trace,
    idempotency_key: str | None = None,
    hotline_agency: str = access.DEFAULT_HOTLINE_AGENCY,
) -> Filed:
    """An owner files on the web; enterprise staff file by phone or at the counter for their own
    projects. The project's district and enterprise come from the local registry copy.

    With an `idempotency_key` (scoped to the caller) a retry files nothing new: it answers with
    the complaint filed the first time (`replayed`) and a fresh follow-up token that replaces the
    earlier one — only the token's hash is stored, so the first cannot be shown again, and a
    client retrying after a lost answer never saw it. The same key with a different request is
    refused (409). Concurrent requests with one key file once (unique index; the loser replays).
    Of the outside agencies only `hotline_agency` (the setting `HOTLINE_AGENCY_ID`) registers.
    """
    registration = access.filed_by(principal, intake.channel, hotline_agency)
    key = None
    if idempotency_key is not None:
        key = Idempotency(principal.subject, idempotency_key, fingerprint(intake))
    async with uow:
        if key is not None and (replayed := await _replay(uow, key)) is not None:
            await uow.commit()
            return replayed
        try:
            filed = await _file(uow, rules, principal, intake, registration, key, trace)
        except IdempotencyKeyTaken:
            # a concurrent request with the same key committed first: answer as its replay
            assert key is not None
            replayed = await _replay(uow, key)
            if replayed is None:
                raise
            filed = replayed
        await uow.commit()
    return filed


async def _replay(uow: ComplaintsUnitOfWork, key: Idempotency) -> Filed | None:
    found = await uow.complaints.get_by_idempotency_key(key.scope, key.key)
    if found is None:
        return None
    row, fingerprint = found
    if fingerprint != key.fingerprint:
        raise idempotency.KeyReused()
    token = secrets.token_urlsafe(32)
    await uow.complaints.replace_token(row.complaint.complaint_id, token_hash(token))
    return Filed(row.complaint, row.ticket_no, token, replayed=True)


async def _file(
    uow: ComplaintsUnitOfWork,
    rules: ComplaintRules,
    principal: Principal,
    intake: Intake,
    registration: access.Registration | None,
    key: Idempotency | None,
    trace: Trace,
) -> Filed:
    now = uow.clock.now()
    project = await uow.projects.get(intake.project_id)
    if project is None or not access.may_file_for(
        principal, project.enterprise_id, project.district_code
    ):
        raise InvalidInput(
            "unknown_project", Message("项目不存在", "unknown project"), field="project_id"
        )
    contact = None
    if intake.contact_name is not None or intake.contact_phone is not None:
        contact = complaint_model.Contact(intake.contact_name, intake.contact_phone)
    complaint = decide(
        lambda: complaint_model.file_complaint(
            complaint_id=str(uuid.uuid4()),
            project_id=project.project_id,
            enterprise_id=project.enterprise_id,
            district_code=project.district_code,
            category=rules.categories.get(intake.category),
            description=intake.description,
            channel=intake.channel,
            now=now,
            policy=rules.policy,
            calendar=rules.calendar,
            urgency=intake.urgency,
            contact=contact,
            address=intake.address,
            answers=intake.answers,
            photo_refs=(*intake.photo_refs, *(p.attachment_id for p in intake.photos)),
            filed_by=registration.staff_id if registration else None,
            registered_by=registration.registrar if registration else None,
            registered_org=registration.org if registration else None,
        ),
    )
    ticket_no = ticket_number(await uow.complaints.next_ticket_number(), now)
    token = secrets.token_urlsafe(32)
    await uow.complaints.insert(
        complaint, ticket_no=ticket_no, token_sha256=token_hash(token), idempotency=key
    )
    refs = await uow.attachments.put(OWNER_KIND, complaint.complaint_id, intake.photos, now)
    await uow.outbox.add(
        complaints.ComplaintFiled(
            **facts(complaint),
            urgency="normal" if complaint.urgency == "normal" else "urgent",
            tier=complaint.urgency,
            safety=list(complaint.safety),
            channel=wire_channel(complaint.channel),
            intake_channel=complaint.channel,
            registered_by=complaint.registered_by,
            filed_at=complaint.filed_at,
            ticket_no=ticket_no,
            acceptance_deadline=complaint.acceptance.deadline,
            owner_account=owner_account(principal),
            attachments=[
                fields.AttachmentRef(
                    attachment_id=r.attachment_id, sha256=r.sha256, content_type=r.content_type
                )
                for r in refs
            ],
        ),
        trace,
    )
    return Filed(complaint, ticket_no, token)


def wire_channel(channel: complaint_model.Channel) -> complaints.LegacyChannel:
    """`ComplaintFiled.channel` as consumers built before the hotline channel read it: a call
    to 12345 is a phone call (`intake_channel` says which)."""
    return "phone" if channel == "hotline" else channel


# Principals that stand for "some owner" rather than one signed-in account: the public web form
# and Open311 client applications. Their complaints get no notifications receipt (the web page and
# the Open311 response already give the ticket).
_SHARED_OWNER_SUBJECTS = ("owner-web",)
_SHARED_OWNER_PREFIXES = ("open311:",)


def owner_account(principal: Principal) -> str | None:
    """The owner's own account id when a signed-in owner filed, else None."""
    if not access.is_owner(principal) or principal.subject in _SHARED_OWNER_SUBJECTS:
        return None
    if principal.subject.startswith(_SHARED_OWNER_PREFIXES):
        return None
    return principal.subject
