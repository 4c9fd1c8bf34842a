"""The duty roster's files: import from XLSX or CSV (every row checked first, then all rows in one
transaction or none), the import template made from organisation.yaml, export as CSV and XLSX in the
import's columns (so an export imports back), and the printed A4 landscape roster."""

from __future__ import annotations

import datetime as dt
import io
from collections import defaultdict
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, send_file, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from openpyxl import Workbook
from openpyxl.styles import Font
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from formserver import db
from formserver.accounts import audit
from formserver.accounts.access import requires
from formserver.db.models import User
from formserver.forms.catalogue import catalogue
from formserver.operations import roster_edit, roster_io
from formserver.operations.roster import Period, rostered
from formserver.operations.roster_views import WEEKDAYS, Zh, require_edit, scope_period, scope_team
from formserver.records import exports
from handbook import datebounds
from handbook.pdf import css_string, print_font, render_pdf

bp = Blueprint("roster_files", __name__, url_prefix="/roster")


class ImportForm(Zh):
    file = FileField("排班表文件", validators=[FileRequired("请选择要导入的 XLSX 或 CSV 文件")])


# -- import ------------------------------------------------------------------------------------------------


def _context(team: str) -> roster_io.Context:
    cat = catalogue()
    session = db.session()
    today = cat.now().date()
    earliest = datebounds.resolve(current_app.config["DATE_EARLIEST"], today) or today
    latest = datebounds.resolve(current_app.config["DATE_LATEST"], today) or today
    user = current_user.user
    people = list(session.scalars(select(User).where(User.active.is_(True))))
    teams = roster_edit.team_texts(roster_edit.team_names(session, cat.handbook.organisation))
    return roster_io.Context(cat.handbook.organisation, people, teams,
                             None if user.at_least("manager") else user.team, earliest, latest)


