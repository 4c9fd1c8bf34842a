"""The roster on a phone, end to end: a real server and database, headless Chromium at 390×844 with touch. A
supervisor uploads the week's roster as XLSX and sees it in the week grid, which fits the phone's width; a
person of the team finds their shift on the home page. Phone fixtures: tests/formserver/app/test_e2e.py (a
request leaving 127.0.0.1, a console error or a CSP violation fails the test). Screenshots:
test-output/roster-*.png."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator

import pytest
from openpyxl import Workbook

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
    users = {"zhang": {"display_name": "张三"}, "wang": {"display_name": "王五"},
             "li": {"role": "supervisor", "display_name": "李主管"}}
    with served(tmp_path_factory.mktemp("roster-e2e"), users) as server:
        yield server


def this_weeks_roster(server: Server) -> tuple[bytes, dt.date]:
    """张三 and 王五 on every day of the current week, early and night, with areas; the Monday."""
    org = server.app.extensions["catalogue"].handbook.organisation
    areas = [a.name for a in org.areas.values()]
    today = server.app.extensions["catalogue"].now().date()
    monday = today - dt.timedelta(days=today.weekday())
    book = Workbook()
    book.active.append(["日期", "班次", "姓名或用户名", "区域", "班组"])
    for n in range(7):
        day = monday + dt.timedelta(days=n)
        book.active.append([day, "早班", "张三", areas[n % len(areas)], None])
        book.active.append([day, "中班", "王五", "", None])
        book.active.append([day.isoformat(), "夜班", "wang" if n % 2 else "zhang", areas[-1], "desk"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), monday


def test_a_supervisor_uploads_the_weeks_roster_and_sees_it_in_the_grid(server, phones, tmp_path):  # noqa: F811
    data, monday = this_weeks_roster(server)
    upload = tmp_path / "本周排班.xlsx"
    upload.write_bytes(data)

    boss, _ = log_in(phones, server, "li")
    boss.locator(".topbar nav a", has_text="排班").tap()
    boss.wait_for_url("**/roster/")
    boss.locator("a", has_text="从 Excel/CSV 导入").tap()
    boss.wait_for_url("**/roster/import*")
    fits(boss)
    boss.locator("input[type=file]").set_input_files(str(upload))
    with boss.expect_navigation():
        boss.locator("form button.primary").tap()
    assert "已导入 21 条排班" in boss.locator(".flash").inner_text()
    grid = boss.locator(".roster-grid")
    monday_early = grid.locator(f'[aria-label="{monday.isoformat()} 早班"]')
    assert "张三" in monday_early.inner_text()
    assert "王五" in grid.locator(f'[aria-label="{monday.isoformat()} 中班"]').inner_text()
    fits(boss)
    # each cell is wide enough to read a name (three shift columns share the phone's width)
    box = monday_early.bounding_box()
    assert box["width"] >= 80, box
    boss.screenshot(path=output_dir() / "roster-grid-phone.png")
    boss.screenshot(path=output_dir() / "roster-grid-phone-full.png", full_page=True)

    staff, _ = log_in(phones, server, "zhang")
    mine = staff.locator("ul.my-shifts")
    assert "早班" in mine.inner_text()
    fits(staff)
    staff.screenshot(path=output_dir() / "roster-home-phone.png")
