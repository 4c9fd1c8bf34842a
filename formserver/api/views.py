"""The JSON API (/api/v1/): per-user bearer tokens; list forms, read a definition, create a submission
(the web form's validation and idempotency), list and read the submissions the token's user may see."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, g, jsonify, request, url_for
from sqlalchemy import and_, bindparam, select

from formserver import db
from formserver.accounts.access import token_auth
from formserver.api.openapi import openapi_document
from formserver.base.inputs import canonical_uid, json_body
from formserver.base.security import csrf
from formserver.db.fastsql import FastStatement
from formserver.db.models import ApiToken, FormVersion, Revision, Submission, User
from formserver.forms.catalogue import catalogue
from formserver.forms.fastvalues import quick_values
from formserver.forms.formdefs import form_to_json
from formserver.forms.webforms import ValuesError, field_errors, form_class, formdata_of, max_keys, values_of
from formserver.records import signatures, store
from formserver.records.queries import Filters, filtered, page
from handbook.formmodel import Form

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


@dataclass(frozen=True)
class ApiUser:
    """The token's user as the API needs it, read with the token in one query on every request (so a revoked
    token or a disabled user is refused at once). Duck-types `User` for `visible`, `may_see` and `audit`."""

    id: int
    username: str
    team: str
    role: str
    at_least = User.at_least


_TOKENS, _USERS = ApiToken.__table__, User.__table__
# Run on every API request, so compiled once and run on a bare driver connection (see fastsql).
_TOKEN_USER = FastStatement(select(_USERS.c.id, _USERS.c.username, _USERS.c.team, _USERS.c.role)
                            .join_from(_TOKENS, _USERS, _TOKENS.c.user_id == _USERS.c.id)
                            .where(_TOKENS.c.token_hash == bindparam("token_hash"), _TOKENS.c.revoked_at.is_(None),
                                   _USERS.c.active.is_(True)))


@bp.before_request
def authenticate():
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.startswith(TOKEN_PREFIX):
        return problem(401, "需要 API 令牌:Authorization: Bearer <令牌>")
    row = _TOKEN_USER.read_one(db.engine(), {"token_hash": hashlib.sha256(token.strip().encode()).hexdigest()})
    if row is None:  # unknown, revoked, or its user disabled
        return problem(401, "API 令牌无效或已停用")
    g.api_user = ApiUser(*row)
    return None


def _user() -> ApiUser:
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


_SUBMISSIONS, _REVISIONS, _VERSIONS = Submission.__table__, Revision.__table__, FormVersion.__table__
# One query for everything a submission's document shows, its newest revision included.
_DOCUMENT = (select(_SUBMISSIONS.c.uid, _SUBMISSIONS.c.form_id, _VERSIONS.c.revision.label("form_revision"),
                    _USERS.c.username, _SUBMISSIONS.c.user_id, _SUBMISSIONS.c.team, _SUBMISSIONS.c.record_date,
                    _SUBMISSIONS.c.status, _REVISIONS.c.number, _SUBMISSIONS.c.created_at, _REVISIONS.c["values"],
                    _REVISIONS.c.score)
             .join(_VERSIONS, _VERSIONS.c.id == _SUBMISSIONS.c.form_version_id)
             .join(_USERS, _USERS.c.id == _SUBMISSIONS.c.user_id)
             .join(_REVISIONS, and_(_REVISIONS.c.submission_id == _SUBMISSIONS.c.id,
                                    _REVISIONS.c.number == _SUBMISSIONS.c.revision_count))
             .where(_SUBMISSIONS.c.uid == bindparam("uid")))


def submission_json(uid: str, form_id: str, form_revision: str, username: str, team: str, record_date: dt.date,
                    status: str, revision: int, created_at: dt.datetime, values: dict[str, Any],
                    score: float | None = None) -> dict:
    return {"submission_id": uid, "form": form_id, "form_revision": form_revision, "user": username,
            "team": team, "record_date": record_date.isoformat(), "status": status, "revision": revision,
            "created_at": created_at.replace(tzinfo=dt.UTC).isoformat(), "values": values, "score": score,
            "url": url_for("api.submission", uid=uid)}


def stored_document(uid: str) -> tuple[Any, dict] | None:
    """(row, document) of the stored submission `uid` as it is now (corrected or deleted since, perhaps)."""
    row = db.connection().execute(_DOCUMENT, {"uid": uid}).first()
    if row is None:
        return None
    return row, submission_json(row.uid, row.form_id, row.form_revision, row.username, row.team, row.record_date,
                                row.status, row.number, row.created_at, row.values, row.score)


@bp.post("/submissions")
@token_auth
def create():
    body, refused = json_body()
    if refused:
        return problem(400, refused)
    if not isinstance(body, dict):
        return problem(400, "请求体须为 JSON 对象:{\"form\": …, \"submission_id\": …, \"values\": {…}}")
    cat = catalogue()
    form = cat.forms.get(body.get("form")) if isinstance(body.get("form"), str) else None
    if form is None:
        return problem(422, "没有这个表单", fields={"form": ["没有这个表单"]})
    uid = canonical_uid(body.get("submission_id"))
    if uid is None:
        return problem(422, "submission_id 须为 UUID(客户端生成,重试时不变)", fields={"submission_id": ["须为 UUID"]})
    posted = body.get("values")
    if not isinstance(posted, dict):
        return problem(422, "values 须为对象", fields={"values": ["须为对象"]})
    if len(posted) > max_keys(form):
        return problem(422, f"values 的项目过多(此表单最多 {max_keys(form)} 项)",
                       fields={"values": ["项目过多"]})
    user = _user()
    # A signature sent with its drawing ({"name", "image": data URI}): the PNG is checked and stored first (once
    # per submission id and content, so a retry is the same record), the values then name it as the web form does.
    posted, drawing_errors = signatures.api_values(form, posted, uid, user.id)
    if drawing_errors:
        return invalid(drawing_errors)
    values = _validated(form, cat.digests[form.id], posted, uid)
    if not isinstance(values, dict):
        return values  # the 422 with the errors by field
    new = store.prepare(user, form, cat.version_ids[form.id], uid, values, cat.now().date(), via="api",
                          rules=cat.handbook.rules)
    try:
        stored = db.write_batched(store.store_many, new)  # returns after COMMIT
    except store.Conflict as conflict:
        return problem(409, conflict.message, submission_id=uid)
    except store.BadPhotos as error:
        return problem(422, str(error))
    if stored.created:  # answered from what was just inserted, not read back
        document = submission_json(uid, form.id, form.revision, user.username, user.team,
                                   new.submission["record_date"], "submitted", 1, stored.created_at, values,
                                   new.revision["score"])
    else:  # a replay: the record as stored now, which a correction or deletion may have changed
        document = stored_document(uid)[1]
    response = jsonify(document)
    response.status_code = 201
    response.headers["Location"] = document["url"]
    if not stored.created:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _validated(form: Form, version_digest: str, posted: dict[str, Any], uid: str):
    """The stored values of the posted values, or a 422 naming the errors by field. The quick check answers
    for values that are clearly valid; anything else goes to the web form's WTForms class, which decides
    and words the errors exactly as for the web form."""
    values = quick_values(form, version_digest, posted, uid)
    if values is not None:
        return values
    try:
        formdata = formdata_of(form, posted, uid)
    except ValuesError as error:
        return invalid(error.errors)
    wtform = form_class(form, version_digest)(formdata=formdata, meta={"csrf": False})
    if not wtform.validate():
        return invalid(field_errors(wtform))
    return values_of(wtform, form)


MAX_REPORTED_ERRORS = 50  # a post with 200,000 unknown keys must not answer with 200,000 messages


def invalid(errors: dict[str, list[str]]):
    """The 422 naming the fields in error: the first MAX_REPORTED_ERRORS of them, and how many there were."""
    if len(errors) <= MAX_REPORTED_ERRORS:
        return problem(422, "内容有误", fields=errors)
    shown = dict(list(errors.items())[:MAX_REPORTED_ERRORS])
    return problem(422, f"内容有误:共 {len(errors)} 项有误,只列出前 {MAX_REPORTED_ERRORS} 项", fields=shown)


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


@bp.get("/submissions/<uid:uid>")
@token_auth
def submission(uid: str):
    found = stored_document(uid)
    if found is None or not store.may_see(_user(), found[0]):
        return problem(404, "记录不存在,或此令牌无权查看")
    return jsonify(found[1])


@bp.errorhandler(404)
def not_found(_error):
    return problem(404, "没有这个接口")

