"""Exposure cases: deciding (from events, the publication job and office commands) and applying.

Every change is an exposure event. `emit` writes it to the outbox and applies it to the tables in the
same transaction; `apply` is the only code that changes `cases`, `case_timeline` and `objections`,
and it is also what a replay of `wuye.exposure.events` runs (`rebuild.py`), so the live tables and
a rebuilt copy are the same function of the same events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from runtime import db, outbox
from runtime.consumer import Handler
from runtime.errors import DomainError, Message, NotFound
from runtime.scheduler import PeriodicJob
from schemas import cloudevents
from schemas.base import Event
from schemas.exposure import v1 as ev
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from services.exposure.domain import cases as rules
from services.exposure.domain.cases import Case, Policy, Refused

SOURCE = "/wuye/exposure"
log = structlog.get_logger(__name__)


# -- reading a case -------------------------------------------------------------------------------


async def load(conn: db.Connection, case_id: str, *, lock: bool = False) -> Case | None:
    row = await conn.fetchrow(
        f"""SELECT c.case_id, c.district_code, c.enterprise_id, c.tier, c.status,
                   c.review_ends_at, c.published_at, c.min_until, c.max_until, c.rectified_at,
                   (SELECT objection_id FROM objections o
                     WHERE o.case_id = c.case_id AND o.status = 'pending') AS pending_objection
              FROM cases c WHERE c.case_id = $1 {"FOR UPDATE" if lock else ""}""",
        case_id,
    )
    return Case(**dict(row)) if row is not None else None


async def _lock_order(conn: db.Connection, order_id: str) -> None:
    """The overdue event and the criticism notice of one order arrive on two topics, handled by
    two consumers: this lock makes their decisions take turns."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('exposure-order:' || $1))", order_id)


async def _by_order(conn: db.Connection, order_id: str) -> Case | None:
    case_id = await conn.fetchval(
        "SELECT case_id FROM cases WHERE order_id = $1 FOR UPDATE", order_id
    )
    return await load(conn, case_id) if case_id else None


# -- applying events (live and replay) ------------------------------------------------------------


def _items_text(items: tuple[ev.CaseItem, ...], lang: str) -> str:
    if lang == "zh":
        return ";".join(i.title_zh for i in items)
    return "; ".join(i.title_en or i.title_zh for i in items)


REASON_TEXT = {
    "rectification_overdue": ("整改不及时", "late rectification"),
    "rectification_inadequate": ("整改不到位", "inadequate rectification"),
    "objection_upheld": ("企业异议成立,撤下", "objection upheld: withdrawn"),
    "withdrawn_by_district": ("区物业办撤下", "withdrawn by the district office"),
    "display_period_ended": ("最长公示期满,撤下", "maximum display period ended"),
    "rectified_period_served": (
        "已整改且最短公示期满,撤下",
        "rectified and minimum display period served",
    ),
}


