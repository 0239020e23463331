"""Complaint handlers: load -> decide (domain) -> save with the event, one transaction each.

Scope comes from the caller's principal only. A complaint outside the caller's scope answers like a
missing one (404), so ids cannot be probed. Events carry no personal data: no contact, no text.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import asyncpg

from runtime import db, idempotency, outbox
from runtime.auth import Principal, Role
from runtime.calendar import CHINA, CalendarError
from runtime.consumer import Handler
from runtime.errors import DomainError, Forbidden, InvalidInput, Message, NotFound, Unavailable
from schemas import cloudevents
from schemas.base import Event
from schemas.complaints import v1 as events
from schemas.registry import v1 as registry
from services.complaints.adapters import complaints as repo
from services.complaints.adapters.reference import Rules
from services.complaints.domain import TransitionRefused
from services.complaints.domain import complaint as model
from services.complaints.domain.sla import Urgency

SOURCE = "/wuye/complaints"
T = TypeVar("T")
NOT_FOUND = Message("投诉不存在", "complaint not found")


@dataclass(frozen=True)
class Filed:
    complaint: model.Complaint
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
    channel: model.Channel
    urgency: Urgency | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    address: str | None = None
    answers: Mapping[str, str | bool] | None = None
    photo_refs: tuple[str, ...] = ()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ticket_number(n: int, filed_at: datetime) -> str:
    return f"TS-{filed_at.astimezone(CHINA):%Y%m%d}-{n:06d}"


# --- intake -----------------------------------------------------------------------------------------


async def file(
    pool: asyncpg.Pool,
    rules: Rules,
    principal: Principal,
    intake: Intake,
    now: datetime,
    *,
    idempotency_key: str | None = None,
) -> Filed:
    """An owner files on the web; enterprise staff file by phone or at the counter for their own
    projects. The project's district and enterprise come from the local registry copy.

    With an `idempotency_key` (scoped to the caller) a retry files nothing new: it answers with
    the complaint filed the first time (`replayed`) and a fresh follow-up token that replaces the
    earlier one — only the token's hash is stored, so the first cannot be shown again, and a
    client retrying after a lost answer never saw it. The same key with a different request is
    refused (409). Concurrent requests with one key file once (unique index; the loser replays).
    """
    key = None
    if idempotency_key is not None:
        key = repo.Idempotency(principal.subject, idempotency_key, idempotency.fingerprint(intake))
    try:
        return await _file(pool, rules, principal, intake, now, key)
    except asyncpg.UniqueViolationError as exc:
        if key is None or exc.constraint_name != "complaints_idempotency":
            raise
        async with pool.acquire() as conn, conn.transaction():
            replayed = await _replay(conn, key)
        if replayed is None:
            raise
        return replayed


async def _replay(conn: db.Connection, key: repo.Idempotency) -> Filed | None:
    found = await repo.get_by_idempotency_key(conn, key.scope, key.key)
    if found is None:
        return None
    row, fingerprint = found
    if fingerprint != key.fingerprint:
        raise idempotency.KeyReused()
    token = secrets.token_urlsafe(32)
    await repo.replace_token(conn, row.complaint.complaint_id, token_hash(token))
    return Filed(row.complaint, row.ticket_no, token, replayed=True)


async def _file(
    pool: asyncpg.Pool,
    rules: Rules,
    principal: Principal,
    intake: Intake,
    now: datetime,
    key: repo.Idempotency | None,
) -> Filed:
    if principal.role is Role.OWNER:
        if intake.channel not in ("web", "open311"):  # open311: a civic app acting for an owner
            raise InvalidInput(
                "owner_channel",
                Message("业主只能通过网上渠道提交投诉", "owners file through the web channel"),
                field="channel",
            )
        filed_by = None
    elif principal.role is Role.ENTERPRISE:
        if intake.channel not in model.STAFF_CHANNELS:
            raise InvalidInput(
                "staff_channel",
                Message(
                    "工作人员代业主登记须选择电话或窗口渠道",
                    "staff filing for an owner use the phone or counter channel",
                ),
                field="channel",
            )
        filed_by = principal.subject
    else:
        raise Forbidden(
            "role_not_allowed", Message("当前角色无权登记投诉", "your role may not file")
        )
    async with pool.acquire() as conn, conn.transaction():
        if key is not None and (replayed := await _replay(conn, key)) is not None:
            return replayed
        project = await repo.get_project(conn, intake.project_id)
        if project is None or (
            principal.role is Role.ENTERPRISE and project.enterprise_id != principal.enterprise_id
        ):
            raise InvalidInput(
                "unknown_project",
                Message("项目不存在", "unknown project"),
                field="project_id",
            )
        contact = None
        if intake.contact_name is not None or intake.contact_phone is not None:
            contact = model.Contact(intake.contact_name, intake.contact_phone)
        complaint = _decide(
            lambda: model.file_complaint(
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
                photo_refs=intake.photo_refs,
                filed_by=filed_by,
            ),
        )
        ticket_no = ticket_number(await repo.next_ticket_number(conn), now)
        token = secrets.token_urlsafe(32)
        await repo.insert(
            conn, complaint, ticket_no=ticket_no, token_sha256=token_hash(token), idempotency=key
        )
        await outbox.enqueue(
            conn,
            events.ComplaintFiled(
                **facts(complaint),
                urgency="normal" if complaint.urgency == "normal" else "urgent",
                tier=complaint.urgency,
                safety=list(complaint.safety),
                channel=complaint.channel,
                filed_at=complaint.filed_at,
                ticket_no=ticket_no,
                owner_account=owner_account(principal),
            ),
            source=SOURCE,
        )
    return Filed(complaint, ticket_no, token)


# Principals that stand for "some owner" rather than one signed-in account: the public web form
# and Open311 client applications. Their complaints get no notifications receipt (the web page and
# the Open311 response already give the ticket).
_SHARED_OWNER_SUBJECTS = ("owner-web",)
_SHARED_OWNER_PREFIXES = ("open311:",)


def owner_account(principal: Principal) -> str | None:
    """The owner's own account id when a signed-in owner filed, else None."""
    if principal.role is not Role.OWNER or principal.subject in _SHARED_OWNER_SUBJECTS:
        return None
    if principal.subject.startswith(_SHARED_OWNER_PREFIXES):
        return None
    return principal.subject


