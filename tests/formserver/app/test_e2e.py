"""The form server on a phone, end to end: a real server and database, headless Chromium at 390×844 with touch.

The server is `create_app` on a fresh SQLite file, served by werkzeug's threaded server in a background
thread of this process (not gunicorn): it starts in milliseconds on a free port, the test can count rows in
the same database to prove a double tap made one record, and a server traceback lands in pytest's log. It is
still real HTTP with concurrent requests; gunicorn's worker model is not what these tests are about.

Every page is watched: a request to anything but 127.0.0.1, a console error (CSP violations are reported
there) or an uncaught script error fails the test. Screenshots go to test-output/server-*.png.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import struct
import subprocess
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from tests.browser import have_chromium, launch
from tests.sitebuild import built_site, output_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_chromium(), reason="needs Debian chromium and poppler-utils (make install)"),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN", "timezone_id": "Asia/Shanghai"}
CHECKS = ["showroom", "greenery", "cleanliness", "no_open_flame", "corridor", "stairs", "elevator", "fire_exit",
          "boundary_wall", "shop_doors", "windows", "cctv"]
NOTE = "B1 东侧监控黑屏,已报工程部"
OFFLINE_TEXT = "断网时补记:3 号电梯口有纸箱"
WAIT = 10_000


def png(width: int = 64, height: int = 48) -> bytes:
    """A small real PNG (a red-to-blue gradient), so the browser has a picture to decode."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\0" + bytes(c for x in range(width) for c in (255 - x * 3, 60, x * 3)) for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@dataclass
class Server:
    url: str
    app: Flask

    def count(self, form_id: str) -> int:
        from formserver.db.models import Submission

        with self.app.extensions["db_sessions"]() as session:
            return session.scalar(select(func.count()).select_from(Submission).where(Submission.form_id == form_id))


@contextmanager
def served(instance: Path, users: dict[str, dict[str, str]], **config: Any) -> Iterator[Server]:
    """The real app on a fresh SQLite database in `instance`, with `users` (username → create_user options)
    made through the real CLI, served on a free port of 127.0.0.1 for a browser; `config` overrides."""
    from formserver import create_app
    from tests.server_support import ROOT, TYPED_SIGNATURES, create_user

    app = create_app({"DATABASE_URL": f"sqlite:///{instance / 'forms.sqlite3'}", "SECRET_KEY": "e2e-secret",
                      "HANDBOOK_ROOT": str(ROOT), "HANDBOOK_SITE": str(instance / "site"), **TYPED_SIGNATURES,
                      **config})
    for username, options in users.items():
        create_user(app, username, **options)
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_port}", app)
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    users = {"zhang": {"display_name": "张三"}, "li": {"role": "supervisor", "display_name": "李主管"}}
    with served(tmp_path_factory.mktemp("e2e-server"), users, HANDBOOK_SITE=str(built_site()[0])) as server:
        yield server


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = launch(p)
        yield browser
        browser.close()


@dataclass
class Watch:
    """What went wrong on a phone's pages; checked when the test ends."""
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    offline: bool = False  # while set, failed loads caused by the lost connection are expected

    def take(self, *parts: str) -> None:
        """An error the test caused on purpose (e.g. a refused form comes back with status 400): removed,
        and it must have happened exactly once."""
        found = [e for e in self.errors if all(p in e for p in parts)]
        assert len(found) == 1, self.errors
        self.errors.remove(found[0])

    def console(self, message) -> None:
        if message.type != "error":
            return
        if self.offline and "ERR_INTERNET_DISCONNECTED" in message.text:
            return
        self.errors.append(f"{message.text} ({message.location.get('url')})")


@pytest.fixture
def phones(browser):
    """`phones()` opens a new phone (browser context + page) that only talks to 127.0.0.1."""
    opened = []

    def open_phone():
        context = browser.new_context(**PHONE, accept_downloads=True)
        watch = Watch()

        def only_loopback(route):
            url = urlparse(route.request.url)
            if url.hostname == "127.0.0.1" or url.scheme not in ("http", "https", "ws", "wss"):
                route.continue_()
            else:
                watch.outside.append(route.request.url)
                route.abort()

        context.route("**/*", only_loopback)
        context.add_init_script("document.addEventListener('securitypolicyviolation', e => "
                                "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI))")
        context.on("page", lambda page: watch_page(page, watch))
        page = context.new_page()
        opened.append((context, watch))
        return context, page, watch

    yield open_phone
    for context, watch in opened:
        context.close()
        assert watch.outside == [], "requests left this machine"
        assert watch.errors == [], "console errors or CSP violations"


