"""The scripted 2011 campaign `make demo` plays through the services' public HTTP APIs.

Business time runs on a simulated clock shared with the services (1 real second = 12 campaign
hours), so the planning deadline and the rectification deadlines pass while you watch.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer

from runtime.auth import DevIssuer, Principal, Role
from runtime.calendar import CHINA
from runtime.scheduler import SimulatedClock
from schemas import topics

CAMPAIGN = "quality-month-2011"
CLOCK_START = datetime(2011, 8, 6, 9, 0, tzinfo=CHINA)  # the planning phase (制定方案阶段) opens
CLOCK_SPEED = 12 * 3600.0  # one real second is twelve campaign hours
PLANNING_ENDS = datetime(2011, 8, 14, 0, 0, tzinfo=CHINA)

# 津城物业's statutory facilities at 海河花园: the lift's 15 days ran out before the campaign began.
FACILITIES = (
    ("lift", "3号楼1单元电梯", "2011-07-20"),
    ("fire", "全楼消防设施", "2011-08-01"),
    ("water_tank", "2号楼二次供水水箱", "2011-03-01"),
)

STATUS_ZH = {
    "ordered": "待整改",
    "submitted": "待验收",
    "verified": "验收合格",
    "rejected": "退回重改",
    "inadequate": "整改不到位",
}


# The scripted staff are the local realm's demo users (deploy/local/keycloak/realm-wuye.json).
STAFF = {
    (Role.CITY_OFFICE, None, None): "city-officer",
    (Role.DISTRICT_OFFICE, "120101", None): "hp-inspector",
    (Role.DISTRICT_OFFICE, "120103", None): "hx-inspector",
    (Role.DISTRICT_OFFICE, "120104", None): "nk-inspector",
    (Role.ENTERPRISE, None, "E-0001"): "e0001-desk",
}


def staff_user(role: Role, district: str | None = None, enterprise: str | None = None) -> str:
    """The demo account that plays this part of the script."""
    try:
        return STAFF[(role, district, enterprise)]
    except KeyError:
        raise LookupError(
            f"no demo account for {role.value} {district or enterprise or ''}"
        ) from None


@dataclass
class StaffTokens:
    """The scripted staff sign in at Keycloak, each as its own demo user: a password grant
    through the realm's test client `wuye-tests` (acceptable for a script; never for people, who
    sign in through the code flow on the workspace pages, nor in production). Tokens are reused
    until a minute before they expire."""

    token_url: str
    client_id: str
    client_secret: str
    passwords: dict[str, str]  # username -> password
    _cache: dict[str, tuple[str, float]] = field(default_factory=dict)

    def __call__(self, username: str) -> str:
        cached = self._cache.get(username)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        answer = httpx.post(
            self.token_url,
            data={
                "grant_type": "password", "client_id": self.client_id,
                "client_secret": self.client_secret, "username": username,
                "password": self.passwords[username], "scope": "openid",
            },
            timeout=30,
        )  # fmt: skip
        if answer.status_code != 200:
            raise RuntimeError(f"Keycloak refused {username}: {answer.status_code} {answer.text}")
        body = answer.json()
        token = str(body["access_token"])
        self._cache[username] = (token, time.monotonic() + float(body["expires_in"]) - 60)
        return token


@dataclass
class Story:
    say: Callable[[str], None]
    step: Callable[[int, str, str], None]
    urls: dict[str, str]
    issuer: DevIssuer  # owners only: they stay token/ticket based (not Keycloak users)
    staff: Callable[[str], str]  # a demo user's access token from Keycloak (StaffTokens)
    clock: SimulatedClock
    bootstrap: str
    repo: Path
    results: dict[str, Any] = field(default_factory=dict)
    started_ms: int = field(default_factory=lambda: int(datetime.now().timestamp() * 1000))

    def token(
        self, role: Role, *, district: str | None = None, enterprise: str | None = None
    ) -> str:
        """Staff: their Keycloak access token; an owner: a development-issuer token (owners are
        not Keycloak users, as today)."""
        if role is Role.OWNER:
            return self.issuer.issue(Principal(subject="owner", role=role))
        return self.staff(staff_user(role, district, enterprise))

    def business_now(self) -> str:
        return f"{self.clock.now().astimezone(CHINA):%Y-%m-%d %H:%M}"

    async def wait_until(self, moment: datetime) -> None:
        # Business time is a function of wall time: sleep exactly until it reaches `moment`.
        remaining = (moment - self.clock.now()).total_seconds() / self.clock.speed
        if remaining > 0:
            await asyncio.sleep(remaining)

    async def call(
        self, client: httpx.AsyncClient, method: str, url: str, token: str, **kw: Any
    ) -> httpx.Response:
        response = await client.request(
            method, url, headers={"Authorization": f"Bearer {token}"}, **kw
        )
        if response.status_code >= 400 and response.status_code != 409:
            raise RuntimeError(f"{method} {url} -> {response.status_code}: {response.text}")
        return response

    # -- the campaign -----------------------------------------------------------------------------

    async def play(self) -> dict[str, Any]:
        insp = self.urls["inspections"]
        city = self.token(Role.CITY_OFFICE)
        heping = self.token(Role.DISTRICT_OFFICE, district="120101")
        jincheng = self.token(Role.ENTERPRISE, enterprise="E-0001")
        async with httpx.AsyncClient(timeout=20) as c:
            self.step(
                3,
                "市物业办发起活动,各单位报送活动方案",
                "the city office starts the campaign; plans",
            )
            r = await self.call(
                c, "POST", f"{insp}/api/v1/campaigns/from-template", city,
                json={"template": CAMPAIGN, "year": 2011, "notice_no": "津物业〔2011〕4号"},
            )  # fmt: skip
            campaign = (
                r.json()
                if r.status_code == 201
                else (await self.call(c, "GET", f"{insp}/api/v1/campaigns/{CAMPAIGN}", city)).json()
            )
            for phase in campaign["phases"]:
                self.say(f"    · {phase['title_zh']:<8} {phase['starts_on']} — {phase['ends_on']}")
            self.say(f"    业务时间 campaign time: {self.business_now()} (制定方案阶段)")
            for token, who in ((heping, "和平区物业办"), (jincheng, "津城物业服务有限公司")):
                await self.call(
                    c, "POST", f"{insp}/api/v1/campaigns/{CAMPAIGN}/plans", token,
                    json=_plan(who, self.clock.now()),
                )  # fmt: skip
                self.say(f"    ✓ {who} 报送活动方案 submitted its plan")
            for kind, name, last in FACILITIES:
                await self.call(
                    c, "POST", f"{insp}/api/v1/facilities", jincheng,
                    json={"project_id": "P-120101-0001", "kind": kind, "name": name,
                          "last_serviced_on": last},
                )  # fmt: skip
            self.say(f"    ✓ 津城物业登记海河花园的电梯、消防设施、二次供水水箱 {len(FACILITIES)} 项"
                     " registered its statutory facilities")  # fmt: skip

            self.step(4, "方案报送截止", "the planning deadline passes (8月13日)")
            await self.wait_until(PLANNING_ENDS + timedelta(hours=12))
            missing = (
                await self.call(c, "GET", f"{insp}/api/v1/campaigns/{CAMPAIGN}/plans/missing", city)
            ).json()
            overdue = await _events(
                self.bootstrap, topics.CAMPAIGNS_EVENTS, "PlanOverdue", 4, self.started_ms
            )
            self.say(
                f"    业务时间 {self.business_now()}: PlanOverdue 事件 {len(overdue)} 条 on Kafka"
            )
            for m in _missing_names(missing):
                self.say(f"    ✗ 未报送 missing: {m}")
            self.results["plans_missing"] = len(overdue)

            self.step(5, "实施阶段:巡查与自查", "implementation: patrols and self-inspections")
            await self.wait_until(datetime(2011, 8, 15, 9, 0, tzinfo=CHINA))
            items = _template_items(self.repo)
            patrol = await self._inspect(c, heping, "P-120101-0001", "patrol", items, {
                "waste.daily": "3 号楼北侧垃圾桶满溢,未日产日清",
                "order.night_duty": "夜间 23:40 东门岗空岗",
                "facilities.fire": "2 号楼消防栓水压不足",
            })  # fmt: skip
            await self._inspect(c, jincheng, "P-120103-0001", "self", items, {})
            wuda = await self._inspect(c, heping, "P-120101-0002", "patrol", items, {
                "greenery.lawns": "中心绿地草坪长期未修剪",
            })  # fmt: skip

            self.step(6, "整改:提交、验收、退回", "rectification: submit, verify, reject")
            orders = {o["items"][0]["item_id"]: o for o in await self._orders(c, city, patrol)}
            fire, waste = orders["facilities.fire"], orders["waste.daily"]
            self.say(f"    整改期限 deadlines: 消防 {_short(fire['deadline'])} (紧急 24 小时), "
                     f"垃圾 {_short(waste['deadline'])} (3 个工作日)")  # fmt: skip
            order_url = f"{insp}/api/v1/rectifications"
            await self.call(
                c,
                "POST",
                f"{order_url}/{waste['order_id']}/submissions",
                jincheng,
                json={"evidence_text": "已增加清运频次至每日两次", "photo_refs": ["waste/1.jpg"]},
            )
            r = await self.call(c, "POST", f"{order_url}/{waste['order_id']}/decision", heping,
                                json={"decision": "verify"})  # fmt: skip
            self.say(
                f"    ✓ 垃圾清运:{r.json()['status_zh']} (按期 on time: {r.json()['on_time']})"
            )
            for n in (1, 2):
                await self.call(
                    c,
                    "POST",
                    f"{order_url}/{fire['order_id']}/submissions",
                    jincheng,
                    json={
                        "evidence_text": f"第{n}次整改:更换阀门",
                        "photo_refs": [f"fire/{n}.jpg"],
                    },
                )
                r = await self.call(c, "POST", f"{order_url}/{fire['order_id']}/decision", heping,
                                    json={"decision": "reject", "reason": "复查水压仍不达标"})  # fmt: skip
                self.say(f"    ✗ 消防栓:第 {n} 次退回 rejected → {r.json()['status_zh']}")

            self.step(7, "等待整改期限届满", "waiting for the remaining deadlines to pass")
            left = [
                o for o in await self._orders(c, city, patrol, wuda) if o["status"] == "ordered"
            ]
            latest = max(datetime.fromisoformat(o["deadline"]) for o in left)
            await self.wait_until(latest + timedelta(hours=12))
            for _ in range(100):
                final = await self._orders(c, city, patrol, wuda)
                if sum(o["overdue"] for o in final) >= len(left):
                    break
                await asyncio.sleep(0.3)
            for o in final:
                flag = " ⚠ 逾期 OVERDUE" if o["overdue"] else ""
                self.say(f"    {o['project_name']} · {o['items'][0]['title_zh'][:14]}: "
                         f"{o['status_zh']}{flag}")  # fmt: skip
            self.results["orders"] = final
            misses: list[dict[str, Any]] = []
            for _ in range(50):  # the sweep runs every 30 s of real time
                misses = (
                    await self.call(c, "GET", f"{insp}/api/v1/facility-misses", heping)
                ).json()
                if misses:
                    break
                await asyncio.sleep(0.3)
            for miss in misses:
                fac = miss["facility"]
                self.say(f"    ⚠ 法定维保逾期 {fac['project_name']} · {fac['name']}:"
                         f"应于 {miss['due_on']} 前维保,已逾期 {miss['days_overdue']} 天"
                         " StatutoryIntervalMissed")  # fmt: skip
            self.results["facility_misses"] = len(misses)
            await self._complaints(c)
        self.results["campaign_time"] = self.business_now()
        return self.results

    async def _complaints(self, c: httpx.AsyncClient) -> None:
        api = f"{self.urls['complaints']}/api/v1/complaints"
        owner = self.token(Role.OWNER)
        jincheng = self.token(Role.ENTERPRISE, enterprise="E-0001")
        self.step(
            8, "业主投诉与首问责任制", "an owner's complaint under first-inquiry responsibility"
        )
        r = await self.call(c, "POST", api, owner, json={
            "project_id": "P-120101-0001", "category": "water",
            "description": "3 号楼 5 层以上连续两天水压不足,早晚高峰基本无水",
            "answers": {"problem": "low_pressure", "scope": "building"},
            "contact": {"name": "王女士", "phone": "13900000000"},
        })  # fmt: skip
        filed = r.json()
        self.say(f"    ✓ 投诉受理 filed: 受理编号 ticket {filed['ticket_no']} (跟进凭证仅显示一次)")
        cid, follow = filed["complaint_id"], {"X-Complaint-Token": filed["token"]}
        await self.call(c, "POST", f"{api}/{cid}/accept", jincheng)
        self.say(
            "    ✓ 津城物业 张客服 (e0001-desk) 签收, 成为首问责任人 accepted: responsible person"
        )
        await self.call(c, "POST", f"{api}/{cid}/reply", jincheng,
                        json={"text": "已检修二次供水加压泵,今日恢复正常"})  # fmt: skip
        r = await c.post(f"{api}/by-token/feedback", headers=follow,
                         json={"satisfied": False, "rating": 2, "comment": "高层仍有时无水"})  # fmt: skip
        r.raise_for_status()
        self.say(f"    ✗ 业主不满意 dissatisfied → {r.json()['status_zh']}"
                 " (回到同一首问责任人 back to the same person)")  # fmt: skip
        await self.call(c, "POST", f"{api}/{cid}/reply", jincheng,
                        json={"text": "已更换加压泵变频器,连续观察三天水压稳定"})  # fmt: skip
        r = await c.post(f"{api}/by-token/feedback", headers=follow,
                         json={"satisfied": True, "rating": 5})  # fmt: skip
        r.raise_for_status()
        self.say(f"    ✓ 业主满意 satisfied → {r.json()['status_zh']}")

        self.step(9, "投诉集中的项目自动安排巡查", "repeated complaints schedule a patrol")
        for text, facility in (
            ("楼道照明损坏半个月无人修理", "lighting"),
            ("单元门禁门损坏一周未修", "door"),
            ("小区主路路面塌陷未设警示", "road"),
        ):
            await self.call(c, "POST", api, owner, json={
                "project_id": "P-120104-0001", "category": "repair", "description": text,
                "answers": {"facility": facility},
            })  # fmt: skip
        nankai = self.token(Role.DISTRICT_OFFICE, district="120104")
        patrols: list[dict[str, Any]] = []
        for _ in range(60):
            r = await self.call(c, "GET", f"{self.urls['inspections']}/api/v1/patrols/scheduled",
                                nankai, params={"status": "open"})  # fmt: skip
            patrols = [p for p in r.json() if p["project_id"] == "P-120104-0001"]
            if patrols:
                break
            await asyncio.sleep(0.3)
        if patrols:
            self.say(f"    ✓ 南开区·水上公园小区: {patrols[0]['complaint_count']} 件投诉 → 已安排巡查 "
                     f"patrol scheduled, due {_short(patrols[0]['due_by'])}")  # fmt: skip
        self.results["patrols"] = len(patrols)

        self.step(10, "无人签收的投诉逾期", "a complaint nobody accepts runs overdue")
        r = await self.call(c, "POST", api, owner, json={
            "project_id": "P-120101-0002", "category": "waste",
            "description": "垃圾桶满溢三天未清运,气味很大",
            "answers": {"kind": "household"},
        })  # fmt: skip
        late_id = r.json()["complaint_id"]
        city = self.token(Role.CITY_OFFICE)
        detail: dict[str, Any] = {}
        for _ in range(100):
            detail = (await self.call(c, "GET", f"{api}/{late_id}", city)).json()
            if detail["acceptance_overdue"]:
                break
            await asyncio.sleep(0.3)
        self.say(
            f"    ⚠ 海河物业未签收: 签收时限 {_short(detail['acceptance_deadline'])} 已过 "
            f"acceptance overdue = {detail['acceptance_overdue']} (业务时间 {self.business_now()})"
        )
        self.results["complaints_overdue"] = int(detail["acceptance_overdue"])
        await self._survey(c)

    async def _survey(self, c: httpx.AsyncClient) -> None:
        self.step(11, "业主满意度调查", "an owner satisfaction survey")
        api = f"{self.urls['complaints']}/api/v1/surveys"
        jincheng = self.token(Role.ENTERPRISE, enterprise="E-0001")
        r = await self.call(c, "POST", api, jincheng,
                            json={"project_id": "P-120101-0001", "households": 20})  # fmt: skip
        opened = r.json()
        self.say(f"    ✓ 津城物业对海河花园发起调查: {opened['households']} 户, "
                 f"一次性凭证 {len(opened['tokens'])} 张 (只存哈希 hashes only)")  # fmt: skip
        # Twelve households answer; scores are a fixed pattern so the summary is reproducible.
        pattern = [5, 4, 4, 3, 5, 2, 4, 5, 3, 4, 5, 4]
        questions = [q["id"] for q in opened["questions"]]
        for token, overall in zip(opened["tokens"], pattern, strict=False):
            scores = {q: max(1, min(5, overall - (i % 2))) for i, q in enumerate(questions)}
            scores["overall"] = overall
            r = await c.post(f"{api}/answers", headers={"X-Survey-Token": token},
                             json={"scores": scores})  # fmt: skip
            r.raise_for_status()
        again = await c.post(f"{api}/answers", headers={"X-Survey-Token": opened["tokens"][0]},
                             json={"scores": {"overall": 1}})  # fmt: skip
        self.say(
            f"    ✓ 12 户作答; 同一凭证再次作答被拒绝 a reused token is refused ({again.status_code})"
        )
        r = await self.call(c, "POST", f"{api}/{opened['survey_id']}/close", jincheng)
        res = r.json()["results"]
        self.say(f"    ✓ 调查结束 closed: 满意率 satisfaction {res['satisfaction_rate']:.0%}, "
                 f"参与率 coverage {res['coverage']:.0%}, 总体均分 overall {res['means']['overall']:.2f}")  # fmt: skip
        self.results["survey"] = res

    async def _inspect(
        self, c: httpx.AsyncClient, token: str, project: str, kind: str,
        items: list[str], failures: dict[str, str],
    ) -> dict[str, Any]:  # fmt: skip
        body = {
            "project_id": project,
            "kind": kind,
            "template_id": "contract-self-inspection",
            "inspected_at": self.clock.now().isoformat(),
            "results": [
                {"item_id": i, "result": "fail", "note": failures[i]} if i in failures
                else {"item_id": i, "result": "pass"}
                for i in items
            ],
        }  # fmt: skip
        r = await self.call(
            c, "POST", f"{self.urls['inspections']}/api/v1/inspections", token, json=body
        )
        result = r.json()
        mark = "✓ 合格 passed" if result["passed"] else "✗ 不合格 failed"
        self.say(f"    {mark}: {project} {'巡查' if kind == 'patrol' else '自查'} "
                 f"得分 {result['score']:g} / {result['pass_mark']:g}, {len(failures)} 项整改")  # fmt: skip
        self.results.setdefault("inspections", []).append(result)
        return dict(result)

    async def _orders(
        self, c: httpx.AsyncClient, token: str, *inspections: dict[str, Any]
    ) -> list[dict[str, Any]]:
        ids = {i["inspection_id"] for i in inspections}
        r = await self.call(c, "GET", f"{self.urls['inspections']}/api/v1/rectifications", token,
                            params={"limit": 500})  # fmt: skip
        return [o for o in r.json() if o["inspection_id"] in ids]


def _plan(who: str, now: datetime) -> dict[str, Any]:
    day = now.astimezone(CHINA).date()
    return {
        "departments": ["综合科", "物业管理科"],
        "staff": [{"name": "张伟", "role": "联络员", "phone": "13800000000"}],
        "schedule": [
            {"date": (day + timedelta(days=8)).isoformat(), "activity_zh": "全面自查"},
            {"date": (day + timedelta(days=20)).isoformat(), "activity_zh": "业主满意度调查"},
        ],
        "summary": f"{who}优质服务月活动方案",
    }


def _missing_names(missing: dict[str, Any]) -> list[str]:
    kinds = {"district": "区县物业办", "enterprise": "物业企业"}
    return [
        f"{m['submitter_name']} ({kinds.get(m['submitter_kind'], m['submitter_kind'])})"
        for m in missing["missing"]
    ]


def _template_items(repo: Path) -> list[str]:
    path = repo / "services/inspections/data/templates/contract-self-inspection.v1.json"
    return [i["item_id"] for i in json.loads(path.read_text("utf-8"))["items"]]


def _short(iso: str) -> str:
    return f"{datetime.fromisoformat(iso).astimezone(CHINA):%m-%d %H:%M}"


async def _events(
    bootstrap: str, topic: str, kind: str, at_least: int, since_ms: int
) -> list[dict[str, Any]]:
    """Read `kind` events appended since `since_ms` until `at_least` arrived, or 20 s."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = asyncio.get_running_loop().time() + 20
        while len(found) < at_least and asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                for r in records:
                    headers = dict(r.headers or ())
                    if r.timestamp >= since_ms and headers.get("ce_type", b"").decode().endswith(
                        f".{kind}.v1"
                    ):
                        found.append(json.loads(r.value))
    finally:
        await consumer.stop()
    return found


def count_by_status(orders: list[dict[str, Any]]) -> Counter[str]:
    return Counter(STATUS_ZH[o["status"]] for o in orders)