# --- reading ----------------------------------------------------------------------------------------


def can_see(principal: Principal, c: model.Complaint) -> bool:
    if principal.role is Role.CITY_OFFICE:
        return True
    if principal.role is Role.DISTRICT_OFFICE:
        return principal.district_code == c.district_code
    if principal.role is Role.ENTERPRISE:
        return principal.enterprise_id in (c.enterprise_id, c.handling_org)
    return False


def may_see_contact(principal: Principal, c: model.Complaint) -> bool:
    """Contact details go to the handling enterprise and the district office, nobody else."""
    if principal.role is Role.DISTRICT_OFFICE:
        return principal.district_code == c.district_code
    if principal.role is Role.ENTERPRISE:
        return principal.enterprise_id == (c.handling_org or c.enterprise_id)
    return False


async def get(pool: asyncpg.Pool, principal: Principal, complaint_id: str) -> repo.Row:
    async with pool.acquire() as conn:
        row = await repo.get(conn, complaint_id)
    if row is None or not can_see(principal, row.complaint):
        raise NotFound("complaint_not_found", NOT_FOUND)
    return row


async def get_by_token(pool: asyncpg.Pool, token: str) -> repo.Row:
    async with pool.acquire() as conn:
        row = await repo.get_by_token(conn, token_hash(token))
    if row is None:
        raise NotFound("complaint_not_found", NOT_FOUND)
    return row


async def list_for(
    pool: asyncpg.Pool, principal: Principal, *, status: str | None, limit: int
) -> list[repo.Row]:
    if principal.role not in (Role.ENTERPRISE, Role.DISTRICT_OFFICE, Role.CITY_OFFICE):
        raise Forbidden("role_not_allowed", Message("当前角色无权查看投诉", "your role may not"))
    async with pool.acquire() as conn:
        return await repo.list_complaints(
            conn,
            enterprise_id=principal.enterprise_id,
            district_code=principal.district_code,
            status=status,
            limit=limit,
        )


# --- staff actions ----------------------------------------------------------------------------------