async def _timeline(
    conn: db.Connection,
    event_id: str,
    event: ev._CaseEvent,
    at: datetime,
    zh: str,
    en: str,
    detail_zh: str = "",
    detail_en: str = "",
    ref: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO case_timeline (event_id, case_id, event_type, at, title_zh, title_en,
                  detail_zh, detail_en, ref) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)
           ON CONFLICT (event_id) DO NOTHING""",
        event_id,
        event.case_id,
        event.ce_type,
        at,
        zh,
        en,
        detail_zh,
        detail_en,
        ref,
    )


async def apply(conn: db.Connection, event: Event, event_id: str) -> bool:
    """Apply one exposure event to the tables, once; False if it was applied before."""
    first = await conn.fetchval(
        "INSERT INTO applied_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1",
        event_id,
    )
    if first is None:
        return False
    if isinstance(event, ev.ExposureCaseOpened):
        # The case id derives from the order: a second opening of one order (a duplicate
        # deployment reading the same topics) changes nothing.
        opened = await conn.fetchval(
            """INSERT INTO cases (case_id, project_id, project_name, enterprise_id,
                      enterprise_name, district_code, reason, tier, order_id, inspection_id, items,
                      deadline, status, opened_at, updated_at)
               VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11::jsonb,$12,'opened',$13,$13)
               ON CONFLICT DO NOTHING RETURNING 1""",
            event.case_id,
            event.project_id,
            event.project_name,
            event.enterprise_id,
            event.enterprise_name,
            event.district_code,
            event.reason,
            event.tier,
            event.order_id,
            event.inspection_id,
            json.dumps([i.model_dump(mode="json") for i in event.items], ensure_ascii=False),
            event.deadline,
            event.opened_at,
        )
        if opened is None:
            return True
        zh, en = REASON_TEXT[event.reason]
        await _timeline(
            conn,
            event_id,
            event,
            event.opened_at,
            f"立案:{zh}",
            f"case opened: {en}",
            _items_text(event.items, "zh"),
            _items_text(event.items, "en"),
        )
    elif isinstance(event, ev.ExposureEvidenceAdded):
        await conn.execute(
            """UPDATE cases SET tier = $2, updated_at = $3,
                      notice_no = coalesce($4, notice_no), notice_id = coalesce($5, notice_id),
                      review_ends_at = coalesce($6, review_ends_at),
                      status = CASE WHEN $6::timestamptz IS NOT NULL AND status = 'opened'
                                    THEN 'in_review' ELSE status END
                WHERE case_id = $1""",
            event.case_id,
            event.tier,
            event.added_at,
            event.notice_no,
            event.notice_id,
            event.review_ends_at,
        )
        if event.kind == "criticism_notice":
            await _timeline(
                conn,
                event_id,
                event,
                event.added_at,
                f"通报批评 {event.notice_no or ''}".strip(),
                f"circulated criticism {event.notice_no or ''}".strip(),
                ref=event.notice_id,
            )
        else:
            await _timeline(
                conn,
                event_id,
                event,
                event.added_at,
                "整改经两次验收仍不合格(整改不到位)",
                "rectification rejected twice (inadequate)",
            )
    elif isinstance(event, ev.ExposureReviewed):
        status = "held" if event.decision == "hold" else None
        if status:
            await conn.execute(
                "UPDATE cases SET status = 'held', updated_at = $2 WHERE case_id = $1",
                event.case_id,
                event.reviewed_at,
            )
        await _timeline(
            conn,
            event_id,
            event,
            event.reviewed_at,
            "区物业办暂缓公开" if event.decision == "hold" else "区物业办确认公开",
            "held by the district office"
            if event.decision == "hold"
            else "confirmed by the district office",
        )
    elif isinstance(event, ev.ExposurePublished):
        await conn.execute(
            """UPDATE cases SET status = 'published', tier = $2, published_at = $3,
                      min_until = $4, max_until = $5, updated_at = $3 WHERE case_id = $1""",
            event.case_id,
            event.tier,
            event.published_at,
            event.min_until,
            event.max_until,
        )
        await _timeline(
            conn,
            event_id,
            event,
            event.published_at,
            "在市物业管理协会网站公开曝光",
            "published on the association's website",
        )
    elif isinstance(event, ev.ExposureRectified):
        await conn.execute(
            "UPDATE cases SET rectified_at = $2, updated_at = $2 WHERE case_id = $1",
            event.case_id,
            event.rectified_at,
        )
        await _timeline(
            conn,
            event_id,
            event,
            event.rectified_at,
            "整改已通过验收",
            "rectification verified",
        )
    elif isinstance(event, ev.ExposureWithdrawn):
        await conn.execute(
            """UPDATE cases SET status = 'withdrawn', withdrawn_at = $2, withdraw_reason = $3,
                      updated_at = $2 WHERE case_id = $1""",
            event.case_id,
            event.withdrawn_at,
            event.reason,
        )
        zh, en = REASON_TEXT[event.reason]
        await _timeline(conn, event_id, event, event.withdrawn_at, zh, en)
    elif isinstance(event, ev.ObjectionFiled):
        await conn.execute(
            """INSERT INTO objections (objection_id, case_id, enterprise_id, grounds, filed_at,
                      status) VALUES ($1, $2, $3, $4, $5, 'pending')""",
            event.objection_id,
            event.case_id,
            event.enterprise_id,
            event.grounds,
            event.filed_at,
        )
        await conn.execute(
            "UPDATE cases SET updated_at = $2 WHERE case_id = $1", event.case_id, event.filed_at
        )
        # The grounds are the enterprise's own words: kept for the offices, not shown publicly.
        await _timeline(conn, event_id, event, event.filed_at, "企业提出异议", "objection filed")
    elif isinstance(event, ev.ObjectionDecided):
        await conn.execute(
            """UPDATE objections SET status = $2, decision_reason = $3, decided_at = $4
                WHERE objection_id = $1""",
            event.objection_id,
            "upheld" if event.upheld else "rejected",
            event.reason,
            event.decided_at,
        )
        await conn.execute(
            "UPDATE cases SET updated_at = $2 WHERE case_id = $1", event.case_id, event.decided_at
        )
        await _timeline(
            conn,
            event_id,
            event,
            event.decided_at,
            "异议成立" if event.upheld else "异议不成立",
            "objection upheld" if event.upheld else "objection rejected",
        )
    else:  # pragma: no cover - the catalog lists every exposure event above
        raise TypeError(f"not an exposure event: {type(event).__name__}")
    return True


async def emit(
    conn: db.Connection,
    event: Event,
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> None:
    ce = await outbox.enqueue(
        conn, event, source=SOURCE, correlation_id=correlation_id, causation_id=causation_id
    )
    await apply(conn, event, ce.id)
    log.info("case_changed", event_type=ce.type, case_id=getattr(event, "case_id", None))


async def apply_from_topic(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
    """The board consumer: events emitted here were applied already; others (a replay into a
    fresh database, a second region) are applied now."""
    await apply(conn, event, ce.id)


# -- deciding from events (live only; a replay does not decide again) -------------------------------


def _case_items(items: tuple[inspections.FailedItem, ...]) -> tuple[ev.CaseItem, ...]:
    return tuple(
        ev.CaseItem(
            item_id=i.item_id,
            title_zh=i.title_zh,
            title_en=i.title_en,
            severity=i.severity,
            note="",  # the inspector's note may name a person: it stays with inspections
        )
        for i in items
    )


async def _add_criticism(
    conn: db.Connection, policy: Policy, order_id: str, project_id: str, notice: dict[str, Any]
) -> None:
    case = await _by_order(conn, order_id)
    if case is None or case.status == "withdrawn":
        return  # no case yet (it picks the notice up when it opens), or no longer
    already = await conn.fetchval(
        "SELECT 1 FROM case_timeline WHERE case_id = $1 AND ref = $2",
        case.case_id,
        notice["notice_id"],
    )
    if already:
        return
    await emit(
        conn,
        ev.ExposureEvidenceAdded(
            case_id=case.case_id,
            project_id=project_id,
            kind="criticism_notice",
            notice_no=notice["notice_no"],
            notice_id=notice["notice_id"],
            tier=case.tier,
            review_ends_at=rules.criticism_review_ends(case, policy, notice["issued_at"]),
            added_at=notice["issued_at"],
        ),
    )


def deciders(policy: Policy) -> Mapping[str, Handler]:
    async def open_or_raise(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        """An overdue order, or a final rejection, opens a case (or raises its tier)."""
        assert isinstance(
            event, inspections.RectificationOverdue | inspections.RectificationRejected
        )
        if isinstance(event, inspections.RectificationRejected) and not event.inadequate:
            return
        reason = (
            "rectification_overdue"
            if isinstance(event, inspections.RectificationOverdue)
            else "rectification_inadequate"
        )
        at = (
            event.detected_at
            if isinstance(event, inspections.RectificationOverdue)
            else event.rejected_at
        )
        tier = policy.tier_for(reason, event.severity)
        await _lock_order(conn, event.order_id)
        case = await _by_order(conn, event.order_id)
        if case is None:
            await emit(
                conn,
                ev.ExposureCaseOpened(
                    case_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"wuye-case:{event.order_id}")),
                    project_id=event.project_id,
                    project_name=event.project_name,
                    enterprise_id=event.enterprise_id,
                    enterprise_name=event.enterprise_name,
                    district_code=event.district_code,
                    reason=reason,
                    tier=tier,
                    order_id=event.order_id,
                    inspection_id=event.inspection_id,
                    items=_case_items(event.items),
                    deadline=event.deadline,
                    opened_at=at,
                ),
            )
            # A criticism notice consumed before this event is evidence already.
            for notice in await conn.fetch(
                """SELECT notice_id, notice_no, issued_at FROM criticism_facts
                    WHERE order_id = $1 ORDER BY issued_at, notice_id""",
                event.order_id,
            ):
                await _add_criticism(conn, policy, event.order_id, event.project_id, dict(notice))
        elif reason == "rectification_inadequate" and case.status != "withdrawn":
            raised = case.tier if case.status == "published" else rules.stronger(case.tier, tier)
            # A light case that already has its criticism becomes publishable now: its review
            # starts from the latest criticism notice seen.
            latest = await conn.fetchval(
                "SELECT max(issued_at) FROM criticism_facts WHERE order_id = $1", event.order_id
            )
            review_ends_at = (
                rules.criticism_review_ends(replace(case, tier=raised), policy, latest)
                if latest is not None
                else None
            )
            await emit(
                conn,
                ev.ExposureEvidenceAdded(
                    case_id=case.case_id,
                    project_id=event.project_id,
                    kind="rectification_inadequate",
                    notice_no=None,
                    notice_id=None,
                    tier=raised,
                    review_ends_at=review_ends_at,
                    added_at=at,
                ),
            )

    async def criticism(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        """The criticism notice about an order completes its case's evidence (the fact is
        recorded by facts.on_notice_issued, in this transaction, before this runs)."""
        assert isinstance(event, notifications.NoticeIssued)
        if event.kind != "criticism" or event.subject_kind != "rectification_order":
            return
        if event.project_id is None:
            return
        await _lock_order(conn, event.subject_id)
        await _add_criticism(
            conn,
            policy,
            event.subject_id,
            event.project_id,
            {
                "notice_id": event.notice_id,
                "notice_no": event.notice_no,
                "issued_at": event.issued_at,
            },
        )

    async def verified(conn: db.Connection, event: Event, ce: cloudevents.CloudEvent) -> None:
        assert isinstance(event, inspections.RectificationVerified)
        case = await _by_order(conn, event.order_id)
        if case is not None and rules.may_rectify(case):
            await emit(
                conn,
                ev.ExposureRectified(
                    case_id=case.case_id,
                    project_id=event.project_id,
                    rectified_at=event.verified_at,
                ),
            )

    return {
        inspections.RectificationOverdue.ce_type: open_or_raise,
        inspections.RectificationRejected.ce_type: open_or_raise,
        inspections.RectificationVerified.ce_type: verified,
        notifications.NoticeIssued.ce_type: criticism,
    }


# -- time: publication and ending ------------------------------------------------------------------


async def _project_of(conn: db.Connection, case_id: str) -> str:
    project: str = await conn.fetchval("SELECT project_id FROM cases WHERE case_id = $1", case_id)
    return project


async def _publish(
    conn: db.Connection, policy: Policy, case: Case, project_id: str, now: datetime
) -> None:
    min_until, max_until = rules.publication(case, policy, now)
    await emit(
        conn,
        ev.ExposurePublished(
            case_id=case.case_id,
            project_id=project_id,
            tier=case.tier,
            published_at=now,
            min_until=min_until,
            max_until=max_until,
        ),
    )


def publication_job(policy: Policy, interval_s: float = 30.0) -> PeriodicJob:
    """Publish cases whose review window ended; end cases whose period is over. Each case in its
    own transaction, claimed with SKIP LOCKED: safe on every replica."""

    async def run(pool: asyncpg.Pool, now: datetime) -> int:
        done = 0
        while True:
            async with pool.acquire() as conn, conn.transaction():
                case_id = await conn.fetchval(
                    """SELECT case_id FROM cases c
                        WHERE (status = 'in_review' AND review_ends_at <= $1
                               AND NOT EXISTS (SELECT 1 FROM objections o
                                                WHERE o.case_id = c.case_id
                                                  AND o.status = 'pending'))
                           OR (status = 'published' AND (max_until <= $1
                               OR (rectified_at IS NOT NULL AND min_until <= $1)))
                        ORDER BY case_id LIMIT 1 FOR UPDATE SKIP LOCKED""",
                    now,
                )
                if case_id is None:
                    return done
                case = await load(conn, case_id)
                assert case is not None
                project_id = await _project_of(conn, case_id)
                if rules.due_for_publication(case, now):
                    await _publish(conn, policy, case, project_id, now)
                elif (reason := rules.ending(case, now)) is not None:
                    await emit(
                        conn,
                        ev.ExposureWithdrawn(
                            case_id=case_id,
                            project_id=project_id,
                            reason=reason,
                            withdrawn_at=now,
                        ),
                    )
                done += 1

    return PeriodicJob("exposure-publication", run, interval_s=interval_s)


# -- office commands -----------------------------------------------------------------------------


def refused(exc: Refused) -> DomainError:
    return DomainError(exc.code, Message(exc.zh, exc.en))


async def command_case(conn: db.Connection, case_id: str) -> tuple[Case, str]:
    case = await load(conn, case_id, lock=True)
    if case is None:
        raise NotFound("case_not_found", Message("案件不存在", "no such case"))
    return case, await _project_of(conn, case_id)


async def checked(
    conn: db.Connection,
    case_id: str,
    district_code: str | None,
    rule: Callable[[Case], object],
) -> tuple[Case, str]:
    """An office command's case: locked, in the office's district, and allowed by `rule`."""
    case, project_id = await command_case(conn, case_id)
    check_district(case, district_code)
    try:
        rule(case)
    except Refused as exc:
        raise refused(exc) from exc
    return case, project_id


def check_district(case: Case, district_code: str | None) -> None:
    """A district office acts on its own district's cases; the city office (None) on all."""
    if district_code is not None and case.district_code != district_code:
        raise NotFound("case_not_found", Message("案件不存在", "no such case"))