def watch_page(page, watch: Watch) -> None:
    page.set_default_timeout(WAIT)
    page.on("console", watch.console)
    page.on("pageerror", lambda error: watch.errors.append(f"uncaught: {error}"))


def shot(page, name: str, full_page: bool = False) -> None:
    page.screenshot(path=output_dir() / f"server-{name}.png", full_page=full_page)


def log_in(page, server: Server, username: str) -> None:
    from tests.server_support import PASSWORD

    page.goto(server.url + "/")
    assert "/login" in page.url
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button.primary").tap()
    page.wait_for_url(server.url + "/")


def open_new_patrol(page) -> None:
    page.locator("a.tile:not(.draft)", has_text="巡查检查表").tap()
    page.wait_for_url("**/forms/patrol")
    page.locator("form.record-form").wait_for()


def tap_option(page, name: str, value: str) -> None:
    """Tap one big segmented button (a label wrapping a hidden radio input)."""
    page.locator(f"label.opt:has(input[name={name}][value='{value}'])").tap()
    assert page.locator(f"input[name={name}][value='{value}']").is_checked()


def fill_patrol_except(page, server: Server, skip: str = "") -> None:
    area = server.app.extensions["catalogue"].forms["patrol"]
    area = next(i for i in area.header if i.id == "area").options[0]
    tap_option(page, "area", area)
    for item in CHECKS:
        if item != skip:
            tap_option(page, item, "ok")
    tap_option(page, "suspicious_person", "no")
    tap_option(page, "construction_issue", "no")
    page.locator("input[name=inspector_sign]").fill("张三")


def status(page):
    return page.locator(".draft-status")


