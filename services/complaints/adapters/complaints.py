"""PostgreSQL storage of complaints (asyncpg, plain SQL); the local project table is read in
`projects`.

A complaint is one row: the columns lists and scans filter on, the contact details in their own
columns, and the rest of the domain object as a JSON document. The follow-up token is stored only
as its SHA-256.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from runtime import db
from services.complaints.domain import complaint as complaint_model
from services.complaints.domain.sla import Clock
from services.complaints.service.ports import Idempotency, IdempotencyKeyTaken, Row

ONE_MICROSECOND = timedelta(microseconds=1)


# --- complaints -----------------------------------------------------------------------------------


async def next_ticket_number(conn: db.Connection) -> int:
    value = await conn.fetchval("SELECT nextval('complaint_ticket_seq')")
    return int(value)


async def insert(
    conn: db.Connection,
    c: complaint_model.Complaint,
    *,
    ticket_no: str,
    token_sha256: str,
    idempotency: Idempotency | None = None,
) -> None:
    """Raises `IdempotencyKeyTaken` when the caller's key is already taken, also by a
    transaction committed a moment ago. With a key the insert runs in a savepoint, so the
    caller's transaction stays usable to replay the first complaint (read committed: its next
    statement sees the row the other transaction committed)."""
    if idempotency is None:
        await _insert(conn, c, ticket_no, token_sha256, None)
        return
    try:
        async with conn.transaction():  # a savepoint
            await _insert(conn, c, ticket_no, token_sha256, idempotency)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != "complaints_idempotency":
            raise
        raise IdempotencyKeyTaken(idempotency.key) from exc


async def _insert(
    conn: db.Connection,
    c: complaint_model.Complaint,
    ticket_no: str,
    token_sha256: str,
    idempotency: Idempotency | None,
) -> None:
    await conn.execute(
        """INSERT INTO complaints (complaint_id, ticket_no, token_sha256, project_id, enterprise_id,
                                   district_code, category, urgency, channel, status, handling_org,
                                   responsible_staff_id, filed_at, next_due, auto_close_at,
                                   contact_name, contact_phone, doc, idempotency_scope,
                                   idempotency_key, idempotency_fingerprint)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                   $18::jsonb, $19, $20, $21)""",
        c.complaint_id,
        ticket_no,
        token_sha256,
        c.project_id,
        c.enterprise_id,
        c.district_code,
        c.category,
        c.urgency,
        c.channel,
        c.status.value,
        c.handling_org,
        c.responsible.staff_id if c.responsible else None,
        c.filed_at,
        next_due(c),
        None,
        c.contact.name if c.contact else None,
        c.contact.phone if c.contact else None,
        json.dumps(to_doc(c), ensure_ascii=False),
        idempotency.scope if idempotency else None,
        idempotency.key if idempotency else None,
        idempotency.fingerprint if idempotency else None,
    )


async def get_by_idempotency_key(
    conn: db.Connection, scope: str, key: str
) -> tuple[Row, str] | None:
    """The complaint the caller filed with this key, locked, and the request's fingerprint."""
    r = await conn.fetchrow(
        """SELECT complaint_id, ticket_no, contact_name, contact_phone, doc,
                  idempotency_fingerprint
             FROM complaints WHERE idempotency_scope = $1 AND idempotency_key = $2 FOR UPDATE""",
        scope,
        key,
    )
    return None if r is None else (_row(r), r["idempotency_fingerprint"])


async def replace_token(conn: db.Connection, complaint_id: str, token_sha256: str) -> None:
    await conn.execute(
        "UPDATE complaints SET token_sha256 = $2, updated_at = now() WHERE complaint_id = $1",
        complaint_id,
        token_sha256,
    )


async def save(
    conn: db.Connection, c: complaint_model.Complaint, *, auto_close_at: datetime | None
) -> None:
    await conn.execute(
        """UPDATE complaints SET status = $2, handling_org = $3, responsible_staff_id = $4,
                  next_due = $5,
                  -- a replied complaint keeps its auto-close time unless the caller sets one:
                  -- e.g. an extension decided after the reply must not stop the auto-close
                  auto_close_at = CASE WHEN $2 = 'replied' THEN COALESCE($6, auto_close_at) END,
                  doc = $7::jsonb, version = version + 1,
                  updated_at = now()
           WHERE complaint_id = $1""",
        c.complaint_id,
        c.status.value,
        c.handling_org,
        c.responsible.staff_id if c.responsible else None,
        next_due(c),
        auto_close_at,
        json.dumps(to_doc(c), ensure_ascii=False),
    )