async def accept(
    pool: asyncpg.Pool, rules: Rules, principal: Principal, complaint_id: str, now: datetime
) -> repo.Row:
    """签收: the first acceptor becomes the responsible person (首问负责)."""
    async with pool.acquire() as conn, conn.transaction():
        row = await _load_for_staff(conn, principal, complaint_id)
        assert principal.enterprise_id is not None
        staff = model.Staff(principal.subject, principal.enterprise_id)
        c = _decide(lambda: model.accept(row.complaint, staff, now))
        if c is row.complaint:
            return row  # the same person accepting again: nothing happens
        await repo.save(conn, c, auto_close_at=None)
        await outbox.enqueue(
            conn,
            events.ComplaintAccepted(
                **facts(c),
                responsible_org_id=staff.org_id,
                responsible_staff_id=staff.staff_id,
                accepted_at=now,
            ),
            source=SOURCE,
        )
        return repo.Row(c, row.ticket_no)


async def transfer(
    pool: asyncpg.Pool,
    rules: Rules,
    principal: Principal,
    complaint_id: str,
    *,
    to_org: str,
    reason: str,
    now: datetime,
) -> repo.Row:
    async with pool.acquire() as conn, conn.transaction():
        row = await _load_for_staff(conn, principal, complaint_id)
        before = row.complaint
        done = _decide(
            lambda: model.transfer(
                before,
                to_org,
                reason,
                now,
                by=principal.subject,
                max_transfers=rules.policy.max_transfers,
            ),
        )
        c = done.complaint
        await repo.save(conn, c, auto_close_at=None)
        last = c.transfers[-1]
        await outbox.enqueue(
            conn,
            events.ComplaintTransferred(
                **facts(c),
                from_org=last.from_org,
                to_org=last.to_org,
                transfer_count=len(c.transfers),
                escalated=done.escalated,
                transferred_at=now,
            ),
            source=SOURCE,
        )
        return repo.Row(c, row.ticket_no)


async def reply(
    pool: asyncpg.Pool,
    rules: Rules,
    principal: Principal,
    complaint_id: str,
    *,
    text: str,
    now: datetime,
) -> repo.Row:
    async with pool.acquire() as conn, conn.transaction():
        row = await _load_for_staff(conn, principal, complaint_id)
        c = _decide(lambda: model.reply(row.complaint, principal.subject, text, now))
        await repo.save(conn, c, auto_close_at=now + timedelta(days=rules.policy.auto_close_days))
        await outbox.enqueue(
            conn,
            events.ComplaintReplied(**facts(c), reply_no=len(c.replies), replied_at=now),
            source=SOURCE,
        )
        return repo.Row(c, row.ticket_no)


async def request_extension(
    pool: asyncpg.Pool,
    rules: Rules,
    principal: Principal,
    complaint_id: str,
    *,
    working_days: int,
    reason: str,
    now: datetime,
) -> repo.Row:
    async with pool.acquire() as conn, conn.transaction():
        row = await _load_for_staff(conn, principal, complaint_id)
        c = _decide(
            lambda: model.request_extension(
                row.complaint, principal.subject, working_days, reason, now
            ),
        )
        await repo.save(conn, c, auto_close_at=None)
        return repo.Row(c, row.ticket_no)


async def decide_extension(
    pool: asyncpg.Pool,
    rules: Rules,
    principal: Principal,
    complaint_id: str,
    *,
    approve: bool,
    now: datetime,
) -> repo.Row:
    """The district office of the complaint's district approves or refuses."""
    if principal.role is not Role.DISTRICT_OFFICE:
        raise Forbidden(
            "not_district_office",
            Message("只有区县物业办可以审批延期", "only the district office decides extensions"),
        )
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.get(conn, complaint_id, for_update=True)
        if row is None or not can_see(principal, row.complaint):
            raise NotFound("complaint_not_found", NOT_FOUND)
        c = _decide(
            lambda: model.decide_extension(
                row.complaint,
                approve=approve,
                decided_by=principal.subject,
                now=now,
                policy=rules.policy,
                calendar=rules.calendar,
            ),
        )
        await repo.save(conn, c, auto_close_at=None)
        return repo.Row(c, row.ticket_no)


# --- the owner's feedback ---------------------------------------------------------------------------


