"""The pages: the inbox (read/unread; the badge in the menu is `unread_count`), one's notification settings
(e-mail address, channels turned off, quiet hours), and for admins the failed deliveries with a retry."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select, update

from formserver import db
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.db.models import Delivery, Notification, NotifyPreference, utcnow
from formserver.forms.catalogue import catalogue
from formserver.notify import prefs, worker
from handbook.rules import NOTIFY_CHANNELS

bp = Blueprint("notify", __name__, url_prefix="/notifications")
PAGE = 100
HHMM = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@bp.get("")
@requires("staff")
def inbox():
    show = request.args.get("show", "all")
    query = select(Notification).where(Notification.user_id == current_user.id)
    if show == "unread":
        query = query.where(Notification.read_at.is_(None))
    rows = list(db.session().scalars(query.order_by(Notification.event_at.desc(), Notification.id.desc()).limit(PAGE)))
    return render_template("notify_inbox.html", rows=rows, show=show, local=catalogue().local)


@bp.post("/read")
@requires("staff")
def mark_read():
    """Mark one notification (id) or all of one's own read."""
    ident = request.form.get("id", type=int)
    with db.write() as w:
        query = update(Notification).where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        if ident:
            query = query.where(Notification.id == ident)
        w.execute(query.values(read_at=utcnow()))
    target = request.form.get("next", "")
    return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("notify.inbox"),
                    code=303)


@bp.route("/settings", methods=["GET", "POST"])
@requires("staff")
def settings():
    available = prefs.configured(current_app.config)
    pref = db.session().get(NotifyPreference, current_user.id)
    error = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()[:200]
        start, end = request.form.get("quiet_start", "").strip(), request.form.get("quiet_end", "").strip()
        if email and not EMAIL.fullmatch(email):
            error = "电子邮箱格式不对"
        elif any(t and not HHMM.fullmatch(t) for t in (start, end)) or bool(start) != bool(end):
            error = "免打扰时段请填写开始和结束时间,例如 22:00 和 07:00"
        else:
            off = [c for c in prefs.OUTSIDE if request.form.get(f"on_{c}") != "1"]
            with db.write() as w:
                row = w.get(NotifyPreference, current_user.id) or NotifyPreference(user_id=current_user.id)
                row.email, row.off, row.quiet_start, row.quiet_end, row.updated_at = email, off, start, end, utcnow()
                w.add(row)
            flash("通知设置已保存")
            return redirect(url_for("notify.settings"), code=303)
    return render_template("notify_settings.html", pref=pref, available=available, channels=NOTIFY_CHANNELS,
                           outside=prefs.OUTSIDE, error=error), 400 if error else 200


@bp.get("/failed")
@requires("admin")
def failed():
    rows = list(db.session().scalars(select(Delivery).where(Delivery.status == "failed")
                                     .order_by(Delivery.next_attempt_at.desc()).limit(500)))
    return render_template("notify_failed.html", rows=rows, channels=NOTIFY_CHANNELS, local=catalogue().local)


@bp.post("/failed/retry")
@requires("admin")
def retry():
    ids = [int(v) for v in request.form.getlist("id") if v.isdigit()]
    if request.form.get("all") == "1":
        ids = list(db.session().scalars(select(Delivery.id).where(Delivery.status == "failed")))
    if not ids:
        zh_abort(400, "请选择要重试的发送")
    db.session().commit()  # end the read before the write below
    done = worker.retry(current_app.extensions["db_engine"], ids)
    flash(f"已重新排队 {done} 条发送")
    return redirect(url_for("notify.failed"), code=303)