_SELECT = """SELECT complaint_id, ticket_no, contact_name, contact_phone, doc FROM complaints"""


async def get(conn: db.Connection, complaint_id: str, *, for_update: bool = False) -> Row | None:
    r = await conn.fetchrow(
        _SELECT + " WHERE complaint_id = $1" + (" FOR UPDATE" if for_update else ""), complaint_id
    )
    return None if r is None else _row(r)


async def get_by_token(
    conn: db.Connection, token_sha256: str, *, for_update: bool = False
) -> Row | None:
    r = await conn.fetchrow(
        _SELECT + " WHERE token_sha256 = $1" + (" FOR UPDATE" if for_update else ""),
        token_sha256,
    )
    return None if r is None else _row(r)


async def list_complaints(
    conn: db.Connection,
    *,
    enterprise_id: str | None,
    district_code: str | None,
    status: str | None,
    limit: int,
) -> list[Row]:
    """Scope filters: an enterprise sees its projects' complaints and those transferred to it."""
    rows = await conn.fetch(
        _SELECT
        + """ WHERE ($1::text IS NULL OR enterprise_id = $1 OR handling_org = $1)
                AND ($2::text IS NULL OR district_code = $2)
                AND ($3::text IS NULL OR status = $3)
              ORDER BY filed_at DESC, complaint_id LIMIT $4""",
        enterprise_id,
        district_code,
        status,
        limit,
    )
    return [_row(r) for r in rows]


async def due_for_update(conn: db.Connection, now: datetime, limit: int) -> list[Row]:
    """Complaints owing a warning, an overdue or an auto-close at `now`, locked; rows another
    replica holds are skipped."""
    rows = await conn.fetch(
        _SELECT
        + """ WHERE next_due <= $1 OR auto_close_at <= $1
              ORDER BY complaint_id LIMIT $2 FOR UPDATE SKIP LOCKED""",
        now,
        limit,
    )
    return [_row(r) for r in rows]


def next_due(c: complaint_model.Complaint) -> datetime | None:
    """The earliest moment a running clock owes a warning or an overdue (a breach is strictly
    after the deadline, hence one microsecond later)."""
    moments: list[datetime] = []
    for clock in c.running_clocks:
        if clock.overdue_at is not None:
            continue
        moments.append(clock.deadline + ONE_MICROSECOND)
        if clock.warned_at is None:
            moments.append(clock.warn_at)
    return min(moments) if moments else None


# --- (de)serialisation ----------------------------------------------------------------------------


def to_doc(c: complaint_model.Complaint) -> dict[str, Any]:
    """Everything but the contact details, as JSON."""
    return {
        "complaint_id": c.complaint_id,
        "project_id": c.project_id,
        "enterprise_id": c.enterprise_id,
        "district_code": c.district_code,
        "category": c.category,
        "urgency": c.urgency,
        "channel": c.channel,
        "description": c.description,
        "filed_at": _t(c.filed_at),
        "acceptance": _clock(c.acceptance),
        "completion": _clock(c.completion),
        "address": c.address,
        "answers": dict(c.answers),
        "photo_refs": list(c.photo_refs),
        "safety": list(c.safety),
        "filed_by": c.filed_by,
        "registered_by": c.registered_by,
        "registered_org": c.registered_org,
        "status": c.status.value,
        "responsible": None
        if c.responsible is None
        else {"staff_id": c.responsible.staff_id, "org_id": c.responsible.org_id},
        "accepted_at": _t(c.accepted_at),
        "handling_org": c.handling_org,
        "transfers": [
            {
                "from_org": t.from_org,
                "to_org": t.to_org,
                "by": t.by,
                "reason": t.reason,
                "at": _t(t.at),
            }
            for t in c.transfers
        ],
        "escalated_at": _t(c.escalated_at),
        "assignment": None
        if c.assignment is None
        else {**vars(c.assignment), "at": _t(c.assignment.at)},  # to_org, by, reason, taken_over
        "replies": [{"by": r.by, "text": r.text, "at": _t(r.at)} for r in c.replies],
        "feedback": [
            {"satisfied": f.satisfied, "rating": f.rating, "comment": f.comment, "at": _t(f.at)}
            for f in c.feedback
        ],
        "reopen_count": c.reopen_count,
        "extensions": [
            {
                "requested_by": e.requested_by,
                "working_days": e.working_days,
                "reason": e.reason,
                "requested_at": _t(e.requested_at),
                "decision": e.decision,
                "decided_by": e.decided_by,
                "decided_at": _t(e.decided_at),
            }
            for e in c.extensions
        ],
        "closed_at": _t(c.closed_at),
        "close_reason": c.close_reason,
    }


