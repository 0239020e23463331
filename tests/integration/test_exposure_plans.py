"""Activity plans in the city office's campaign table (issue 15), on the real broker: the exposure
service's own consumer of wuye.campaigns.events folds CampaignPhaseStarted and PlanSubmitted into
its fact copy; the page and the CSV show plans submitted against due per district (the district
office itself and every enterprise with a project there); a redelivered event counts once."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from runtime.auth import Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from schemas import cloudevents
from schemas.base import Event
from schemas.campaigns import v1 as campaigns
from services.exposure import bootstrap, subscriptions
from services.exposure.settings import ExposureSettings
from tests import exposure_workspace_seed as seed
from tests.asgi import served
from tests.workspace_support import sign_in_client

pytestmark = pytest.mark.integration
# Later than any campaign other tests publish on the shared topic: this one is "seen last".
# The latest campaign any test announces (the page shows the campaign seen last; the consumer
# reads the shared topic from the start): keep other tests' campaigns earlier.
PLANNING = date(2090, 8, 6)
NOW = datetime(2090, 8, 10, 10, 0, tzinfo=CHINA)
CITY = Principal("city-officer", Role.CITY_OFFICE, name="赵处长")
BASE = "/workspace/exposure/"


@dataclass
class Table:
    client: httpx.AsyncClient
    pool: asyncpg.Pool
    producer: AIOKafkaProducer

    async def publish(self, event: Event, *, times: int = 1) -> None:
        """The same CloudEvent (same id) `times` times: a redelivery, as at-least-once allows."""
        ce = cloudevents.from_event(event, source="/wuye/inspections/campaigns")
        for _ in range(times):
            await self.producer.send_and_wait(
                event.topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
            )

    async def csv_row(self, code: str) -> list[str]:
        response = await self.client.get(f"{BASE}campaign.csv")
        assert response.status_code == 200, response.text
        lines = response.content.decode("utf-8-sig").splitlines()
        return next(line.split(",") for line in lines if line.startswith(f"{code},"))


@pytest.fixture
async def table(
    fresh_db: str, kafka_topics: str, producer: AIOKafkaProducer
) -> AsyncIterator[Table]:
    settings = ExposureSettings(database_url=fresh_db, kafka_bootstrap_servers=kafka_topics)
    # the campaigns consumer alone, in a group of its own (it reads the shared topic from the start)
    [group] = [g for g in subscriptions.GROUPS if g.name == "exposure.campaigns"]
    mine = dataclasses.replace(group, name=f"test-exposure-campaigns-{uuid.uuid4().hex[:8]}")
    spec = dataclasses.replace(bootstrap.spec(settings), consumers=(mine.consumer(),), jobs=())
    app = build_app(spec, settings, clock=FixedClock(NOW))
    async with served(app, follow_redirects=False) as client:
        pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=2)
        try:
            await sign_in_client(client, pool, FixedClock(NOW), "exposure", CITY)
            await seed.projects(pool, NOW)  # 和平区: E-0001, E-0009; 河西区: E-0001
            yield Table(client, pool, producer)
        finally:
            await pool.close()


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the consumer did not get there in time")
        await asyncio.sleep(0.2)


def plan(campaign_id: str, *, district: str | None = None, enterprise: str | None = None,
         version: int = 1) -> campaigns.PlanSubmitted:  # fmt: skip
    return campaigns.PlanSubmitted(
        campaign_id=campaign_id,
        plan_id=f"{campaign_id}/{district or enterprise}",
        version=version,
        submitter_kind="district" if district else "enterprise",
        submitter_name="提交方",
        submitted_at=NOW,
        district_code=district,
        enterprise_id=enterprise,
    )


async def test_plans_submitted_move_the_count_and_a_redelivery_counts_once(table: Table) -> None:
    campaign_id = f"test-month-{uuid.uuid4().hex[:8]}"
    before = await table.client.get(f"{BASE}campaign")
    # (no "尚无专项行动" check: the consumer reads the shared campaigns topic from the start, so
    # other tests' campaigns may be shown already)
    assert "本服务的事件中" not in before.text  # the old hint is gone

    await table.publish(
        campaigns.CampaignPhaseStarted(
            campaign_id=campaign_id, phase="planning", phase_title_zh="制定方案阶段",
            starts_on=PLANNING, ends_on=PLANNING + timedelta(days=7),
            title_zh="2090年物业服务质量月",
        )
    )  # fmt: skip

    async def shows_campaign() -> bool:
        page = await table.client.get(f"{BASE}campaign")
        return "2090年物业服务质量月" in page.text

    await until(shows_campaign)
    page = await table.client.get(f"{BASE}campaign")
    assert "2090-08-13" in page.text  # the planning phase's last day
    assert "0 / 3" in page.text  # 和平区: its own plan, E-0001, E-0009
    assert "0 / 2" in page.text  # 河西区: its own plan, E-0001
    assert (await table.csv_row("120101"))[2:4] == ["0", "3"]

    await table.publish(plan(campaign_id, enterprise="E-0001"), times=2)  # redelivered
    await table.publish(plan(campaign_id, enterprise="E-0001", version=2))  # replaced: still one
    await table.publish(plan(campaign_id, district="120101"))  # handled after the repeats

    async def heping_has_two() -> bool:
        return (await table.csv_row("120101"))[2:4] == ["2", "3"]

    await until(heping_has_two)
    assert (await table.csv_row("120103"))[2:4] == ["1", "2"]  # E-0001 runs a project there too
    header = (await table.client.get(f"{BASE}campaign.csv")).content.decode("utf-8-sig")
    assert f"已交活动方案 Plans submitted {campaign_id}" in header.splitlines()[0]
    page = await table.client.get(f"{BASE}campaign")
    assert "2 / 3" in page.text
    assert "1 / 2" in page.text
    async with table.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT submitter_id, version FROM plan_facts WHERE campaign_id = $1 "
            "ORDER BY submitter_id",
            campaign_id,
        )
    assert [(r["submitter_id"], r["version"]) for r in rows] == [("120101", 1), ("E-0001", 2)]