async def review(
    pool: asyncpg.Pool,
    policy: Policy,
    case_id: str,
    *,
    decision: str,
    note: str,
    district_code: str | None,
    now: datetime,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        case, project_id = await checked(
            conn, case_id, district_code, lambda c: rules.may_review(c, decision)
        )
        await emit(
            conn,
            ev.ExposureReviewed(
                case_id=case_id,
                project_id=project_id,
                decision=decision,
                district_code=case.district_code,
                note=note,
                reviewed_at=now,
            ),
        )
        if decision == "confirm":
            await _publish(conn, policy, case, project_id, now)


async def withdraw(
    pool: asyncpg.Pool, case_id: str, *, district_code: str | None, now: datetime
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        _, project_id = await checked(conn, case_id, district_code, rules.may_withdraw)
        await emit(
            conn,
            ev.ExposureWithdrawn(
                case_id=case_id,
                project_id=project_id,
                reason="withdrawn_by_district",
                withdrawn_at=now,
            ),
        )


async def object_to(
    pool: asyncpg.Pool, case_id: str, *, enterprise_id: str, grounds: str, now: datetime
) -> str:
    async with pool.acquire() as conn, conn.transaction():
        case, project_id = await command_case(conn, case_id)
        if case.enterprise_id != enterprise_id:
            raise NotFound("case_not_found", Message("案件不存在", "no such case"))
        try:
            rules.may_object(case, enterprise_id)
        except Refused as exc:
            raise refused(exc) from exc
        objection_id = str(uuid.uuid4())
        await emit(
            conn,
            ev.ObjectionFiled(
                case_id=case_id,
                project_id=project_id,
                objection_id=objection_id,
                enterprise_id=enterprise_id,
                grounds=grounds,
                filed_at=now,
            ),
        )
        return objection_id


async def decide_objection(
    pool: asyncpg.Pool,
    case_id: str,
    objection_id: str,
    *,
    upheld: bool,
    reason: str,
    district_code: str | None,
    now: datetime,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        case, project_id = await checked(
            conn, case_id, district_code, lambda c: rules.may_decide(c, objection_id)
        )
        await emit(
            conn,
            ev.ObjectionDecided(
                case_id=case_id,
                project_id=project_id,
                objection_id=objection_id,
                upheld=upheld,
                reason=reason,
                decided_at=now,
            ),
        )
        if upheld and case.status != "withdrawn":
            await emit(
                conn,
                ev.ExposureWithdrawn(
                    case_id=case_id,
                    project_id=project_id,
                    reason="objection_upheld",
                    withdrawn_at=now,
                ),
            )


def case_row(row: asyncpg.Record) -> dict[str, Any]:
    out = dict(row)
    if isinstance(out.get("items"), str):
        out["items"] = json.loads(out["items"])
    return out
