"""Daily operations on phones, end to end: a real server and database, headless Chromium at 390×844 with touch.

A patrol with one failed item opens a corrective action that the supervisor sees on the today board and the
next shift finds on its handover form; a handover with an open major event is blocked until the supervisor
releases it with a written reason, then the incoming person confirms; a complaint goes through every step
(its reply flagged overdue on the way) and the month's report shows the figures. The phone and browser
fixtures are those of tests/formserver/app/test_e2e.py (a request leaving 127.0.0.1, a console error or a CSP violation
fails the test). Screenshots: test-output/ops-*.png.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select, update

from tests.browser import have_chromium
from tests.formserver.app.test_e2e import CHECKS, Server, browser, phones, served, tap_option  # noqa: F401
from tests.sitebuild import built_site, output_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_chromium(), reason="needs Debian chromium and poppler-utils (make install)"),
]

PHONE_WIDTH = 390
FAULT = "三号监控黑屏"


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    users = {"zhang": {"display_name": "张三"}, "wang": {"display_name": "王五"},
             "li": {"role": "supervisor", "display_name": "李主管"}}
    with served(tmp_path_factory.mktemp("ops-e2e"), users, HANDBOOK_SITE=str(built_site()[0])) as server:
        yield server


def shot(page, name: str, full_page: bool = False) -> None:
    page.screenshot(path=output_dir() / f"ops-{name}.png", full_page=full_page)


def fits(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_WIDTH, f"{page.url} is {width}px wide on a {PHONE_WIDTH}px phone: it scrolls sideways"


def log_in(open_phone, server: Server, username: str):
    from tests.server_support import PASSWORD

    _, page, watch = open_phone()
    page.goto(server.url + "/")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("form button.primary").tap()
    page.wait_for_url(server.url + "/")
    return page, watch


def open_form(page, title: str, form_id: str) -> None:
    page.locator(".topbar nav a", has_text="填表").tap()
    page.locator("a.tile:not(.draft)", has_text=title).tap()
    page.wait_for_url(f"**/forms/{form_id}")
    page.locator("form.record-form").wait_for()


def submit(page) -> None:
    page.locator("form.record-form button[type=submit]").last.tap()
    page.wait_for_url(re.compile(r"/records/[0-9a-f-]{36}"))


def case_of(server: Server, workflow: str):
    from formserver.db.models import Case

    with server.app.extensions["db_sessions"]() as db:
        return db.scalars(select(Case).where(Case.workflow_id == workflow).order_by(Case.id)).all()


def do_step(page, fields: dict[str, str], options: dict[str, str] | None = None) -> None:
    card = page.locator("section.next-step")
    for name, value in fields.items():
        card.locator(f"[name={name}]").fill(value)
    for name, value in (options or {}).items():
        tap_option(page, name, value)
    with page.expect_navigation():
        card.locator("button.primary").tap()


def test_a_day_of_operations(server, phones):  # noqa: F811
    from playwright.sync_api import expect

    from formserver.db.models import Case

    app = server.app
    area = next(i for i in app.extensions["catalogue"].forms["patrol"].header if i.id == "area").options[0]

    # 张三's patrol: one failed item, with what was found.
    zhang, _ = log_in(phones, server, "zhang")
    open_form(zhang, "巡查检查表", "patrol")
    tap_option(zhang, "area", area)
    for item in CHECKS:
        tap_option(zhang, item, "fault" if item == "cctv" else "ok")
    zhang.locator("[name=cctv_note]").fill(FAULT)
    tap_option(zhang, "suspicious_person", "no")
    tap_option(zhang, "construction_issue", "no")
    zhang.locator("input[name=inspector_sign]").fill("张三")
    submit(zhang)
    (action,) = case_of(server, "corrective")
    assert FAULT in action.title and action.refs == ["KF-07.6"]

    # The supervisor's today board: the patrol counted for its area, the corrective action open.
    li, li_watch = log_in(phones, server, "li")
    li.locator(".topbar nav a", has_text="看板").tap()
    li.wait_for_url(re.compile(r"/board/"))
    expect(li.locator(f".slot.is-done:has-text('{area}'), .slot.is-late:has-text('{area}')").first).to_be_visible()
    open_actions = li.locator(".case", has_text=FAULT)
    expect(open_actions).to_have_count(1)
    expect(open_actions).to_contain_text("待指派")
    fits(li)
    shot(li, "1-board", full_page=True)
    # …which links to the action: the record it came from, the clause it enforces; 张三 is made responsible.
    open_actions.locator("a").first.tap()
    li.wait_for_url(re.compile(rf"/cases/{action.id}$"))
    expect(li.locator("a[href*='#KF-07.6']").first).to_be_visible()
    expect(li.locator("a[href*='/records/']").first).to_be_visible()
    li.locator("form.assign select[name=owner]").select_option("zhang")
    li.locator("form.assign button").tap()
    expect(li.locator(".case-facts")).to_contain_text("张三")
    fits(li)
    shot(li, "2-corrective-action", full_page=True)

    # 张三 hands over to 王五 with a major event still being handled: the action is listed on the form.
    open_form(zhang, "交接班记录", "handover")
    inherited = zhang.locator(".card.inherited")
    expect(inherited).to_contain_text(FAULT)
    fits(zhang)
    shot(zhang, "3-handover-form")
    zhang.locator("input[name=taking_over]").fill("王五")
    tap_option(zhang, "event_unresolved", "yes")
    for item in ("equipment_switching", "preparation_incomplete", "taker_unfit"):
        tap_option(zhang, item, "no")
    zhang.locator("[name=major_issues-0-issue]").fill("二层中庭漏水")
    tap_option(zhang, "major_issues-0-status", "未处理")
    zhang.locator("input[name=handing_over_sign]").fill("张三")
    zhang.locator("input[name=taking_over_sign]").fill("王五")
    submit(zhang)
    zhang.locator("a", has_text="交接状态").tap()
    expect(zhang.locator(".badge.state")).to_contain_text("未完成")
    handover_url = zhang.url

    # 王五 cannot take over while the event is open…
    wang, _ = log_in(phones, server, "wang")
    wang.locator(".topbar nav a", has_text="交接班").tap()
    wang.locator(f"a[href='{handover_url.removeprefix(server.url)}']").first.tap()
    expect(wang.locator(".blockers")).to_contain_text("重大或紧急事件未处理完")
    expect(wang.locator("section.take-over button.primary")).to_have_count(0)
    fits(wang)
    shot(wang, "4-handover-blocked", full_page=True)

    # …until the supervisor takes over the duty and the event (KF-11.16), signing as the outgoing party, with a
    # note of what was taken over (too short a one is refused, in Chinese).
    li.goto(handover_url)
    takeover = li.locator("form[action$='/takeover']")
    takeover.locator("[name=note]").fill("同意")
    takeover.locator("button").tap()
    expect(li.locator("#note-error")).to_be_visible()
    li_watch.take("400")  # the refused post's page load, on purpose
    takeover.locator("[name=note]").fill("二层中庭漏水由我接手处理,已通知工程部值班人员到场")
    takeover.locator("button").tap()
    expect(li.locator(".badge.state")).to_contain_text("待接班确认")
    expect(li.locator(".handover-sides")).to_contain_text("接替")
    shot(li, "5-handover-taken-over", full_page=True)

    wang.reload()
    wang.locator("section.take-over button.primary").tap()
    expect(wang.locator(".badge.state")).to_contain_text("已完成")
    shot(wang, "6-handover-taken", full_page=True)

    # 王五's own handover form, later, lists what is still open: the event and the corrective action.
    open_form(wang, "交接班记录", "handover")
    expect(wang.locator(".card.inherited")).to_contain_text("二层中庭漏水")
    expect(wang.locator(".card.inherited")).to_contain_text(FAULT)

    # A complaint, taken by 张三, through every step; its reply is flagged overdue on the way.
    open_form(zhang, "投诉处理单", "complaint")
    for name, value in {"complaint_no": "TS-2026-001", "project": "星河广场", "complainant": "李女士",
                        "contact": "13800000000", "content": "存包柜门损坏,物品取不出", "handler": "张三",
                        "handler_sign": "张三"}.items():
        zhang.locator(f"[name={name}]").fill(value)
    submit(zhang)
    (complaint,) = case_of(server, "complaint")
    zhang.goto(f"{server.url}/cases/{complaint.id}")
    do_step(zhang, {"handling_opinion": "更换柜门锁,协助顾客取出物品"})
    expect(zhang.locator("section.next-step h2")).to_contain_text("回复")
    with app.extensions["db_sessions"].begin() as db:  # the 24 hours have passed
        db.execute(update(Case).where(Case.id == complaint.id)
                   .values(due_at=complaint.opened_at - dt.timedelta(minutes=1)))
    zhang.reload()
    expect(zhang.locator(".badge.fault", has_text="已逾期").first).to_be_visible()
    shot(zhang, "7-complaint-overdue", full_page=True)
    li.goto(server.url + "/board/")
    expect(li.locator(".case.is-overdue", has_text="TS-2026-001")).to_have_count(1)
    do_step(zhang, {"reply_content": "已更换柜门锁并向顾客致歉"})
    wang.goto(f"{server.url}/cases/{complaint.id}")
    do_step(wang, {"callback_result": "顾客表示满意"}, {"satisfaction": "满意"})
    li.goto(f"{server.url}/cases/{complaint.id}")
    do_step(li, {"leader_instruction": "同意归档"})
    expect(li.locator(".case-steps")).to_contain_text("归档")
    expect(li.locator(".case-steps li", has_text="回复")).to_contain_text("逾期完成")
    steps = li.locator(".case-steps li")
    expect(steps).to_have_count(5)  # 受理 处理 回复 回访 归档, each with who and when
    fits(li)
    shot(li, "8-complaint-archived", full_page=True)
    assert case_of(server, "complaint")[0].closed_at is not None

    # The month's report: the complaint, its satisfaction, the chart.
    li.locator(".topbar nav a", has_text="报表").tap()
    li.wait_for_url(re.compile(r"/reports/monthly"))
    figures = li.locator("section.card", has_text="本月合计")
    expect(figures).to_contain_text("投诉")
    expect(figures).to_contain_text("100.0 %")
    expect(li.locator("svg").first).to_be_visible()
    fits(li)
    shot(li, "9-monthly-report", full_page=True)
