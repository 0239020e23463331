"""The campaign's own figures (issue 16) on the real broker and database: the exposure service's
consumers fold one event of each kind, each published twice (a redelivery, the same CloudEvent
id), and exactly the right per-campaign number moves by one — in the city office's full CSV and,
for the public figures, in the board's CSV; a fact dated outside the campaign counts in all time
only. The JSON API (the city office's /api/v1/figures, the board's /api/v1/board/figures) gives
the same numbers as each CSV, and the public JSON no field the board does not show. A district and enterprise of this test alone keep other tests' events (on the shared topics)
out of the rows read."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import FixedClock
from runtime.service import build_app
from schemas import cloudevents
from schemas.base import Event
from schemas.campaigns import v1 as campaigns
from schemas.complaints import v1 as complaints
from schemas.inspections import v1 as inspections
from schemas.registry import v1 as registry
from schemas.surveys import v1 as surveys
from services.exposure import bootstrap, subscriptions
from services.exposure.domain import figures as figures_model
from services.exposure.settings import ExposureSettings
from tests import factories
from tests.asgi import served
from tests.workspace_support import sign_in_client

pytestmark = pytest.mark.integration
STARTS = date(2089, 3, 1)
ENDS = date(2089, 5, 31)
NOW = datetime(2089, 4, 1, 10, 0, tzinfo=CHINA)
IN = datetime(2089, 4, 2, 9, 0, tzinfo=CHINA)  # within the campaign
OUT = datetime(2089, 7, 2, 9, 0, tzinfo=CHINA)  # after it
CITY = Principal("city-officer", Role.CITY_OFFICE, name="赵处长")
GROUPS = (
    "exposure.registry",
    "exposure.inspections",
    "exposure.complaints",
    "exposure.surveys",
    "exposure.campaigns",
)


@dataclass
class Figures:
    client: httpx.AsyncClient
    producer: AIOKafkaProducer
    campaign: str
    district: str
    enterprise: str
    project: str
    issuer: DevIssuer

    async def publish(self, event: Event, *, times: int = 2) -> None:
        """The same CloudEvent (same id) `times` times: a redelivery, as at-least-once allows."""
        ce = cloudevents.from_event(event, source="/wuye/test")
        for _ in range(times):
            await self.producer.send_and_wait(
                event.topic, ce.data, key=ce.key, headers=cloudevents.to_kafka_headers(ce)
            )

    async def _csv(self, url: str) -> list[dict[str, str]]:
        response = await self.client.get(url)
        assert response.status_code == 200, response.text
        assert response.content.startswith("\ufeff".encode())  # Excel's BOM
        return list(csv.DictReader(response.content.decode("utf-8-sig").splitlines()))

    async def full(self, campaign: str | None = None) -> dict[str, str]:
        """The enterprise's row of the city office's CSV (by enterprise, in the district)."""
        c = campaign or self.campaign
        rows = await self._csv(
            f"/workspace/exposure/figures.csv?campaign={c}&district={self.district}"
        )
        found = [r for r in rows if r["企业编号 Enterprise id"] == self.enterprise]
        return found[0] if found else {}

    async def public(self) -> dict[str, str]:
        """The district's row of the board's CSV."""
        rows = await self._csv(f"/figures.csv?campaign={self.campaign}")
        found = [r for r in rows if r["区划代码 District code"] == self.district]
        return found[0] if found else {}


@pytest.fixture
async def figures(
    fresh_db: str, kafka_topics: str, producer: AIOKafkaProducer
) -> AsyncIterator[Figures]:
    issuer = DevIssuer.generate()
    settings = ExposureSettings(
        database_url=fresh_db,
        kafka_bootstrap_servers=kafka_topics,
        auth_jwt_public_key=issuer.public_key_pem,
    )
    suffix = uuid.uuid4().hex[:8]
    mine = [
        dataclasses.replace(g, name=f"test-{g.name}-{suffix}")
        for g in subscriptions.GROUPS
        if g.name in GROUPS
    ]
    spec = dataclasses.replace(
        bootstrap.spec(settings), consumers=tuple(g.consumer() for g in mine), jobs=()
    )
    app = build_app(spec, settings, clock=FixedClock(NOW))
    async with served(app, follow_redirects=False) as client:
        pool = await asyncpg.create_pool(fresh_db, min_size=1, max_size=2)
        try:
            await sign_in_client(client, pool, FixedClock(NOW), "exposure", CITY)
            district = f"19{random.randrange(10_000):04d}"  # noqa: S311 (a test's own district)
            yield Figures(
                client, producer, f"test-figures-{suffix}", district, f"E-fig-{suffix}",
                f"P-fig-{suffix}", issuer,
            )  # fmt: skip
        finally:
            await pool.close()


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 90.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("the consumer did not get there in time")
        await asyncio.sleep(0.25)


def _place(f: Figures) -> dict[str, object]:
    return {
        "project_id": f.project,
        "project_name": "测试花园",
        "enterprise_id": f.enterprise,
        "enterprise_name": "测试物业",
        "district_code": f.district,
    }


def _complaint(f: Figures, complaint_id: str) -> dict[str, object]:
    return {
        "complaint_id": complaint_id,
        "project_id": f.project,
        "enterprise_id": f.enterprise,
        "district_code": f.district,
        "category": "environment",
    }


async def test_each_event_moves_its_campaign_figure_once(figures: Figures) -> None:
    f = figures
    await f.publish(
        registry.ProjectRegistered(
            project_id=f.project, project_name="测试花园", address="天津市",
            district_code=f.district, district_name="测试区", enterprise_id=f.enterprise,
            enterprise_name="测试物业", service_grade="一级", occurred_at=NOW,
        ),
        times=1,
    )  # fmt: skip
    await f.publish(
        campaigns.CampaignPhaseStarted(
            campaign_id=f.campaign, phase="mobilisation", phase_title_zh="动员部署阶段",
            starts_on=STARTS, ends_on=STARTS + timedelta(days=9), title_zh="2089年测试行动",
        )
    )  # fmt: skip
    await f.publish(
        campaigns.CampaignPhaseStarted(
            campaign_id=f.campaign, phase="implementation", phase_title_zh="实施阶段",
            starts_on=STARTS + timedelta(days=10), ends_on=ENDS, title_zh="2089年测试行动",
        )
    )  # fmt: skip

    async def campaign_known() -> bool:
        page = await f.client.get(f"/figures?campaign={f.campaign}")
        return page.status_code == 200 and "2089-03-01 — 2089-05-31" in page.text

    await until(campaign_known)  # the campaign's dates: first phase's start to last phase's end

    async def moved(column: str, value: str, *, public: bool = False) -> None:
        async def there() -> bool:
            row = await (f.public() if public else f.full())
            return row.get(column) == value

        await until(there)

    # inspections: a self-inspection that passed, a patrol that failed (a waste item)
    await f.publish(
        inspections.InspectionCompleted(
            inspection_id=f"I-self-{f.project}", kind="self", template_id="t", template_version=1,
            score=90, pass_mark=80, inspected_at=IN, recorded_by="staff-1", passed=True,
            failed_item_count=0, **_place(f),  # type: ignore[arg-type]
        )
    )  # fmt: skip
    patrol = f"I-patrol-{f.project}"
    await f.publish(
        inspections.InspectionCompleted(
            inspection_id=patrol, kind="patrol", template_id="t", template_version=1,
            score=60, pass_mark=80, inspected_at=IN, recorded_by="officer-1", passed=False,
            failed_item_count=1, **_place(f),  # type: ignore[arg-type]
        )
    )  # fmt: skip
    await f.publish(factories.inspection_failed(inspection_id=patrol, inspected_at=IN, **_place(f)))
    await moved("巡查不合格 Patrols failed", "1")
    await moved("垃圾不合格率（%，巡查） Waste failure rate (%, patrols)", "100.0")
    row = await f.full()
    assert row["企业自查 Self-inspections"] == "1"
    assert row["巡查 Patrols"] == "1"
    assert row["垃圾不合格率（%，全部检查） Waste failure rate (%, all inspections)"] == "50.0"
    assert row["房屋不合格率（%，巡查） Premises failure rate (%, patrols)"] == "0.0"

    # a rectification order verified on time
    order = {**factories._order_fields(f.project, f"O-{f.project}"), **_place(f)}
    order["deadline"] = IN + timedelta(days=3)
    await f.publish(inspections.RectificationOrdered(**order, ordered_at=IN))  # type: ignore[arg-type]
    await f.publish(
        inspections.RectificationVerified(**order, verified_at=IN + timedelta(days=1), on_time=True)  # type: ignore[arg-type]
    )
    await moved("按期整改率（%） On-time rectification (%)", "100.0")

    # an overdue order: due, not on time, and a case opened (the exposure service's decision)
    late = {**factories._order_fields(f.project, f"O-late-{f.project}"), **_place(f)}
    late["deadline"] = IN + timedelta(days=1)
    await f.publish(
        inspections.RectificationOverdue(  # type: ignore[arg-type]
            **late, status="ordered", detected_at=IN + timedelta(days=2)
        )
    )
    await moved("新立曝光案件 Cases opened", "1")
    await moved("按期整改率（%） On-time rectification (%)", "50.0")

    # a complaint filed, accepted in time, closed in time
    c1 = _complaint(f, f"C-{f.project}")
    await f.publish(
        complaints.ComplaintFiled(**c1, urgency="normal", channel="web", filed_at=IN)  # type: ignore[arg-type]
    )
    await moved("受理投诉 Complaints filed", "1")
    await f.publish(
        complaints.ComplaintAccepted(  # type: ignore[arg-type]
            **c1, responsible_org_id=f.enterprise, responsible_staff_id="s-1",
            accepted_at=IN + timedelta(hours=2),
        )
    )  # fmt: skip
    await moved("按时签收 Accepted within SLA", "1")
    await f.publish(
        complaints.ComplaintClosed(**c1, how="feedback", closed_at=IN + timedelta(days=2))  # type: ignore[arg-type]
    )
    await moved("按期办结 Closed within SLA", "1")
    await moved("签收及时率（%） Accepted within SLA (%)", "100.0", public=True)

    # a survey closed: 30 of 40 households answered, 90 % satisfied
    await f.publish(
        surveys.SurveyClosed(
            survey_id=f"S-{f.project}", campaign_id=f.campaign, enterprise_id=f.enterprise,
            project_id=f.project, district_code=f.district, households=40, how="auto",
            responses=30, coverage=0.75, satisfaction_rate=0.9, means={}, closed_at=IN,
        )
    )  # fmt: skip
    await moved("答卷覆盖率（%） Survey coverage (%)", "75.0")
    row = await f.full()
    assert (row["满意率（%） Satisfaction (%)"], row["调查户数 Households surveyed"]) == (
        "90.0",
        "40",
    )

    # activities: one cultural in the campaign, one publicity after it
    def held(kind: str, on: date) -> campaigns.ActivityHeld:
        return campaigns.ActivityHeld(
            record_id=str(uuid.uuid4()), project_id=f.project, enterprise_id=f.enterprise,
            district_code=f.district, kind=kind, held_on=on, participants=25,  # type: ignore[arg-type]
            recorded_at=NOW,
        )  # fmt: skip

    await f.publish(held("cultural", IN.date()))
    await f.publish(held("publicity", OUT.date()))

    async def publicity_all_time() -> bool:
        return (await f.full("all")).get("宣传活动 Publicity activities") == "1"

    await until(publicity_all_time)
    row = await f.full()
    assert (row["文化活动 Cultural activities"], row["宣传活动 Publicity activities"]) == ("1", "0")
    assert row["活动参与人次 Participants"] == "25"

    # plans: the enterprise submits its own (redelivered, then a second version): 1 of 1
    for version in (1, 2):
        await f.publish(
            campaigns.PlanSubmitted(
                campaign_id=f.campaign, plan_id=f"plan-{f.enterprise}", version=version,
                submitter_kind="enterprise", submitter_name="测试物业", submitted_at=IN,
                enterprise_id=f.enterprise,
            )
        )  # fmt: skip
    await moved("已交活动方案 Plans submitted", "1")
    row = await f.full()
    assert row["应交活动方案 Plans due"] == "1"
    assert row["企业 Enterprise"] == "测试物业"  # from the registry copy
    assert row["巡查 Patrols"] == "1"
    assert row["受理投诉 Complaints filed"] == "1"
    assert row["新立曝光案件 Cases opened"] == "1"

    # the board: the public subset only
    public = await f.public()
    assert public["巡查 Patrols"] == "1"
    assert public["文化活动 Cultural activities"] == "1"
    for private in ("企业自查 Self-inspections", "已交活动方案 Plans submitted",
                    "新立曝光案件 Cases opened"):  # fmt: skip
        assert private not in public

    await the_json_gives_the_csvs_numbers(f)


def _as_csv(column: figures_model.Column, value: object) -> str:
    """A JSON value as the CSV writes it: a count as is, a rate (a fraction) in percent."""
    if value is None:
        return ""
    if column.kind == "rate":
        assert isinstance(value, float)
        return f"{value * 100:.1f}"
    assert isinstance(value, int)
    return str(value)


async def the_json_gives_the_csvs_numbers(f: Figures) -> None:
    city = {"Authorization": f"Bearer {f.issuer.issue(CITY)}"}
    session = f.client.cookies.get("wuye_exposure_session")
    f.client.cookies.clear()  # the API reads the bearer token only
    full = await f.client.get(
        "/api/v1/figures", params={"campaign": f.campaign, "district": f.district}, headers=city
    )
    assert session is not None
    f.client.cookies.set("wuye_exposure_session", session)  # the CSV is the signed-in page's
    assert full.status_code == 200, full.text
    body = full.json()
    assert (body["by"], body["district_code"]) == ("enterprise", f.district)
    assert body["campaign"] == {
        "campaign_id": f.campaign, "title_zh": "2089年测试行动",
        "starts_on": "2089-03-01", "ends_on": "2089-05-31",
    }  # fmt: skip
    [mine] = [r for r in body["rows"] if r["key"] == f.enterprise]
    assert mine["name"] == "测试物业"
    assert mine["self_inspections"] == 1
    assert mine["on_time_rectification_rate"] == 0.5
    assert mine["satisfaction_rate"] == pytest.approx(0.9)
    csv_row = await f.full()
    for column in figures_model.COLUMNS:  # every column, the same number
        assert _as_csv(column, mine[column.key]) == csv_row[column.header], column.key

    board = await f.client.get("/api/v1/board/figures", params={"campaign": f.campaign})
    assert board.status_code == 200, board.text
    public = board.json()
    assert set(public) == {"campaign", "campaigns", "by", "district_code", "rows"}
    [district] = [r for r in public["rows"] if r["key"] == f.district]
    shown = {c.key for c in figures_model.COLUMNS if c.public}
    assert set(district) == {"key", "name"} | shown  # nothing the board does not show
    for private in ("self_inspections", "self_inspections_failed", "plans_submitted",
                    "plans_due", "cases_opened", "waste_failure_rate_all_inspections"):  # fmt: skip
        assert private not in district
    board_csv = await f.public()
    assert set(board_csv) == {"专项行动 Campaign", "起止日期 Dates", "区划代码 District code",
                              "区县 District"} | {c.header for c in figures_model.COLUMNS if c.public}  # fmt: skip
    for column in figures_model.COLUMNS:
        if column.public:
            assert _as_csv(column, district[column.key]) == board_csv[column.header], column.key
    assert district["patrols"] == 1
    assert district["cultural_activities"] == 1


async def test_the_json_figures_refuse_as_the_pages_do(figures: Figures) -> None:
    f = figures
    f.client.cookies.clear()

    def bearer(who: Principal) -> dict[str, str]:
        return {"Authorization": f"Bearer {f.issuer.issue(who)}"}

    heping = Principal("heping-1", Role.DISTRICT_OFFICE, district_code="120101")
    enterprise = Principal("e-1", Role.ENTERPRISE, enterprise_id="E-0001")
    assert (await f.client.get("/api/v1/figures")).status_code == 401
    assert (await f.client.get("/api/v1/figures", headers=bearer(enterprise))).status_code == 403
    other = await f.client.get(
        "/api/v1/figures", params={"district": "120104"}, headers=bearer(heping)
    )
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "figures_not_allowed"
    assert "本区" in other.json()["error"]["message"]
    own = await f.client.get("/api/v1/figures", params={"campaign": "all"}, headers=bearer(heping))
    assert own.status_code == 200, own.text
    assert (own.json()["by"], own.json()["district_code"]) == ("enterprise", "120101")
    for url, headers in (("/api/v1/figures", bearer(CITY)), ("/api/v1/board/figures", {})):
        unknown = await f.client.get(url, params={"campaign": "no-such"}, headers=headers)
        assert unknown.status_code == 404, unknown.text
        assert unknown.json()["error"]["code"] == "campaign_not_found"
        bad = await f.client.get(url, params={"district": "12"}, headers=headers)
        assert bad.status_code == 422
        assert bad.json()["error"]["fields"][0]["field"] == "query.district"
    public = await f.client.get("/api/v1/board/figures", params={"campaign": "all"})
    assert public.status_code == 200
    assert public.json()["campaign"]["campaign_id"] is None  # all time
