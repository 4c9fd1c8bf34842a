"""The monthly statistics report (page with chart, XLSX, printable PDF) and penalties recorded against people.

The figures are worked out by `monthly` from checklists/rules/reports.yaml; penalty entries are checked by
`penalties` against the penalty schedule. Supervisors see their team, managers everyone; a person sees their
own penalties.
"""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_login import current_user
from openpyxl import Workbook
from openpyxl.styles import Font

from formserver import db
from formserver.accounts import audit
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.db.models import PenaltyRecord, User
from formserver.forms.catalogue import catalogue
from formserver.operations import monthly, penalties
from formserver.records import exports
from handbook.pdf import css_string, print_font, render_pdf

bp = Blueprint("reports", __name__, url_prefix="/reports")

BAD_MONTH = "月份格式不对,应为 年-月,例如 2026-11。"
SLOT_STATUS = {"late": "迟交", "missed": "漏交"}


def _month(default_now: bool = True) -> monthly.Month | None:
    text = request.args.get("month", "").strip()
    if not text:
        return monthly.Month.of(catalogue().now().date()) if default_now else None
    month = monthly.Month.parse(text)
    if month is None:
        zh_abort(400, BAD_MONTH)
    return month


def _team() -> str | None:
    """The scope of what the current user sees: None (everyone) for managers, else their team."""
    user = current_user.user
    return None if user.at_least("manager") else user.team


def _report() -> monthly.Report:
    cat = catalogue()
    if cat.handbook.rules.report is None:
        zh_abort(404, "制度中没有定义月度统计报表(checklists/rules/reports.yaml)。")
    return monthly.compute(db.session(), cat, _month(), _team())


def _penalty_rows() -> dict[str, penalties.ScheduleRow]:
    return {row.id: row for row in penalties.schedule(catalogue().handbook)}


@bp.get("/monthly")
@requires("supervisor")
def monthly_page():
    report = _report()
    return render_template("reports.html", report=report, chart=monthly.chart(report),
                           area_chart=monthly.area_chart(report), rows=_penalty_rows(),
                           prev=report.month.shifted(-1), next=report.month.shifted(1),
                           scope=_scope_label())


def _scope_label() -> str:
    team = _team()
    return "全部班组" if team is None else f"班组:{team or '(未分组)'}"


def _audit_export(report: monthly.Report, fmt: str) -> None:
    with db.write() as w:
        audit.record(w, current_user.user, "export", "monthly-report", format=fmt, month=str(report.month),
                     team=report.team)


