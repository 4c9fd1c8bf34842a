"""The monthly report and penalties, through the real app and database (SQLite and PostgreSQL): the figures
of checklists/rules/reports.yaml for one month, per person, on the page (with its SVG chart), in the XLSX and
in the printed PDF; penalties checked against the penalty schedule, cited, revoked, and counted in the report;
who may see what."""

from __future__ import annotations

import datetime as dt
import html
import io
import logging
import re
import subprocess
import uuid
from pathlib import Path

import pytest
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import select, update

from formserver import db
from formserver.db.models import AuditEvent, PenaltyRecord, Submission, User
from formserver.records import store
from tests.server_support import csrf_of, login, person

MONTH = "2026-10"
DAY = dt.date(2026, 10, 12)


pytestmark = pytest.mark.usefixtures("cheap_passwords")



def user_row(app: Flask, username: str) -> User:
    with app.extensions["db_sessions"]() as session:
        return session.scalar(select(User).where(User.username == username))


def submit(app: Flask, username: str, form_id: str, values: dict, day: dt.date = DAY) -> str:
    """Store a submission as the web form does (store.create, follow-up included); its uid."""
    cat = app.extensions["catalogue"]
    uid = str(uuid.uuid4())
    with db.write_transaction(app.extensions["db_engine"]) as connection:
        store.create(connection, user_row(app, username), cat.forms[form_id], cat.version_ids[form_id], uid,
                       values, day, rules=cat.handbook.rules)
    return uid


def correct(app: Flask, username: str, uid: str, changes: dict) -> None:
    cat = app.extensions["catalogue"]
    with app.extensions["db_sessions"]() as session:
        submission = session.scalar(select(Submission).where(Submission.uid == uid))
        _revision, values = store.latest_values(session, submission)
        store.correct(session, user_row(app, username), submission, cat.forms[submission.form_id],
                        submission.revision_count, {**values, **changes}, "更正满意度")
        session.commit()


def service_report(staff: str, satisfaction: str, day: dt.date = DAY) -> dict:
    return {"user_unit": "一层商户", "service_date": day.isoformat(), "service_staff": staff, "symptom": "空调不制冷",
            "fault_cause": "滤网堵塞", "solution": "清洗滤网", "reported_to_center": "yes",
            "satisfaction": satisfaction, "staff_sign": staff, "user_sign": "商户"}


TICKET = {"ticket_no": "T-1", "received_at": "2026-10-12T09:00", "agent": "李四", "reporter": "王女士",
          "contact": "138", "description": "门禁失灵", "occurred_at": "2026-10-12T08:30", "category": "硬件故障",
          "priority": "高", "satisfaction": "非常满意"}
COMPLAINT = {"complaint_no": "C-1", "project": "广场", "date": "2026-10-20", "receiver": "张三",
             "complainant": "赵先生", "contact": "139", "complaint_time": "2026-10-20T10:00", "content": "等候太久",
             "handler": "张三", "satisfaction": "满意", "handler_sign": "张三"}
STATS = {"report_year": 2026, "report_month": 10, "prepared_by": "王主管", "install_person_times": 3,
         "install_days": 2, "install_cost": 100, "dispatch_person_times": 4, "dispatch_days": 2,
         "dispatch_cost": 200, "material_cost": 50.5, "transport_cost": 30, "total_cost": 380.5,
         "submitted_to_office": "2026-10-31", "preparer_sign": "王主管"}


def seed(app: Flask) -> None:
    """October: two service reports (张三 非常满意, 李四 一般), a ticket by 李四 (非常满意, corrected to 不满意),
    a complaint received by 张三 (满意) and the support costs 380.5; plus records that must not count: a
    deleted service report and one of November."""
    submit(app, "zhang", "service-report", service_report("张三", "非常满意"))
    submit(app, "li", "service-report", service_report("李四", "一般"))
    ticket = submit(app, "li", "service-ticket", TICKET)
    correct(app, "li", ticket, {"satisfaction": "不满意"})
    submit(app, "zhang", "complaint", COMPLAINT, dt.date(2026, 10, 20))
    submit(app, "wang", "monthly-support-stats", STATS, dt.date(2026, 10, 31))
    gone = submit(app, "zhang", "service-report", service_report("张三", "满意"))
    with app.extensions["db_engine"].begin() as connection:
        connection.execute(update(Submission).where(Submission.uid == gone).values(status="deleted"))
    submit(app, "zhang", "service-report", service_report("张三", "不满意", dt.date(2026, 11, 2)),
           dt.date(2026, 11, 2))


