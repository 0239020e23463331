"""Owner web pages in a real headless Chromium against the complaints service process: the
two-step filing form, field errors kept with the input, escaping, tracking and rating a reply,
English, the survey, and the rate limit's 429 page."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Dialog, Page, expect

from runtime.auth import Principal, Role
from tests.browser.conftest import PROJECTS, RATE_LIMIT_BURST, SCREENSHOTS, Site

pytestmark = pytest.mark.integration
SCREENSHOT = "/tmp/owner-form.png"  # noqa: S108 - the brief's fixed path, looked at by a person


SEARCH = "项目（小区）：按名称或地址搜索"


def _find(page: Page, text: str) -> None:
    page.get_by_label(SEARCH).fill(text)
    page.get_by_role("button", name="搜索", exact=True).click()
    expect(page.get_by_label(SEARCH)).to_have_value(text)


def _choose(page: Page, category_label: str) -> None:
    page.goto("/")
    _find(page, "海河")
    page.locator(f"input[name='project_id'][value='{PROJECTS[0][0]}']").check()
    page.get_by_label(category_label).check()
    page.get_by_role("button", name="下一步：填写详情").click()


def _file_water(page: Page, description: str) -> tuple[str, str]:
    _choose(page, "供水")
    page.locator("#answer-problem-low_pressure").check()
    page.get_by_label("投诉内容").fill(description)
    page.get_by_label("姓名").fill("张三")
    page.get_by_label("电话").fill("13812345678")
    page.get_by_role("button", name="提交投诉").click()
    expect(page.get_by_role("heading", name="投诉已提交")).to_be_visible()
    return page.locator("#ticket-no").inner_text(), page.locator("#token").inner_text()


def test_file_a_complaint_in_two_steps(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_label(SEARCH)).to_be_visible()
    expect(page.get_by_role("group", name="投诉类别")).to_be_visible()
    _choose(page, "供水")
    expect(page.get_by_text("第 2 步（共 2 步）")).to_be_visible()
    expect(
        page.get_by_role("group", name="问题", exact=True)
    ).to_be_visible()  # the category's question
    expect(page.get_by_label("投诉内容")).to_be_visible()
    page.screenshot(path=SCREENSHOT, full_page=True)
    ticket, token = _file_water(page, "3 号楼水压很低,已经持续一周,高层几乎没有水。")
    assert re.fullmatch(r"TS-\d{8}-\d{6}", ticket)
    assert len(token) >= 32
    expect(page.get_by_text("凭证只显示这一次")).to_be_visible()
    assert "13812345678" not in page.content()  # contact details never on public pages


def test_find_the_project_by_name_or_address_without_javascript(
    browser: Browser, site: Site
) -> None:
    context = browser.new_context(base_url=site.url, locale="zh-CN", java_script_enabled=False)
    page = context.new_page()
    page.goto("/")
    expect(page.locator("select")).to_have_count(0)  # no list of every project in the city
    page.get_by_role("button", name="下一步：填写详情").click()
    expect(page.get_by_role("alert")).to_contain_text("请先搜索并选择所投诉的项目")
    _find(page, "十一经路")  # by address
    choice = page.locator(f"input[name='project_id'][value='{PROJECTS[1][0]}']")
    expect(choice).to_be_checked()  # the only one found is chosen
    label = page.locator(f"label[for='{choice.get_attribute('id')}']").inner_text()
    assert label.count("河东区") == 1  # the district once, not repeated
    for width in (1280, 390):  # the search step on a desk and on a phone
        page.set_viewport_size({"width": width, "height": 844})
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"owner-form-search-{width}.png"))
        assert page.evaluate("document.documentElement.scrollWidth") <= width
    _find(page, "不存在的小区")
    expect(page.locator("#no-projects")).to_contain_text("没有找到名称或地址含“不存在的小区”的项目")
    _find(page, "海河")  # by name
    page.locator(f"input[name='project_id'][value='{PROJECTS[0][0]}']").check()
    page.get_by_label("供水").check()
    page.get_by_role("button", name="下一步：填写详情").click()
    expect(page.get_by_text("第 2 步（共 2 步）")).to_be_visible()
    expect(page.locator("dl")).to_contain_text("海河花园（天津市和平区南京路 100 号）")
    context.close()


def test_errors_are_shown_per_field_in_chinese_and_input_is_kept(context: BrowserContext) -> None:
    page = context.new_page()
    _choose(page, "安全隐患")
    page.get_by_label("具体位置（选填）").fill("5 号楼楼道")
    page.get_by_label("电话").fill("12345")
    page.get_by_role("button", name="提交投诉").click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("请修正以下问题")
    expect(summary).to_contain_text("请填写投诉内容")
    expect(summary).to_contain_text("请回答：隐患类型")
    described = page.get_by_label("投诉内容").get_attribute("aria-describedby") or ""
    assert "description-error" in described
    expect(page.locator("#description-error")).to_contain_text("请填写投诉内容")
    expect(page.get_by_label("具体位置（选填）")).to_have_value("5 号楼楼道")
    expect(page.get_by_label("电话")).to_have_value("12345")

    # the domain's own check (phone format) after the required fields are there
    page.locator("input[name='answer-hazard'][value='fire']").check()
    page.locator("#answer-people_at_risk-no").check()
    page.get_by_label("投诉内容").fill("楼道堆满杂物,消防通道被堵。")
    page.get_by_role("button", name="提交投诉").click()
    expect(page.locator("#contact_phone-error")).to_contain_text("电话号码格式不正确")
    expect(page.get_by_label("投诉内容")).to_have_value("楼道堆满杂物,消防通道被堵。")
    expect(page.locator("input[name='answer-hazard'][value='fire']")).to_be_checked()


def test_script_in_the_description_is_refused_and_never_runs(context: BrowserContext) -> None:
    dialogs: list[str] = []
    page = context.new_page()

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    _choose(page, "供水")
    page.locator("#answer-problem-leak").check()
    attack = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    page.get_by_label("投诉内容").fill(attack)
    page.get_by_role("button", name="提交投诉").click()
    expect(page.locator("#description-error")).to_be_visible()
    expect(page.get_by_label("投诉内容")).to_have_value(attack)  # kept, as text
    assert page.locator("script").count() == 0
    assert page.locator("img").count() == 0
    page.wait_for_timeout(300)
    assert dialogs == []


def test_track_and_rate_the_reply(context: BrowserContext, site: Site) -> None:
    page = context.new_page()
    ticket, token = _file_water(page, "小区整体停水,没有任何通知。")

    page.goto("/track")
    page.get_by_label("投诉编号").fill(ticket)
    page.get_by_label("查询凭证").fill("wrong-" + token)
    page.get_by_role("button", name="查询").click()
    expect(page.get_by_role("alert")).to_contain_text("不匹配")
    expect(page.get_by_label("投诉编号")).to_have_value(ticket)

    page.get_by_label("查询凭证").fill(token)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#status")).to_have_text("已提交，待物业企业签收")  # nobody accepted it yet
    page.goto("/track")
    page.get_by_label("投诉编号").fill(ticket)
    _reply(site, ticket, token, "已联系供水公司抢修,今晚恢复供水。<b>谢谢</b>")
    page.get_by_label("查询凭证").fill(token)
    page.get_by_role("button", name="查询").click()
    assert token not in page.url
    expect(page.locator("#status")).to_have_text("已答复，请您评价")
    expect(page.locator(".timeline")).to_contain_text("已联系供水公司抢修")
    page.get_by_role("button", name="提交评价").click()
    expect(page.get_by_role("alert")).to_contain_text("请选择是否满意")
    page.get_by_label("满意", exact=True).check()
    page.get_by_role("group", name=re.compile("评分")).get_by_label("5").check()
    page.get_by_label("意见（选填）").fill("处理及时")
    page.get_by_role("button", name="提交评价").click()
    expect(page.locator("#status")).to_have_text("已办结")
    expect(page.locator(".timeline")).to_contain_text("处理及时")


def _reply(site: Site, ticket: str, token: str, text: str) -> None:
    """Enterprise staff accept and reply through the JSON API."""
    with httpx.Client(base_url=site.url, timeout=10) as http:
        owner = http.get("/api/v1/complaints/by-token", headers={"X-Complaint-Token": token})
        assert owner.json()["ticket_no"] == ticket
        complaint_id = owner.json()["complaint_id"]
        staff = site.issuer.issue(Principal("staff-1", Role.ENTERPRISE, enterprise_id="ent-1"))
        auth = {"Authorization": f"Bearer {staff}"}
        accepted = http.post(f"/api/v1/complaints/{complaint_id}/accept", headers=auth)
        assert accepted.status_code == 200, accepted.text
        replied = http.post(
            f"/api/v1/complaints/{complaint_id}/reply", headers=auth, json={"text": text}
        )
        assert replied.status_code in (200, 422), replied.text
        if replied.status_code == 422:  # HTML-looking replies are refused by the domain
            plain = text.replace("<b>", "").replace("</b>", "")
            replied = http.post(
                f"/api/v1/complaints/{complaint_id}/reply", headers=auth, json={"text": plain}
            )
            assert replied.status_code == 200, replied.text


def test_english_version(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.get_by_label("Project (estate): search by name or address").fill("河东新苑")
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.get_by_role("group", name="Choose the project")).to_be_visible()
    page.locator(f"input[name='project_id'][value='{PROJECTS[1][0]}']").check()
    page.get_by_label("Gas").check()
    page.get_by_role("button", name="Next: details").click()
    page.get_by_role("button", name="Submit the complaint").click()
    expect(page.get_by_role("alert")).to_contain_text("Describe the problem")
    expect(page.get_by_role("alert")).to_contain_text("Please answer: Can you smell gas")
    expect(page.get_by_role("link", name="中文")).to_be_visible()


def test_survey_is_answered_once(context: BrowserContext, survey_tokens: list[str]) -> None:
    page = context.new_page()
    page.goto("/survey")
    page.get_by_label("问卷凭证").fill(survey_tokens[0])
    page.get_by_role("button", name="开始答题").click()
    groups = page.locator("fieldset")
    assert groups.count() >= 2
    page.get_by_role("button", name="提交问卷").click()
    expect(page.get_by_role("alert")).to_contain_text("总体满意度")
    for i in range(groups.count()):
        groups.nth(i).get_by_label("4").check()
    page.get_by_role("button", name="提交问卷").click()
    expect(page.get_by_role("heading", name="感谢您的参与")).to_be_visible()

    page.goto("/survey")
    page.get_by_label("问卷凭证").fill(survey_tokens[0])
    page.get_by_role("button", name="开始答题").click()
    expect(page.get_by_role("heading", name="无法再次作答")).to_be_visible()


def test_quick_posts_get_the_429_page(context: BrowserContext) -> None:
    page = context.new_page()
    page.goto("/track")
    statuses = []
    for _ in range(RATE_LIMIT_BURST + 1):
        with page.expect_response(lambda r: r.request.method == "POST") as answer:
            page.get_by_role("button", name="查询").click()
        statuses.append(answer.value.status)
        if answer.value.status == 429:
            break
        page.goto("/track")
    assert statuses == [422] * RATE_LIMIT_BURST + [429]
    assert int(answer.value.headers["retry-after"]) >= 1
    expect(page.get_by_role("heading", name="请求过于频繁")).to_be_visible()


def test_form_without_the_csrf_cookie_is_refused(site: Site) -> None:
    with httpx.Client(base_url=site.url, timeout=10) as http:
        refused = http.post(
            "/track",
            data={"ticket_no": "TS-1", "token": "x" * 40, "csrf_token": "y" * 43},
            headers={"X-Forwarded-For": "10.255.0.1"},
        )
        assert refused.status_code == 403
        assert "页面已过期" in refused.text
        assert "script-src" not in refused.headers["content-security-policy"]
        assert "style-src 'self'" in refused.headers["content-security-policy"]


def test_owner_pages_fit_a_phone_without_sideways_scrolling(browser: Browser, site: Site) -> None:
    context = browser.new_context(
        base_url=site.url, locale="zh-CN", viewport={"width": 390, "height": 844}
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    ticket, token = _file_water(page, "5 号楼水压很低，高层几乎没有水。")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the filed page
    page.goto("/track")
    page.get_by_label("投诉编号").fill(ticket)
    page.get_by_label("查询凭证").fill(token)
    page.get_by_role("button", name="查询").click()
    expect(page.locator("#status")).to_have_text("已提交，待物业企业签收")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # the status page
    for path in ("/", "/?lang=en", "/track", "/survey"):
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    context.close()
