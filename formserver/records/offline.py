"""What the offline outbox (static/outbox.js) talks to: the session it sends with, and the replay of a
submission filled without a connection. A replay is the form page's submit with JSON answers: stored,
already stored (the same id and content: a replay after a lost answer), or refused with the problems
listed for the person to fix with the form open."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from werkzeug.datastructures import MultiDict

from formserver.accounts.access import requires
from formserver.forms.catalogue import catalogue
from formserver.forms.webforms import RecordForm
from formserver.records.fill import accept

bp = Blueprint("offline", __name__)
FILLED_AT = "client_filled_at"


@bp.get("/offline/session")
@requires("staff")
def session():
    """A fresh CSRF token and whose session this is: the outbox sends only its owner's entries."""
    return jsonify({"csrf": generate_csrf(), "user": current_user.id, "name": current_user.display_name})


def filled_at(text: str | None) -> dt.datetime | None:
    """The phone's fill time (ISO 8601 with offset) as naive UTC; None when missing, unreadable or absurd
    (more than a day ahead of the server, or older than 90 days): the server's receive time then stands."""
    try:
        moment = dt.datetime.fromisoformat((text or "").strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    return moment if now - dt.timedelta(days=90) <= moment <= now + dt.timedelta(days=1) else None


def problems(wtform: RecordForm) -> list[str]:
    """Each field's errors as “label:message”, in the form's order (a register's rows as 第 N 行)."""
    found: list[str] = []

    def walk(field, prefix: str = "") -> None:
        if not field.errors:
            return
        label = prefix + (field.label.text if field.label else field.name)
        if hasattr(field, "entries"):  # a register (FieldList of rows)
            for n, row in enumerate(field.entries, 1):
                walk(row, f"{label} 第 {n} 行 ")
        elif hasattr(field, "form"):  # one row (FormField)
            for sub in field.form:
                walk(sub, prefix)
        else:
            found.extend(f"{label}:{message}" for message in field.errors if isinstance(message, str))

    for field in wtform:
        if field.name != "csrf_token":
            walk(field)
    return found


@bp.post("/forms/<form_id>/queued")
@requires("staff")
def replay(form_id: str):
    form = catalogue().forms.get(form_id)
    if form is None:
        return jsonify({"error": f"表单 “{form_id[:60]}” 已不再使用,这份记录无法提交:请把内容转填到现行的表单。",
                        "problems": [], "link": ""}), 404
    formdata = MultiDict(request.form)
    when = filled_at(formdata.pop(FILLED_AT, None))
    outcome = accept(form, formdata, when)
    if outcome.stored is None:
        return jsonify({"error": outcome.error, "problems": problems(outcome.wtform),
                        "link": outcome.conflict_link}), outcome.status
    state = "created" if outcome.stored.created else "stored"
    return jsonify({"status": state, "uid": outcome.stored.uid,
                    "url": url_for("review.detail", uid=outcome.stored.uid)}), 201 if outcome.stored.created else 200
