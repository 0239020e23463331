"""The notifications service's repositories, one suite run against both implementations: the
asyncpg adapters on real PostgreSQL and the in-memory fakes the unit tests use. What the fakes
answer is what the database answers, so the unit tests prove something about the real service."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runtime import db
from runtime.registry_copy import RegistryCopy
from runtime.scheduler import FixedClock
from schemas.registry import v1 as registry
from services.notifications.adapters.memory import MemoryNotificationsUnitOfWork, MemoryStore
from services.notifications.adapters.postgres import PgNotificationsUnitOfWork
from services.notifications.domain.notices import (
    Copy,
    Delivery,
    LadderStep,
    NewEndpoint,
    Notice,
)
from services.notifications.domain.rules import ProjectFacts
from services.notifications.service.ports import NotificationsUnitOfWork, Scope

pytestmark = pytest.mark.integration
SERVICE = Path(__file__).resolve().parents[2] / "services" / "notifications"
NOW = datetime(2011, 8, 22, 2, 0, tzinfo=UTC)
Units = Callable[[], NotificationsUnitOfWork]


@pytest.fixture(params=["memory", "postgres"])
async def units(request: pytest.FixtureRequest) -> AsyncIterator[Units]:
    if request.param == "memory":
        store = MemoryStore(FixedClock(NOW))
        yield store.unit
        return
    dsn = request.getfixturevalue("fresh_db")
    await db.prepare_database(dsn, SERVICE / "migrations", "notifications")
    pool = await db.create_pool(dsn, max_size=4)
    try:
        yield lambda: PgNotificationsUnitOfWork(pool, clock=FixedClock(NOW))
    finally:
        await pool.close()


@contextlib.asynccontextmanager
async def committed(units: Units) -> AsyncIterator[NotificationsUnitOfWork]:
    async with units() as uow:
        yield uow
        await uow.commit()


def new_endpoint(endpoint_id: str, kind: str, recipient: str, **changes: str | None) -> NewEndpoint:
    fields: dict[str, str | None] = {
        "channel": "email",
        "address": f"{recipient}@example.cn",
        "created_by": "tester",
        "owner_enterprise_id": "E-1",
    } | changes
    return NewEndpoint(endpoint_id, kind, recipient, **fields)  # type: ignore[arg-type]


def notice(notice_id: str, *, kind: str = "notice", **changes: object) -> Notice:
    fields: dict[str, object] = {
        "rule_id": "inspection-failed",
        "kind": kind,
        "reason": "inspection_failed",
        "notice_no": None,
        "subject_kind": "inspection",
        "subject_id": f"I-{notice_id}",
        "project_id": "P-1",
        "enterprise_id": "E-1",
        "district_code": "120101",
        "title_zh": "标题",
        "body_zh": "正文",
        "title_en": "Title",
        "body_en": "Body",
        "cause_event_id": f"ev-{notice_id}",
        "cause_type": "cn.tj.wuye.inspections.InspectionFailed.v1",
        "correlation_id": f"corr-{notice_id}",
        "issued_at": NOW,
        "copies": (
            Copy(f"{notice_id}-e", notice_id, "enterprise", "E-1", False),
            Copy(f"{notice_id}-d", notice_id, "district", "120101", True),
        ),
    } | changes
    return Notice(notice_id, **fields)  # type: ignore[arg-type]


async def test_the_registry_copy_is_read_back(units: Units) -> None:
    event = registry.ProjectRegistered(
        project_id="P-1",
        project_name="海河花园",
        address="和平区某路 1 号",
        district_code="120101",
        district_name="和平区",
        enterprise_id="E-1",
        enterprise_name="津城物业",
        service_grade="一级",
        occurred_at=NOW,
    )
    async with committed(units) as uow:
        if isinstance(uow, PgNotificationsUnitOfWork):
            await RegistryCopy("projects").apply(uow.connection, [event])
        else:  # what the registry copy keeps, put in place
            assert isinstance(uow, MemoryNotificationsUnitOfWork)
            uow.store.tables.projects["P-1"] = ProjectFacts(
                "P-1", "海河花园", "E-1", "津城物业", "120101", "和平区"
            )
    async with units() as uow:
        facts = await uow.projects.facts("P-1")
        assert facts is not None
        assert (facts.enterprise_id, facts.district_name) == ("E-1", "和平区")
        assert await uow.projects.facts("P-2") is None


async def test_notices_with_copies_and_deliveries_are_recorded_and_read(units: Units) -> None:
    async with committed(units) as uow:
        await uow.endpoints.add(new_endpoint("ep-1", "enterprise", "E-1"))
    first = notice("n-1")
    second = notice(
        "n-2",
        kind="criticism",
        notice_no="和平区物业通〔2011〕1号",
        deliveries=(Delivery("d-1", "n-2-e", "n-2", "ep-1", "email", "E-1@example.cn"),),
    )
    async with committed(units) as uow:
        assert await uow.notices.existing(["n-1", "n-2"]) == set()
        await uow.notices.add([first, second])
    async with committed(units) as uow:
        assert await uow.notices.existing(["n-1", "n-2", "n-3"]) == {"n-1", "n-2"}
        assert await uow.notices.next_number("120101", 2011) == 1
        assert await uow.notices.next_number("120101", 2011) == 2
        assert await uow.notices.next_number("120104", 2011) == 1
        inbox = await uow.inbox.copies(
            ("enterprise", "E-1"), kind=None, unread=False, project_id=None, limit=10
        )
        assert sorted(r["notice_id"] for r in inbox) == ["n-1", "n-2"]
        assert all(r["read_at"] is None and r["cc"] is False for r in inbox)
        criticisms = await uow.inbox.criticisms(Scope("district", "120101"), year=2011, limit=10)
        assert [r["notice_no"] for r in criticisms] == ["和平区物业通〔2011〕1号"]
        assert await uow.inbox.criticisms(Scope("enterprise", "E-2"), year=None, limit=10) == []
        row = await uow.inbox.notice("n-2")
        assert row is not None
        assert (row["kind"], row["correlation_id"], row["issued_at"]) == (
            "criticism",
            "corr-n-2",
            NOW,
        )
        recipients = await uow.inbox.recipients("n-2")
        assert [(r["recipient_kind"], r["cc"]) for r in recipients] == [
            ("enterprise", False),
            ("district", True),
        ]
        content = await uow.deliveries.content("n-2-d")
        assert content is not None
        assert (content.recipient_kind, content.cc, content.notice_no) == (
            "district",
            True,
            "和平区物业通〔2011〕1号",
        )
        read_at = await uow.inbox.mark_read("n-1", ("enterprise", "E-1"))
        assert read_at is not None
        assert await uow.inbox.mark_read("n-1", ("enterprise", "E-1")) == read_at
        assert await uow.inbox.mark_read("n-1", ("enterprise", "E-2")) is None
        unread = await uow.inbox.copies(
            ("enterprise", "E-1"), kind=None, unread=True, project_id=None, limit=10
        )
        assert [r["notice_id"] for r in unread] == ["n-2"]


async def test_endpoints_are_unique_while_active_and_scoped(units: Units) -> None:
    async with committed(units) as uow:
        added = await uow.endpoints.add(new_endpoint("ep-1", "enterprise", "E-1"))
        assert added is not None
        assert added.endpoint_id == "ep-1"
        assert await uow.endpoints.add(new_endpoint("ep-2", "enterprise", "E-1")) is None
        await uow.endpoints.add(new_endpoint("ep-3", "manager", "P-1", owner_enterprise_id="E-1"))
        await uow.endpoints.add(
            new_endpoint(
                "ep-4", "manager", "P-1", owner_enterprise_id="E-9", address="old@example.cn"
            )
        )
        await uow.endpoints.add(new_endpoint("ep-5", "district", "120101"))
    async with committed(units) as uow:
        reaching = await uow.endpoints.reaching("manager", "P-1", "E-1")
        assert [e.endpoint_id for e in reaching] == ["ep-3"]
        assert [e.endpoint_id for e in await uow.endpoints.reaching("enterprise", "E-1", None)] == [
            "ep-1"
        ]
        mine = await uow.endpoints.active(Scope("enterprise", "E-1"))
        assert sorted(e.endpoint_id for e in mine) == ["ep-1", "ep-3"]
        assert not await uow.endpoints.disable("ep-5", Scope("enterprise", "E-1"))
        assert await uow.endpoints.disable("ep-5", Scope("district", "120101"))
        assert not await uow.endpoints.disable("ep-5", Scope("district", "120101"))
        assert await uow.endpoints.active(Scope("district", "120101")) == []
        # disabled: the same address may be registered again
        again = await uow.endpoints.add(new_endpoint("ep-6", "district", "120101"))
        assert again is not None


def step(
    escalation_id: str, subject_id: str, due_at: datetime, rule_id: str = "crit"
) -> LadderStep:
    return LadderStep(
        escalation_id=escalation_id,
        rule_id=rule_id,
        subject_kind="rectification_order",
        subject_id=subject_id,
        due_at=due_at,
        cause_event_id=f"ev-{escalation_id}",
        cause_type="cn.tj.wuye.inspections.RectificationOverdue.v1",
        cause_payload='{"order_id": "' + subject_id + '"}',
        correlation_id=f"corr-{escalation_id}",
    )


async def test_ladder_steps_are_scheduled_once_claimed_when_due_and_cancelled(
    units: Units,
) -> None:
    async with committed(units) as uow:
        await uow.escalations.schedule(step("s-1", "O-1", NOW + timedelta(hours=2)))
        await uow.escalations.schedule(step("s-1", "O-1", NOW + timedelta(hours=9)))  # once
        await uow.escalations.schedule(step("s-2", "O-2", NOW + timedelta(hours=1)))
        await uow.escalations.schedule(step("s-3", "O-3", NOW + timedelta(hours=1), "other"))
        await uow.escalations.schedule(step("s-4", "O-3", NOW + timedelta(hours=1)))
    async with committed(units) as uow:
        assert await uow.escalations.claim_due(NOW) is None
        assert (
            await uow.escalations.cancel(
                "rectification_order", "O-3", rule_id="crit", at=NOW, by="ev-x"
            )
            == 1
        )
        assert (
            await uow.escalations.cancel(
                "rectification_order", "O-3", rule_id=None, at=NOW, by="n-x"
            )
            == 1
        )
        assert (
            await uow.escalations.cancel(
                "rectification_order", "O-3", rule_id=None, at=NOW, by="n-x"
            )
            == 0
        )
        first = await uow.escalations.claim_due(NOW + timedelta(hours=3))
        assert first is not None
        assert first.escalation_id == "s-2"
        second = await uow.escalations.claim_due(NOW + timedelta(hours=3))
        assert second == step("s-1", "O-1", NOW + timedelta(hours=2))
        assert await uow.escalations.claim_due(NOW + timedelta(hours=3)) is None
        await uow.escalations.settled_by("s-1", "n-9")
        await uow.escalations.failed("s-2", "ValueError: bad")


async def test_a_delivery_is_claimed_once_and_its_outcome_needs_the_lease(units: Units) -> None:
    async with committed(units) as uow:
        await uow.endpoints.add(new_endpoint("ep-1", "enterprise", "E-1"))
        await uow.notices.add(
            [
                notice(
                    "n-1",
                    deliveries=(
                        Delivery("d-1", "n-1-e", "n-1", "ep-1", "email", "E-1@example.cn"),
                    ),
                )
            ]
        )
    async with committed(units) as uow:
        (claimed,) = await uow.deliveries.claim(10, 120)
        assert (claimed.delivery_id, claimed.attempts, claimed.endpoint_disabled) == (
            "d-1",
            1,
            False,
        )
        assert await uow.deliveries.claim(10, 120) == []  # leased
        assert await uow.deliveries.retry(claimed, "http 503", 0.0) is not None
        assert await uow.deliveries.delivered(claimed) is None  # no longer held
        await uow.deliveries.attempted(claimed, "transient", "http 503")
        await uow.deliveries.attempted(claimed, "transient", "again")  # once per attempt
    async with committed(units) as uow:
        (second,) = await uow.deliveries.claim(10, 120)
        assert second.attempts == 2
        await uow.deliveries.wait(second, 60)  # not configured: the attempt is not counted
    async with committed(units) as uow:
        assert await uow.deliveries.claim(10, 120) == []  # waits a minute
        (row,) = await uow.inbox.deliveries("n-1")
        assert (row["status"], row["attempts"], row["last_error"]) == (
            "pending",
            1,
            "channel not configured",
        )
        assert [(a["attempt"], a["outcome"], a["detail"]) for a in row["attempts_log"]] == [
            (1, "transient", "http 503")
        ]


async def test_a_delivery_settles_once(units: Units) -> None:
    async with committed(units) as uow:
        await uow.endpoints.add(new_endpoint("ep-1", "enterprise", "E-1"))
        await uow.notices.add(
            [
                notice(
                    "n-1",
                    deliveries=(
                        Delivery("d-1", "n-1-e", "n-1", "ep-1", "email", "E-1@example.cn"),
                        Delivery("d-2", "n-1-d", "n-1", "ep-1", "email", "E-1@example.cn"),
                    ),
                )
            ]
        )
        assert await uow.endpoints.disable("ep-1", Scope("enterprise", "E-1"))
    async with committed(units) as uow:
        claimed = {c.delivery_id: c for c in await uow.deliveries.claim(10, 120)}
        assert {c.endpoint_disabled for c in claimed.values()} == {True}
        assert await uow.deliveries.delivered(claimed["d-1"]) is not None
        assert await uow.deliveries.failed(claimed["d-2"], "endpoint disabled") is not None
        assert await uow.deliveries.failed(claimed["d-2"], "endpoint disabled") is None
    async with units() as uow:
        rows = {r["delivery_id"]: r for r in await uow.inbox.deliveries("n-1")}
        assert rows["d-1"]["status"] == "delivered"
        assert rows["d-1"]["delivered_at"] is not None
        assert rows["d-2"]["status"] == "failed"
        assert rows["d-2"]["failed_at"] is not None
        assert rows["d-2"]["last_error"] == "endpoint disabled"


async def add_then_fail(uow: NotificationsUnitOfWork) -> None:
    async with uow.savepoint():
        await uow.notices.add([notice("n-3")])
        raise RuntimeError("undo n-3")


async def test_leaving_without_commit_or_a_failed_savepoint_undoes_the_writes(
    units: Units,
) -> None:
    async with units() as uow:
        await uow.notices.add([notice("n-1")])  # never committed
    async with committed(units) as uow:
        await uow.notices.add([notice("n-2")])
        with pytest.raises(RuntimeError, match="undo n-3"):
            await add_then_fail(uow)
    async with units() as uow:
        assert await uow.notices.existing(["n-1", "n-2", "n-3"]) == {"n-2"}
