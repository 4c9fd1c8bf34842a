"""The duty roster's pages (排班): the week or month grid (everyone reads it, supervisors edit their team's,
managers any team's), adding and removing entries, 我的排班, and swaps (调班) with their approver. The
roster's files (import, template, export, print) are `roster_files`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms import DateField, SelectField, TextAreaField
from wtforms.validators import InputRequired, Length

from formserver import db
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.db.models import RosterEntry, RosterSwap, User
from formserver.forms.catalogue import catalogue
from formserver.operations import roster_edit
from formserver.operations.roster import Period, rostered

bp = Blueprint("roster", __name__, url_prefix="/roster")
BAD_PERIOD = "周或月份格式有误:周写作 2026-W50,月份写作 2026-12。"
WEEKDAYS = "一二三四五六日"
NO_AREA = "不分区域"
SWAP_LIMIT = 200
MINE_DAYS = 14


class Zh(FlaskForm):
    class Meta:
        locales = ("zh_CN",)


class EntryForm(Zh):
    day = DateField("日期", validators=[InputRequired("请选择日期")])
    shift = SelectField("班次", validators=[InputRequired("请选择班次")])
    person = SelectField("人员", validators=[InputRequired("请选择人员")])
    area = SelectField("区域")


class SwapForm(Zh):
    entry = SelectField("原排班", validators=[InputRequired("请选择要调出的排班")])
    to = SelectField("接班人员", validators=[InputRequired("请选择接替的人员")])
    reason = TextAreaField("调班原因", validators=[InputRequired("请写明调班原因"),
                                                 Length(min=2, max=500, message="调班原因须为 2 至 500 个字")])


class RemoveForm(Zh):
    pass


# -- scope: which period and team a page shows --------------------------------------------------------


def scope_period() -> Period:
    period = Period.parse(request.args.get("week", "").strip()[:10], request.args.get("month", "").strip()[:7],
                          catalogue().now().date())
    if period is None:
        zh_abort(400, BAD_PERIOD)
    return period


def scope_team() -> str:
    names = roster_edit.team_names(db.session(), catalogue().handbook.organisation)
    team = request.values.get("team", "").strip()[:64] or current_user.user.team
    if team and team not in names:
        zh_abort(404, f"没有叫“{team}”的班组。")
    return team


def _people(team: str) -> list[User]:
    return list(db.session().scalars(select(User).where(User.active.is_(True), User.team == team)
                                     .order_by(User.display_name, User.username)))


def require_edit(team: str) -> None:
    if not roster_edit.may_edit(current_user.user, team):
        zh_abort(403, f"您不能修改“{team or '未分组'}”班组的排班:主管只能编辑本班组的排班,经理可以编辑所有班组。")


def _entry_form(team: str, formdata: Any = None) -> EntryForm:
    org = catalogue().handbook.organisation
    form = EntryForm(formdata=formdata) if formdata is not None else EntryForm()
    if formdata is None:  # a new entry: today when the page shows it, else the period's first day
        period, today = scope_period(), catalogue().now().date()
        form.day.data = today if period.start <= today <= period.end else period.start
    form.shift.choices = [(s.id, s.name) for s in org.shifts.values()]
    form.person.choices = [(str(u.id), u.display_name) for u in _people(team)]
    form.area.choices = [("", NO_AREA)] + [(a.id, a.name) for a in org.areas.values()]
    return form


def _swap_form(team: str, roster_rows: list[RosterEntry], formdata: Any = None) -> SwapForm:
    org = catalogue().handbook.organisation
    form = SwapForm(formdata=formdata) if formdata is not None else SwapForm()
    form.entry.choices = [(str(e.id), f"{e.day:%m-%d} 周{WEEKDAYS[e.day.weekday()]} {org.shifts[e.shift].name}"
                                      f" {e.user.display_name}") for e in roster_rows if e.shift in org.shifts]
    form.to.choices = [(str(u.id), u.display_name) for u in _people(team)]
    return form


def _swapped(start: dt.date, end: dt.date) -> set[tuple[dt.date, str, int]]:
    """(day, shift, user id) of the entries a swap gave to their person: the grid marks them."""
    rows = db.session().execute(select(RosterSwap.day, RosterSwap.shift, RosterSwap.to_user_id)
                                .where(RosterSwap.day >= start, RosterSwap.day <= end))
    return {tuple(r) for r in rows}


def render_grid(*, entry_form: EntryForm | None = None, swap_form: SwapForm | None = None, status: int = 200):
    cat = catalogue()
    org = cat.handbook.organisation
    period, team = scope_period(), scope_team()
    roster = rostered(db.session(), period.start, period.end, team)
    rows = [e for (_day, _shift), entries in sorted(roster.entries.items()) for e in entries]
    editable = roster_edit.may_edit(current_user.user, team)
    return render_template(
        "roster.html", period=period, team=team, teams=roster_edit.team_names(db.session(), org), roster=roster,
        shifts=list(org.shifts.values()), areas=org.areas, weekdays=WEEKDAYS, editable=editable,
        swapped=_swapped(period.start, period.end), today=cat.now().date(),
        entry_form=entry_form or (_entry_form(team) if editable else None),
        swap_form=swap_form or (_swap_form(team, rows) if editable else None), remove_form=RemoveForm(),
        previous=period.shifted(-1), following=period.shifted(1), swap_refs=roster_edit.SWAP_REFS,
        as_week=Period.week_of(period.start).key, as_month=Period.month_of(period.start).key), status


def _back(team: str) -> Any:
    key = {k: request.values[k] for k in ("week", "month") if request.values.get(k)}
    return redirect(url_for("roster.index", team=team, **key), code=303)


# -- the grid and edits -----------------------------------------------------------------------------------


@bp.get("/")
@requires("staff")
def index():
    return render_grid()


@bp.post("/entries")
@requires("supervisor")
def add():
    team = scope_team()
    require_edit(team)
    form = _entry_form(team, request.form)
    if not form.validate():
        return render_grid(entry_form=form, status=400)
    org = catalogue().handbook.organisation
    try:
        with db.write() as w:
            person = w.get(User, int(form.person.data))
            roster_edit.add(w, current_user.user, form.day.data, form.shift.data, person, form.area.data or "",
                            team, org)
    except (roster_edit.Refused, IntegrityError) as refused:
        message = str(refused) if isinstance(refused, roster_edit.Refused) else "这一班刚被别人排过了,请刷新后查看。"
        form.person.errors = [message]
        return render_grid(entry_form=form, status=409)
    flash(f"已排班:{form.day.data} {org.shifts[form.shift.data].name} {person.display_name}")
    return _back(team)


def _entry(entry_id: int) -> RosterEntry:
    entry = db.session().get(RosterEntry, entry_id)
    if entry is None:
        zh_abort(404, "这条排班不存在,可能已被删除。")
    require_edit(entry.team)
    return entry


@bp.post("/entries/<int:entry_id>/remove")
@requires("supervisor")
def remove(entry_id: int):
    entry = _entry(entry_id)
    if not RemoveForm().validate():
        zh_abort(400, "页面已过期,请刷新后再删除。")
    with db.write() as w:
        row = w.get(RosterEntry, entry.id)
        if row is not None:
            roster_edit.remove(w, current_user.user, row)
    flash(f"已删除排班:{entry.day} {entry.user.display_name}")
    return _back(entry.team)


@bp.post("/swaps")
@requires("supervisor")
def swap():
    team = scope_team()
    require_edit(team)
    period = scope_period()
    rows = [e for entries in rostered(db.session(), period.start, period.end, team).entries.values() for e in entries]
    form = _swap_form(team, rows, request.form)
    if not form.validate():
        return render_grid(swap_form=form, status=400)
    org = catalogue().handbook.organisation
    try:
        with db.write() as w:
            entry = w.get(RosterEntry, int(form.entry.data))
            to = w.get(User, int(form.to.data))
            before = entry.user.display_name
            roster_edit.swap(w, current_user.user, entry, to, form.reason.data.strip(), org)
    except (roster_edit.Refused, IntegrityError) as refused:
        form.to.errors = [str(refused) if isinstance(refused, roster_edit.Refused) else "排班刚被别人改过,请刷新。"]
        return render_grid(swap_form=form, status=409)
    flash(f"已记录调班:{entry.day} {org.shifts[entry.shift].name} {before} → {to.display_name},"
          f"批准人 {current_user.display_name}")
    return _back(team)


@bp.get("/swaps")
@requires("staff")
def swaps():
    team = scope_team()
    query = (select(RosterSwap).where(RosterSwap.team == team)
             .order_by(RosterSwap.day.desc(), RosterSwap.id.desc()).limit(SWAP_LIMIT))
    return render_template("roster_swaps.html", rows=list(db.session().scalars(query)), team=team,
                           teams=roster_edit.team_names(db.session(), catalogue().handbook.organisation),
                           shifts=catalogue().handbook.organisation.shifts, swap_refs=roster_edit.SWAP_REFS)


@bp.get("/mine")
@requires("staff")
def mine():
    return render_template("roster_mine.html", shifts=my_shifts(MINE_DAYS), days=MINE_DAYS)


@bp.app_template_global()
def my_shifts(days: int = 7) -> list[dict[str, Any]]:
    """The current user's rostered shifts from today on (the home page shows them)."""
    cat = catalogue()
    org = cat.handbook.organisation
    today = cat.now().date()
    rows = db.session().scalars(select(RosterEntry).where(
        RosterEntry.user_id == current_user.id, RosterEntry.day >= today,
        RosterEntry.day < today + dt.timedelta(days=days)).order_by(RosterEntry.day))
    order = {s: n for n, s in enumerate(org.shifts)}
    out = [{"day": e.day, "weekday": WEEKDAYS[e.day.weekday()], "shift": org.shifts.get(e.shift),
            "area": org.areas[e.area].name if e.area in org.areas else "", "team": e.team} for e in rows]
    return sorted(out, key=lambda r: (r["day"], order.get(r["shift"].id if r["shift"] else "", 99)))
