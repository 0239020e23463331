"""`make demo`: the whole platform on this machine, driven through a scripted campaign slice.

1. installs what is missing and starts Kafka, PostgreSQL and Keycloak (deploy/local/stack.py,
   profile "dev"; Keycloak imports the realm deploy/local/keycloak/realm-wuye.json);
2. creates one database per service and every topic; every service runs with sign-in on: it
   accepts Keycloak's access tokens and signs its pages' users in through Keycloak
   (deploy/local/processes.oidc_env); the scripted staff are the realm's demo users and get their
   tokens from Keycloak (password grant through the realm's test client `wuye-tests`: fine for a
   script, never for people); owners stay token/ticket based, so the scripted owner's token comes
   from a development issuer the services also trust; the summary prints each role's workspace
   URL and the demo accounts;
3. starts the four service processes and waits until each is ready;
4. drives the campaign: a district office patrol-inspects a project and finds failures, an enterprise
   self-inspects another project and passes; then it follows the events to the notice the
   enterprise receives and to the evidence the exposure service keeps;
5. lets campaign time run at real speed from then on (every service reads the clock control file,
   no restart), prints a summary and the URLs, then keeps serving until Ctrl-C (or exits:
   --exit-after-summary).

Everything it does goes through the services' public HTTP APIs with signed tokens, as a person's
browser or another agency's client would.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import signal
import sys
import time
from datetime import UTC, datetime
from typing import Any

import asyncpg
import httpx

from deploy.local import campaign_script
from deploy.local.campaign_script import StaffTokens, staff_user
from deploy.local.mailcatcher import MailCatcher
from deploy.local.processes import REPO, SERVICES, ServiceProcess, oidc_env
from deploy.local.stack import KEYCLOAK_REALM, KEYCLOAK_REALM_FILE, Keycloak, Stack, StackConfig
from runtime import kafka
from runtime import logging as runtime_logging
from runtime.auth import DevIssuer, Role
from runtime.calendar import CHINA
from runtime.scheduler import SimulatedClock, change_speed

WORKSPACE_CLIENT = "wuye-workspace"
SCRIPT_CLIENT = "wuye-tests"  # password grant: the scripted users only
SCRIPT_TOKEN_LIFESPAN_S = 3600  # tokens.txt promises an hour
# What each role opens first: the first of these pages its build serves (service, path under
# the service's workspace, what it is).
FIRST_PAGE = {
    "district_office": [("inspections", "", "今日待办 today's work")],
    "city_office": [("inspections", "", "今日待办 today's work")],
    "enterprise": [
        ("complaints", "", "投诉 complaints to accept"),
        ("inspections", "orders", "整改单 rectification orders"),
    ],
}
NOTICES_PAGE = ("notifications", "", "通知 notices (every staff role)")
# The board's lists (traffic-light grades): red is the worst, so it is the 黑榜; 红榜 is the
# honour roll (green) — a bare "红" would read as the honour roll to a Chinese reader.
GRADE_LISTS = {"red": "黑榜 black list", "yellow": "关注 watch list", "green": "红榜 honour roll"}
HOTLINE_AGENCY = "12345"  # the complaints service's default HOTLINE_AGENCY_ID
HOTLINE_PAGE = ("complaints", "register", "代业主登记 register for an owner (12345 hotline)")
SERVICE_PORT_OFFSETS = {"inspections": 0, "notifications": 1, "exposure": 2, "complaints": 3}
TITLES = {
    "inspections": "检查与整改 Inspections",
    "notifications": "通知 Notifications",
    "exposure": "公开曝光 Exposure",
    "complaints": "投诉与满意度 Complaints",
}
BOLD, DIM, GREEN, RED, RESET = (
    ("\033[1m", "\033[2m", "\033[32m", "\033[31m", "\033[0m") if sys.stdout.isatty() else ("",) * 5
)


def say(message: str) -> None:
    # A closed pipe (`make demo | head`) must not stop the demo from shutting its processes down.
    with contextlib.suppress(OSError):
        print(message, flush=True)


def step(n: int, zh: str, en: str) -> None:
    say(f"\n{BOLD}[{n}] {zh}{RESET} {DIM}{en}{RESET}")


class Demo:
    def __init__(self, profile: str = "dev", port_base: int = 8001) -> None:
        self.stack = Stack(
            StackConfig.for_profile(profile), reporter=lambda m: say(f"    {m}"), keycloak=True
        )
        self.state = REPO / ".local" / profile
        self.port_base = port_base
        self.processes: dict[str, ServiceProcess] = {}
        self.dsns: dict[str, str] = {}
        self.issuer: DevIssuer | None = None  # owners' tokens (owners are not Keycloak users)
        self.staff: StaffTokens | None = None  # the scripted staff's Keycloak tokens
        self.run_id = time.strftime("%Y%m%d-%H%M%S")
        self.clock = self._campaign_clock()
        # Read by every service process: after the script, campaign time runs at real speed.
        self.clock_file = self.state / "clock.json"
        self.mail = MailCatcher()

    @staticmethod
    def _campaign_clock() -> SimulatedClock:
        return SimulatedClock(
            start=campaign_script.CLOCK_START,
            anchor=datetime.now(UTC),
            speed=campaign_script.CLOCK_SPEED,
        )

    # -- infrastructure ---------------------------------------------------------------------------

    def start(self) -> None:
        step(
            1,
            "启动 Kafka、PostgreSQL 与 Keycloak",
            "starting Kafka, PostgreSQL and the identity provider (first run fetches them)",
        )
        # Each demo replays the campaign from the start: the broker's topics and committed offsets
        # go with the databases below, so no consumer sees an earlier run's events.
        if self.stack.kafka.is_running():
            self.stack.kafka.stop()
        self.stack.kafka.wipe()
        self.stack.up()
        bootstrap = self.stack.kafka.bootstrap_servers
        created = asyncio.run(kafka.ensure_topics(bootstrap))
        say(
            f"    ✓ topics: {len(created)} created, {len(kafka.all_topics()) - len(created)} already there"
        )
        for name in SERVICES:
            # Each demo replays the campaign from the start: the dev databases are recreated.
            self.stack.postgres.drop_database(f"wuye_{name}")
            self.dsns[name] = self.stack.postgres.create_database(f"wuye_{name}")
        say(f"    ✓ databases (fresh): {', '.join(f'wuye_{n}' for n in SERVICES)}")
        self.issuer = DevIssuer.load_or_create(self.state / "identity")
        say(f"    ✓ owners' development token issuer (owners only): {self.issuer.issuer}")
        keycloak = self.stack.keycloak
        self.service_urls = {
            name: f"http://127.0.0.1:{self.port_base + offset}"
            for name, offset in SERVICE_PORT_OFFSETS.items()
        }
        keycloak.allow_redirects(WORKSPACE_CLIENT, list(self.service_urls.values()))
        self.staff = prepare_script_users(keycloak)
        # Signed in now, before campaign time starts: a password grant costs a second or two on
        # a loaded machine, twelve campaign hours each once the clock runs (the plans would miss
        # their deadline). The tokens last an hour; StaffTokens reuses them.
        for username in sorted(set(campaign_script.STAFF.values())):
            self.staff(username)
        say(f"    ✓ identity provider (Keycloak): {keycloak.issuer}")
        say(
            f"    ✓ scripted staff sign in at Keycloak as the realm's demo users "
            f"({', '.join(sorted(set(campaign_script.STAFF.values())))})"
        )
        links = ",".join(
            f"{name}={url}/workspace/{name}/" for name, url in self.service_urls.items()
        )

        self.mail.start()
        say(f"    ✓ SMTP mail catcher (the city mail relay's stand-in): 127.0.0.1:{self.mail.port}")

        step(2, "启动四个服务", "starting the four services")
        # Campaign time stands almost still (real speed) while the services start: a slow start
        # on a loaded machine (15 s) would otherwise eat the planning phase (8 campaign days are
        # 16 s at campaign speed). Once all are ready it runs at campaign speed.
        self.clock = SimulatedClock(
            start=campaign_script.CLOCK_START, anchor=datetime.now(UTC), speed=1.0
        )
        self.clock_file.unlink(missing_ok=True)  # an earlier run's speed change does not apply
        self.web_session_key = secrets.token_hex(32)  # the owners' forms survive a restart
        channels = {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(self.mail.port),
            "SMTP_STARTTLS": "false",  # loopback only; production uses STARTTLS (the default)
            "SMTP_SENDER": "tongzhi@wuye.tj.gov.cn",
            "WEBHOOK_SIGNING_KEY": secrets.token_hex(32),
        }
        for name in SERVICES:
            process = ServiceProcess(
                name=name,
                port=self.port_base + SERVICE_PORT_OFFSETS[name],
                env={
                    "DATABASE_URL": self.dsns[name],
                    "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "AUTH_JWT_PUBLIC_KEY": self.issuer.public_key_pem,
                    "AUTH_ISSUER": self.issuer.issuer,
                    "AUTH_AUDIENCE": self.issuer.audience,
                    **oidc_env(
                        keycloak.issuer,
                        keycloak.jwks_url,
                        self.workspace_secret(),
                        self.service_urls[name],
                    ),
                    "WEB_SESSION_KEY": self.web_session_key,
                    "WORKSPACE_LINKS": links,  # one navigation across the four ports
                    # Campaign time: 2011-08-08 in the planning phase, 12 campaign hours a second.
                    "CLOCK_START": self.clock.start.isoformat(),
                    "CLOCK_ANCHOR": self.clock.anchor.isoformat(),
                    "CLOCK_SPEED": str(self.clock.speed),
                    "CLOCK_CONTROL_FILE": str(self.clock_file),
                    "JOB_INTERVAL_S": "0.5",
                    **(channels if name == "notifications" else {}),
                    **(
                        {
                            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port_base + SERVICE_PORT_OFFSETS[name]}",
                            # The board's photos: the inspections service's public route on
                            # its own port (an ingress routes /public/photos/ by path instead).
                            "PUBLIC_PHOTOS_URL": f"http://127.0.0.1:{self.port_base + SERVICE_PORT_OFFSETS['inspections']}/public/photos/",
                        }
                        if name == "exposure"
                        else {}
                    ),
                },
                log_path=self.state / "logs" / f"{name}.log",
            )
            process.start()
            self.processes[name] = process
        for name, process in self.processes.items():
            took = process.wait_ready()
            say(f"    ✓ {TITLES[name]:<28} {process.url}  ready ({took:.1f} s)")
        self.clock = change_speed(self.clock_file, self.clock, campaign_script.CLOCK_SPEED)
        time.sleep(max(0.0, (self.clock.anchor - datetime.now(UTC)).total_seconds()) + 0.2)

    @staticmethod
    def workspace_secret() -> str:
        """The local realm's workspace client secret (deploy/local/keycloak/realm-wuye.json)."""
        realm = json.loads(KEYCLOAK_REALM_FILE.read_text(encoding="utf-8"))
        client = next(c for c in realm["clients"] if c["clientId"] == WORKSPACE_CLIENT)
        return str(client["secret"])

    def sign_in_summary(self) -> None:
        """Where each person starts (the workspace page of the service that serves their work,
        on its port) and the demo accounts of the local realm."""
        realm = json.loads(KEYCLOAK_REALM_FILE.read_text(encoding="utf-8"))
        served = {name: self._serves_workspace(name) for name in self.service_urls}
        say(
            f"\n    {BOLD}工作台 workspace{RESET} (登录一次,各服务通用 sign in once, every service)"
        )
        for service, url in self.service_urls.items():
            state = (
                "" if served[service] else f"  {DIM}(this build serves no pages here yet){RESET}"
            )
            say(f"      {TITLES[service]:<28} {url}/workspace/{service}/{state}")
        say(f"\n    {BOLD}演示账号 demo accounts{RESET} (Keycloak {self.stack.keycloak.issuer})")
        for user in realm["users"]:
            attributes = user.get("attributes", {})
            role = attributes["platform_role"][0]
            whole_city = ["全市 city"] if role == "city_office" else ["—"]
            scope = (
                attributes.get("district_code")
                or attributes.get("enterprise_id")
                or attributes.get("agency_id")
                or whole_city
            )[0]
            password = user["credentials"][0]["value"]
            say(
                f"      {user['username']:<14} {password:<16} {role:<16} {scope:<10} "
                f"{user['firstName']}"
            )
            first = [p for p in FIRST_PAGE.get(role, []) if served[p[0]]][:1]
            pages = [*first, NOTICES_PAGE] if role in FIRST_PAGE else []
            if role == "agency" and attributes.get("agency_id") == [HOTLINE_AGENCY]:
                pages = [HOTLINE_PAGE]  # the hotline registers; other agencies read the APIs
            for service, path, what in pages:
                if served[service]:
                    say(
                        f"        → {self.service_urls[service]}/workspace/{service}/{path}  {what}"
                    )
            if not pages:
                say(f"        {DIM}no workspace pages for this role: the APIs only{RESET}")
        say(f"      Keycloak 账户页 account console  {self.stack.keycloak.issuer}/account")

    def _serves_workspace(self, service: str) -> bool:
        """Whether the service serves workspace pages (signed out: it sends the browser to sign
        in; a service without them answers 404)."""
        url = f"{self.service_urls[service]}/workspace/{service}/"
        try:
            answer = httpx.get(url, follow_redirects=False, timeout=5)
        except httpx.HTTPError:
            return False
        return answer.status_code == 303 and "/auth/login" in answer.headers.get("location", "")

    def real_speed(self) -> None:
        """The script is over: from a second from now, campaign time runs at real speed in every
        service (they read `clock_file`; no restart), so a person exploring the demo afterwards
        files complaints in the campaign's autumn, not years later."""
        self.clock = change_speed(self.clock_file, self.clock, 1.0)
        # The switch is set a moment ahead so every service has read it before it applies; say
        # so only once it is in force (a complaint filed right after the message was still
        # stamped at the campaign's speed: the demo test caught it on a loaded machine).
        time.sleep(max(0.0, (self.clock.anchor - datetime.now(UTC)).total_seconds()) + 0.2)
        say(
            f"\n    ✓ 业务时间恢复正常速度,自 {self.clock.start.astimezone(CHINA):%Y-%m-%d %H:%M} 起"
            f"  {DIM}campaign time runs at real speed from here{RESET}"
        )

    def stop(self) -> None:
        say(f"\n{DIM}停止服务 stopping services…{RESET}")
        for process in self.processes.values():
            process.stop()
        self.mail.stop()
        self.stack.down()

    # -- the campaign -----------------------------------------------------------------------------

    def token(
        self, role: Role, *, district: str | None = None, enterprise: str | None = None
    ) -> str:
        """A scripted staff member's access token, from Keycloak."""
        assert self.staff is not None
        return self.staff(staff_user(role, district, enterprise))

    async def drive(self) -> dict[str, Any]:
        assert self.issuer is not None
        assert self.staff is not None
        story = campaign_script.Story(
            say=say,
            step=step,
            urls={name: p.url for name, p in self.processes.items()},
            issuer=self.issuer,
            staff=self.staff,
            clock=self.clock,
            bootstrap=self.stack.kafka.bootstrap_servers,
            repo=REPO,
        )
        await self._register_mailboxes()
        results = await story.play()
        step(
            12,
            "通知、催办与通报批评",
            "notices, reminders (催办) and circulated criticism (通报批评)",
        )
        city = story.token(Role.CITY_OFFICE)
        # A criticism follows an unanswered reminder after 72 (rectification) or 48 (complaint)
        # campaign hours: a few seconds here. Wait until no ladder is pending.
        await self._ladders_settled()
        # The ladder drafts each criticism; the district office signs it off (numbered, issued).
        signed = await self._sign_off_drafts(story, city)
        say(f"    ✓ 区县物业办签发 signed off by the district offices: {signed} 份")
        async with httpx.AsyncClient(timeout=20) as client:
            criticisms = await self._get(client, "notifications", "/api/v1/criticisms", city)
            evidence = await self._get(client, "exposure", "/api/v1/evidence", city)
            first = criticisms[-1] if criticisms else None
            criticism = (
                await self._get_one(client, f"/api/v1/notices/{first['notice_id']}", city)
                if first
                else None
            )
        results["notices"] = await self._notice_counts()
        for kind, zh in (("notice", "告知"), ("reminder", "催办"), ("criticism", "通报批评")):
            say(f"    ✓ {zh} {kind}: {results['notices'].get(kind, 0)} 份")
        for c in criticisms:
            say(f"    · {c['notice_no']}  {c['title_zh']}")
        if criticism is not None:
            say(f"\n    {BOLD}{criticism['title_zh']}{RESET}")
            for line in criticism["body_zh"].splitlines():
                say(f"    │ {line}")
        await asyncio.sleep(1.5)  # let the last e-mails go out
        say(f"\n    ✓ 邮件 e-mails accepted by the SMTP catcher: {self.mail.count()}")
        results["criticisms"], results["evidence"] = criticisms, evidence
        results["board"] = await self._exposure()
        return results

    async def _exposure(self) -> dict[str, Any]:
        """After its criticism notice a case waits out the district's review window (120
        campaign hours, 10 s here), then the board publishes it."""
        step(13, "协会网站公开曝光与红黑榜", "public exposure on the association website; grades")
        board = self.processes["exposure"].url
        async with httpx.AsyncClient(timeout=20, base_url=board) as client:
            cases: list[dict[str, Any]] = []
            for _ in range(150):
                cases = (await client.get("/api/v1/board/cases")).json()["items"]
                if len(cases) >= 2:
                    break
                await asyncio.sleep(0.2)
            grades = (await client.get("/api/v1/board/grades")).json()["enterprises"]
        for c in cases:
            state = "已整改" if c["status"] == "rectified" else "曝光中"
            say(
                f"    ✗ {c['project_name']} · {c['enterprise_name']} · "
                f"{'整改不到位' if c['reason'] == 'rectification_inadequate' else '整改不及时'} · "
                f"{c['notice_no']} · {state}"
            )
        for g in grades:
            say(f"    {GRADE_LISTS[g['grade']]} {g['enterprise_name']} ({g['projects']} 个项目)")
        say(f"    ✓ 公开曝光台 public board: {board}/")
        return {"cases": cases, "grades": grades}

    async def _register_mailboxes(self) -> None:
        """Where the notices go besides the in-app inboxes: the enterprise, the district office
        and the city office each register an e-mail address (as they would in the API)."""
        mailboxes: tuple[tuple[Role, dict[str, str], str, str, str], ...] = (
            (Role.ENTERPRISE, {"enterprise": "E-0001"}, "enterprise", "E-0001", "jincheng"),
            (Role.DISTRICT_OFFICE, {"district": "120101"}, "district", "120101", "heping"),
            (Role.CITY_OFFICE, {}, "city", "city", "shiwuyeban"),
        )
        async with httpx.AsyncClient(timeout=20) as client:
            for role, scope, kind, recipient, box in mailboxes:
                response = await client.post(
                    self.processes["notifications"].url + "/api/v1/endpoints",
                    json={
                        "recipient_kind": kind,
                        "recipient_id": recipient,
                        "channel": "email",
                        "address": f"{box}@demo.wuye.tj.cn",
                    },
                    headers={"Authorization": f"Bearer {self.token(role, **scope)}"},
                )
                response.raise_for_status()
        say(f"    ✓ 通知邮箱 notice mailboxes registered: {len(mailboxes)}")

    async def _get_one(self, client: httpx.AsyncClient, path: str, token: str) -> dict[str, Any]:
        response = await client.get(
            self.processes["notifications"].url + path,
            headers={"Authorization": f"Bearer {token}"},
        )
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    async def _sign_off_drafts(self, story: campaign_script.Story, city: str) -> int:
        """Every criticism draft signed off by its district office's scripted officer, the one
        waiting longest first (the demo's offices agree with the ladder)."""
        url = self.processes["notifications"].url
        async with httpx.AsyncClient(timeout=20) as client:
            drafts = await self._get(client, "notifications", "/api/v1/criticism-drafts", city)
            for d in drafts:
                officer = story.token(Role.DISTRICT_OFFICE, district=d["district_code"])
                answer = await client.post(
                    f"{url}/api/v1/criticism-drafts/{d['draft_id']}/sign-off",
                    headers={"Authorization": f"Bearer {officer}"},
                )
                answer.raise_for_status()
        return len(drafts)

    async def _until_none(self, service: str, sql: str, timeout_s: float) -> None:
        """Poll `sql` (a count) on `service`'s database until it is 0, or `timeout_s` passed."""
        conn = await asyncpg.connect(self.dsns[service])
        try:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if not await conn.fetchval(sql):
                    return
                await asyncio.sleep(0.3)
        finally:
            await conn.close()

    async def _ladders_settled(self, timeout_s: float = 60) -> None:
        await self._until_none(
            "notifications", "SELECT count(*) FROM escalations WHERE status = 'pending'", timeout_s
        )

    async def _notice_counts(self) -> dict[str, int]:
        conn = await asyncpg.connect(self.dsns["notifications"])
        try:
            rows = await conn.fetch("SELECT kind, count(*) AS n FROM notices GROUP BY kind")
        finally:
            await conn.close()
        return {r["kind"]: int(r["n"]) for r in rows}

    async def _get(
        self,
        client: httpx.AsyncClient,
        service: str,
        path: str,
        token: str,
        at_least: int = 1,
    ) -> list[dict[str, Any]]:
        # The consumers are asynchronous: give the last events a moment to arrive.
        rows: list[dict[str, Any]] = []
        for _ in range(100):
            response = await client.get(
                self.processes[service].url + path, headers={"Authorization": f"Bearer {token}"}
            )
            response.raise_for_status()
            rows = response.json()
            if len(rows) >= at_least:
                return rows
            await asyncio.sleep(0.2)
        return rows

    async def _outbox_drained(self, timeout_s: float = 30) -> None:
        """Wait until the relay has published what the script's last steps wrote (a summary of
        a settled platform); after `timeout_s` the summary says what is still pending."""
        await self._until_none(
            "inspections", "SELECT count(*) FROM outbox WHERE published_at IS NULL", timeout_s
        )

    async def counts(self) -> dict[str, Any]:
        await self._outbox_drained()

        async def one(service: str, sql: str) -> int:
            conn = await asyncpg.connect(self.dsns[service])
            try:
                return int(await conn.fetchval(sql))
            finally:
                await conn.close()

        async def by_type() -> str:
            conn = await asyncpg.connect(self.dsns["inspections"])
            try:
                rows = await conn.fetch(
                    "SELECT split_part(event_type, '.', 5) AS t, count(*) AS n FROM outbox "
                    "GROUP BY 1 ORDER BY 2 DESC, 1"
                )
            finally:
                await conn.close()
            return ", ".join(f"{r['t']} {r['n']}" for r in rows)

        return {
            "by_type": await by_type(),
            "outbox_published": await one(
                "inspections", "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
            ),
            "outbox_pending": await one(
                "inspections", "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            ),
            "notices": await one("notifications", "SELECT count(*) FROM notices"),
            "emails_delivered": await one(
                "notifications",
                "SELECT count(*) FROM deliveries WHERE channel = 'email' AND status = 'delivered'",
            ),
            "evidence": await one("exposure", "SELECT count(*) FROM evidence"),
            # now, not when step 7 printed the first: the campaign clock ran on since
            "facility_misses": await one("inspections", "SELECT count(*) FROM facility_misses"),
        }

    def summary(self, result: dict[str, Any], counts: dict[str, Any]) -> None:
        step(14, "小结", "summary")
        orders = result["orders"]
        by_status = campaign_script.count_by_status(orders)
        say(f"    活动 campaign: 津物业〔2011〕4号, 业务时间 now {result['campaign_time']}")
        say(
            f"    方案 plans: 2 份已报送 submitted, {result['plans_missing']} 个单位逾期未报 PlanOverdue"
        )
        inspections = result["inspections"]
        failed = sum(not i["passed"] for i in inspections)
        say(f"    检查 inspections: {len(inspections)} 次, {failed} 次不合格 failed")
        say(
            f"    整改单 orders: {len(orders)} 张 — "
            + ", ".join(f"{k} {v}" for k, v in sorted(by_status.items()))
            + f"; 逾期 overdue {sum(o['overdue'] for o in orders)}"
        )
        say(
            f"    投诉 complaints: 1 件经首问责任人办结 (不满意重办后满意), "
            f"{result['complaints_overdue']} 件签收逾期, 投诉集中项目安排巡查 {result['patrols']} 次"
        )
        say(
            f"    法定维保 statutory intervals: {counts['facility_misses']} 项逾期 missed "
            "(区县物业办今日待办、企业通知)"
        )
        survey = result["survey"]
        say(
            f"    满意度调查 survey: 海河花园 {survey['responses']}/{survey['households']} 户, "
            f"满意率 {survey['satisfaction_rate']:.0%}, 总体均分 {survey['means']['overall']:.2f}"
        )
        board = result["board"]
        listed = ", ".join(
            f"{name} {sum(g['grade'] == grade for g in board['grades'])}"
            for grade, name in GRADE_LISTS.items()
        )
        say(f"    公开曝光 exposed: {len(board['cases'])} 个项目; 红黑榜 grades: {listed}")
        notices = result["notices"]
        say(
            f"    通知 notices: 告知 {notices.get('notice', 0)}, 催办 {notices.get('reminder', 0)}, "
            f"通报批评 {notices.get('criticism', 0)}; "
            f"邮件 e-mails {self.mail.count()}"
        )
        say(
            f"    Kafka: outbox published {counts['outbox_published']}, pending "
            f"{counts['outbox_pending']}; events by type: {counts['by_type']}"
        )
        tokens = self.state / "tokens.txt"
        tokens.write_text(
            "\n".join(
                [
                    f"district_office 120101: {self.token(Role.DISTRICT_OFFICE, district='120101')}",
                    f"enterprise E-0001: {self.token(Role.ENTERPRISE, enterprise='E-0001')}",
                    f"city_office: {self.token(Role.CITY_OFFICE)}",
                ]
            )
            + "\n",
            encoding="utf-8",
        )
        say(f"\n    {BOLD}URLs{RESET}")
        for name, process in self.processes.items():
            say(
                f"      {TITLES[name]:<28} {process.url}/docs   (OpenAPI: {process.url}/openapi.json)"
            )
        say(f"      业主投诉页面 owners' pages      {self.processes['complaints'].url}/")
        say(f"      公开曝光台 public board          {self.processes['exposure'].url}/")
        say(f"      AsyncAPI (event catalog)     {self.processes['inspections'].url}/asyncapi.json")
        say(f"      Kafka                        {self.stack.kafka.bootstrap_servers}")
        say(f"      PostgreSQL                   {self.stack.postgres.dsn()}")
        say(f"    Tokens to try the APIs (1 h): {tokens}")
        self.sign_in_summary()
        say(f"    Logs (JSON lines): {self.state / 'logs'}/*.log")


def prepare_script_users(keycloak: Keycloak) -> StaffTokens:
    """The scripted staff's sign-in: every demo user of the realm file exists in Keycloak (a realm
    imported by an earlier version may lack a newer one) and the test client's tokens last an
    hour (tokens.txt); then a token source for them (password grant, `StaffTokens`)."""
    realm = json.loads(KEYCLOAK_REALM_FILE.read_text(encoding="utf-8"))
    base = f"/realms/{KEYCLOAK_REALM}"
    for user in realm["users"]:
        found = keycloak.admin_request(
            "GET", f"{base}/users?username={user['username']}&exact=true"
        )
        if found:
            continue
        keycloak.admin_request("POST", f"{base}/users", {k: v for k, v in user.items()
                                                          if k != "realmRoles"})  # fmt: skip
        made = keycloak.admin_request(
            "GET", f"{base}/users?username={user['username']}&exact=true"
        )[0]
        roles = [keycloak.admin_request("GET", f"{base}/roles/{r}") for r in user["realmRoles"]]
        keycloak.admin_request("POST", f"{base}/users/{made['id']}/role-mappings/realm", roles)
    client = keycloak.admin_request("GET", f"{base}/clients?clientId={SCRIPT_CLIENT}")[0]
    attributes = client.setdefault("attributes", {})
    if attributes.get("access.token.lifespan") != str(SCRIPT_TOKEN_LIFESPAN_S):
        attributes["access.token.lifespan"] = str(SCRIPT_TOKEN_LIFESPAN_S)
        keycloak.admin_request("PUT", f"{base}/clients/{client['id']}", client)
    secret = next(c for c in realm["clients"] if c["clientId"] == SCRIPT_CLIENT)["secret"]
    return StaffTokens(
        token_url=f"{keycloak.issuer}/protocol/openid-connect/token",
        client_id=SCRIPT_CLIENT,
        client_secret=str(secret),
        passwords={u["username"]: u["credentials"][0]["value"] for u in realm["users"]},
    )


def _interrupt(*_args: object) -> None:
    raise KeyboardInterrupt


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--exit-after-summary", action="store_true", help="stop everything after the summary"
    )
    parser.add_argument("--profile", default="dev", help="local stack profile (own ports and data)")
    parser.add_argument("--port-base", type=int, default=8001, help="first of four service ports")
    args = parser.parse_args()
    say(f"{BOLD}天津市物业服务监管平台 · 物业管理优质服务和宣传月 演示{RESET}")
    say(
        f"{DIM}Tianjin property-service supervision platform — campaign demo (津物业〔2011〕4号){RESET}"
    )
    runtime_logging.configure("demo", level="WARNING", fmt="console")
    demo = Demo(profile=args.profile, port_base=args.port_base)
    try:
        demo.start()
        result = asyncio.run(demo.drive())
        demo.real_speed()
        demo.summary(result, asyncio.run(demo.counts()))
        if args.exit_after_summary:
            return 0
        say(f"\n{BOLD}平台运行中,按 Ctrl-C 停止。{RESET} {DIM}Serving until Ctrl-C.{RESET}")
        # Ctrl-C and SIGTERM both end the demo cleanly, even where SIGINT was inherited as ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        while True:
            time.sleep(2)
            for process in demo.processes.values():
                if process.process is not None and process.process.poll() is not None:
                    say(f"{RED}{process.name} exited unexpectedly; restarting it{RESET}")
                    process.start()
        return 0
    except KeyboardInterrupt:
        return 0
    except Exception as exc:  # noqa: BLE001 - any failure: show the services' logs, then stop
        say(f"\n{RED}演示失败 demo failed:{RESET} {exc}")
        for process in demo.processes.values():
            say(f"--- {process.name} log tail ---\n{process.tail(15)}")
        return 1
    finally:
        demo.stop()


if __name__ == "__main__":
    sys.exit(main())
