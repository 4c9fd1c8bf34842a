"""The duty roster where the day is run (SQLite and PostgreSQL): the today board names the rostered person of
each slot and counts a missed one against them, the handover form knows the incoming person from the next
shift's roster, and the monthly report's late and missed forms per person count against the roster."""

from __future__ import annotations

import datetime as dt
import html
import io
import re

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select, update

from formserver.db.models import Handover, RosterEntry, Submission, User
from tests.formserver.operations.board_clock import DAY, at
from tests.server_support import login, patrol_values, person
from tests.server_values import minimal_formdata, submitted

pytestmark = pytest.mark.usefixtures("cheap_passwords")

def roster(app: Flask, *rows: tuple[dt.date, str, str, str]) -> None:
    """(day, shift id, username, area id) entries of team desk."""
    with app.extensions["db_sessions"]() as session:
        for day, shift, username, area in rows:
            uid = session.scalar(select(User.id).where(User.username == username))
            session.add(RosterEntry(day=day, shift=shift, user_id=uid, area=area, team="desk"))
        session.commit()


def created_at(app: Flask, uid: str, local: dt.datetime) -> None:
    utc = local.replace(tzinfo=app.extensions["catalogue"].timezone).astimezone(dt.UTC).replace(tzinfo=None)
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(update(Submission).where(Submission.uid == uid).values(created_at=utc))


def tally(page: str, title: str) -> dict[str, list[int]]:
    section = re.search(rf"<h2>{title}</h2>(.*?)</section>", page, re.S).group(1)
    rows = re.findall(r'role="rowheader">(.*?)</span>((?:\s*<span class="n[^"]*">\d+</span>)+)', section)
    return {name: [int(n) for n in re.findall(r">(\d+)<", numbers)] for name, numbers in rows}


