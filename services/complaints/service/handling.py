"""Complaint handlers after intake: reading in scope, the staff's handling (accept, transfer,
reply, extensions), the district office's supervision (assign, take over), the owner's feedback. Load -> decide (domain) -> save with the event, one
unit of work each.

Who may see and do what is `service.access`. Events carry no personal data: no contact, no text.
"""

from __future__ import annotations

from datetime import timedelta

from runtime.auth import Principal
from runtime.errors import Message, NotFound
from runtime.unit_of_work import Trace
from schemas.complaints import v1 as complaints
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain.rulebook import ComplaintRules
from services.complaints.service import access
from services.complaints.service.decide import decide
from services.complaints.service.intake import facts, token_hash
from services.complaints.service.ports import ComplaintsUnitOfWork, Row

NOT_FOUND = Message("投诉不存在", "complaint not found")


# --- reading ----------------------------------------------------------------------------------------


async def get(uow: ComplaintsUnitOfWork, principal: Principal, complaint_id: str) -> Row:
    async with uow:
        row = await uow.complaints.get(complaint_id)
    if row is None or not access.can_see(principal, row.complaint):
        raise NotFound("complaint_not_found", NOT_FOUND)
    return row


async def get_by_token(uow: ComplaintsUnitOfWork, token: str) -> Row:
    async with uow:
        row = await uow.complaints.get_by_token(token_hash(token))
    if row is None:
        raise NotFound("complaint_not_found", NOT_FOUND)
    return row


async def list_for(
    uow: ComplaintsUnitOfWork, principal: Principal, *, status: str | None, limit: int
) -> list[Row]:
    access.require_list_reader(principal)
    async with uow:
        return await uow.complaints.listed(
            enterprise_id=principal.enterprise_id,
            district_code=principal.district_code,
            status=status,
            limit=limit,
        )


# --- staff actions ----------------------------------------------------------------------------------


async def accept(
    uow: ComplaintsUnitOfWork, principal: Principal, complaint_id: str, *, trace: Trace
) -> Row:
    """签收: the first acceptor becomes the responsible person (首问负责)."""
    async with uow:
        now = uow.clock.now()
        row = await _load_for_staff(uow, principal, complaint_id)
        assert principal.enterprise_id is not None
        staff = complaint_model.Staff(principal.subject, principal.enterprise_id)
        c = decide(lambda: complaint_model.accept(row.complaint, staff, now))
        if c is row.complaint:
            return row  # the same person accepting again: nothing happens
        await uow.complaints.save(c, auto_close_at=None)
        await uow.outbox.add(
            complaints.ComplaintAccepted(
                **facts(c),
                responsible_org_id=staff.org_id,
                responsible_staff_id=staff.staff_id,
                accepted_at=now,
            ),
            trace,
        )
        await uow.commit()
        return Row(c, row.ticket_no)


async def transfer(
    uow: ComplaintsUnitOfWork,
    rules: ComplaintRules,
    principal: Principal,
    complaint_id: str,
    *,
    to_org: str,
    reason: str,
    trace: Trace,
) -> Row:
    async with uow:
        now = uow.clock.now()
        row = await _load_for_staff(uow, principal, complaint_id)
        before = row.complaint
        done = decide(
            lambda: complaint_model.transfer(
                before,
                to_org,
                reason,
                now,
                by=principal.subject,
                max_transfers=rules.policy.max_transfers,
            ),
        )
        c = done.complaint
        await uow.complaints.save(c, auto_close_at=None)
        last = c.transfers[-1]
        await uow.outbox.add(
            complaints.ComplaintTransferred(
                **facts(c),
                from_org=last.from_org,
                to_org=last.to_org,
                transfer_count=len(c.transfers),
                escalated=done.escalated,
                transferred_at=now,
            ),
            trace,
        )
        await uow.commit()
        return Row(c, row.ticket_no)


async def assign(
    uow: ComplaintsUnitOfWork,
    principal: Principal,
    complaint_id: str,
    *,
    to_org: str,
    reason: str,
    trace: Trace,
) -> Row:
    """指定办理: the district office of the complaint's district names who handles an escalated
    complaint (`ComplaintAssigned`; the reason stays here)."""
    access.require_supervisor(principal)
    async with uow:
        now = uow.clock.now()
        row = await uow.complaints.get(complaint_id, for_update=True)
        if row is None or not access.can_see(principal, row.complaint):
            raise NotFound("complaint_not_found", NOT_FOUND)
        before = row.complaint
        c = decide(
            lambda: complaint_model.assign(before, to_org, reason, now, by=principal.subject)
        )
        await uow.complaints.save(c, auto_close_at=None)
        assert c.assignment is not None
        assert before.handling_org is not None  # set at acceptance; assign requires holding
        await uow.outbox.add(
            complaints.ComplaintAssigned(
                **facts(c),
                from_org=before.handling_org,
                to_org=c.assignment.to_org,
                assigned_at=now,
            ),
            trace,
        )
        await uow.commit()
        return Row(c, row.ticket_no)


async def take_over(
    uow: ComplaintsUnitOfWork, principal: Principal, complaint_id: str, *, reason: str, trace: Trace
) -> Row:
    """自行办理: the district office takes an escalated complaint over; the officer becomes the
    responsible person (`ComplaintAssigned` with `taken_over`, to the office's organisation)."""
    access.require_supervisor(principal)
    assert principal.district_code is not None
    office = complaint_model.Staff(principal.subject, access.office_org(principal.district_code))
    async with uow:
        now = uow.clock.now()
        row = await uow.complaints.get(complaint_id, for_update=True)
        if row is None or not access.can_see(principal, row.complaint):
            raise NotFound("complaint_not_found", NOT_FOUND)
        before = row.complaint
        c = decide(lambda: complaint_model.take_over(before, office, reason, now))
        await uow.complaints.save(c, auto_close_at=None)
        assert before.handling_org is not None  # set at acceptance; taking over requires holding
        await uow.outbox.add(
            complaints.ComplaintAssigned(
                **facts(c), from_org=before.handling_org, to_org=office.org_id,
                assigned_at=now, taken_over=True,
            ),
            trace,
        )  # fmt: skip
        await uow.commit()
        return Row(c, row.ticket_no)