@pytest.fixture
def team(app):
    """(supervisor's client, staff 张三's client) with the October records stored."""
    supervisor = person(app, "wang", "supervisor", name="王主管")
    zhang = person(app, "zhang", name="张三")
    person(app, "li", name="李四")
    seed(app)
    return supervisor, zhang


def text_of(response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))


def table_rows(page: str, css_class: str) -> dict[str, list[str]]:
    """The rows of the table with `css_class`, keyed by their first cell, as cell texts."""
    table = re.search(rf'<table class="records {css_class}[^"]*">(.*?)</table>', page, re.S)
    assert table, f"no {css_class} table"
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S):
        cells = [html.unescape(re.sub(r"<[^>]+>|\s+", " ", c)).strip()
                 for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


# -- the monthly report ----------------------------------------------------------------------------------


def test_monthly_page_shows_totals_people_and_chart(app, team):
    supervisor, _zhang = team
    response = supervisor.get(f"/reports/monthly?month={MONTH}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    totals = table_rows(page, "report-totals")
    assert totals["上门服务"][0] == "2 次"
    assert totals["维修维护工单"][0] == "1 单"
    assert totals["投诉"][0] == "1 件"
    assert totals["客服支撑费用"][0] == "380.5 元"
    assert totals["满意率"][0].startswith("50.0 %")  # 非常满意, 一般, 满意, 不满意 (the ticket's current revision)
    people = table_rows(page, "report-people")
    head = people.pop("人员")
    column = {label: n for n, label in enumerate(head)}
    zhang, li, wang = people["张三"], people["李四"], people["王主管"]
    assert zhang[column["上门服务(次)"]] == "1" and li[column["上门服务(次)"]] == "1"
    assert li[column["维修维护工单(单)"]] == "1" and zhang[column["维修维护工单(单)"]] == "0"
    assert zhang[column["投诉(件)"]] == "1"
    assert wang[column["客服支撑费用(元)"]] == "380.5"
    assert zhang[column["满意率(%)"]] == "100.0"  # by submitter: his report and complaint
    assert li[column["满意率(%)"]] == "0.0"  # 一般 and the corrected 不满意
    assert "<svg" in page and page.count("<rect") >= 4 and "按人员" in page
    for ref in app.extensions["catalogue"].handbook.rules.report.refs:
        regulation = ref.split(".")[0]
        assert f'href="/handbook/regulations/{regulation}/#{ref}"' in page
    assert 'rel="prev"' in page and "month=2026-09" in page and "month=2026-11" in page


def test_month_defaults_to_current_and_bad_month_is_refused_in_chinese(app, team):
    supervisor, _zhang = team
    now = app.extensions["catalogue"].now()
    assert f"{now.year} 年 {now.month} 月" in text_of(supervisor.get("/reports/monthly"))
    for bad in ("2026-13", "2026/10", "十月", "2026-1"):
        response = supervisor.get(f"/reports/monthly?month={bad}")
        assert response.status_code == 400
        assert "月份格式不对" in text_of(response) and "Traceback" not in text_of(response)
        assert supervisor.get(f"/reports/monthly.xlsx?month={bad}").status_code == 400


def test_other_month_and_other_team_are_empty(app, team):
    supervisor, _zhang = team
    november = table_rows(supervisor.get("/reports/monthly?month=2026-11").get_data(as_text=True), "report-totals")
    assert november["上门服务"][0] == "1 次"
    night = person(app, "night", "supervisor", team="night", name="夜班主管")
    october = night.get(f"/reports/monthly?month={MONTH}").get_data(as_text=True)
    assert table_rows(october, "report-totals")["上门服务"][0] == "0 次"
    assert "张三" not in october
    manager = person(app, "boss", "manager", team="office", name="经理")
    assert table_rows(manager.get(f"/reports/monthly?month={MONTH}").get_data(as_text=True),
                      "report-totals")["上门服务"][0] == "2 次"


def test_xlsx_holds_the_same_numbers(app, team):
    supervisor, _zhang = team
    response = supervisor.get(f"/reports/monthly.xlsx?month={MONTH}")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    assert book.sheetnames == ["汇总", "按人员", "按区域", "迟交漏交", "处罚"]
    summary = {row[0]: row[1] for row in book["汇总"].iter_rows(min_row=2, values_only=True)}
    assert summary["上门服务"] == 2 and summary["投诉"] == 1 and summary["客服支撑费用"] == 380.5
    assert summary["满意率"] == 50.0
    sheet = book["按人员"]
    head = [c.value for c in sheet[1]]
    people = {row[0]: dict(zip(head, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert people["张三"]["上门服务(次)"] == 1 and people["李四"]["维修维护工单(单)"] == 1
    assert people["王主管"]["客服支撑费用(元)"] == 380.5
    with app.extensions["db_sessions"]() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "export",
                                                       AuditEvent.target == "monthly-report")) is not None


def patrol(app: Flask, area: str, faults: int) -> dict:
    """A patrol of `area` with `faults` of its 12 scored check items 异常."""
    from tests.server_support import patrol_values

    form = app.extensions["catalogue"].forms["patrol"]
    checks = [item_id for item_id, _weight in form.score.items]
    values = patrol_values(app, area=area, date=DAY.isoformat())
    for item in checks[:faults]:
        values[item] = "fault"
        values[f"{item}_note"] = "有问题,已报告"
    return values


def test_patrol_scores_are_reported_per_area_on_the_page_xlsx_and_pdf(app, team):
    """巡查合格率 (reports.yaml `score: patrol`): the mean of the records' scores, per person and per area
    (in organisation.yaml's order), charted per area; a month without patrols shows none."""
    supervisor, _zhang = team
    areas = [a.name for a in app.extensions["catalogue"].handbook.organisation.areas.values()]
    submit(app, "zhang", "patrol", patrol(app, areas[1], 0))  # 100
    submit(app, "zhang", "patrol", patrol(app, areas[1], 3))  # 75
    submit(app, "li", "patrol", patrol(app, areas[0], 6))  # 50
    page = supervisor.get(f"/reports/monthly?month={MONTH}").get_data(as_text=True)
    assert table_rows(page, "report-totals")["巡查合格率"][0] == "75.0 %"
    by_area = table_rows(page, "report-areas")
    assert list(by_area)[1:] == [areas[0], areas[1]]  # after the head row, in the organisation's order
    assert by_area[areas[0]] == ["50.0", "1"] and by_area[areas[1]] == ["87.5", "2"]
    people = table_rows(page, "report-people")
    column = people.pop("人员").index("巡查合格率(%)")
    assert people["张三"][column] == "87.5" and people["李四"][column] == "50.0"
    chart = re.search(r'<title id="area-chart-title">(.*?)</title>(.*?)</svg>', page, re.S)
    assert chart and chart.group(1) == "按区域:巡查合格率"
    assert f"{areas[1]} · 巡查合格率:87.5" in chart.group(2) and f"{areas[0]} · 巡查合格率:50.0" in chart.group(2)
    assert page.count('id="chart-title"') == 1  # the two charts' titles do not clash

    book = load_workbook(io.BytesIO(supervisor.get(f"/reports/monthly.xlsx?month={MONTH}").data))
    rows = list(book["按区域"].iter_rows(values_only=True))
    assert rows == [("区域", "巡查合格率(%)", "记录数"), (areas[0], 50.0, 1), (areas[1], 87.5, 2)]
    pdf = supervisor.get(f"/reports/monthly.pdf?month={MONTH}").data
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True,
                          check=True).stdout.decode()
    assert "按区域得分" in text and "87.5" in text
    november = supervisor.get("/reports/monthly?month=2026-11").get_data(as_text=True)
    assert "本月没有计分的记录" in november


def test_pdf_is_a4_with_the_figures_and_an_embedded_cjk_font(app, team, tmp_path: Path, caplog):
    supervisor, _zhang = team
    with caplog.at_level(logging.WARNING, logger="weasyprint"):
        response = supervisor.get(f"/reports/monthly.pdf?month={MONTH}")
    assert not [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint")]  # e.g. a missing glyph
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(response.data)
    text = re.sub(r"\s+", "", subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                                             text=True, check=True).stdout)
    for expected in ("客服中心月度统计报表", "2026年10月", "上门服务", "2次", "380.5元", "50.0%", "张三", "李四"):
        assert expected in text, expected
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True).stdout
    assert re.search(r"WQY-?MicroHei-?Forms\S*\s+CID TrueType\s+Identity-H\s+yes\s+yes", fonts), fonts
    assert "595.2" in subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout


def test_staff_may_not_open_the_report(app, team):
    _supervisor, zhang = team
    for path in (f"/reports/monthly?month={MONTH}", "/reports/monthly.xlsx", "/reports/monthly.pdf",
                 "/reports/penalties"):
        response = zhang.get(path)
        assert response.status_code == 403, path
        assert "没有权限" in text_of(response)


def test_late_and_missed_forms_come_from_the_schedule(app, team):
    schedule = pytest.importorskip("formserver.operations.schedule")
    if not hasattr(schedule, "statuses"):
        pytest.skip("formserver.operations.schedule.statuses not written yet")
    supervisor, _zhang = team
    page = supervisor.get(f"/reports/monthly?month={MONTH}").get_data(as_text=True)
    totals = table_rows(page, "report-totals")
    late, missed = (int(re.fullmatch(r"(\d+) 份", totals[k][0]).group(1)) for k in ("迟交表单", "漏交表单"))
    assert missed > 0  # a past month with a handful of records: most scheduled forms were never filled in
    by_form = table_rows(page, "report-slots")
    by_form.pop("表单")
    assert sum(int(v[0]) for v in by_form.values()) == late and sum(int(v[1]) for v in by_form.values()) == missed
    people = table_rows(page, "report-people")
    head = people.pop("人员")
    assert sum(int(p[head.index("漏交")]) for p in people.values()) == missed
    book = load_workbook(io.BytesIO(supervisor.get(f"/reports/monthly.xlsx?month={MONTH}").data))
    statuses = [r[3] for r in book["迟交漏交"].iter_rows(min_row=2, values_only=True)]
    assert statuses.count("漏交") == missed and statuses.count("迟交") == late


# -- penalties -------------------------------------------------------------------------------------------


def penalty_form(client) -> tuple[str, dict[str, str]]:
    """(csrf token, {display name → user id}) of the penalties page."""
    page = client.get("/reports/penalties").get_data(as_text=True)
    form = page[page.index('id="record"'):]
    people = dict((name, ident) for ident, name in re.findall(r'<option value="(\d+)" >([^<(]+)', form))
    return csrf_of(page), people


def fined_row(app: Flask):
    """A row of the penalty schedule with a fine range."""
    from formserver.operations.penalties import schedule

    return next(r for r in schedule(app.extensions["catalogue"].handbook) if r.fine is not None)


def file_penalty(app: Flask, supervisor, token: str, person_id: str, row, reason: str) -> int:
    """Records a penalty at the row's first sanction and fine; returns its id (the only one so far)."""
    supervisor.post("/reports/penalties", data={"csrf_token": token, "person": person_id, "clause": row.id,
                                                "sanction": row.sanctions[0], "fine": str(row.fine),
                                                "on_date": "2026-10-15", "reason": reason})
    with app.extensions["db_sessions"]() as session:
        return session.scalar(select(PenaltyRecord.id))


def test_penalty_fine_outside_the_range_is_refused_then_recorded_and_counted(app, team):
    supervisor, zhang = team
    row = fined_row(app)
    token, people = penalty_form(supervisor)
    high = row.fine_max if row.fine_max is not None else row.fine
    data = {"csrf_token": token, "person": people["张三"], "clause": row.id, "sanction": row.sanctions[0],
            "fine": str(high + 1), "on_date": "2026-10-15", "reason": "服务时与客户争执"}
    refused = supervisor.post("/reports/penalties", data=data)
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    assert re.search(r'<p class="field-error" id="fine-error">[^<]*罚款', page)
    assert "服务时与客户争执" in page and f'value="{high + 1}"' in page  # the typing is kept
    for field, value, message in (("sanction", "枪毙", "处罚方式只有"), ("clause", "KF-99.1", "处罚标准中没有"),
                                  ("reason", " ", "请写明处罚事由"), ("on_date", "2999-01-01", "不能晚于今天")):
        response = supervisor.post("/reports/penalties", data={**data, "fine": str(high), field: value})
        assert response.status_code == 400 and message in text_of(response), field

    done = supervisor.post("/reports/penalties", data={**data, "fine": str(high)})
    assert done.status_code == 303
    with app.extensions["db_sessions"]() as session:
        record = session.scalar(select(PenaltyRecord))
        assert (record.clause_id, record.fine, record.on_date) == (row.id, high, dt.date(2026, 10, 15))
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "penalty")).detail["clause"] == row.id
    listing = supervisor.get("/reports/penalties").get_data(as_text=True)
    regulation = row.id.split(".")[0]
    assert f'href="/handbook/regulations/{regulation}/#{row.id}"' in listing
    for ref in row.violates:
        assert f"#{ref}" in listing

    report = supervisor.get(f"/reports/monthly?month={MONTH}").get_data(as_text=True)
    people_rows = table_rows(report, "report-people")
    head = people_rows.pop("人员")
    assert people_rows["张三"][head.index("处罚")] == "1" and people_rows["张三"][head.index("罚款(元)")] == str(high)
    assert people_rows["李四"][head.index("处罚")] == "0"
    book = load_workbook(io.BytesIO(supervisor.get(f"/reports/monthly.xlsx?month={MONTH}").data))
    assert [r[2] for r in book["处罚"].iter_rows(min_row=2, values_only=True)] == [row.id]

    mine = zhang.get("/reports/penalties/mine")
    assert mine.status_code == 200 and row.id in text_of(mine) and "服务时与客户争执" in text_of(mine)
    li = app.test_client()
    login(li, "li")
    assert "服务时与客户争执" not in text_of(li.get("/reports/penalties/mine"))


