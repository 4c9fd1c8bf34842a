"""The JSON API (/api/v1/): per-user bearer tokens; list forms, read a definition, create a submission
(the web form's validation and idempotency), list and read the submissions the token's user may see."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from flask import Blueprint, g, jsonify, request, url_for
from sqlalchemy import select

from . import db, records
from .access import token_auth
from .catalogue import catalogue
from .fill import valid_uid
from .formdefs import form_to_json
from .models import ApiToken, Revision, Submission, User
from .openapi import openapi_document
from .queries import Filters, filtered, page
from .security import csrf
from .webforms import ValuesError, field_errors, form_class, formdata_of, values_of

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens, not cookies: nothing for a cross-site request to ride on
TOKEN_PREFIX = "hbk_"


def new_token() -> tuple[str, str]:
    """(token to show once, hash to store)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()


def problem(status: int, message: str, **extra):
    body = {"error": {"status": status, "message": message, **extra}}
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


@bp.before_request
def authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        return problem(401, "需要 API 令牌:Authorization: Bearer <令牌>")
    row = db.session().scalar(select(ApiToken).where(
        ApiToken.token_hash == hashlib.sha256(token.strip().encode()).hexdigest()))
    if row is None or row.revoked_at is not None or not row.user.active:
        return problem(401, "API 令牌无效或已停用")
    g.api_user = row.user
    return None


def _user() -> User:
    return g.api_user


@bp.get("/openapi.json")
@token_auth
def spec():
    return jsonify(openapi_document(catalogue().forms.values()))


@bp.get("/forms")
@token_auth
def forms():
    return jsonify({"forms": [{"id": f.id, "title": f.title, "number": f.number, "revision": f.revision,
                               "url": url_for("api.form", form_id=f.id)} for f in catalogue().forms.values()]})


@bp.get("/forms/<form_id>")
@token_auth
def form(form_id: str):
    form = catalogue().forms.get(form_id)
    if form is None:
        return problem(404, f"没有表单 “{form_id[:60]}”")
    definition = form_to_json(form)
    definition.pop("path", None)
    definition.pop("lines", None)
    return jsonify(definition)


def submission_json(submission: Submission, revision: Revision | None = None) -> dict:
    revision = revision or db.session().scalar(
        select(Revision).where(Revision.submission_id == submission.id, Revision.number == submission.revision_count))
    return {"submission_id": submission.uid, "form": submission.form_id,
            "form_revision": submission.form_version.revision, "user": submission.user.username,
            "team": submission.team, "record_date": submission.record_date.isoformat(),
            "status": submission.status, "revision": revision.number,
            "created_at": submission.created_at.replace(tzinfo=dt.UTC).isoformat(),
            "values": revision.values, "url": url_for("api.submission", uid=submission.uid)}


@bp.post("/submissions")
@token_auth
def create():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return problem(400, "请求体须为 JSON 对象:{\"form\": …, \"submission_id\": …, \"values\": {…}}")
    cat = catalogue()
    form = cat.forms.get(str(body.get("form", "")))
    if form is None:
        return problem(422, "没有这个表单", fields={"form": ["没有这个表单"]})
    uid = str(body.get("submission_id", ""))
    if not valid_uid(uid):
        return problem(422, "submission_id 须为 UUID(客户端生成,重试时不变)", fields={"submission_id": ["须为 UUID"]})
    values = body.get("values")
    if not isinstance(values, dict):
        return problem(422, "values 须为对象", fields={"values": ["须为对象"]})
    try:
        formdata = formdata_of(form, values, uid)
    except ValuesError as error:
        return problem(422, "内容有误", fields=error.errors)
    wtform = form_class(form, cat.digests[form.id])(formdata=formdata, meta={"csrf": False})
    if not wtform.validate():
        return problem(422, "内容有误", fields=field_errors(wtform))
    try:
        with db.write() as w:
            submission, created = records.create(w, _user(), form, cat.version_ids[form.id], uid,
                                                 values_of(wtform, form), cat.now().date(), via="api")
    except records.Conflict as conflict:
        return problem(409, conflict.message, submission_id=uid)
    except records.BadPhotos as error:
        return problem(422, str(error))
    submission = db.session().get(Submission, submission.id)
    response = jsonify(submission_json(submission))
    response.status_code = 201
    response.headers["Location"] = url_for("api.submission", uid=uid)
    if not created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


@bp.get("/submissions")
@token_auth
def submissions():
    cat = catalogue()
    filters = Filters.parse(request.args, cat.forms)
    if filters.errors:
        return problem(400, ";".join(filters.errors))
    limit = min(max(request.args.get("limit", 50, type=int), 1), 500)
    before = None
    if request.args.get("before"):
        try:
            stamp, ident = request.args["before"].split("_")
            before = (dt.datetime.fromisoformat(stamp), int(ident))
        except ValueError:
            return problem(400, "before 参数无效")
    session = db.session()
    rows = page(session, filtered(session, _user(), filters), limit + 1, before)
    more = len(rows) > limit
    rows = rows[:limit]
    return jsonify({"submissions": [{"submission_id": s.uid, "form": s.form_id, "user": s.user.username,
                                     "record_date": s.record_date.isoformat(), "status": s.status,
                                     "revision": s.revision_count, "url": url_for("api.submission", uid=s.uid)}
                                    for s in rows],
                    "next": f"{rows[-1].created_at.isoformat()}_{rows[-1].id}" if more else None})


@bp.get("/submissions/<uid>")
@token_auth
def submission(uid: str):
    row = db.session().scalar(select(Submission).where(Submission.uid == uid))
    if row is None or not records.may_see(_user(), row):
        return problem(404, "记录不存在,或此令牌无权查看")
    return jsonify(submission_json(row))


@bp.errorhandler(404)
def not_found(_error):
    return problem(404, "没有这个接口")

