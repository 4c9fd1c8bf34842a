"""Patrol checkpoints on a phone, end to end: a real server and database, headless Chromium at 390×844 with touch.
A staff member scans a checkpoint's QR code (opens its URL) before logging in, comes back to the scan after
login, lands on the patrol form with the checkpoint's area chosen, scans a second checkpoint of the area (the
same patrol), submits, and the supervisor's board shows the route as 部分. Screenshots: test-output/qr-*.png."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.browser import have_chromium
from tests.formserver.app.test_e2e import CHECKS, Server, browser, phones, served, tap_option  # noqa: F401
from tests.server_support import PASSWORD
from tests.sitebuild import output_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_chromium(), reason="needs Debian chromium and poppler-utils (make install)"),
]

F1 = "一层大堂及总服务台"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    users = {"zhang": {"display_name": "张三"}, "li": {"role": "supervisor", "display_name": "李主管"}}
    with served(tmp_path_factory.mktemp("qr-e2e"), users) as server:
        yield server


def shot(page, name: str, full_page: bool = False) -> None:
    page.screenshot(path=output_dir() / f"qr-{name}.png", full_page=full_page)


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"{page.url} is {width}px wide on a 390px phone: it scrolls sideways"


def sign_in(page, username: str) -> None:
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button.primary").tap()


def test_scanning_two_checkpoints_makes_one_patrol_and_the_board_shows_the_route(server, phones):  # noqa: F811
    from playwright.sync_api import expect

    _, page, _watch = phones()
    page.goto(server.url + "/qr/f1-desk")  # what the phone's camera opens
    assert "/login" in page.url
    sign_in(page, "zhang")
    page.wait_for_url(re.compile(r".*/forms/patrol\?patrol="))
    expect(page.locator("input[name=area][value='" + F1 + "']")).to_be_checked()
    expect(page.locator("body")).to_contain_text("已记录到达 总服务台")
    uid = page.locator("input[name=submission_id]").input_value()
    fits(page)
    shot(page, "after-first-scan")

    page.goto(server.url + "/qr/f1-east-gate")  # the next checkpoint on the route
    page.wait_for_url(re.compile(r".*/forms/patrol\?(patrol|draft)="))
    assert page.locator("input[name=submission_id]").input_value() == uid
    expect(page.locator("#checkpoint-visit")).to_contain_text("部分 2/3")
    expect(page.locator("input[name=area][value='" + F1 + "']")).to_be_checked()
    for item in CHECKS:
        tap_option(page, item, "ok")
    tap_option(page, "suspicious_person", "no")
    tap_option(page, "construction_issue", "no")
    page.locator("input[name=inspector_sign]").fill("张三")
    page.locator("button[type=submit]").tap()
    page.wait_for_url(re.compile(rf".*/records/{uid}.*"))
    visit = page.locator("#checkpoint-visit")
    expect(visit).to_contain_text("部分 2/3")
    expect(visit).to_contain_text("总服务台")
    expect(visit).to_contain_text("东门入口")
    expect(visit.locator(".is-missing")).to_contain_text("电梯厅")
    shot(page, "record", full_page=True)

    _, boss, _ = phones()
    boss.goto(server.url + "/board/")
    sign_in(boss, "li")
    boss.wait_for_url(server.url + "/board/")  # back where the login interrupted
    route = boss.locator("#patrol-routes .route", has_text=F1)
    expect(route.locator(".badge")).to_have_text("部分")
    expect(route.locator(".route-count")).to_have_text("2/3")
    expect(boss.locator("#patrol-routes .route", has_text="样板间及销售中心").locator(".badge")).to_have_text("未巡")
    fits(boss)
    boss.locator("#patrol-routes").scroll_into_view_if_needed()
    shot(boss, "board")
    shot(boss, "board-full", full_page=True)