def test_penalty_reason_is_shown_as_text(app, team):
    supervisor, zhang = team
    row = fined_row(app)
    token, people = penalty_form(supervisor)
    script = '<script>alert("x")</script>'
    assert supervisor.post("/reports/penalties", data={
        "csrf_token": token, "person": people["张三"], "clause": row.id, "sanction": row.sanctions[0],
        "fine": str(row.fine), "on_date": "2026-10-15", "reason": script}).status_code == 303
    for page in (supervisor.get("/reports/penalties"), zhang.get("/reports/penalties/mine"),
                 supervisor.get(f"/reports/monthly?month={MONTH}")):
        assert script not in page.get_data(as_text=True) and "&lt;script&gt;" in page.get_data(as_text=True)


def test_row_without_fine_takes_no_fine(app, team):
    supervisor, _zhang = team
    from formserver.operations.penalties import schedule

    row = next(r for r in schedule(app.extensions["catalogue"].handbook) if r.fine is None)
    token, people = penalty_form(supervisor)
    data = {"csrf_token": token, "person": people["李四"], "clause": row.id, "sanction": row.sanctions[0],
            "fine": "50", "on_date": "2026-10-16", "reason": "推诿"}
    refused = supervisor.post("/reports/penalties", data=data)
    assert refused.status_code == 400 and "没有规定罚款" in text_of(refused)
    assert supervisor.post("/reports/penalties", data={**data, "fine": ""}).status_code == 303