async def reply(
    uow: ComplaintsUnitOfWork,
    rules: ComplaintRules,
    principal: Principal,
    complaint_id: str,
    *,
    text: str,
    trace: Trace,
) -> Row:
    async with uow:
        now = uow.clock.now()
        row = await _load_for_staff(uow, principal, complaint_id, replying=True)
        c = decide(lambda: complaint_model.reply(row.complaint, principal.subject, text, now))
        auto_close_at = now + timedelta(days=rules.policy.auto_close_days)
        await uow.complaints.save(c, auto_close_at=auto_close_at)
        await uow.outbox.add(
            complaints.ComplaintReplied(**facts(c), reply_no=len(c.replies), replied_at=now),
            trace,
        )
        await uow.commit()
        return Row(c, row.ticket_no)


async def request_extension(
    uow: ComplaintsUnitOfWork,
    principal: Principal,
    complaint_id: str,
    *,
    working_days: int,
    reason: str,
    trace: Trace,
) -> Row:
    """申请延期: the district office sees the request in its list and is told
    (`ComplaintExtensionRequested`; the reason stays here)."""
    async with uow:
        now = uow.clock.now()
        row = await _load_for_staff(uow, principal, complaint_id)
        c = decide(
            lambda: complaint_model.request_extension(
                row.complaint, principal.subject, working_days, reason, now
            ),
        )
        await uow.complaints.save(c, auto_close_at=None)
        await uow.outbox.add(
            complaints.ComplaintExtensionRequested(
                **facts(c),
                working_days=working_days,
                completion_deadline=c.completion.deadline,
                requested_at=now,
            ),
            trace,
        )
        await uow.commit()
        return Row(c, row.ticket_no)


async def decide_extension(
    uow: ComplaintsUnitOfWork,
    rules: ComplaintRules,
    principal: Principal,
    complaint_id: str,
    *,
    approve: bool,
    trace: Trace,
) -> Row:
    """The district office of the complaint's district approves or refuses
    (`ComplaintExtensionDecided`)."""
    access.require_district_office(principal)
    async with uow:
        now = uow.clock.now()
        row = await uow.complaints.get(complaint_id, for_update=True)
        if row is None or not access.can_see(principal, row.complaint):
            raise NotFound("complaint_not_found", NOT_FOUND)
        c = decide(
            lambda: complaint_model.decide_extension(
                row.complaint,
                approve=approve,
                decided_by=principal.subject,
                now=now,
                policy=rules.policy,
                calendar=rules.calendar,
            ),
        )
        await uow.complaints.save(c, auto_close_at=None)
        decided = c.extensions[-1]
        await uow.outbox.add(
            complaints.ComplaintExtensionDecided(
                **facts(c),
                granted=approve,
                working_days=decided.working_days,
                completion_deadline=c.completion.deadline,
                decided_at=now,
            ),
            trace,
        )
        await uow.commit()
        return Row(c, row.ticket_no)


# --- the owner's feedback ---------------------------------------------------------------------------


async def feedback(
    uow: ComplaintsUnitOfWork,
    rules: ComplaintRules,
    token: str,
    *,
    satisfied: bool,
    rating: int,
    comment: str | None,
    trace: Trace,
) -> Row:
    """Satisfied closes the complaint; dissatisfied reopens it to the same responsible person."""
    async with uow:
        now = uow.clock.now()
        row = await uow.complaints.get_by_token(token_hash(token), for_update=True)
        if row is None:
            raise NotFound("complaint_not_found", NOT_FOUND)
        c = decide(
            lambda: complaint_model.give_feedback(
                row.complaint,
                satisfied=satisfied,
                rating=rating,
                comment=comment,
                now=now,
                policy=rules.policy,
                calendar=rules.calendar,
            ),
        )
        await uow.complaints.save(c, auto_close_at=None)
        await uow.outbox.add(
            complaints.ComplaintFeedbackReceived(
                **facts(c), satisfied=satisfied, rating=rating, received_at=now
            ),
            trace,
        )
        if c.status is complaint_model.Status.CLOSED:
            await uow.outbox.add(
                complaints.ComplaintClosed(**facts(c), how="feedback", closed_at=now), trace
            )
        else:
            await uow.outbox.add(
                complaints.ComplaintReopened(
                    **facts(c),
                    reopen_count=c.reopen_count,
                    completion_deadline=c.completion.deadline,
                    completion_deadline_calendar=c.completion.calendar,
                    reopened_at=now,
                ),
                trace,
            )
        await uow.commit()
        return Row(c, row.ticket_no)


async def _load_for_staff(
    uow: ComplaintsUnitOfWork, principal: Principal, complaint_id: str, *, replying: bool = False
) -> Row:
    """Enterprise staff act on their projects' complaints and on those transferred to them; a
    district office replies to one it took over."""
    row = await uow.complaints.get(complaint_id, for_update=True)
    if row is None or not access.can_see(principal, row.complaint):
        raise NotFound("complaint_not_found", NOT_FOUND)
    if replying:
        access.require_replier(principal, row.complaint)
    else:
        access.require_handler(principal)
    return row