async def feedback(
    pool: asyncpg.Pool,
    rules: Rules,
    token: str,
    *,
    satisfied: bool,
    rating: int,
    comment: str | None,
    now: datetime,
) -> repo.Row:
    """Satisfied closes the complaint; dissatisfied reopens it to the same responsible person."""
    async with pool.acquire() as conn, conn.transaction():
        row = await repo.get_by_token(conn, token_hash(token), for_update=True)
        if row is None:
            raise NotFound("complaint_not_found", NOT_FOUND)
        c = _decide(
            lambda: model.give_feedback(
                row.complaint,
                satisfied=satisfied,
                rating=rating,
                comment=comment,
                now=now,
                policy=rules.policy,
                calendar=rules.calendar,
            ),
        )
        await repo.save(conn, c, auto_close_at=None)
        await outbox.enqueue(
            conn,
            events.ComplaintFeedbackReceived(
                **facts(c), satisfied=satisfied, rating=rating, received_at=now
            ),
            source=SOURCE,
        )
        if c.status is model.Status.CLOSED:
            await outbox.enqueue(
                conn,
                events.ComplaintClosed(**facts(c), how="feedback", closed_at=now),
                source=SOURCE,
            )
        else:
            await outbox.enqueue(
                conn,
                events.ComplaintReopened(
                    **facts(c),
                    reopen_count=c.reopen_count,
                    completion_deadline=c.completion.deadline,
                    completion_deadline_calendar=c.completion.calendar,
                    reopened_at=now,
                ),
                source=SOURCE,
            )
        return repo.Row(c, row.ticket_no)


# --- helpers ----------------------------------------------------------------------------------------


async def _load_for_staff(conn: db.Connection, principal: Principal, complaint_id: str) -> repo.Row:
    """Enterprise staff act on their projects' complaints and on those transferred to them."""
    row = await repo.get(conn, complaint_id, for_update=True)
    if row is None or not can_see(principal, row.complaint):
        raise NotFound("complaint_not_found", NOT_FOUND)
    if principal.role is not Role.ENTERPRISE:
        raise Forbidden(
            "not_enterprise_staff",
            Message("只有物业企业工作人员可以办理投诉", "only enterprise staff handle complaints"),
        )
    return row


def facts(c: model.Complaint) -> dict[str, Any]:
    """The fields every complaint event carries."""
    return {
        "complaint_id": c.complaint_id,
        "project_id": c.project_id,
        "enterprise_id": c.enterprise_id,
        "district_code": c.district_code,
        "category": c.category,
    }


def _decide(step: Callable[[], T]) -> T:
    try:
        return step()
    except TransitionRefused as exc:
        error = InvalidInput if exc.field else DomainError
        raise error(exc.code, Message(exc.zh, exc.en), field=exc.field) from exc
    except CalendarError as exc:
        # Never guess a deadline: beyond even the provisional calendar the operator must load
        # the year's holiday file. The platform's gap, never the owner's input: 503.
        raise Unavailable(exc.code, calendar_gap(exc)) from exc


def calendar_gap(exc: CalendarError) -> Message:
    return Message(
        f"平台暂时无法计算办理时限({exc.zh})。这是平台的问题,不是您填写的内容有误;"
        "平台运维人员已收到告警,请稍后再试。",
        f"The platform cannot compute the time limits right now ({exc.en}). This is a problem "
        "on our side, not with what you entered; the operators have been alerted, please try "
        "again later.",
    )


# --- the local project table, fed by the registry topic -------------------------------------------


async def on_project(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    """ProjectRegistered / ProjectUpdated: keep project -> district and enterprise locally, so
    intake never trusts scope from a request body."""
    assert isinstance(event, registry.ProjectRegistered | registry.ProjectUpdated)
    await repo.upsert_project(
        conn,
        repo.Project(
            project_id=event.project_id,
            project_name=event.project_name,
            district_code=event.district_code,
            district_name=event.district_name,
            enterprise_id=event.enterprise_id,
            enterprise_name=event.enterprise_name,
        ),
        event.occurred_at,
    )


REGISTRY_HANDLERS: Mapping[str, Handler] = {
    registry.ProjectRegistered.ce_type: on_project,
    registry.ProjectUpdated.ce_type: on_project,
}
