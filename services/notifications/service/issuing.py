"""Issuing notices: from an event (in the consumer's transaction) or from a due ladder step (in the
escalation job's transaction). Everything a notice causes is written in that one transaction: the
notice, its copies (the inboxes), a delivery row per external channel (before anything is sent),
the ladder step it schedules or cancels, and `NoticeIssued` in the outbox.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import structlog

from runtime import db, outbox
from runtime.scheduler import Clock, PeriodicJob
from schemas import catalog, cloudevents
from schemas.base import Event
from schemas.notifications import v1 as events
from services.notifications.domain import rules as r

SOURCE = "/wuye/notifications"
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Cause:
    event_id: str
    event_type: str
    correlation_id: str


async def project_facts(conn: db.Connection, event: Event) -> r.ProjectFacts | None:
    project_id = getattr(event, "project_id", None)
    if project_id is None:
        return None
    row = await conn.fetchrow(
        """SELECT project_id, project_name, enterprise_id, enterprise_name, district_code,
                  district_name FROM projects WHERE project_id = $1""",
        project_id,
    )
    return r.ProjectFacts(**dict(row)) if row is not None else None


async def _next_number(conn: db.Connection, district_code: str, year: int) -> int:
    seq: int = await conn.fetchval(
        """INSERT INTO notice_numbers (district_code, year, last_seq) VALUES ($1, $2, 1)
           ON CONFLICT (district_code, year)
           DO UPDATE SET last_seq = notice_numbers.last_seq + 1
           RETURNING last_seq""",
        district_code,
        year,
    )
    return seq


async def issue(
    conn: db.Connection,
    book: r.RuleBook,
    rule: r.Rule,
    event: Event,
    cause: Cause,
    issued_at: datetime,
) -> str | None:
    """Issue `rule`'s notice for `event` once; return its id, or None if it exists already or
    names nobody."""
    notice_id = r.notice_id(cause.event_id, rule.id)
    if await conn.fetchval("SELECT 1 FROM notices WHERE notice_id = $1", notice_id):
        return None
    project = await project_facts(conn, event)
    addressees = r.addressees(rule, event, project)
    enterprise_id = getattr(event, "enterprise_id", None) or (
        project.enterprise_id if project else None
    )
    # A project manager is reached only through channels that the project's enterprise (today's,
    # not a former one) registered for them.
    endpoints = {
        a: await conn.fetch(
            """SELECT endpoint_id, channel, address FROM endpoints
                WHERE recipient_kind = $1 AND recipient_id = $2 AND disabled_at IS NULL
                  AND ($1 <> 'manager' OR owner_enterprise_id = $3)
                ORDER BY endpoint_id""",
            a.kind,
            a.id,
            enterprise_id,
        )
        for a in addressees
        if a.kind != "owner"
    }
    addressees = [a for a in addressees if a.kind != "manager" or endpoints.get(a)]
    if not addressees:
        log.info("notice_not_addressed", rule=rule.id, reason="no recipient can be named")
        return None
    names = r.names(event, project)
    district_code = getattr(event, "district_code", None) or (
        project.district_code if project else None
    )
    notice_no = None
    if rule.kind == "criticism":
        year = r.in_china(issued_at).year
        seq = await _next_number(conn, district_code or "000000", year)
        notice_no = book.criticism_number(names["district_name"], year, seq)
    rendered = book.render(
        rule,
        {
            "e": event,
            **names,
            "notice_no": notice_no or "",
            "issued_at": issued_at,
            "escalation_hours": f"{rule.escalate.after_hours:g}" if rule.escalate else "",
        },
    )
    subject_id = str(getattr(event, rule.subject.field))
    project_id = getattr(event, "project_id", None)
    await conn.execute(
        """INSERT INTO notices (notice_id, rule_id, kind, reason, notice_no, subject_kind,
                  subject_id, project_id, enterprise_id, district_code, title_zh, body_zh,
                  title_en, body_en, cause_event_id, cause_type, correlation_id, issued_at)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18)""",
        notice_id,
        rule.id,
        rule.kind,
        rule.reason,
        notice_no,
        rule.subject.kind,
        subject_id,
        project_id,
        enterprise_id,
        district_code,
        rendered.title_zh,
        rendered.body_zh,
        rendered.title_en,
        rendered.body_en,
        cause.event_id,
        cause.event_type,
        cause.correlation_id,
        issued_at,
    )
    deliveries = 0
    for a in addressees:
        copy_id = r.copy_id(notice_id, a)
        await conn.execute(
            """INSERT INTO notice_copies (copy_id, notice_id, recipient_kind, recipient_id, cc)
               VALUES ($1, $2, $3, $4, $5)""",
            copy_id,
            notice_id,
            a.kind,
            a.id,
            a.cc,
        )
        for ep in endpoints.get(a, ()):
            deliveries += 1
            await conn.execute(
                """INSERT INTO deliveries (delivery_id, copy_id, notice_id, endpoint_id, channel,
                          address) VALUES ($1, $2, $3, $4, $5, $6)""",
                r.delivery_id(copy_id, ep["endpoint_id"]),
                copy_id,
                notice_id,
                ep["endpoint_id"],
                ep["channel"],
                ep["address"],
            )
    if deliveries:
        await conn.execute("SELECT pg_notify('wuye_deliveries', '')")
    if rule.publish:
        await outbox.enqueue(
            conn,
            events.NoticeIssued(
                notice_id=notice_id,
                kind=rule.kind,
                rule_id=rule.id,
                notice_no=notice_no,
                reason=rule.reason,
                subject_kind=rule.subject.kind,
                subject_id=subject_id,
                project_id=project_id,
                project_name=names["project_name"] or None,
                enterprise_id=enterprise_id,
                enterprise_name=names["enterprise_name"] or None,
                district_code=district_code,
                recipients=tuple(
                    events.Recipient.model_validate({"kind": a.kind, "id": a.id, "cc": a.cc})
                    for a in addressees
                ),
                title_zh=r.clip(rendered.title_zh, 300),
                body_zh=r.clip(rendered.body_zh, 20000),
                title_en=r.clip(rendered.title_en, 300),
                body_en=r.clip(rendered.body_en, 20000),
                cause_event_id=cause.event_id,
                cause_type=cause.event_type,
                issued_at=issued_at,
            ),
            source=SOURCE,
            correlation_id=cause.correlation_id,
            causation_id=cause.event_id,
        )
    if rule.kind == "criticism":
        # One failure never brings two criticisms: pending ladders about the subject end here.
        await conn.execute(
            """UPDATE escalations SET status = 'cancelled', settled_at = $3, settled_by = $4
                WHERE status = 'pending' AND subject_kind = $1 AND subject_id = $2""",
            rule.subject.kind,
            subject_id,
            issued_at,
            notice_id,
        )
    if rule.escalate is not None:
        await conn.execute(
            """INSERT INTO escalations (escalation_id, rule_id, subject_kind, subject_id, due_at,
                      cause_event_id, cause_type, cause_payload, correlation_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9)
               ON CONFLICT DO NOTHING""",
            notice_id,
            rule.escalate.rule,
            rule.subject.kind,
            subject_id,
            getattr(event, rule.escalate.at) + timedelta(hours=rule.escalate.after_hours),
            cause.event_id,
            cause.event_type,
            event.model_dump_json(),
            cause.correlation_id,
        )
    log.info(
        "notice_issued",
        notice_id=notice_id,
        rule=rule.id,
        kind=rule.kind,
        notice_no=notice_no,
        recipients=len(addressees),
        deliveries=deliveries,
    )
    return notice_id


async def cancel_ladders(
    conn: db.Connection, book: r.RuleBook, event: Event, ce: cloudevents.CloudEvent, now: datetime
) -> int:
    """An event that resolves a subject (a submission, a reply) stops its pending ladders."""
    cancelled = 0
    for rule in book.cancels(ce.type):
        assert rule.escalate is not None
        result = await conn.execute(
            """UPDATE escalations SET status = 'cancelled', settled_at = $4, settled_by = $5
                WHERE status = 'pending' AND rule_id = $1 AND subject_kind = $2
                  AND subject_id = $3""",
            rule.escalate.rule,
            rule.subject.kind,
            str(getattr(event, rule.subject.field)),
            now,
            ce.id,
        )
        cancelled += int(result.split()[-1])
    if cancelled:
        log.info("ladder_cancelled", count=cancelled)
    return cancelled


def handler(book: r.RuleBook, clock: Clock) -> Any:
    """The one consumer handler: issue what the rules say, cancel what the event resolves."""

    async def handle(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        now = clock.now()
        cause = Cause(ce.id, ce.type, ce.correlationid)
        for rule in book.for_event(ce.type, event):
            await issue(conn, book, rule, event, cause, now)
        await cancel_ladders(conn, book, event, ce, now)

    return handle


async def _issue_step(
    conn: db.Connection, book: r.RuleBook, row: asyncpg.Record, now: datetime
) -> str | None:
    event = catalog.EVENT_TYPES[row["cause_type"]].model_validate(json.loads(row["cause_payload"]))
    return await issue(
        conn,
        book,
        book.rules[row["rule_id"]],
        event,
        Cause(row["cause_event_id"], row["cause_type"], row["correlation_id"]),
        now,
    )


def escalation_job(book: r.RuleBook, interval_s: float = 30.0) -> PeriodicJob:
    """Issue the criticisms whose reminders went unanswered; safe on many replicas."""

    async def run(pool: asyncpg.Pool, now: datetime) -> int:
        issued = 0
        while True:
            async with pool.acquire() as conn, conn.transaction():
                row = await conn.fetchrow(
                    """UPDATE escalations SET status = 'issued', settled_at = $1
                        WHERE escalation_id = (
                              SELECT escalation_id FROM escalations
                               WHERE status = 'pending' AND due_at <= $1
                               ORDER BY due_at LIMIT 1 FOR UPDATE SKIP LOCKED)
                       RETURNING *""",
                    now,
                )
                if row is None:
                    return issued
                structlog.contextvars.bind_contextvars(
                    correlation_id=row["correlation_id"], event_id=row["cause_event_id"]
                )
                try:
                    async with conn.transaction():  # a savepoint: one bad row stops nothing
                        notice_id = await _issue_step(conn, book, row, now)
                except Exception as exc:
                    log.error(
                        "ladder_step_failed", escalation_id=row["escalation_id"], exc_info=exc
                    )
                    await conn.execute(
                        """UPDATE escalations SET status = 'failed', settled_by = $2
                            WHERE escalation_id = $1""",
                        row["escalation_id"],
                        f"{type(exc).__name__}: {exc}"[:500],
                    )
                else:
                    await conn.execute(
                        "UPDATE escalations SET settled_by = $2 WHERE escalation_id = $1",
                        row["escalation_id"],
                        notice_id,
                    )
                    issued += 1
                finally:
                    structlog.contextvars.unbind_contextvars("correlation_id", "event_id")

    return PeriodicJob("criticism-ladder", run, interval_s=interval_s)
