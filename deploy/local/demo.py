"""`make demo`: the whole platform on this machine, driven through a scripted campaign slice.

1. installs what is missing and starts Kafka and PostgreSQL (deploy/local/stack.py, profile "dev");
2. creates one database per service and every topic, and a development identity provider;
3. starts the four service processes and waits until each is ready;
4. drives the campaign: a district office patrol-inspects a project and finds failures, an enterprise
   self-inspects another project and passes; then it follows the events to the notice the
   enterprise receives and to the evidence the exposure service keeps;
5. prints a summary and the URLs, then keeps serving until Ctrl-C (or exits: --exit-after-summary).

Everything it does goes through the services' public HTTP APIs with signed tokens, as a person's
browser or another agency's client would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from typing import Any

import asyncpg
import httpx

from deploy.local.processes import REPO, SERVICES, ServiceProcess
from deploy.local.stack import Stack, StackConfig
from runtime import kafka
from runtime import logging as runtime_logging
from runtime.auth import DevIssuer, Principal, Role

PORTS = {"inspections": 8001, "notifications": 8002, "exposure": 8003, "complaints": 8004}
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
    print(message, flush=True)


def step(n: int, zh: str, en: str) -> None:
    say(f"\n{BOLD}[{n}] {zh}{RESET} {DIM}{en}{RESET}")


class Demo:
    def __init__(self) -> None:
        self.stack = Stack(StackConfig.for_profile("dev"), reporter=lambda m: say(f"    {m}"))
        self.state = REPO / ".local" / "dev"
        self.processes: dict[str, ServiceProcess] = {}
        self.dsns: dict[str, str] = {}
        self.issuer: DevIssuer | None = None
        self.run_id = time.strftime("%Y%m%d-%H%M%S")

    # -- infrastructure ---------------------------------------------------------------------------

    def start(self) -> None:
        step(
            1, "启动 Kafka 与 PostgreSQL", "starting Kafka and PostgreSQL (first run fetches jars)"
        )
        self.stack.up()
        bootstrap = self.stack.kafka.bootstrap_servers
        created = asyncio.run(kafka.ensure_topics(bootstrap))
        say(
            f"    ✓ topics: {len(created)} created, {len(kafka.all_topics()) - len(created)} already there"
        )
        for name in SERVICES:
            self.dsns[name] = self.stack.postgres.create_database(f"wuye_{name}")
        say(f"    ✓ databases: {', '.join(f'wuye_{n}' for n in SERVICES)}")
        self.issuer = DevIssuer.load_or_create(self.state / "identity")
        say(f"    ✓ development identity provider: {self.issuer.issuer}")

        step(2, "启动四个服务", "starting the four services")
        for name in SERVICES:
            process = ServiceProcess(
                name=name,
                port=PORTS[name],
                env={
                    "DATABASE_URL": self.dsns[name],
                    "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
                    "AUTH_JWT_PUBLIC_KEY": self.issuer.public_key_pem,
                    "AUTH_ISSUER": self.issuer.issuer,
                    "AUTH_AUDIENCE": self.issuer.audience,
                },
                log_path=self.state / "logs" / f"{name}.log",
            )
            process.start()
            self.processes[name] = process
        for name, process in self.processes.items():
            took = process.wait_ready()
            say(f"    ✓ {TITLES[name]:<28} {process.url}  ready ({took:.1f} s)")

    def stop(self) -> None:
        say(f"\n{DIM}停止服务 stopping services…{RESET}")
        for process in self.processes.values():
            process.stop()
        self.stack.down()

    # -- the campaign -----------------------------------------------------------------------------

    def token(
        self, role: Role, *, district: str | None = None, enterprise: str | None = None
    ) -> str:
        assert self.issuer is not None
        subject = {
            Role.DISTRICT_OFFICE: "heping-officer-01",
            Role.ENTERPRISE: f"{enterprise}-staff-01",
        }
        return self.issuer.issue(
            Principal(
                subject=subject.get(role, role.value),
                role=role,
                district_code=district,
                enterprise_id=enterprise,
            )
        )

    async def drive(self) -> dict[str, Any]:
        template = json.loads(
            (
                REPO / "services/inspections/data/templates/contract-self-inspection.v1.json"
            ).read_text("utf-8")
        )
        items = [i["item_id"] for i in template["items"]]
        officer = self.token(Role.DISTRICT_OFFICE, district="120101")
        enterprise = self.token(Role.ENTERPRISE, enterprise="E-0001")
        patrol_corr = f"demo-{self.run_id}-patrol"
        self_corr = f"demo-{self.run_id}-self"
        failures = {
            "waste.daily": "3 号楼北侧垃圾桶满溢,未日产日清",
            "order.night_duty": "夜间 23:40 东门岗空岗",
            "facilities.fire": "2 号楼消防栓水压不足",
        }
        async with httpx.AsyncClient(timeout=20) as client:
            step(
                3, "和平区物业办巡查“海河花园”", "Heping district office patrol-inspects a project"
            )
            response = await client.post(
                f"{self.processes['inspections'].url}/api/v1/inspections",
                headers={"Authorization": f"Bearer {officer}", "X-Correlation-ID": patrol_corr},
                json={
                    "project_id": "P-120101-0001",
                    "kind": "patrol",
                    "template_id": "contract-self-inspection",
                    "inspected_at": "2011-08-20T09:30:00+08:00",
                    "results": [
                        {"item_id": i, "result": "fail", "note": failures[i]}
                        if i in failures
                        else {"item_id": i, "result": "pass"}
                        for i in items
                    ],
                },
            )
            response.raise_for_status()
            patrol = response.json()
            say(
                f"    {RED}✗ 不合格{RESET} 得分 score {patrol['score']:g} / 合格线 pass mark "
                f"{patrol['pass_mark']:g}; {len(failures)} 项不合格 failed items"
            )

            step(4, "津城物业对“梅江家园”自查", "an enterprise self-inspects its own project")
            response = await client.post(
                f"{self.processes['inspections'].url}/api/v1/inspections",
                headers={"Authorization": f"Bearer {enterprise}", "X-Correlation-ID": self_corr},
                json={
                    "project_id": "P-120103-0001",
                    "kind": "self",
                    "template_id": "contract-self-inspection",
                    "inspected_at": "2011-08-22T15:00:00+08:00",
                    "results": [{"item_id": i, "result": "pass"} for i in items[:-1]]
                    + [{"item_id": items[-1], "result": "na"}],
                },
            )
            response.raise_for_status()
            say(f"    {GREEN}✓ 合格{RESET} 得分 score {response.json()['score']:g}")

            step(5, "事件经 Kafka 送达通知与曝光服务", "following the events through Kafka")
            started = time.monotonic()
            notice = await self._wait_for(
                client,
                f"{self.processes['notifications'].url}/api/v1/notices",
                enterprise,
                patrol_corr,
            )
            say(f"    ✓ 通知服务 notifications: 企业收到通知 ({time.monotonic() - started:.1f} s)")
            say(f"      {BOLD}{notice['title_zh']}{RESET}")
            for line in notice["body_zh"].splitlines():
                say(f"      {line}")
            evidence = await self._wait_for(
                client,
                f"{self.processes['exposure'].url}/api/v1/evidence",
                officer,
                patrol_corr,
            )
            say(
                f"    ✓ 曝光服务 exposure: 证据已记录 evidence recorded for "
                f"{evidence['project_name']} ({len(evidence['failed_items'])} items, "
                f"{time.monotonic() - started:.1f} s)"
            )
        return {
            "patrol": patrol,
            "notice": notice,
            "evidence": evidence,
            "correlation_id": patrol_corr,
        }

    async def _wait_for(
        self, client: httpx.AsyncClient, url: str, token: str, correlation_id: str
    ) -> dict[str, Any]:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            response = await client.get(url, headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
            found = [r for r in response.json() if r["correlation_id"] == correlation_id]
            if found:
                return found[0]
            await asyncio.sleep(0.3)
        raise TimeoutError(f"nothing arrived at {url} for {correlation_id}")

    async def counts(self) -> dict[str, int]:
        async def one(service: str, sql: str) -> int:
            conn = await asyncpg.connect(self.dsns[service])
            try:
                return int(await conn.fetchval(sql))
            finally:
                await conn.close()

        return {
            "outbox_published": await one(
                "inspections", "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
            ),
            "outbox_pending": await one(
                "inspections", "SELECT count(*) FROM outbox WHERE published_at IS NULL"
            ),
            "notices": await one("notifications", "SELECT count(*) FROM notices"),
            "evidence": await one("exposure", "SELECT count(*) FROM evidence"),
        }

    def summary(self, result: dict[str, Any], counts: dict[str, int]) -> None:
        step(6, "小结", "summary")
        corr = result["correlation_id"]
        say(f"    一次巡查的旅程 (correlation id {corr}):")
        say(
            "      inspections  ──InspectionCompleted + InspectionFailed──▶  outbox ──relay──▶  Kafka "
            "wuye.inspections.events"
        )
        say("      Kafka  ──▶  notifications: 1 notice to 津城物业服务有限公司")
        say(f"      Kafka  ──▶  exposure: 1 evidence record ({result['evidence']['project_name']})")
        say(
            f"    累计 totals: outbox published {counts['outbox_published']}, pending "
            f"{counts['outbox_pending']}, notices {counts['notices']}, evidence {counts['evidence']}"
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
        say(f"      AsyncAPI (event catalog)     {self.processes['inspections'].url}/asyncapi.json")
        say(f"      Kafka                        {self.stack.kafka.bootstrap_servers}")
        say(f"      PostgreSQL                   {self.stack.postgres.dsn()}")
        say(f"    Tokens to try the APIs (1 h): {tokens}")
        say(
            f"    Logs (JSON lines): {self.state / 'logs'}/*.log — grep {corr} to follow this inspection"
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
    args = parser.parse_args()
    say(f"{BOLD}天津市物业服务监管平台 · 物业管理优质服务和宣传月 演示{RESET}")
    say(
        f"{DIM}Tianjin property-service supervision platform — campaign demo (津物业〔2011〕4号){RESET}"
    )
    runtime_logging.configure("demo", level="WARNING", fmt="console")
    demo = Demo()
    try:
        demo.start()
        result = asyncio.run(demo.drive())
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