@bp.get("/monthly.xlsx")
@requires("supervisor")
def monthly_xlsx():
    report = _report()
    _audit_export(report, "xlsx")
    return Response(workbook(report, _penalty_rows()),
                    mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="monthly-report-{report.month}.xlsx"'})


@bp.get("/monthly.pdf")
@requires("supervisor")
def monthly_pdf():
    report = _report()
    hb = catalogue().handbook
    html = render_template("reports_pdf.html", report=report, chart=monthly.chart(report),
                           area_chart=monthly.area_chart(report), rows=_penalty_rows(),
                           scope=_scope_label(), font=print_font(hb.root), css_string=css_string,
                           printed=catalogue().now().strftime("%Y-%m-%d %H:%M"))
    data = render_pdf(html)
    _audit_export(report, "pdf")
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="monthly-report-{report.month}.pdf"'})


def _sheet(book: Workbook, title: str, head: list[str], rows: list[list[Any]]) -> None:
    sheet = book.create_sheet(title)
    sheet.append(head)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append([exports.xlsx_cell(v) for v in row])


def workbook(report: monthly.Report, rows: dict[str, penalties.ScheduleRow]) -> bytes:
    """The report as .xlsx bytes (sheets 汇总, 按人员, 按区域, 迟交漏交, 处罚)."""
    book = Workbook()
    book.remove(book.active)
    figures = report.figures
    summary = [[f.label, report.totals[f.id].number, f.unit] for f in figures]
    summary += [["迟交", report.late, "份"], ["漏交", report.missed, "份"],
                ["处罚", len(report.penalties), "次"], ["罚款", report.fines, "元"]]
    _sheet(book, "汇总", [f"{report.rules.title} {report.month}", "数值", "单位"], summary)
    _sheet(book, "按人员", ["人员", *[f"{f.label}({f.unit})" for f in figures], "迟交", "漏交", "处罚次数", "罚款(元)"],
           [[p.name, *[p.figures[f.id].number for f in figures],
             p.late if report.slots is not None else None, p.missed if report.slots is not None else None,
             p.penalties, p.fines] for p in report.people])
    scored = report.score_figures
    empty = monthly.Tally("score")
    _sheet(book, "按区域", ["区域", *[h for f in scored for h in (f"{f.label}({f.unit})", "记录数")]],
           [[area, *[v for f in scored for v in (tallies.get(f.id, empty).number, tallies.get(f.id, empty).answered)]]
            for area, tallies in report.areas.items()])
    _sheet(book, "迟交漏交", ["日期", "表单", "人员", "情况"],
           [[s.date.isoformat(), s.form_title, s.person, SLOT_STATUS.get(s.status, s.status)]
            for s in report.slots or []])
    _sheet(book, "处罚", ["日期", "人员", "条款", "违规行为", "处罚", "罚款(元)", "事由", "记录人"],
           [[p.on_date.isoformat(), p.user.display_name, p.clause_id,
             rows[p.clause_id].offence if p.clause_id in rows else "", p.sanction, p.fine, p.reason,
             p.recorded_by.display_name if p.recorded_by else ""] for p in report.penalties])
    out = io.BytesIO()  # a month's report is small: in memory, nothing left to close
    book.save(out)
    return out.getvalue()


# -- penalties ------------------------------------------------------------------------------------------


def _render_penalties(values: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                      status: int = 200):
    """The penalties page: the form to record one (with the typed values and errors after a refusal) and
    the records in scope, filtered by ?person=<user id> and ?month=YYYY-MM."""
    session = db.session()
    user = current_user.user
    month = _month(default_now=False)
    person_id = request.args.get("person", type=int)
    records = penalties.listed(session, user, person_id=person_id, start=month.start if month else None,
                               end=month.end if month else None)
    today = catalogue().now().date()
    schedule = penalties.schedule(catalogue().handbook)
    return render_template(
        "penalties.html", records=records, people=penalties.people_in_scope(session, user),
        schedule=schedule, rows={row.id: row for row in schedule}, row_label=penalties.row_label,
        may_revoke=penalties.may_revoke, values=values or {"on_date": today.isoformat()}, errors=errors or {},
        month=str(month) if month else "", person_id=person_id, today=today), status


@bp.get("/penalties")
@requires("supervisor")
def penalties_page():
    return _render_penalties()


@bp.post("/penalties")
@requires("supervisor")
def penalties_record():
    user = current_user.user
    values = {k: request.form.get(k, "") for k in ("person", "clause", "sanction", "fine", "on_date", "reason")}
    entry, errors = penalties.parse(values, penalties.schedule(catalogue().handbook),
                                    penalties.people_in_scope(db.session(), user), catalogue().now().date())
    if entry is None:
        return _render_penalties(values, errors, 400)
    with db.write() as w:
        penalties.record(w, w.get(User, user.id), entry)
    flash(f"已记录:{entry.person.display_name} {entry.row.id} {entry.sanction}"
          + (f",罚款 {entry.fine} 元" if entry.fine is not None else ""))
    return redirect(url_for("reports.penalties_page"), code=303)


@bp.post("/penalties/<int:penalty_id>/revoke")
@requires("supervisor")
def penalties_revoke(penalty_id: int):
    user = current_user.user
    reason = request.form.get("reason", "").strip()
    with db.write() as w:
        penalty = w.get(PenaltyRecord, penalty_id)
        if penalty is None or not penalties.may_revoke(user, penalty):
            zh_abort(404, "处罚记录不存在,或您没有处理它的权限。")
        if penalty.revoked_at is not None:
            flash("这条处罚已经撤销过了。")
            return redirect(url_for("reports.penalties_page"), code=303)
        if not reason:
            flash("撤销处罚须写明原因,未撤销。")
            return redirect(url_for("reports.penalties_page"), code=303)
        penalties.revoke(w, w.get(User, user.id), penalty, reason[:penalties.REASON_MAX])
    flash("已撤销这条处罚。")
    return redirect(url_for("reports.penalties_page"), code=303)


@bp.get("/penalties/mine")
@requires("staff")
def penalties_mine():
    records = penalties.listed(db.session(), current_user.user, person_id=current_user.user.id)
    return render_template("penalties_mine.html", records=records, rows=_penalty_rows())
