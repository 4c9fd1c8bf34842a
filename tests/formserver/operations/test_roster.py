"""The duty roster through the real app (SQLite and PostgreSQL): the week grid and who may edit it, adding and
removing, import from XLSX and CSV (UTF-8 and GBK; every bad row named by row and column, nothing stored),
export that imports back, the printed A4 PDF, and swaps recorded with their approver."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import subprocess

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from formserver.db.models import AuditEvent, RosterEntry, RosterSwap, User
from formserver.operations.roster import Period
from tests.server_support import csrf_of, person

pytestmark = pytest.mark.usefixtures("cheap_passwords")

WEEK = "2026-W50"  # Monday 2026-12-07 to Sunday 2026-12-13
MONDAY = dt.date(2026, 12, 7)
HEAD = ["日期", "班次", "姓名或用户名", "区域", "班组"]


@pytest.fixture
def clock(app, monkeypatch):
    cat = app.extensions["catalogue"]
    monkeypatch.setattr(cat, "now", lambda: dt.datetime(2026, 12, 7, 9, 0))


def entries(app: Flask) -> list[tuple[str, str, str, str, str]]:
    with app.extensions["db_sessions"]() as session:
        rows = session.execute(select(RosterEntry.day, RosterEntry.shift, User.username, RosterEntry.area,
                                      RosterEntry.team).join(User, User.id == RosterEntry.user_id)
                               .order_by(RosterEntry.day, RosterEntry.shift, User.username))
        return [(d.isoformat(), s, u, a, t) for d, s, u, a, t in rows]


def user_id(app: Flask, username: str) -> int:
    with app.extensions["db_sessions"]() as session:
        return session.scalar(select(User.id).where(User.username == username))


def grid(client: FlaskClient, **args) -> str:
    page = client.get("/roster/", query_string={"week": WEEK, **args})
    assert page.status_code == 200, page.status_code
    return page.get_data(as_text=True)


def cell(page: str, day: dt.date, shift: str) -> str:
    """The text of one grid cell (names and areas), tags stripped."""
    match = re.search(rf'aria-label="{day.isoformat()} {shift}">(.*?)</span>\s*(?=<span class="roster-cell"|</div>)',
                      page, re.S)
    assert match, f"no cell {day} {shift}"
    text = re.sub(r"<form.*?</form>", "", match.group(1), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def add(client: FlaskClient, page: str, day: dt.date, shift: str, person_id: int, area: str = "", **args):
    return client.post("/roster/entries", query_string={"week": WEEK, **args},
                       data={"csrf_token": csrf_of(page), "day": day.isoformat(), "shift": shift,
                             "person": str(person_id), "area": area})


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    for r in [HEAD, *rows]:
        book.active.append(r)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client: FlaskClient, data: bytes, name: str = "roster.xlsx", **args):
    page = client.get("/roster/import", query_string=args).get_data(as_text=True)
    return client.post("/roster/import", query_string=args, content_type="multipart/form-data",
                       data={"csrf_token": csrf_of(page), "file": (io.BytesIO(data), name)})


# -- the grid and who may edit it ----------------------------------------------------------------------


def test_staff_see_the_grid_read_only_and_may_not_edit(app, clock):
    boss = person(app, "wang", role="supervisor", name="王主管")
    person(app, "zhang", name="张三")
    page = grid(boss)
    assert add(boss, page, MONDAY, "early", user_id(app, "zhang"), "f1").status_code == 303
    staff = person(app, "li", name="李四")
    page = grid(staff)
    assert "张三" in cell(page, MONDAY, "早班") and "一层大堂及总服务台" in cell(page, MONDAY, "早班")
    assert "只读" in page and 'action="/roster/entries' not in page and "/remove" not in page
    assert add(staff, page, MONDAY, "late", user_id(app, "li")).status_code == 403
    entry = entries(app)
    assert entry == [("2026-12-07", "early", "zhang", "f1", "desk")]
    with app.extensions["db_sessions"]() as session:
        entry_id = session.scalar(select(RosterEntry.id))
    assert staff.post(f"/roster/entries/{entry_id}/remove", data={"csrf_token": csrf_of(page)}).status_code == 403
    assert staff.get("/roster/import").status_code == 403
    assert len(entries(app)) == 1


def test_a_supervisor_may_not_edit_another_team_a_manager_may(app, clock):
    person(app, "zhang", name="张三", team="hotline")
    desk_boss = person(app, "wang", role="supervisor", team="desk")
    page = grid(desk_boss, team="hotline")
    assert "只读" in page
    assert add(desk_boss, page, MONDAY, "early", user_id(app, "zhang"), team="hotline").status_code == 403
    page = desk_boss.get("/roster/import", query_string={"team": "hotline"})
    assert page.status_code == 403 and "主管只能编辑本班组的排班" in page.get_data(as_text=True)
    manager = person(app, "zhao", role="manager", team="desk")
    page = grid(manager, team="hotline")
    assert add(manager, page, MONDAY, "early", user_id(app, "zhang"), team="hotline").status_code == 303
    assert entries(app) == [("2026-12-07", "early", "zhang", "", "hotline")]


def test_add_and_remove_and_errors_in_chinese_keep_the_input(app, clock):
    boss = person(app, "wang", role="supervisor", name="王主管")
    person(app, "zhang", name="张三")
    page = grid(boss)
    zhang = user_id(app, "zhang")
    bad = add(boss, page, MONDAY, "noon", zhang, "f1")
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "请改正下面标出的内容" in text and "field-error" in text
    assert 'value="2026-12-07"' in text and re.search(r'<option selected value="f1">|<option value="f1" selected', text)
    assert add(boss, page, MONDAY, "early", zhang).status_code == 303
    again = add(boss, page, MONDAY, "early", zhang)
    assert again.status_code == 409 and "不必重复添加" in again.get_data(as_text=True)
    page = grid(boss)
    assert cell(page, MONDAY, "早班") == "张三"
    entry_id = int(re.search(r'/roster/entries/(\d+)/remove', page).group(1))
    assert boss.post(f"/roster/entries/{entry_id}/remove", query_string={"week": WEEK},
                     data={"csrf_token": csrf_of(page)}).status_code == 303
    assert entries(app) == []
    with app.extensions["db_sessions"]() as session:
        actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("roster_%"))).all()
    assert sorted(actions) == ["roster_add", "roster_remove"]


def test_the_grid_fits_a_week_and_a_month_and_refuses_a_bad_week(app, clock):
    boss = person(app, "wang", role="supervisor")
    page = grid(boss)
    assert "2026 年第 50 周" in page and page.count('class="roster-day"') == 7
    assert 'href="/roster/?team=desk&amp;week=2026-W49"' in page and "week=2026-W51" in page
    month = boss.get("/roster/", query_string={"month": "2026-12"}).get_data(as_text=True)
    assert month.count('class="roster-day"') == 31
    bad = boss.get("/roster/", query_string={"week": "2026-W99"})
    assert bad.status_code == 400 and "周写作 2026-W50" in bad.get_data(as_text=True)


def test_periods():
    assert Period.parse(week="2026-W50") == Period(MONDAY, dt.date(2026, 12, 13), "week")
    assert Period.parse(month="2026-02").days[-1] == dt.date(2026, 2, 28)
    assert Period.parse(week="2026-W01").shifted(-1).key == {"week": "2025-W52"}
    assert Period.parse(month="2026-12").shifted(1).key == {"month": "2027-01"}
    assert Period.parse(week="x") is None and Period.parse(month="2026-13") is None


# -- import -------------------------------------------------------------------------------------------------


def test_an_xlsx_import_replaces_the_teams_days_it_covers(app, clock):
    boss = person(app, "wang", role="supervisor", name="王主管")
    person(app, "zhang", name="张三")
    person(app, "li", name="李四")
    person(app, "sun", name="孙七", team="hotline")
    page = grid(boss)
    assert add(boss, page, MONDAY, "night", user_id(app, "li")).status_code == 303
    assert add(boss, page, MONDAY + dt.timedelta(days=3), "night", user_id(app, "li")).status_code == 303
    manager = person(app, "zhao", role="manager")
    assert add(manager, grid(manager, team="hotline"), MONDAY, "early", user_id(app, "sun"),
               team="hotline").status_code == 303  # another team's day: the import leaves it alone
    data = xlsx([[dt.datetime(2026, 12, 7), "早班", "张三", "一层大堂及总服务台", None],
                 ["2026/12/8", "late", "li", "", "desk"],
                 [None, None, None, None, None],
                 ["２０２６-12-08", "夜班", "张三", "parking", "总服务台"]])
    done = upload(boss, data)
    assert done.status_code == 303, done.get_data(as_text=True)
    assert entries(app) == [("2026-12-07", "early", "sun", "", "hotline"),
                            ("2026-12-07", "early", "zhang", "f1", "desk"),
                            ("2026-12-08", "late", "li", "", "desk"),
                            ("2026-12-08", "night", "zhang", "parking", "desk"),
                            ("2026-12-10", "night", "li", "", "desk")]  # a day the file does not cover stays
    assert "替换了这些日期原有的 1 条" in boss.get("/roster/", query_string={"week": WEEK}).get_data(as_text=True)
    with app.extensions["db_sessions"]() as session:
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "roster_import"))
    assert event.detail["added"] == 3 and event.detail["removed"] == 1 and event.detail["file"] == "roster.xlsx"
    assert "导入会替换" in boss.get("/roster/import").get_data(as_text=True)


def test_bad_rows_are_each_named_by_row_and_column_and_nothing_is_imported(app, clock):
    boss = person(app, "wang", role="supervisor")
    person(app, "zhang", name="张三")
    person(app, "zhang2", name="张三")
    person(app, "li", name="李四", team="hotline")
    data = xlsx([["2026-12-07", "早班", "zhang", "", ""],  # fine
                 ["2026-12-32", "早班", "zhang", "", ""],  # row 3: no such date
                 ["2026-12-08", "午班", "张三", "", ""],  # row 4: shift unknown; 张三 ambiguous
                 ["2026-12-08", "早班", "王五", "天台", ""],  # row 5: nobody; no such area
                 ["2026-12-08", "早班", "li", "", "hotline"],  # row 6: another team
                 ["2026-12-07", "早班", "zhang", "", ""]])  # row 7: same as row 2
    page = upload(boss, data)
    assert page.status_code == 400
    text = html.unescape(page.get_data(as_text=True))
    problems = re.findall(r"<li>(第 \d+ 行 第 [A-Z]+ 列.*?)</li>", text)
    assert problems[0].startswith("第 3 行 第 A 列(日期):“2026-12-32”不是日期 — 请按“年-月-日”填写")
    assert any(p.startswith("第 4 行 第 B 列(班次):没有叫“午班”的班次 — 请填写 早班、中班、夜班 之一")
               for p in problems)
    assert any(p.startswith("第 4 行 第 C 列(姓名或用户名):有 2 位同名人员“张三” — 请改填用户名(") for p in problems)
    assert any(p.startswith("第 5 行 第 C 列(姓名或用户名):没有姓名或用户名为“王五”的在职账号") for p in problems)
    assert any(p.startswith("第 5 行 第 D 列(区域):没有叫“天台”的区域") for p in problems)
    assert any(p.startswith("第 6 行 第 E 列(班组):您只能导入本班组(desk)的排班") for p in problems)
    assert any(p.startswith("第 7 行 第 C 列(姓名或用户名):张三 在 2026-12-07 早班 已排在第 2 行") for p in problems)
    assert len(problems) == 7 and "没有导入任何内容" in text
    assert entries(app) == []


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8"])
def test_a_csv_import_in_gbk_or_utf8(app, clock, encoding):
    boss = person(app, "wang", role="supervisor")
    person(app, "zhang", name="张三")
    text = "日期,班次,姓名或用户名,区域,班组\r\n2026-12-09,中班,张三,二至四层商铺区,\r\n"
    assert upload(boss, text.encode(encoding), "排班.csv").status_code == 303
    assert entries(app) == [("2026-12-09", "late", "zhang", "f2-f4", "desk")]


def test_a_file_that_is_not_a_roster_is_refused_whole(app, clock, monkeypatch):
    monkeypatch.setitem(app.config, "ROSTER_MAX_BYTES", 4096)  # small: a big test upload spools to a temporary file
    boss = person(app, "wang", role="supervisor")
    for data, name, says in [(b"", "a.csv", "文件是空的"), (b"PK\x03\x04 broken", "a.xlsx", "无法读取这个 Excel 文件"),
                             ("姓名,备注\n张三,x\n".encode(), "a.csv", "缺少列:日期、班次"),
                             (b"x" * 4097, "a.csv", "文件超过 4 KB")]:
        page = upload(boss, data, name)
        assert page.status_code in (400, 413), name
        assert says in page.get_data(as_text=True) and "没有导入任何内容" in page.get_data(as_text=True)
    token = csrf_of(boss.get("/roster/import").get_data(as_text=True))
    nofile = boss.post("/roster/import", data={"csrf_token": token})
    assert nofile.status_code == 400 and "请选择要导入的" in nofile.get_data(as_text=True)


def test_the_template_names_the_organisations_shifts_and_areas(app, clock):
    boss = person(app, "wang", role="supervisor")
    book = load_workbook(io.BytesIO(boss.get("/roster/template.xlsx").data))
    assert [c.value for c in book["排班表"][1]] == HEAD
    org = app.extensions["catalogue"].handbook.organisation
    values = book["可填写的值"]
    assert [c.value for c in values["A"][1:] if c.value] == [s.name for s in org.shifts.values()]
    assert [c.value for c in values["C"][1:] if c.value] == [a.name for a in org.areas.values()]


# -- export and print --------------------------------------------------------------------------------------


def test_an_xlsx_export_imports_back_unchanged(app, clock):
    boss = person(app, "wang", role="supervisor")
    person(app, "zhang", name="张三")
    person(app, "zhang2", name="张三")  # same name: the export writes usernames for them
    person(app, "li", name="=李四")  # a formula start is neutralised ('=李四 in the file), and still imports back
    rows = [["2026-12-07", "早班", "zhang", "一层大堂及总服务台", ""], ["2026-12-07", "早班", "zhang2", "", ""],
            ["2026-12-11", "夜班", "'=李四", "地下停车场", ""]]
    assert upload(boss, xlsx(rows)).status_code == 303
    before = entries(app)
    exported = boss.get("/roster/export.xlsx", query_string={"week": WEEK})
    exported_data = exported.data
    exported.close()  # send_file's temporary file
    sheet = load_workbook(io.BytesIO(exported_data)).active
    assert [c.value for c in sheet[1]] == HEAD
    assert [c.value for c in sheet[2]] == ["2026-12-07", "早班", "zhang", "一层大堂及总服务台", "desk"]
    assert sheet[4][2].value == "'=李四"
    csv_text = boss.get("/roster/export.csv", query_string={"week": WEEK}).data.decode("utf-8-sig")
    assert csv_text.splitlines()[0] == ",".join(HEAD) and "2026-12-11,夜班,'=李四,地下停车场,desk" in csv_text
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(RosterEntry.__table__.delete())
    assert upload(boss, exported_data).status_code == 303
    assert entries(app) == before
    assert upload(boss, csv_text.encode("utf-8-sig"), "roster.csv").status_code == 303
    assert entries(app) == before


def test_the_printed_roster_is_a4_landscape_with_names_shifts_and_dates(app, clock):
    boss = person(app, "wang", role="supervisor")
    person(app, "zhang", name="张三")
    person(app, "li", name="李四")
    assert upload(boss, xlsx([["2026-12-07", "早班", "张三", "一层大堂及总服务台", ""],
                              ["2026-12-13", "夜班", "李四", "", ""]])).status_code == 303
    pdf = boss.get("/roster/print.pdf", query_string={"week": WEEK})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.data, capture_output=True, check=True).stdout
    text = text.decode()
    org = app.extensions["catalogue"].handbook.organisation
    for expected in (org.name, "排班表", "2026-12-07", "2026-12-13", "早班", "中班", "夜班", "张三", "李四",
                     "一层大堂及总服务台", "总服务台", "排班主管(签字)"):
        assert expected in text, expected
    fonts = subprocess.run(["pdffonts", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:] if line.strip()), fonts  # emb
    info = subprocess.run(["pdfinfo", "-"], input=pdf.data, capture_output=True, check=True).stdout.decode()
    width, height = (float(n) for n in re.search(r"Page size:\s+([\d.]+) x ([\d.]+)", info).groups())
    assert width > height  # landscape


# -- swaps ----------------------------------------------------------------------------------------------------


def test_a_swap_moves_the_shift_and_keeps_who_approved_it(app, clock):
    boss = person(app, "wang", role="supervisor", name="王主管")
    person(app, "zhang", name="张三")
    person(app, "li", name="李四")
    assert upload(boss, xlsx([["2026-12-08", "中班", "张三", "", ""]])).status_code == 303
    page = grid(boss)
    assert "KF-11.7" in page and "/handbook/regulations/KF-11/#KF-11.7" in page
    with app.extensions["db_sessions"]() as session:
        entry_id = session.scalar(select(RosterEntry.id))
    form = {"csrf_token": csrf_of(page), "entry": str(entry_id), "to": str(user_id(app, "li")), "reason": ""}
    refused = boss.post("/roster/swaps", query_string={"week": WEEK}, data=form)
    assert refused.status_code == 400 and "请写明调班原因" in refused.get_data(as_text=True)
    form["reason"] = "张三家中有事,李四同意替班"
    assert boss.post("/roster/swaps", query_string={"week": WEEK}, data=form).status_code == 303
    assert entries(app) == [("2026-12-08", "late", "li", "", "desk")]
    with app.extensions["db_sessions"]() as session:
        swap = session.scalar(select(RosterSwap))
        assert (swap.from_user.username, swap.to_user.username, swap.approved_by.username, swap.reason) == (
            "zhang", "li", "wang", "张三家中有事,李四同意替班")
        assert session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.action == "roster_swap")) == 1
    page = grid(boss)
    assert "调" in cell(page, MONDAY + dt.timedelta(days=1), "中班") and "is-swapped" in page
    history = html.unescape(boss.get("/roster/swaps").get_data(as_text=True))
    assert "张三 → 李四" in history and "批准人 王主管" in history and "李四同意替班" in history
    staff = person(app, "zhao", name="赵六")
    history = staff.get("/roster/swaps").get_data(as_text=True)
    assert "张三 → 李四" in history
    form["csrf_token"] = csrf_of(history)
    assert staff.post("/roster/swaps", query_string={"week": WEEK}, data=form).status_code == 403


def test_my_shifts_on_the_home_page_and_roster_mine(app, clock):
    boss = person(app, "wang", role="supervisor")
    staff = person(app, "zhang", name="张三")
    assert upload(boss, xlsx([["2026-12-07", "早班", "张三", "一层大堂及总服务台", ""],
                              ["2026-12-09", "夜班", "张三", "", ""], ["2026-12-01", "夜班", "张三", "", ""]])
                  ).status_code == 303
    home = staff.get("/").get_data(as_text=True)
    assert "我的排班" in home and "12-07 周一" in home and "12-09 周三" in home and "12-01" not in home
    mine = staff.get("/roster/mine").get_data(as_text=True)
    assert "早班" in mine and "22:00-08:00" in mine


# -- who a slot belongs to (pure) -------------------------------------------------------------------------


def centre():
    from types import SimpleNamespace

    from handbook.model import Named, Shift

    shifts = [Shift("early", "早班", "08:00", "16:00"), Shift("late", "中班", "14:00", "22:00"),
              Shift("night", "夜班", "22:00", "08:00")]
    areas = [Named("f1", "一层"), Named("f2", "二层"), Named("f3", "三层")]
    return SimpleNamespace(organisation=SimpleNamespace(shifts={s.id: s for s in shifts},
                                                       areas={a.id: a for a in areas}))


def test_a_slot_belongs_to_the_area_then_the_whole_centre_then_the_only_person():
    from types import SimpleNamespace

    from formserver.operations.roster import Roster
    from formserver.operations.schedule import Slot

    hb = centre()
    zhang, li, wang = (SimpleNamespace(id=n, display_name=name) for n, name in enumerate(["张三", "李四", "王五"]))

    def entry(user, area=""):
        return SimpleNamespace(user=user, area=area)

    def slot(shift="早班", area="", every="shift"):
        at = dt.datetime(2026, 12, 7, 10)
        return Slot("patrol", every, MONDAY, at, at, shift, area)

    roster = Roster({(MONDAY, "early"): [entry(zhang, "f1"), entry(li, "f2"), entry(wang)]})
    assert roster.person_for(hb, slot(area="一层")) is zhang
    assert roster.person_for(hb, slot(area="二层")) is li
    assert roster.person_for(hb, slot(area="三层")) is wang  # nobody has 三层: the whole-centre person
    assert roster.person_for(hb, slot()) is None  # a handover of a shift of three: nobody in particular
    assert roster.person_for(hb, slot(shift="", every="day")) is None
    assert [u.display_name for u in roster.on(MONDAY, "early", "f1")] == ["张三", "王五"]
    alone = Roster({(MONDAY, "late"): [entry(li, "f2")]})
    assert alone.person_for(hb, slot(shift="中班", area="一层")) is li  # the only one on the shift
    assert Roster().person_for(hb, slot(area="一层")) is None


def test_the_next_shift_after_each_one():
    from formserver.operations.roster import Roster

    hb = centre()
    assert Roster.next_shift(hb, MONDAY, "early") == (MONDAY, "late")
    assert Roster.next_shift(hb, MONDAY, "late") == (MONDAY, "night")
    assert Roster.next_shift(hb, MONDAY, "night") == (MONDAY + dt.timedelta(days=1), "early")
