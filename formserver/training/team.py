"""Training as supervisors see it: their team's progress (managers: everyone), overdue acknowledgements, the
clauses most often missed; one person's paths and attempts; assigning and removing paths."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from formserver import db
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.db.models import Acknowledgement, QuizAttempt, RegulationVersion, User
from formserver.forms.catalogue import catalogue

from . import assign, progress
from .links import visible_people

bp = Blueprint("training_team", __name__, url_prefix="/training")
NO_PERSON = "没有这个人,或您没有查看其培训情况的权限。"


def _person(username: str) -> User:
    """The person if the current user may manage their training; 404 otherwise (not 403: whether an account
    outside one's team exists is itself not shown)."""
    person = db.session().scalar(select(User).where(User.username == username[:64]))
    if person is None or not assign.may_assign(current_user.user, person):
        zh_abort(404, NO_PERSON)
    return person


@bp.get("/team")
@requires("supervisor")
def team():
    cat = catalogue()
    people = visible_people()
    team_filter = request.args.get("team", "").strip()[:64]
    if team_filter and current_user.at_least("manager"):
        people = [p for p in people if p.team == team_filter]
    records = progress.load_records(db.session(), [p.id for p in people])
    rows = [(p, progress.paths_of(cat, records, p.id)) for p in people]
    overdue = [(p, path, s) for p, paths in rows for path in paths for s in path.steps if s.overdue]
    overdue.sort(key=lambda item: (item[2].due, item[0].display_name))
    teams = sorted({p.team for p in visible_people()}) if current_user.at_least("manager") else []
    return render_template("training/team.html", rows=rows, overdue=overdue, teams=teams, team_filter=team_filter,
                           missed=progress.missed_clauses(cat, records), paths=cat.handbook.paths,
                           people=people, today=cat.now().date())


@bp.get("/people/<username>")
@requires("supervisor")
def person(username: str):
    person = _person(username)
    cat = catalogue()
    session = db.session()
    records = progress.load_records(session, [person.id])
    attempts = list(session.scalars(select(QuizAttempt).where(QuizAttempt.user_id == person.id)
                                    .order_by(QuizAttempt.started_at.desc()).limit(200)))
    acks = session.execute(select(Acknowledgement.acknowledged_at, Acknowledgement.regulation_id,
                                  RegulationVersion.revision)
                           .join(RegulationVersion, RegulationVersion.id == Acknowledgement.regulation_version_id)
                           .where(Acknowledgement.user_id == person.id)
                           .order_by(Acknowledgement.acknowledged_at.desc()).limit(200)).all()
    return render_template("training/person.html", person=person, paths=progress.paths_of(cat, records, person.id),
                           attempts=attempts, acks=acks, all_paths=cat.handbook.paths, today=cat.now().date())


def _due(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if text else None
    except ValueError:
        zh_abort(400, f"日期 “{text[:20]}” 格式不对,应为 2026-11-23")


@bp.post("/assign")
@requires("supervisor")
def assign_path():
    person = _person(request.form.get("username", ""))
    cat = catalogue()
    path = next((p for p in cat.handbook.paths if p.id == request.form.get("path_id")), None)
    if path is None:
        zh_abort(400, "请选择一条学习路径。")
    due = _due(request.form.get("due", "").strip())
    with db.write() as w:
        row = assign.assign(w, w.get(User, person.id), path, w.get(User, current_user.id), cat.now().date(), due)
        due_text = row.due_date.isoformat()
    flash(f"已为 {person.display_name} 分配学习路径“{path.title}”,完成期限 {due_text}")
    return redirect(url_for("training_team.person", username=person.username), code=303)


@bp.post("/people/<username>/remove")
@requires("supervisor")
def remove_path(username: str):
    person = _person(username)
    path_id = request.form.get("path_id", "")[:64]
    with db.write() as w:
        removed = assign.remove(w, w.get(User, person.id), path_id, w.get(User, current_user.id))
    flash("已移除该学习路径(学习记录保留)" if removed else "此人没有这条学习路径")
    return redirect(url_for("training_team.person", username=person.username), code=303)
