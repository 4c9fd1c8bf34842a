"""Reviewing records: the filtered list, a record with its revisions and audit trail, its PDF in the
printed form's layout, corrections, delete/restore, and CSV/XLSX export."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import and_, select
from werkzeug.datastructures import MultiDict

from formserver import db
from formserver.accounts import audit
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.base.security import csrf
from formserver.db.models import AuditEvent, FormVersion, Revision, Submission, User
from formserver.forms.catalogue import catalogue
from formserver.forms.formdefs import version_form
from formserver.forms.webforms import form_class, values_of
from formserver.records import exports, followup, hooks, signatures, store
from formserver.records.queries import STATUS_FILTERS, Filters, filtered, page
from handbook.formmodel import Form
from handbook.pdf import form_html, render_pdf

bp = Blueprint("review", __name__)


def _cursor(text: str) -> tuple[dt.datetime, int] | None:
    try:
        stamp, ident = text.split("_")
        return dt.datetime.fromisoformat(stamp), int(ident)
    except ValueError:
        return None


def _people() -> list[User]:
    query = select(User).order_by(User.display_name)
    if not current_user.at_least("manager"):
        query = query.where(User.team == current_user.team) if current_user.at_least("supervisor") \
            else query.where(User.id == current_user.id)
    return list(db.session().scalars(query))


@bp.get("/records")
@requires("staff")
def index():
    cat = catalogue()
    filters = Filters.parse(request.args, cat.forms)
    size = current_app.config["PAGE_SIZE"]
    session = db.session()
    rows = page(session, filtered(session, current_user.user, filters), size + 1,
                _cursor(request.args.get("before", "")))
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = f"{rows[-1].created_at.isoformat()}_{rows[-1].id}" if more else ""
    return render_template("records.html", rows=rows, filters=filters, statuses=STATUS_FILTERS, people=_people(),
                           next_cursor=next_cursor, forms=cat.forms)


def load(uid: str) -> Submission:
    """The submission `uid` if the current user may see it; 404 otherwise (not 403: whether another
    person's record exists is itself not shown)."""
    submission = db.session().scalar(select(Submission).where(Submission.uid == uid))
    if submission is None or not store.may_see(current_user.user, submission):
        zh_abort(404, "记录不存在,或您没有查看它的权限。")
    return submission


def _revision(submission: Submission, number: int | None) -> Revision:
    query = select(Revision).where(Revision.submission_id == submission.id)
    query = query.where(Revision.number == number) if number else query.order_by(Revision.number.desc()).limit(1)
    revision = db.session().scalar(query)
    if revision is None:
        zh_abort(404, "没有这一版")
    return revision


@bp.get("/records/<uid:uid>")
@requires("staff")
def detail(uid: str):
    submission = load(uid)
    form = version_form(submission.form_version)
    number = request.args.get("rev", type=int)
    session = db.session()
    revisions = list(session.scalars(select(Revision).where(Revision.submission_id == submission.id)
                                     .order_by(Revision.number)))
    # the page lists every revision anyway: the one shown comes from that list, not a second query
    revision = next((r for r in revisions if r.number == number), None) if number else revisions[-1]
    if revision is None:
        zh_abort(404, "没有这一版")
    events = list(session.scalars(select(AuditEvent).where(AuditEvent.target == submission.uid)
                                  .order_by(AuditEvent.at)))
    current = catalogue().forms.get(form.id)
    return render_template("record.html", submission=submission, form=form, revision=revision, values=revision.values,
                           revisions=revisions, events=events, may_correct=store.may_correct(current_user.user,
                                                                                              submission),
                           outdated=current is not None and current.revision != form.revision)


def print_values(form: Form, submission: Submission, revision: Revision) -> dict[str, Any]:
    """Stored values as the print template takes them: signatures carry the date they were given, and a drawn
    one its image (as a data URI: the print fetcher fetches nothing else) with when it was drawn."""
    values = dict(revision.values)
    signed = catalogue().local(revision.created_at).date().isoformat()
    for item in form.signatures:
        found = signatures.data_uri(values.get(f"{item.id}_image"))
        if found:
            image, drawn = found
            values[item.id] = {"name": values.get(item.id) or drawn.signer, "date": drawn.at[:10], "image": image,
                               "time": drawn.at}
        elif values.get(item.id):
            values[item.id] = {"name": values[item.id], "date": signed}
    return values


@bp.get("/records/<uid:uid>.pdf")
@requires("staff")
def pdf(uid: str):
    submission = load(uid)
    form = version_form(submission.form_version)
    revision = _revision(submission, request.args.get("rev", type=int))
    html = form_html(catalogue().handbook, form, values=print_values(form, submission, revision),
                     date=submission.record_date)
    data = render_pdf(html)
    name = f"{form.id}-{submission.record_date.isoformat()}-{submission.uid[:8]}-v{revision.number}.pdf"
    return Response(data, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="{name}"'})


@bp.route("/records/<uid:uid>/correct", methods=["GET", "POST"])
@requires("staff")
@csrf.exempt  # validated by the form itself, so an expired token re-renders with the typing kept
def correct(uid: str):
    submission = load(uid)
    if not store.may_correct(current_user.user, submission):
        zh_abort(403, "只有填写人或其主管可以更正这份记录;已删除的记录须先恢复。")
    form = version_form(submission.form_version)
    cls = form_class(form, submission.form_version.digest)
    if request.method == "GET":
        revision = _revision(submission, None)
        from formserver.forms.webforms import formdata_of

        formdata = formdata_of(form, revision.values, submission.uid)
        wtform = cls(formdata=formdata)
        return render_template("correct.html", form=form, wtform=wtform, submission=submission,
                               base=revision.number, reason="", error="")
    formdata = MultiDict(request.form)
    formdata.setlist("submission_id", [submission.uid])
    wtform = cls(formdata=formdata)
    base = request.form.get("base_revision", type=int) or 0
    reason = request.form.get("reason", "").strip()[:1000]
    valid = wtform.validate()
    if not valid or not reason:
        error = "请写明更正原因" if valid else "有未填写或填写有误的项目,请按红色提示修改。"
        if "csrf_token" in wtform.errors:  # no field is red: say what really went wrong
            error = "页面已过期,内容已保留,请再次点击“保存更正”。"
        return render_template("correct.html", form=form, wtform=wtform, submission=submission, base=base,
                               reason=reason, error=error, reason_missing=not reason), 400
    try:
        with db.write() as w:
            fresh = w.get(Submission, submission.id)
            revision = store.correct(w, current_user.user, fresh, form, base, values_of(wtform, form), reason)
            hooks.after_correction(w, current_user.user, fresh, form, revision.values)
            followup.open_new_faults(w, catalogue().handbook.rules, form, fresh, revision.values, current_user.user)
    except store.Conflict as conflict:
        return render_template("correct.html", form=form, wtform=wtform, submission=submission, base=base,
                               reason=reason, error=conflict.message), 409
    except store.BadPhotos as error:
        return render_template("correct.html", form=form, wtform=wtform, submission=submission, base=base,
                               reason=reason, error=str(error)), 400
    flash(f"已更正为第 {base + 1} 版")
    return redirect(url_for("review.detail", uid=submission.uid), code=303)


@bp.post("/records/<uid:uid>/delete")
@requires("supervisor")
def delete(uid: str):
    return _set_deleted(uid, True)


@bp.post("/records/<uid:uid>/restore")
@requires("supervisor")
def restore(uid: str):
    return _set_deleted(uid, False)


def _set_deleted(uid: str, deleted: bool):
    submission = load(uid)
    reason = request.form.get("reason", "").strip()[:1000]
    if not reason:
        flash("请写明删除或恢复的原因")
        return redirect(url_for("review.detail", uid=uid), code=303)
    with db.write() as w:
        store.set_deleted(w, current_user.user, submission, deleted, reason)
    flash("记录已删除(可恢复)" if deleted else "记录已恢复")
    return redirect(url_for("review.detail", uid=uid), code=303)


# -- export ---------------------------------------------------------------------------------------


def export_rows(filters: Filters, form: Form | None, user: User):
    """Export rows, newest revision of each record, read in batches by a connection of its own.

    A million rows must stream at 50,000 a second, so the work per row is kept to what varies: Core rows
    (not ORM ones), texts that repeat (names, teams, form titles) neutralised once, local times computed
    from an offset looked up once per hour of rows. Identifiers and times are written by the server (uids are
    checked to be UUIDs on the way in), so only texts that people typed go through `neutralise`."""
    sessions = current_app.extensions["db_sessions"]
    cat = catalogue()
    with sessions() as session:
        query = filtered(session, user, filters).with_only_columns(
            Submission.uid, Submission.form_id, FormVersion.revision, User.display_name, Submission.team,
            Submission.record_date, Submission.created_at, Submission.status, Submission.revision_count,
            Submission.summary,
        ).join(FormVersion, FormVersion.id == Submission.form_version_id) \
         .join(User, User.id == Submission.user_id) \
         .order_by(Submission.created_at, Submission.id)
        if form is not None:  # all forms at once export the summary only: no need to read every revision
            query = query.add_columns(Revision.values).join(
                Revision, and_(Revision.submission_id == Submission.id, Revision.number == Submission.revision_count))
        columns = exports.item_columns(form) if form is not None else []
        logic = exports.logic_of(form) if form is not None else None
        text = _Neutralised({f.id: f.title for f in cat.forms.values()} | {"submitted": "已提交", "deleted": "已删除"})
        local = _LocalTime(cat.timezone)
        query = query.execution_options(stream_results=True, yield_per=2000)
        # Rows unpacked, not read by attribute name: that alone took half the time of the whole export.
        for uid, form_id, revision, name, team, day, created, status, corrections, summary, *values in \
                session.connection().execute(query):
            cells = [uid, text(form_id), text(revision), text(name), text(team), day.isoformat(), local(created),
                     text(status), corrections - 1]
            if form is not None:
                cells.extend(exports.item_cells(columns, values[0], logic))
                cells.extend(exports.score_cells(form, values[0]))
            else:
                cells.append(exports.neutralise(summary))
            yield cells


class _Neutralised(dict):
    """text → its neutralised export cell (after `names`: form titles, status labels), each worked out once."""

    def __init__(self, names: dict[str, str]):
        super().__init__({key: exports.neutralise(name) for key, name in names.items()})

    def __missing__(self, key: str) -> str:
        value = self[key] = exports.neutralise(key)
        return value

    __call__ = dict.__getitem__


class _LocalTime:
    """UTC → the centre's local time as text ("2026-11-23 09:30:00"), for times that mostly come in order:
    the zone's offset is looked up for an hour at a time (no zone changes its offset twice within an hour),
    not for every row."""

    def __init__(self, zone: dt.tzinfo):
        self.zone = zone
        self.start = self.end = dt.datetime.max
        self.offset = dt.timedelta(0)

    def _offset(self, utc: dt.datetime) -> dt.timedelta:
        return utc.replace(tzinfo=dt.UTC).astimezone(self.zone).utcoffset()

    def __call__(self, utc: dt.datetime) -> str:
        if not self.start <= utc < self.end:
            offset, later = self._offset(utc), self._offset(utc + dt.timedelta(hours=1))
            self.start, self.end = (utc, utc + dt.timedelta(hours=1)) if offset == later else (utc, utc)
            self.offset = offset
            if offset != later:  # a change within the hour: this row on its own
                return (utc + offset).isoformat(" ", "seconds")
        return (utc + self.offset).isoformat(" ", "seconds")


def _export(fmt: str):
    cat = catalogue()
    filters = Filters.parse(request.args, cat.forms)
    if filters.errors:
        zh_abort(400, ";".join(filters.errors))
    form = cat.forms.get(filters.form)
    head = exports.header(form)
    stamp = cat.now().strftime("%Y%m%d-%H%M")
    name = f"{form.id if form else 'records'}-{stamp}.{fmt}"
    with db.write() as w:
        audit.record(w, current_user.user, "export", filters.form or "all", format=fmt, filters=filters.query_args())
    rows = export_rows(filters, form, current_user.user)
    if fmt == "csv":
        return Response(stream_with_context(s.encode("utf-8") for s in exports.csv_stream(head, rows)),
                        mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return send_file(exports.xlsx_file(head, rows, form.title if form else "记录"), as_attachment=True,
                     download_name=name,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.get("/records/export.csv")
@requires("supervisor")
def export_csv():
    return _export("csv")


@bp.get("/records/export.xlsx")
@requires("supervisor")
def export_xlsx():
    return _export("xlsx")
