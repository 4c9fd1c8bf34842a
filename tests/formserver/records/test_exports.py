"""Supervisors export the filtered record list as CSV and XLSX: Chinese intact, one column per item (check
items with their note), formula-looking text neutralised, numbers kept as numbers, every export audited."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from formserver.db.models import AuditEvent
from formserver.records.exports import BASE_COLUMNS
from tests.server_support import create_user, login, patrol_values
from tests.server_values import minimal_formdata, submitted

INJECTIONS = ["=HYPERLINK(\"http://evil.example\",\"点我\")", "+1+2", "-3-4", "@SUM(A1)"]


pytestmark = pytest.mark.usefixtures("cheap_passwords")


def person(app, username: str, role: str = "staff", name: str = ""):
    create_user(app, username, role=role, display_name=name or username)
    client = app.test_client()
    assert login(client, username).status_code == 302
    return client


@pytest.fixture
def records(app):
    """(supervisor client, uids): three patrols by 张三 (one out of the date filter) and a staff review."""
    staff = person(app, "zhang", name="张三")
    uids = {
        "fault": submitted(staff, "patrol", patrol_values(app, date="2026-11-10", cctv="fault",
                                                          cctv_note="B1 监控黑屏,已报工程部", findings="东门积水")),
        "formula": submitted(staff, "patrol", patrol_values(app, date="2026-11-11", inspector=INJECTIONS[0],
                                                            findings=INJECTIONS[1], recheck=INJECTIONS[2],
                                                            windows="fault", windows_note=INJECTIONS[3])),
        "early": submitted(staff, "patrol", patrol_values(app, date="2026-10-01")),
    }
    review = minimal_formdata(app.extensions["catalogue"].forms["staff-review"])
    review.setlist("attitude_score", ["18.5"])
    review.setlist("employee", ["=1+1"])
    uids["review"] = submitted(staff, "staff-review", review)
    return person(app, "wang", role="supervisor", name="王主管"), uids


def patrol_header(app) -> list[str]:
    form = app.extensions["catalogue"].forms["patrol"]
    head = list(BASE_COLUMNS)
    for item in form.all_items():
        head.append(item.label)
        if item.kind == "check":
            head.append(f"{item.label}(说明)")
    return [*head, "巡查合格率"]  # the form's score, last


def csv_rows(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def xlsx_rows(response) -> list[list]:
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    data = response.data
    response.close()  # send_file's temporary file: a WSGI server closes it after sending, a test client must
    sheet = load_workbook(io.BytesIO(data)).active
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


QUERY = "?form=patrol&from=2026-11-01&to=2026-11-30"


def test_csv_export_of_a_filtered_list(app, records):
    boss, uids = records
    rows = csv_rows(boss.get(f"/records/export.csv{QUERY}"))
    head = patrol_header(app)
    assert rows[0] == head
    assert [r[0] for r in rows[1:]] == [uids["fault"], uids["formula"]]  # oldest first; October filtered out
    fault = dict(zip(head, rows[1], strict=True))
    assert fault["表单"] == "巡查检查表" and fault["填写人"] == "张三" and fault["日期"] == "2026-11-10"
    assert fault["状态"] == "已提交" and fault["更正次数"] == "0"
    assert fault["监控无被撬毁、工作正常"] == "异常"
    assert fault["监控无被撬毁、工作正常(说明)"] == "B1 监控黑屏,已报工程部"
    assert fault["发现的问题及处理结果"] == "东门积水" and fault["走廊无杂物、标贴"] == "正常"
    assert fault["发现可疑人物"] == "否"
    assert fault["巡查合格率"] == "91.7"  # 11 of its 12 counted checks 正常


def test_exports_neutralise_formulas(app, records):
    boss, uids = records
    expected = {"巡查人": "'" + INJECTIONS[0], "发现的问题及处理结果": "'" + INJECTIONS[1],
                "上次问题复查结果": "'" + INJECTIONS[2], "窗户无被撬毁(说明)": "'" + INJECTIONS[3]}
    head = patrol_header(app)
    rows = csv_rows(boss.get(f"/records/export.csv{QUERY}&person=zhang"))
    formula = dict(zip(head, rows[2], strict=True))
    assert {k: formula[k] for k in expected} == expected

    sheet = xlsx_rows(boss.get(f"/records/export.xlsx{QUERY}"))
    assert sheet[0] == head
    formula = dict(zip(head, sheet[2], strict=True))
    assert {k: formula[k] for k in expected} == expected
    assert formula["记录编号"] == uids["formula"]


def test_xlsx_keeps_numbers_as_numbers(app, records):
    boss, uids = records
    sheet = xlsx_rows(boss.get("/records/export.xlsx?form=staff-review"))
    row = dict(zip(sheet[0], sheet[1], strict=True))
    assert row["记录编号"] == uids["review"]
    form = app.extensions["catalogue"].forms["staff-review"]
    labels = {item.id: item.label for item in form.all_items()}
    assert row[labels["attitude_score"]] == 18.5
    assert isinstance(row[labels["competence_score"]], int) and row[labels["competence_score"]] == 1
    assert row[labels["employee"]] == "'=1+1"
    assert row["更正次数"] == 0
    patrol = xlsx_rows(boss.get(f"/records/export.xlsx{QUERY}"))
    assert patrol[0][-1] == "巡查合格率" and patrol[1][-1] == 91.7  # a number, to chart per area



def test_export_of_all_forms_has_a_summary_column(app, records):
    boss, uids = records
    rows = csv_rows(boss.get("/records/export.csv"))
    assert rows[0] == [*BASE_COLUMNS, "摘要"]
    assert sorted(r[0] for r in rows[1:]) == sorted(uids.values())
    assert {r[1] for r in rows[1:]} == {"巡查检查表", "员工考核评估表"}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_staff_may_not_export(app, records, fmt):
    staff = app.test_client()
    login(staff, "zhang")
    response = staff.get(f"/records/export.{fmt}")
    assert response.status_code == 403 and "没有权限" in response.get_data(as_text=True)
    with app.extensions["db_sessions"]() as session:
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "export")) is None


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_export_is_audited(app, records, fmt):
    boss, _uids = records
    with boss.get(f"/records/export.{fmt}{QUERY}") as response:
        assert response.status_code == 200
    with app.extensions["db_sessions"]() as session:
        [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "export")).all()
    assert (event.username, event.target) == ("wang", "patrol")
    assert event.detail == {"format": fmt, "filters": {"form": "patrol", "from": "2026-11-01", "to": "2026-11-30"}}


def test_export_with_bad_filters_is_a_chinese_400(records):
    boss, _uids = records
    response = boss.get("/records/export.csv?from=yesterday")
    assert response.status_code == 400 and "格式不对" in response.get_data(as_text=True)


def test_a_hidden_item_is_an_empty_cell(app, records):
    """What the answers hide is never stored (and were it stored, by a case step say, the export leaves it out)."""
    from formserver.records.exports import item_cells, item_columns, logic_of

    boss, _uids = records
    staff = app.test_client()
    assert login(staff, "zhang").status_code == 302
    submitted(staff, "patrol", patrol_values(app, date="2026-11-12", suspicious_reported="yes",
                                             suspicious_note="不该出现"))
    submitted(staff, "patrol", patrol_values(app, date="2026-11-13", suspicious_person="yes",
                                             suspicious_reported="yes", suspicious_note="已报安全部"))
    head = patrol_header(app)
    rows = [dict(zip(head, r, strict=True)) for r in csv_rows(boss.get(f"/records/export.csv{QUERY}"))[1:]]
    hidden, shown = rows[-2], rows[-1]
    columns = ("发现可疑人物", "已立刻报告安全部", "可疑人物情况及应对措施")
    assert [hidden[c] for c in columns] == ["否", "", ""]
    assert [shown[c] for c in columns] == ["是", "是", "已报安全部"]

    form = app.extensions["catalogue"].forms["patrol"]
    cells = dict(zip([c[0] for c in item_columns(form)], item_cells(
        item_columns(form), patrol_values(app, suspicious_reported="yes"), logic_of(form)), strict=True))
    assert cells["已立刻报告安全部"] == ""
