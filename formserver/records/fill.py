"""Filling a form: the home page, the form page (new, resumed draft, re-rendered with errors), submit, and
the draft autosave the page calls while someone types."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict

from formserver import db
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.base.inputs import canonical_uid, clean_text, has_surrogate
from formserver.base.security import csrf
from formserver.db.models import Draft, Revision, Submission, utcnow
from formserver.forms.catalogue import catalogue
from formserver.forms.webforms import BLANK_ROWS, RecordForm, form_class, values_of
from formserver.records import hooks, signatures, store
from formserver.records.photos import store_uploads
from handbook import conditions
from handbook.formmodel import Condition, Form

bp = Blueprint("fill", __name__)
MAX_DRAFT_FIELDS = 5000
EXPIRED = "页面已过期,内容已保留,请再次点击提交。"
INVALID = "有未填写或填写有误的项目,请按红色提示修改。"


@bp.app_template_global()
def invalid(field: Any) -> dict[str, str]:
    """Attributes tying an input to its error message, for screen readers; none when it has no error."""
    if not field.errors:
        return {}
    return {"aria-invalid": "true", "aria-describedby": f"{field.id}-error"}


@bp.app_template_global()
def condition_json(condition: Condition) -> dict[str, Any]:
    """A condition as app.js evaluates it (the same shape as handbook.conditions reads)."""
    return {"op": condition.op, "item": condition.item, "values": condition.values,
            "parts": [condition_json(part) for part in condition.parts]}


@bp.app_template_global()
def condition_text(condition: Condition, form: Form, scope: str = "本项") -> str:
    return conditions.instruction(condition, form, scope)


@bp.app_template_global()
def hidden_items(form: Form, values: dict[str, Any]) -> set[str]:
    return conditions.hidden_items(form, values)


@bp.app_template_global()
def deferred_signature(form: Form, item_id: str) -> bool:
    """A signature drawn elsewhere (the handover's incoming person draws theirs on confirming): no pad here."""
    return item_id in hooks.deferred_signatures(form)


def required_drawings(form: Form) -> frozenset[str]:
    """The required signatures the web form wants drawn: all but those drawn elsewhere. Without JavaScript none
    can be drawn, and the form says so (webforms.DRAWING_REQUIRED) rather than take a typed name for one."""
    deferred = hooks.deferred_signatures(form)
    return frozenset(item.id for item in form.all_items() if item.kind == "signature"
                     and signatures.drawing_required(item.required) and item.id not in deferred)


def get_form(form_id: str) -> Form:
    form = catalogue().forms.get(form_id)
    if form is None:
        zh_abort(404, f"没有编号为 “{form_id[:60]}” 的表单。请从首页的表单列表中选择。")
    return form


@bp.get("/")
@requires("staff")
def home():
    session = db.session()
    drafts = session.scalars(select(Draft).where(Draft.user_id == current_user.id)
                             .order_by(Draft.updated_at.desc()).limit(20)).all()
    recent = session.scalars(select(Submission).where(Submission.user_id == current_user.id)
                             .order_by(Submission.created_at.desc()).limit(10)).all()
    forms = sorted(catalogue().forms.values(), key=lambda f: f.number)  # paper order: F01 patrol first
    # The forms this person uses, for the service worker to keep for offline filling.
    used = dict.fromkeys(url_for("fill.new", form_id=r.form_id) for r in [*drafts, *recent]
                         if r.form_id in catalogue().forms)
    return render_template("home.html", forms=forms, drafts=drafts, recent=recent, used_forms=list(used))


def prefill(form: Form) -> MultiDict:
    """Header values the server can fill in: today, now, the current shift, the user, their last area."""
    cat = catalogue()
    now = cat.now()
    pairs: list[tuple[str, Any]] = []
    for item in form.all_items():
        if item.prefill == "today" and item.kind in ("date", "datetime"):
            pairs.append((item.id, now.date().isoformat() if item.kind == "date" else now.strftime("%Y-%m-%dT%H:%M")))
        elif item.prefill == "now":
            pairs.append((item.id, {"time": now.strftime("%H:%M"), "date": now.date().isoformat()}.get(
                item.kind, now.strftime("%Y-%m-%dT%H:%M"))))
        elif item.prefill == "shift":
            shift = cat.current_shift(now)
            if shift and (not item.options or shift.name in item.options):
                pairs.append((item.id, shift.name))
        elif item.prefill == "user":
            pairs.append((item.id, current_user.display_name))
        elif item.prefill == "area":
            last = _last_value(form.id, item.id)
            if last and (not item.options or last in item.options):
                pairs.append((item.id, last))
    return MultiDict(pairs)


def _last_value(form_id: str, item_id: str) -> str | None:
    values = db.session().scalar(
        select(Revision.values).join(Submission, Revision.submission_id == Submission.id)
        .where(Submission.user_id == current_user.id, Submission.form_id == form_id, Revision.number == 1)
        .order_by(Submission.created_at.desc()).limit(1))
    value = (values or {}).get(item_id)
    return value if isinstance(value, str) else None


def build(form: Form, formdata: MultiDict | None, blank_rows: int = BLANK_ROWS) -> RecordForm:
    cls = form_class(form, catalogue().digests[form.id])
    wtform = cls(formdata=formdata) if formdata is not None else cls()
    for item in form.all_items():
        if item.kind == "table":
            rows = wtform[item.id]
            while len(rows.entries) < blank_rows:
                rows.append_entry()
    return wtform


def render_fill(form: Form, wtform: RecordForm, *, status: int = 200, error: str = "", saved_at=None,
                conflict_link: str = ""):
    return render_template("fill.html", form=form, wtform=wtform, error=error, saved_at=saved_at,
                           uid=wtform.submission_id.data, conflict_link=conflict_link,
                           **hooks.fill_context(form)), status


@bp.get("/forms/<form_id>")
@requires("staff")
def new(form_id: str):
    form = get_form(form_id)
    uid = canonical_uid(request.args.get("draft", "")) or request.args.get("draft", "")
    if uid:
        draft = db.session().scalar(select(Draft).where(Draft.uid == uid, Draft.user_id == current_user.id,
                                                        Draft.form_id == form.id))
        if draft is None:
            zh_abort(404, "草稿不存在:可能已经提交或被删除。")
        formdata = MultiDict([tuple(pair) for pair in draft.fields])
        formdata.setlist("submission_id", [uid])
        return render_fill(form, build(form, formdata, blank_rows=1), saved_at=draft.updated_at)
    formdata = prefill(form)
    hooks.prefill(form, formdata)
    if not formdata.get("submission_id"):  # a hook may tie the page to a submission id (a checkpoint scan)
        formdata.setlist("submission_id", [str(uuid.uuid4())])
    return render_fill(form, build(form, formdata))


@dataclass
class Outcome:
    """What became of a posted form: stored (created or a replay of one stored), or refused with a message,
    the HTTP status and, for a clash with a stored record, the link to it."""

    wtform: RecordForm
    stored: store.Stored | None = None
    status: int = 200
    error: str = ""
    conflict_link: str = ""


def accept(form: Form, formdata: MultiDict, filled_at: dt.datetime | None = None) -> Outcome:
    """Validate and store a posted form: the form page's submit and the replay of one queued offline."""
    uid = canonical_uid(formdata.get("submission_id")) or str(uuid.uuid4())
    formdata.setlist("submission_id", [uid])
    upload_error = store_uploads(form, formdata, uid)
    wtform = build(form, formdata, blank_rows=1)
    wtform.drawings = required_drawings(form)
    if upload_error or not wtform.validate():
        csrf_failed = "csrf_token" in wtform.errors
        return Outcome(wtform, status=400, error=upload_error or (EXPIRED if csrf_failed else INVALID))
    values = values_of(wtform, form)
    try:
        with db.write_connection() as w:
            stored = store.create(w, current_user.user, form, catalogue().version_ids[form.id], uid, values,
                                  catalogue().now().date(), rules=catalogue().handbook.rules, filled_at=filled_at)
    except store.Conflict as conflict:
        # The stored submission has the same uid; its row is detached (rolled back) by now, so not read here.
        link = url_for("review.detail", uid=uid) if conflict.submission else ""
        return Outcome(wtform, status=409, conflict_link=link,
                       error=f"{conflict.message}。如需修改已提交的记录,请在记录页点“更正”。")
    except store.BadPhotos as error:
        return Outcome(wtform, status=400, error=str(error))
    return Outcome(wtform, stored=stored)


@bp.post("/forms/<form_id>")
@requires("staff")
@csrf.exempt  # the form validates its own token, so an expired one re-renders with everything kept
def submit(form_id: str):
    form = get_form(form_id)
    outcome = accept(form, MultiDict(request.form))
    if outcome.stored is None:
        return render_fill(form, outcome.wtform, status=outcome.status, error=outcome.error,
                           conflict_link=outcome.conflict_link)
    flash("已提交" if outcome.stored.created else "这份表已经提交过,以下是已保存的记录")
    return redirect(url_for("review.detail", uid=outcome.stored.uid, submitted=1), code=303)


@bp.route("/drafts/<uid>", methods=["PUT"])
@requires("staff")
def save_draft(uid: str):
    """Autosave: the page sends every field as typed ([name, value] pairs) with the CSRF header."""
    uid = canonical_uid(uid) or ""
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    form = get_form(body["form"] if isinstance(body.get("form"), str) else "")
    fields = body.get("fields")
    if not uid or not isinstance(fields, list) or len(fields) > MAX_DRAFT_FIELDS or not all(
            isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) and not has_surrogate(x) for x in p)
            for p in fields):
        return jsonify({"error": "草稿格式不正确"}), 400
    fields = [[clean_text(n), clean_text(v)] for n, v in fields if n not in ("csrf_token", "submission_id")]
    now = utcnow()
    with db.write() as w:
        if w.scalar(select(Submission.id).where(Submission.uid == uid)) is not None:
            return jsonify({"error": "这份表已经提交,草稿不再保存", "submitted": True}), 409
        draft = w.scalar(select(Draft).where(Draft.uid == uid))
        if draft is not None and draft.user_id != current_user.id:
            return jsonify({"error": "草稿不存在"}), 404
        if draft is None:
            draft = Draft(uid=uid, user_id=current_user.id, form_id=form.id, fields=fields, created_at=now)
            w.add(draft)
        draft.fields = fields
        draft.updated_at = now
        try:
            w.flush()
        except IntegrityError:
            return jsonify({"error": "草稿冲突,请刷新"}), 409
    return jsonify({"saved": catalogue().local(now).strftime("%H:%M:%S")})


@bp.post("/drafts/<uid:uid>/discard")
@requires("staff")
def discard_draft(uid: str):
    with db.write() as w:
        w.execute(Draft.__table__.delete().where(Draft.uid == uid, Draft.user_id == current_user.id))
    flash("草稿已删除")
    return redirect(url_for("fill.home"), code=303)