def slot_who(page: str, what: str) -> str:
    """The who-column text of the patrol slot `what` (shift · area)."""
    section = re.search(r'id="form-patrol">(.*?)</section>', page, re.S).group(1)
    match = re.search(rf'class="slot-what">{re.escape(what)}</span>.*?<span class="slot-who">(.*?)</span>\s*</li>',
                      section, re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def test_the_board_names_the_rostered_person_and_counts_a_missed_patrol_against_them(app, clock):
    areas = list(app.extensions["catalogue"].handbook.organisation.areas.values())
    person(app, "zhang", name="张三")
    person(app, "wang5", name="王五")
    li = person(app, "li", name="李四")
    roster(app, (DAY, "early", "zhang", areas[0].id), (DAY, "early", "wang5", areas[1].id))
    # 李四 (not rostered) patrols 张三's area late; nobody patrols 王五's
    uid = submitted(li, "patrol", patrol_values(app, date=DAY.isoformat(), shift="早班", area=areas[0].name))
    created_at(app, uid, at(DAY, "11:20"))
    page = person(app, "boss", role="supervisor").get("/board/").get_data(as_text=True)
    assert slot_who(page, f"早班 · {areas[0].name}").startswith("排班:张三 李四 11:20")
    assert slot_who(page, f"早班 · {areas[1].name}") == "排班:王五 去填写"
    # 应交 已交 迟交 漏交 待交: the late patrol counts for the rostered 张三, the missed one for 王五
    people = tally(page, "按人员")
    assert people["张三"] == [1, 0, 1, 0, 0] and people["王五"] == [1, 0, 0, 1, 0] and "李四" not in people


def test_without_a_roster_the_board_counts_the_submitter_as_before(app, clock):
    areas = list(app.extensions["catalogue"].handbook.organisation.areas.values())
    li = person(app, "li", name="李四")
    uid = submitted(li, "patrol", patrol_values(app, date=DAY.isoformat(), shift="早班", area=areas[0].name))
    created_at(app, uid, at(DAY, "09:40"))
    page = person(app, "boss", role="supervisor").get("/board/").get_data(as_text=True)
    assert tally(page, "按人员") == {"李四": [1, 1, 0, 0, 0]} and "排班:" not in page


def handover_values(app: Flask, shift: str, incoming: str, day: dt.date):
    values = minimal_formdata(app.extensions["catalogue"].forms["handover"])
    values.setlist("date", [day.isoformat()])
    values.setlist("shift", [shift])
    values.setlist("taking_over", [incoming])
    values.setlist("taking_over_sign", [incoming])
    return values


def test_the_handover_form_takes_the_incoming_person_from_the_next_shifts_roster(app, clock):
    zhang = person(app, "zhang", name="张三")
    li = person(app, "li", name="李四")
    person(app, "zhao", name="赵六")
    roster(app, (DAY, "early", "zhang", ""), (DAY, "late", "li", ""), (DAY, "night", "zhao", ""))
    clock(at(DAY, "15:50"))
    page = html.unescape(zhang.get("/forms/handover").get_data(as_text=True))
    assert re.search(r'name="taking_over"[^>]*value="李四"|value="李四"[^>]*name="taking_over"', page)
    assert re.search(r'<input checked id="shift-\d" name="shift" required type="radio" value="早班">', page)
    assert "按排班:您交11-23早班;接班的是11-23中班:李四。" in re.sub(r"<[^>]+>|\s", "", page)
    uid = submitted(zhang, "handover", handover_values(app, "早班", "李四", DAY))
    created_at(app, uid, at(DAY, "15:58"))
    with app.extensions["db_sessions"]() as session:
        handover_id = session.scalar(select(Handover.id))
    detail = html.unescape(li.get(f"/handover/{handover_id}").get_data(as_text=True))
    assert re.search(r"<dt>排班接班人</dt><dd>李四", detail) and "与记录中的接班人" not in detail
    assert f'action="/handover/{handover_id}/confirm"' in detail  # offered to the rostered incoming person
    # the night shift hands over to the next morning's early shift
    clock(at(DAY + dt.timedelta(days=1), "07:50"))
    roster(app, (DAY + dt.timedelta(days=1), "early", "zhang", ""))
    zhao = person(app, "zhao2", name="赵七")  # not rostered: nothing is prefilled for them
    assert "按排班" not in zhao.get("/forms/handover").get_data(as_text=True)
    night = app.test_client()
    assert login(night, "zhao").status_code == 302
    page = html.unescape(night.get("/forms/handover").get_data(as_text=True))
    assert re.search(r'name="taking_over"[^>]*value="张三"|value="张三"[^>]*name="taking_over"', page)
    assert re.search(r'<input checked id="shift-\d" name="shift" required type="radio" value="夜班">', page)


def test_a_handover_to_someone_else_than_rostered_says_so(app, clock):
    zhang = person(app, "zhang", name="张三")
    person(app, "li", name="李四")
    roster(app, (DAY, "early", "zhang", ""), (DAY, "late", "li", ""))
    uid = submitted(zhang, "handover", handover_values(app, "早班", "赵六", DAY))
    created_at(app, uid, at(DAY, "16:05"))
    with app.extensions["db_sessions"]() as session:
        handover_id = session.scalar(select(Handover.id))
    detail = html.unescape(zhang.get(f"/handover/{handover_id}").get_data(as_text=True))
    assert "<dt>排班接班人</dt><dd>李四" in detail and "与记录中的接班人“赵六”不同" in detail


def people_sheet(client, month: str) -> dict[str, dict[str, int | None]]:
    response = client.get("/reports/monthly.xlsx", query_string={"month": month})
    sheet = load_workbook(io.BytesIO(response.data))["按人员"]
    head = [c.value for c in sheet[1]]
    return {row[0]: dict(zip(head, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)}


def test_the_monthly_report_counts_late_and_missed_against_the_roster(app, clock):
    areas = list(app.extensions["catalogue"].handbook.organisation.areas.values())
    day = dt.date(2026, 10, 12)
    clock(at(day, "23:59"))
    person(app, "zhang", name="张三")
    person(app, "wang5", name="王五")
    li = person(app, "li", name="李四")
    roster(app, (day, "early", "zhang", areas[0].id), (day, "early", "wang5", areas[1].id))
    uid = submitted(li, "patrol", patrol_values(app, date=day.isoformat(), shift="早班", area=areas[0].name))
    created_at(app, uid, at(day, "11:20"))
    boss = person(app, "boss", role="supervisor")
    people = people_sheet(boss, "2026-10")
    assert (people["张三"]["迟交"], people["张三"]["漏交"]) == (1, 0)
    assert (people["王五"]["迟交"], people["王五"]["漏交"]) == (0, 1)
    assert "李四" not in people or (people["李四"]["迟交"], people["李四"]["漏交"]) == (0, 0)
    assert people["(无人填写)"]["漏交"] > 0  # slots nobody was rostered for