def test_revoke_keeps_the_record_and_drops_it_from_the_report(app, team):
    supervisor, zhang = team
    row = fined_row(app)
    token, people = penalty_form(supervisor)
    penalty_id = file_penalty(app, supervisor, token, people["张三"], row, "迟到")
    assert zhang.post(f"/reports/penalties/{penalty_id}/revoke",
                      data={"csrf_token": token, "reason": "x"}).status_code in (400, 403)
    no_reason = supervisor.post(f"/reports/penalties/{penalty_id}/revoke", data={"csrf_token": token, "reason": ""})
    assert no_reason.status_code == 303
    done = supervisor.post(f"/reports/penalties/{penalty_id}/revoke",
                           data={"csrf_token": token, "reason": "核实有误"}, follow_redirects=True)
    assert "已撤销" in text_of(done)
    with app.extensions["db_sessions"]() as session:
        record = session.get(PenaltyRecord, penalty_id)
        assert record.revoked_at is not None and record.revoked_reason == "核实有误"
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "penalty_revoke")) is not None
    totals = table_rows(supervisor.get(f"/reports/monthly?month={MONTH}").get_data(as_text=True), "report-totals")
    assert totals["处罚"][0] == "0 次"


def test_supervisor_cannot_penalise_or_revoke_outside_the_team(app, team):
    supervisor, _zhang = team
    night = person(app, "night", "supervisor", team="night", name="夜班主管")
    token, people = penalty_form(night)
    assert "张三" not in people
    row = fined_row(app)
    zhang_id = str(user_row(app, "zhang").id)
    refused = night.post("/reports/penalties", data={"csrf_token": token, "person": zhang_id, "clause": row.id,
                                                     "sanction": row.sanctions[0], "fine": str(row.fine),
                                                     "on_date": "2026-10-15", "reason": "外组测试事由"})
    assert refused.status_code == 400 and "不在您可以处理的范围内" in text_of(refused)
    token, people = penalty_form(supervisor)
    penalty_id = file_penalty(app, supervisor, token, people["张三"], row, "外组测试事由")
    night_token = csrf_of(night.get("/reports/penalties").get_data(as_text=True))
    assert night.post(f"/reports/penalties/{penalty_id}/revoke",
                      data={"csrf_token": night_token, "reason": "x"}).status_code == 404
    assert "外组测试事由" not in text_of(night.get("/reports/penalties"))