def test_patrol_on_a_phone_offline_and_reviewed(server, phones):
    from playwright.sync_api import expect

    context, page, watch = phones()
    log_in(page, server, "zhang")
    cat = server.app.extensions["catalogue"]
    days, shifts = {dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()}, {cat.current_shift().name}
    open_new_patrol(page)
    days.add(dt.datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat())  # the page may open at midnight
    shifts.add(cat.current_shift().name)  # or as a shift changes

    # The header is filled in by the server: today, the current shift, the person logged in.
    assert page.locator("input[name=date]").input_value() in days
    assert page.locator("input[name=shift]:checked").get_attribute("value") in shifts
    assert page.locator("input[name=inspector]").input_value() == "张三"
    assert page.locator("input[name=patrol_time]").input_value()
    shot(page, "1-form-top")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the form is {width}px wide on a 390px phone: it scrolls sideways"

    # Tap through the items; one is a fault: its note and photo area appear.
    fill_patrol_except(page, server, skip="cctv")
    cctv = page.locator("#item-cctv")
    extra = cctv.locator(".fault-extra")
    expect(extra).to_be_hidden()
    tap_option(page, "cctv", "fault")
    expect(extra).to_be_visible()
    cctv.locator("[name=cctv_note]").fill(NOTE)
    cctv.locator("input[type=file]").set_input_files(
        files=[{"name": "cctv.png", "mimeType": "image/png", "buffer": png()}])
    thumb = cctv.locator(".thumb img")
    expect(thumb).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())
    expect(cctv.locator(".photo-status")).to_have_text("照片已上传")
    expect(status(page)).to_contain_text("草稿已保存", timeout=WAIT)
    cctv.scroll_into_view_if_needed()
    shot(page, "2-failed-item-with-photo")

    # The connection drops: what is typed now is kept on the phone.
    watch.offline = True
    context.set_offline(True)
    findings = page.locator("textarea[name=findings]")
    findings.tap()
    findings.press_sequentially(OFFLINE_TEXT, delay=5)
    expect(status(page)).to_contain_text("内容已保存在本机", timeout=WAIT)
    expect(status(page)).to_have_class(re.compile(r"\boffline\b"))
    shot(page, "3-offline-status")
    uid = page.locator("form.record-form").get_attribute("data-uid")
    # The phone is locked and the tab dies before the connection comes back.
    page.close()
    context.set_offline(False)
    watch.offline = False

    # Later, back online: the draft tile on the home page reopens the form with everything, including
    # what the server never received (restored from this phone's copy).
    page = context.new_page()
    page.goto(server.url + "/")
    shot(page, "3b-home-with-draft")
    page.locator("a.tile.draft", has_text="巡查检查表").tap()
    page.wait_for_url(f"**/forms/patrol?draft={uid}")
    expect(status(page)).to_contain_text("已恢复本机保存的草稿")
    assert page.locator("textarea[name=findings]").input_value() == OFFLINE_TEXT
    assert page.locator("input[name=cctv][value=fault]").is_checked()
    assert page.locator("[name=cctv_note]").input_value() == NOTE
    assert page.locator("input[name=windows][value=ok]").is_checked()
    assert page.locator("input[name=inspector_sign]").input_value() == "张三"
    expect(page.locator("#item-cctv .fault-extra")).to_be_visible()
    expect(page.locator("#item-cctv .thumb img")).to_be_visible()

    # Submit: the record page shows the fault highlighted, with its note and photo.
    page.locator("button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/records/{uid}\?submitted=1$"))
    expect(page.locator(".flash")).to_have_text("已提交")
    fault = page.locator(".view-item.is-fault")
    expect(fault).to_have_count(1)
    expect(fault).to_contain_text(NOTE)
    expect(page.locator(".view-item", has_text="发现的问题")).to_contain_text(OFFLINE_TEXT)
    fault_img = fault.locator("img")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=fault_img.element_handle())
    assert page.evaluate("k => localStorage.getItem(k)", f"draft:{uid}") is None
    shot(page, "4-record-top")
    fault.scroll_into_view_if_needed()
    shot(page, "5-record-fault")
    page.goto(server.url + "/")
    expect(page.locator("a.tile.draft")).to_have_count(0)

    # The supervisor of the same team, on another phone: the list, the record, its PDF, the exports.
    _, boss, _ = phones()
    log_in(boss, server, "li")
    boss.locator(".topbar nav > a", has_text="记录").tap()
    boss.wait_for_url("**/records")
    row = boss.locator("table.records tr", has_text="巡查检查表")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("张三")
    expect(row).to_contain_text("异常 1")
    shot(boss, "6-records-list")
    assert boss.evaluate("document.documentElement.scrollWidth") <= 390
    # One form chosen, the exports have a column per item (the note included).
    boss.locator("select[name=form]").select_option(label="巡查检查表")
    boss.locator("form.filters button").tap()
    boss.wait_for_url("**/records?form=patrol*")
    with boss.expect_download() as csv_download:
        boss.locator(".exports a", has_text="CSV").tap()
    assert csv_download.value.suggested_filename.startswith("patrol-")
    table = list(csv.reader(io.StringIO(csv_download.value.path().read_text(encoding="utf-8-sig"))))
    assert any(NOTE in cell for line in table for cell in line), table[:3]
    with boss.expect_download() as xlsx_download:
        boss.locator(".exports a", has_text="Excel").tap()
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")
    assert NOTE in xlsx_text(xlsx_download.value.path().read_bytes())

    row.locator("a").tap()
    boss.wait_for_url(f"**/records/{uid}")
    expect(boss.locator(".view-item.is-fault")).to_contain_text(NOTE)
    with boss.expect_download() as pdf_download:
        boss.locator("a.button", has_text="下载 PDF").tap()
    data = pdf_download.value.path().read_bytes()
    assert data.startswith(b"%PDF-")
    text = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()
    assert NOTE in text.replace("\n", "")


def xlsx_text(data: bytes) -> str:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(str(v) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
                     for v in row if v is not None)