def _assignment(a: dict[str, Any] | None) -> complaint_model.Assignment | None:
    if a is None:
        return None
    return complaint_model.Assignment(**{**a, "at": _d(a["at"])})  # taken_over: absent before


def from_doc(
    d: dict[str, Any], contact: complaint_model.Contact | None
) -> complaint_model.Complaint:
    resp = d["responsible"]
    return complaint_model.Complaint(
        complaint_id=d["complaint_id"],
        project_id=d["project_id"],
        enterprise_id=d["enterprise_id"],
        district_code=d["district_code"],
        category=d["category"],
        urgency=d["urgency"],
        channel=d["channel"],
        description=d["description"],
        filed_at=_d(d["filed_at"]),
        acceptance=_unclock(d["acceptance"]),
        completion=_unclock(d["completion"]),
        contact=contact,
        address=d["address"],
        answers=d["answers"],
        photo_refs=tuple(d["photo_refs"]),
        safety=tuple(d.get("safety", ())),  # absent in documents written before the tiers
        filed_by=d["filed_by"],
        # before `registered_by` existed only enterprise staff filed for owners
        registered_by=d.get("registered_by", "enterprise" if d["filed_by"] else None),
        registered_org=d.get("registered_org"),  # absent before it was recorded
        status=complaint_model.Status(d["status"]),
        responsible=None
        if resp is None
        else complaint_model.Staff(resp["staff_id"], resp["org_id"]),
        accepted_at=_od(d["accepted_at"]),
        handling_org=d["handling_org"],
        transfers=tuple(
            complaint_model.Transfer(t["from_org"], t["to_org"], t["by"], t["reason"], _d(t["at"]))
            for t in d["transfers"]
        ),
        escalated_at=_od(d["escalated_at"]),
        assignment=_assignment(d.get("assignment")),  # absent in documents written before it
        replies=tuple(complaint_model.Reply(r["by"], r["text"], _d(r["at"])) for r in d["replies"]),
        feedback=tuple(
            complaint_model.Feedback(f["satisfied"], f["rating"], f["comment"], _d(f["at"]))
            for f in d["feedback"]
        ),
        reopen_count=d["reopen_count"],
        extensions=tuple(
            complaint_model.Extension(
                e["requested_by"],
                e["working_days"],
                e["reason"],
                _d(e["requested_at"]),
                e["decision"],
                e["decided_by"],
                _od(e["decided_at"]),
            )
            for e in d["extensions"]
        ),
        closed_at=_od(d["closed_at"]),
        close_reason=d["close_reason"],
    )


def _row(r: Any) -> Row:
    contact = None
    if r["contact_name"] is not None or r["contact_phone"] is not None:
        contact = complaint_model.Contact(r["contact_name"], r["contact_phone"])
    return Row(from_doc(json.loads(r["doc"]), contact), r["ticket_no"])


def _clock(c: Clock) -> dict[str, Any]:
    return {
        "name": c.name,
        "deadline": _t(c.deadline),
        "warn_at": _t(c.warn_at),
        "warned_at": _t(c.warned_at),
        "overdue_at": _t(c.overdue_at),
        "calendar": c.calendar,
    }


def _unclock(d: dict[str, Any]) -> Clock:
    return Clock(
        d["name"],
        _d(d["deadline"]),
        _d(d["warn_at"]),
        _od(d["warned_at"]),
        _od(d["overdue_at"]),
        d.get("calendar"),
    )


def _t(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _d(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _od(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
