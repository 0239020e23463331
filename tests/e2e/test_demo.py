"""`make demo` end to end, as a newcomer would run it (own stack profile and ports), so a change
that breaks the demo fails the suite. It keeps serving after the summary, as `make demo` does: a
person exploring it afterwards must find campaign time running at real speed and filing working."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy.local.processes import free_port_block
from runtime.auth import DevIssuer, Principal, Role

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
REPO = Path(__file__).resolve().parents[2]
# Its own stack profile: beside a developer's `dev` and beside another worktree's run of this
# test (WUYE_STACK_PROFILE names the worktree's stack).
PROFILE = os.environ.get("WUYE_DEMO_PROFILE") or (
    f"{os.environ['WUYE_STACK_PROFILE']}-demo"
    if os.environ.get("WUYE_STACK_PROFILE")
    else "demotest"
)
SERVING = "Serving until Ctrl-C."


def _wait_for(out: Path, demo: subprocess.Popen[bytes], marker: str, timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = out.read_text("utf-8", errors="replace") if out.exists() else ""
        if marker in text or demo.poll() is not None:
            return text
        time.sleep(1)
    return out.read_text("utf-8", errors="replace")


def _file(client: httpx.Client, url: str, token: str, n: int) -> dict[str, Any]:
    """File a complaint as an owner and read back when (in campaign time) it was filed."""
    body = {"project_id": "P-120101-0001", "category": "other", "description": f"演示后投诉 {n}"}
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(3):
        made = client.post(f"{url}/api/v1/complaints", json=body, headers=headers)
        if made.status_code != 429:
            break
        time.sleep(float(made.headers.get("Retry-After", "10")))
    assert made.status_code == 201, made.text
    follow = {"X-Complaint-Token": made.json()["token"]}
    seen = client.get(f"{url}/api/v1/complaints/by-token", headers=follow)
    assert seen.status_code == 200, seen.text
    data: dict[str, Any] = seen.json()
    return data


# Keycloak's first start on a fresh profile took 192 s on the loaded 2-core machine (import
# included; 20-32 s warm), on top of the campaign and the minute of filing afterwards.
@pytest.mark.timeout(720)
def test_the_demo_plays_the_campaign_then_keeps_a_working_platform(tmp_path: Path) -> None:
    base = free_port_block(4)  # the demo's four services take base .. base+3
    out = tmp_path / "demo.out"
    with out.open("wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "deploy.local.demo", "--profile", PROFILE,
             "--port-base", str(base)],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        text = _wait_for(out, demo, SERVING, timeout_s=540)
        assert SERVING in text, text[-4000:]
        assert "业务时间恢复正常速度" in text
        complaints = f"http://127.0.0.1:{base + 3}"
        issuer = DevIssuer.load_or_create(REPO / ".local" / PROFILE / "identity")
        owner = issuer.issue(Principal("owner-after-the-demo", Role.OWNER))
        with httpx.Client(timeout=20) as client:
            first = _file(client, complaints, owner, 1)
            wall_first = time.monotonic()
            time.sleep(10)
            second = _file(client, complaints, owner, 2)
            wall_second = time.monotonic()
            # Two readings of campaign time: it advanced as much as the wall clock (at the
            # campaign's twelve hours a second it would be five days).
            campaign = (
                datetime.fromisoformat(second["filed_at"])
                - datetime.fromisoformat(first["filed_at"])
            ).total_seconds()
            assert abs(campaign - (wall_second - wall_first)) < 5, (first, second)
            assert datetime.fromisoformat(first["filed_at"]).year == 2011
            time.sleep(20)  # some time later, filing still works, still in the campaign's year
            later = _file(client, complaints, owner, 3)
            assert datetime.fromisoformat(later["filed_at"]).year == 2011
            assert later["status"] == "filed"
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGTERM)  # the demo stops its services and the stack
            try:
                demo.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(demo.pid, signal.SIGKILL)
                demo.wait()
    out_text = out.read_text("utf-8", errors="replace")
    # the scripted staff signed in at Keycloak; the summary says where each role starts
    assert "scripted staff sign in at Keycloak" in out_text
    assert re.search(
        rf"hp-inspector .*\n +→ http://127\.0\.0\.1:{base}/workspace/inspections/", out_text
    )
    assert f"http://127.0.0.1:{base + 1}/workspace/notifications/" in out_text
    assert "nk-inspector" in out_text
    assert "4 个单位逾期未报 PlanOverdue" in out_text
    assert "整改不到位 1" in out_text
    assert "验收合格 1" in out_text
    assert "逾期 overdue 2" in out_text
    assert "pending 0" in out_text
    # the notices reached the notifications service; one criticism is rendered in full, and the
    # notices went out as e-mail through a real SMTP server
    assert "整改不到位的通报批评（和平区物业通〔2011〕1号）" in out_text
    assert "│ 主送：津城物业服务有限公司" in out_text
    assert re.search(r"通报批评 criticism: [1-9][0-9]* 份", out_text)
    assert re.search(r"e-mails accepted by the SMTP catcher: [1-9][0-9]*", out_text)
    # the board published the late and the inadequate rectification, and prints its URL
    assert "公开曝光 exposed: 2 个项目" in out_text
    assert "整改不到位 · 和平区物业通〔2011〕1号 · 曝光中" in out_text
    assert re.search(r"公开曝光台 public board +http://127\.0\.0\.1:[0-9]+/", out_text)
    assert "业主满意 satisfied → 已办结" in out_text  # complaint closed after a reopening
    assert "1 件签收逾期" in out_text
    assert "投诉集中项目安排巡查 1 次" in out_text
    assert "满意度调查 survey: 海河花园 12/20 户, 满意率 75%" in out_text