def test_missing_item_is_shown_in_place_and_a_double_tap_makes_one_record(server, phones):
    from playwright.sync_api import expect

    context, page, watch = phones()
    log_in(page, server, "zhang")
    open_new_patrol(page)
    fill_patrol_except(page, server, skip="windows")
    tap_option(page, "stairs", "fault")
    page.locator("[name=stairs_note]").fill("二楼楼梯堆放纸箱")
    page.locator("textarea[name=findings]").fill("已通知商户清理")
    uid = page.locator("form.record-form").get_attribute("data-uid")
    page.locator("button[type=submit]").tap()

    # Refused with the reason beside the item, and nothing typed is lost.
    page.wait_for_load_state()
    expect(page.locator(".error-box")).to_contain_text("有未填写或填写有误的项目")
    watch.take("status of 400", "/forms/patrol")  # the refused form is re-rendered with status 400
    windows = page.locator("#item-windows")
    expect(windows).to_have_class(re.compile(r"\bhas-error\b"))
    expect(windows.locator(".field-error")).to_have_text("此项必填")
    assert page.locator("form.record-form").get_attribute("data-uid") == uid
    assert page.locator("input[name=stairs][value=fault]").is_checked()
    assert page.locator("[name=stairs_note]").input_value() == "二楼楼梯堆放纸箱"
    assert page.locator("textarea[name=findings]").input_value() == "已通知商户清理"
    assert page.locator("input[name=inspector_sign]").input_value() == "张三"
    expect(windows).to_be_in_viewport()  # the page opens at the first item to fix
    expect(status(page)).not_to_contain_text("已恢复")  # what the server shows is what was posted
    shot(page, "7-missing-item")

    # Fixed, then the submit button is tapped twice in quick succession: one record.
    tap_option(page, "windows", "ok")
    before = server.count("patrol")
    posts = []
    # On the context: once the service worker controls the page, the post is its fetch, not the page's.
    context.on("request", lambda r: r.method == "POST" and r.url.endswith("/forms/patrol") and posts.append(r))
    box = page.locator("button[type=submit]").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.touchscreen.tap(x, y)
    page.touchscreen.tap(x, y)
    page.wait_for_url(re.compile(rf"/records/{uid}\?submitted=1$"))
    expect(page.locator(".view-item.is-fault")).to_contain_text("二楼楼梯堆放纸箱")
    assert server.count("patrol") == before + 1
    # The page let only one tap through. A second copy that does reach the server (a tap on a slow phone,
    # a retried request) is answered with the record already made.
    assert len(posts) == 1
    again = page.request.post(posts[0].url, data=posts[0].post_data_buffer, max_redirects=0,
                              headers={"Content-Type": posts[0].headers["content-type"]})
    assert again.status == 303
    assert urlparse(again.headers["location"]).path == f"/records/{uid}"
    assert server.count("patrol") == before + 1


def test_handbook_search_behind_the_login(server, phones):
    _, page, _ = phones()
    page.goto(server.url + "/handbook/")
    assert "/login" in page.url  # the handbook is for logged-in staff only
    log_in(page, server, "zhang")
    page.goto(server.url + "/handbook/")
    page.locator(".md-search__input").wait_for(state="attached")
    page.locator("label.md-header__button[for=__search]").tap()
    box = page.locator("input.md-search__input")
    box.fill("交接班")
    box.press("End")
    page.locator(".md-search-result__item").first.wait_for()
    links = page.locator(".md-search-result__item > a").evaluate_all("els => els.map(e => e.href)")
    assert any(urlparse(href).path == "/handbook/regulations/KF-11/" for href in links[:5]), links[:5]
    shot(page, "8-handbook-search")


def test_a_conditional_item_appears_and_is_required_only_when_shown(server, phones):
    """show_when on a phone: 已立刻报告安全部 shows only once 发现可疑人物 is 是, and is required only then."""
    from playwright.sync_api import expect

    _, page, watch = phones()
    log_in(page, server, "zhang")
    open_new_patrol(page)
    reported = page.locator("#item-suspicious_reported")
    expect(reported).to_be_hidden()  # unanswered: not 是
    fill_patrol_except(page, server)  # 发现可疑人物: 否
    expect(reported).to_be_hidden()
    assert page.locator("input[name=suspicious_reported]").first.is_disabled()
    tap_option(page, "suspicious_person", "yes")
    expect(reported).to_be_visible()
    expect(reported.locator(".help.when")).to_have_text("若“发现可疑人物”为“是”,填写本项")
    expect(page.locator("#item-suspicious_note")).to_be_visible()
    reported.scroll_into_view_if_needed()
    shot(page, "logic-1-shown")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the form is {width}px wide on a 390px phone"

    # Shown and left empty: refused, with the Chinese required message beside it.
    page.locator("button[type=submit]").tap()
    expect(page.locator(".error-box")).to_contain_text("有未填写或填写有误的项目")
    watch.take("status of 400", "/forms/patrol")
    expect(reported).to_be_visible()
    expect(reported).to_have_class(re.compile(r"\bhas-error\b"))
    expect(reported.locator(".field-error")).to_have_text("此项必填")
    expect(reported).to_be_in_viewport()
    shot(page, "logic-2-required-when-shown")

    # Answered 否 after all: it disappears, and the form goes in without it.
    tap_option(page, "suspicious_person", "no")
    expect(reported).to_be_hidden()
    uid = page.locator("form.record-form").get_attribute("data-uid")
    before = server.count("patrol")
    page.locator("button[type=submit]").tap()
    page.wait_for_url(re.compile(rf"/records/{uid}\?submitted=1$"))
    expect(page.locator(".flash")).to_have_text("已提交")
    expect(page.locator(".view-item", has_text="发现可疑人物")).to_contain_text("否")
    expect(page.locator(".view-item", has_text="已立刻报告安全部")).to_have_count(0)  # hidden: not on the record
    assert server.count("patrol") == before + 1
    shot(page, "logic-3-record")
