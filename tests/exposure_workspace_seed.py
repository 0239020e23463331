"""Seed data for the exposure workspace tests (integration and browser): projects, inspections
and exposure cases in review, delivered through the live consumers' own handlers, so the tables
are what the running service would have built from the same events."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg

from runtime.scheduler import FixedClock
from runtime.unit_of_work import Delivered
from schemas import cloudevents
from schemas.base import Event
from schemas.inspections import v1 as inspections
from schemas.notifications import v1 as notifications
from schemas.registry import v1 as registry
from services.exposure import subscriptions
from services.exposure.adapters import policy_file
from services.exposure.adapters.postgres import PgExposureUnitOfWork
from tests import factories

SERVICE = Path(__file__).resolve().parents[1] / "services" / "exposure"
POLICY = policy_file.load(SERVICE / "data" / "publication.toml")
LIVE = {t: h for group in subscriptions.GROUPS for t, h in group.live().items()}
LONG_NAME = "天津市和平区五大道历史文化街区综合物业服务与设施设备维护管理有限责任公司"
PROJECTS = [
    ("P-120101-0001", "和平区·海河花园", "120101", "和平区", "E-0001", "津城物业服务有限公司"),
    ("P-120101-0009", "和平区·五大道睦南道民园西里历史风貌建筑小区", "120101", "和平区",
     "E-0009", LONG_NAME),
    ("P-120103-0001", "河西区·友谊新苑", "120103", "河西区", "E-0001", "津城物业服务有限公司"),
]  # fmt: skip


async def deliver(pool: asyncpg.Pool, event: Event, now: datetime) -> None:
    ce = cloudevents.from_event(event, source="/test")
    unit = PgExposureUnitOfWork(pool, source="/wuye/exposure", clock=FixedClock(now), policy=POLICY)
    async with pool.acquire() as conn, conn.transaction():
        await LIVE[ce.type](unit.joined(conn), [Delivered(event, ce)])


async def projects(pool: asyncpg.Pool, at: datetime) -> None:
    for pid, name, code, district, eid, ename in PROJECTS:
        await deliver(
            pool,
            registry.ProjectRegistered(
                project_id=pid, project_name=name, address="天津市", district_code=code,
                district_name=district, enterprise_id=eid, enterprise_name=ename,
                service_grade="一级", occurred_at=at,
            ),
            at,
        )  # fmt: skip


async def inspection(pool: asyncpg.Pool, project: int, passed: bool, at: datetime) -> None:
    pid, name, code, _, eid, ename = PROJECTS[project]
    await deliver(
        pool,
        inspections.InspectionCompleted(
            inspection_id=str(uuid.uuid4()), project_id=pid, project_name=name,
            enterprise_id=eid, enterprise_name=ename, district_code=code, kind="patrol",
            template_id="T-1", template_version=1, score=92 if passed else 61, pass_mark=80,
            inspected_at=at, recorded_by="inspector-1", passed=passed,
            failed_item_count=0 if passed else 2,
        ),
        at,
    )  # fmt: skip


async def case_in_review(pool: asyncpg.Pool, project: int, detected: datetime) -> str:
    """An overdue order of the project whose criticism notice came a day later: a case in its
    review window. Returns the case id."""
    pid, name, code, _, eid, ename = PROJECTS[project]
    order = await overdue_order(pool, project, detected)
    notice_at = detected + timedelta(days=1)
    await deliver(
        pool,
        notifications.NoticeIssued(
            notice_id=str(uuid.uuid4()), kind="criticism",
            rule_id="rectification-overdue-criticism", notice_no="津物业通〔2026〕7号",
            reason="rectification_overdue", subject_kind="rectification_order", subject_id=order,
            project_id=pid, project_name=name, enterprise_id=eid, enterprise_name=ename,
            district_code=code,
            recipients=(notifications.Recipient(kind="enterprise", id=eid, cc=False),),
            title_zh="通报批评", body_zh="正文", title_en="criticism", body_en="body",
            cause_event_id=str(uuid.uuid4()),
            cause_type="cn.tj.wuye.inspections.RectificationOverdue.v1", issued_at=notice_at,
        ),
        notice_at,
    )  # fmt: skip
    async with pool.acquire() as conn:
        row = await conn.fetchrow("SELECT case_id, status FROM cases WHERE order_id = $1", order)
    assert row is not None
    assert row["status"] == "in_review", dict(row)
    return str(row["case_id"])


async def overdue_order(pool: asyncpg.Pool, project: int, detected: datetime) -> str:
    """An overdue order without a criticism notice yet (a case awaiting it)."""
    pid, name, code, _, eid, ename = PROJECTS[project]
    order = f"O-{uuid.uuid4().hex[:8]}"
    await deliver(
        pool,
        factories.rectification_overdue(
            project_id=pid, order_id=order, project_name=name, district_code=code,
            enterprise_id=eid, enterprise_name=ename, detected_at=detected,
            deadline=detected - timedelta(days=1),
        ),
        detected,
    )  # fmt: skip
    return order
