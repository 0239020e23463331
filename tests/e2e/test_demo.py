"""`make demo` end to end, as a newcomer would run it (own stack profile and ports, exits after
the summary), so a change that breaks the demo fails the suite."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from deploy.local.processes import free_port_block

pytestmark = [pytest.mark.integration, pytest.mark.e2e]
REPO = Path(__file__).resolve().parents[2]


def test_the_demo_plays_the_campaign_and_prints_the_summary() -> None:
    base = free_port_block(4)  # the demo's four services take base .. base+3
    result = subprocess.run(
        [
            sys.executable, "-m", "deploy.local.demo", "--exit-after-summary",
            "--profile", "demotest", "--port-base", str(base),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-2000:]
    assert "4 个单位逾期未报 PlanOverdue" in out
    assert "整改不到位 1" in out
    assert "验收合格 1" in out
    assert "逾期 overdue 2" in out
    assert "pending 0" in out
    # the notices reached the notifications service; one criticism is rendered in full, and the
    # notices went out as e-mail through a real SMTP server
    assert "整改不到位的通报批评(和平区物业通〔2011〕1号)" in out
    assert "│ 主送:津城物业服务有限公司" in out
    assert re.search(r"通报批评 criticism: [1-9][0-9]* 份", out)
    assert re.search(r"e-mails accepted by the SMTP catcher: [1-9][0-9]*", out)
    # the board published the late and the inadequate rectification, and prints its URL
    assert "公开曝光 exposed: 2 个项目" in out
    assert "整改不到位 · 和平区物业通〔2011〕1号 · 曝光中" in out
    assert re.search(r"公开曝光台 public board +http://127\.0\.0\.1:[0-9]+/", out)
    assert "业主满意 satisfied → 已办结" in out  # complaint closed after a reopening
    assert "1 件签收逾期" in out
    assert "投诉集中项目安排巡查 1 次" in out
    assert "满意度调查 survey: 海河花园 12/20 户, 满意率 75%" in out