def _render_import(form: ImportForm, *, problems: list[roster_io.RowProblem] | None = None, refused: str = "",
                   status: int = 200):
    team = scope_team()
    return render_template("roster_import.html", form=form, team=team, problems=(problems or [])[:roster_io.MAX_ERRORS],
                           more=max(0, len(problems or []) - roster_io.MAX_ERRORS), refused=refused,
                           columns=roster_io.COLUMNS, org=catalogue().handbook.organisation,
                           max_rows=roster_io.MAX_ROWS, max_kb=current_app.config["ROSTER_MAX_BYTES"] // 1024), status


@bp.get("/import")
@requires("supervisor")
def import_page():
    require_edit(scope_team())
    return _render_import(ImportForm())


@bp.post("/import")
@requires("supervisor")
def import_file():
    team = scope_team()
    require_edit(team)
    form = ImportForm()
    if not form.validate():
        return _render_import(form, status=400)
    upload = form.file.data
    limit = current_app.config["ROSTER_MAX_BYTES"]
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        return _render_import(form, refused=f"文件超过 {limit // 1024} KB。请按周或按月分成几个文件上传。", status=413)
    filename = upload.filename or ""
    try:
        planned, problems = roster_io.check(roster_io.read_table(filename, data), _context(team))
    except roster_io.Refused as error:
        return _render_import(form, refused=str(error), status=400)
    if problems:
        return _render_import(form, problems=problems, status=400)
    try:
        with db.write() as w:
            added, removed = roster_edit.replace(w, current_user.user, planned, filename)
    except roster_edit.Refused as error:
        return _render_import(form, refused=str(error), status=409)
    except IntegrityError:
        return _render_import(form, refused="导入时排班刚被别人改过,没有导入任何内容。请重新上传。", status=409)
    days = sorted({p.day for p in planned})
    replaced = f",替换了这些日期原有的 {removed} 条" if removed else ""
    flash(f"已导入 {added} 条排班({days[0]} 至 {days[-1]}){replaced}。")
    return redirect(url_for("roster.index", team=team, **Period.week_of(days[0]).key), code=303)


@bp.get("/template.xlsx")
@requires("supervisor")
def template():
    """An empty roster with the header, an example row per shift, and the names allowed (from organisation.yaml)."""
    org = catalogue().handbook.organisation
    book = Workbook()
    sheet = book.active
    sheet.title = "排班表"
    sheet.append(list(roster_io.COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for width, column in zip((12, 8, 16, 22, 12), "ABCDE", strict=True):
        sheet.column_dimensions[column].width = width
    names = book.create_sheet("可填写的值")
    names.append(["班次", "时间", "区域", "班组"])
    shifts = list(org.shifts.values())
    areas = list(org.areas.values())
    teams = list(roster_edit.team_names(db.session(), org).items())
    for n in range(max(len(shifts), len(areas), len(teams))):
        names.append([shifts[n].name if n < len(shifts) else None,
                      f"{shifts[n].start}-{shifts[n].end}" if n < len(shifts) else None,
                      areas[n].name if n < len(areas) else None, teams[n][0] if n < len(teams) else None])
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": 'attachment; filename="roster-template.xlsx"'})


# -- export and print ---------------------------------------------------------------------------------------


def _export_rows(period: Period, team: str) -> list[list[Any]]:
    org = catalogue().handbook.organisation
    roster = rostered(db.session(), period.start, period.end, team)
    entries = [e for key in sorted(roster.entries) for e in roster.entries[key]]
    ambiguous = roster_io.ambiguous_names(db.session().scalars(select(User).where(User.active.is_(True))))
    return [[e.day.isoformat(), org.shifts[e.shift].name if e.shift in org.shifts else e.shift,
             roster_io.person_label(e.user, ambiguous), org.areas[e.area].name if e.area in org.areas else "", e.team]
            for e in entries]


def _filename(period: Period, team: str, ext: str) -> str:
    return f"roster-{team or 'all'}-{next(iter(period.key.values()))}.{ext}"


def _audit_export(period: Period, team: str, fmt: str) -> None:
    with db.write() as w:
        audit.record(w, current_user.user, "export", f"roster:{team}", format=fmt, start=period.start.isoformat(),
                     end=period.end.isoformat())


@bp.get("/export.csv")
@requires("staff")
def export_csv():
    period, team = scope_period(), scope_team()
    text = exports.csv_text(list(roster_io.COLUMNS), [[exports.neutralise(c) for c in r]
                                                      for r in _export_rows(period, team)])
    _audit_export(period, team, "csv")
    return Response(text.encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{_filename(period, team, "csv")}"'})


@bp.get("/export.xlsx")
@requires("staff")
def export_xlsx():
    period, team = scope_period(), scope_team()
    data = exports.xlsx_file(list(roster_io.COLUMNS), [[exports.neutralise(c) for c in r]
                                                       for r in _export_rows(period, team)], "排班表")
    _audit_export(period, team, "xlsx")
    return send_file(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                     as_attachment=True, download_name=_filename(period, team, "xlsx"))


@bp.get("/print.pdf")
@requires("staff")
def print_pdf():
    cat = catalogue()
    hb = cat.handbook
    period, team = scope_period(), scope_team()
    roster = rostered(db.session(), period.start, period.end, team)
    cells: dict[tuple[dt.date, str], list[str]] = defaultdict(list)
    for (day, shift), entries in roster.entries.items():
        for e in entries:
            area = hb.organisation.areas[e.area].name if e.area in hb.organisation.areas else ""
            cells[(day, shift)].append(f"{e.user.display_name}({area})" if area else e.user.display_name)
    html = render_template("roster_pdf.html", period=period, team=team, weekdays=WEEKDAYS, cells=cells,
                           shifts=list(hb.organisation.shifts.values()),
                           team_name=roster_edit.team_names(db.session(), hb.organisation).get(team, team),
                           font=print_font(hb.root), css_string=css_string,
                           printed=cat.now().strftime("%Y-%m-%d %H:%M"))
    data = render_pdf(html)
    _audit_export(period, team, "pdf")
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{_filename(period, team, "pdf")}"'})
