"""The owners' form with photos in a real headless Chromium (issue 15): a photo taken from the
file input (`set_input_files`) is filed with the complaint and shown on the status page; a
script renamed .jpg is refused with the typed text kept. Screenshots of the form at 1280 and
390 px go to SCREENSHOTS (docs/workspace/ under `make screenshots`)."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from tests import images
from tests.browser.conftest import PROJECTS, SCREENSHOTS, wait_until

pytestmark = pytest.mark.integration
SHOTS = SCREENSHOTS


def _details(page: Page) -> None:
    page.goto("/")
    page.get_by_label("项目（小区）：按名称或地址搜索").fill("南京路")  # by address
    page.get_by_role("button", name="搜索", exact=True).click()
    page.locator(f"input[name='project_id'][value='{PROJECTS[0][0]}']").check()
    page.get_by_label("其他", exact=True).check()
    page.get_by_role("button", name="下一步：填写详情").click()
    expect(page.get_by_text("第 2 步（共 2 步）")).to_be_visible()


def _photo(name: str, data: bytes, kind: str = "image/jpeg") -> dict[str, object]:
    return {"name": name, "mimeType": kind, "buffer": data}


@pytest.mark.parametrize("width", [1280, 390])
def test_the_form_offers_the_camera(context: BrowserContext, width: int) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    _details(page)
    upload = page.get_by_label("照片（选填）")
    expect(upload).to_have_attribute("type", "file")
    expect(upload).to_have_attribute("accept", "image/*")
    expect(upload).to_have_attribute("capture", "environment")
    expect(upload).to_have_attribute("multiple", "")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_label("投诉内容").fill("2 号楼电梯按钮失灵,已拍照。")
    page.screenshot(path=str(SHOTS / f"owner-form-photos-{width}.png"), full_page=True)


def test_an_owner_files_a_photo_and_sees_it_on_the_status_page(context: BrowserContext) -> None:
    page = context.new_page()
    _details(page)
    page.get_by_label("投诉内容").fill("2 号楼电梯按钮失灵,已拍照。")
    page.get_by_label("匿名投诉（不留联系方式）").check()
    page.get_by_label("照片（选填）").set_input_files(
        [_photo("IMG_2001.jpg", images.jpeg((1600, 1200), gps=True))]  # type: ignore[list-item]
    )
    page.get_by_role("button", name="提交投诉").click()
    expect(page.get_by_role("heading", name="投诉已提交")).to_be_visible()
    ticket = page.locator("#ticket-no").inner_text()
    token = page.locator("#token").inner_text()

    page.goto("/track")
    page.get_by_label("投诉编号").fill(ticket)
    page.get_by_label("查询凭证").fill(token)
    page.get_by_role("button", name="查询").click()
    photo = page.locator("#photos img")
    expect(photo).to_have_count(1)
    expect(photo).to_have_attribute("alt", "照片 1")
    wait_until(page, "document.querySelector('#photos img').naturalWidth > 0")
    assert photo.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [320, 240]
    page.set_viewport_size({"width": 390, "height": 900})
    page.screenshot(path=str(SHOTS / "owner-status-photos-390.png"), full_page=True)


def test_a_script_renamed_jpg_is_refused_and_the_text_kept(context: BrowserContext) -> None:
    page = context.new_page()
    _details(page)
    page.get_by_label("投诉内容").fill("垃圾桶满了三天没人清理。")
    page.get_by_label("照片（选填）").set_input_files(
        [_photo("holiday.jpg", images.SCRIPT)]  # type: ignore[list-item]
    )
    page.get_by_role("button", name="提交投诉").click()
    expect(page.locator("#photos-error")).to_contain_text("不是照片")
    expect(page.get_by_role("alert")).to_contain_text("照片需要重新选择")
    expect(page.get_by_label("投诉内容")).to_have_value("垃圾桶满了三天没人清理。")
    page.set_viewport_size({"width": 390, "height": 900})
    page.screenshot(path=str(SHOTS / "owner-form-photo-refused-390.png"), full_page=True)
