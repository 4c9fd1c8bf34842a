"""Issue 14 end to end, on a phone: a supervisor imports a roster; the scheduling pass (the worker's, run at
chosen times of yesterday so the day is over) tells the rostered staff member that a patrol is due and then
that it was missed; they find both in their inbox, with the badge in the menu; the board of that day shows
the missed patrol under their name. A real server and database, headless Chromium at 390×844 (fixtures of
tests/formserver/app/test_e2e.py: any request leaving 127.0.0.1, console error or CSP violation fails)."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from formserver.db.models import Notification, User
from formserver.notify.scheduler import run_pass
from tests.browser import have_chromium
from tests.formserver.app.test_e2e import Server, browser, phones, served  # noqa: F401  (fixtures by name)
from tests.formserver.operations.test_operations_e2e import fits, log_in
from tests.sitebuild import output_dir

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not have_chromium(), reason="needs Debian chromium and poppler-utils (make install)"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[Server]:
    users = {"zhang": {"display_name": "张三"}, "li": {"role": "supervisor", "display_name": "李主管"}}
    counting_from = (dt.date.today() - dt.timedelta(days=3)).isoformat()  # yesterday's slots count
    with served(tmp_path_factory.mktemp("reminder-e2e"), users, SCHEDULES_FROM=counting_from) as server:
        yield server


def test_a_rostered_patrol_reminds_its_person_and_the_board_names_them_when_missed(server, phones, tmp_path):  # noqa: F811
    app = server.app
    cat = app.extensions["catalogue"]
    hb = cat.handbook
    yesterday = cat.now().date() - dt.timedelta(days=1)
    area = next(iter(hb.organisation.areas.values()))
    early = hb.organisation.shifts["early"]
    patrol = next(rule for rule in hb.rules.schedules if rule.form == "patrol")
    patrol_time = patrol.times["early"][0]

    book = Workbook()
    book.active.append(["日期", "班次", "姓名或用户名", "区域", "班组"])
    book.active.append([yesterday, early.name, "张三", area.name, None])
    buffer = io.BytesIO()
    book.save(buffer)
    upload = tmp_path / "排班.xlsx"
    upload.write_bytes(buffer.getvalue())

    boss, _ = log_in(phones, server, "li")
    boss.goto(server.url + "/roster/import")
    boss.locator("input[type=file]").set_input_files(str(upload))
    with boss.expect_navigation():
        boss.locator("form button.primary").tap()
    assert "已导入 1 条排班" in boss.locator(".flash").inner_text()

    # The worker's pass, at two moments of yesterday: before the patrol is due, and after its deadline.
    hour, minute = map(int, patrol_time.split(":"))
    due_at = dt.datetime.combine(yesterday, dt.time(hour, minute))
    deadline = due_at + dt.timedelta(minutes=patrol.grace_minutes)
    before, after = due_at - dt.timedelta(minutes=5), deadline + dt.timedelta(minutes=5)
    engine = app.extensions["db_engine"]
    assert run_pass(engine, cat, app.config, now=cat.utc(before)) >= 1
    assert run_pass(engine, cat, app.config, now=cat.utc(after)) >= 1
    with app.extensions["db_sessions"]() as session:
        zhang = session.scalar(select(User).where(User.username == "zhang"))
        kinds = list(session.scalars(select(Notification.kind).where(Notification.user_id == zhang.id)))
    # 张三 is the only one on the early shift, so every area's patrol is theirs: due, then missed, once each.
    areas = len(hb.organisation.areas)
    assert sorted(kinds) == ["form_due"] * areas + ["form_missed"] * areas

    staff, _ = log_in(phones, server, "zhang")
    badge = staff.locator("#unread-badge")
    assert badge.inner_text().strip() == str(len(kinds))
    staff.locator(".topbar nav a", has_text="消息").tap()
    staff.wait_for_url("**/notifications*")
    inbox = staff.locator("ul.notifications").inner_text()
    title = cat.forms["patrol"].title
    assert f"{title} 应于 {patrol_time} 提交" in inbox and f"漏交:{title}" in inbox and area.name in inbox
    fits(staff)
    staff.screenshot(path=output_dir() / "reminder-inbox-phone.png", full_page=True)

    boss.goto(f"{server.url}/board/?date={yesterday.isoformat()}")
    slot = boss.locator("#form-patrol li.slot.is-missed", has_text=f"{early.name} · {area.name}").first
    assert "漏交" in slot.inner_text() and "排班:张三" in slot.inner_text()
    people = boss.locator("section.tally", has_text="按人员").inner_text()
    assert "张三" in people
    fits(boss)
    boss.screenshot(path=output_dir() / "reminder-board-phone.png", full_page=True)
