"""Submissions: create (idempotent on the client's submission id), correct, delete and restore, and who
may see what. Every change is one write transaction that also writes its audit event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Select, bindparam, delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from formserver.accounts import audit
from formserver.db.fastsql import FastStatement
from formserver.db.models import Draft, Photo, Revision, Submission, User, utcnow
from formserver.forms.formdefs import digest
from formserver.records import followup
from handbook import scores
from handbook.formmodel import Form, Item
from handbook.rules import Rules


class Conflict(Exception):
    """The request contradicts what is stored (same id with other content, a stale correction)."""

    def __init__(self, message: str, submission: Any = None):
        super().__init__(message)
        self.message = message
        self.submission = submission


class BadPhotos(ValueError):
    pass


def content_digest(form_id: str, values: dict[str, Any]) -> str:
    return digest({"form": form_id, "values": values})


def visible(user: User) -> Select:
    """Submissions `user` may see: staff their own, supervisors their team's, managers and admins all."""
    query = select(Submission)
    if user.at_least("manager"):
        return query
    if user.at_least("supervisor"):
        # `team || ''` and `user_id + 0` keep SQLite from answering the OR with two index searches and a sort of
        # the whole team's records (0.5 s at a million rows): it walks the created_at index, newest first, instead.
        return query.where((Submission.team.concat("") == user.team) | ((Submission.user_id + 0) == user.id))
    return query.where(Submission.user_id == user.id)


def may_see(user: User, submission: Submission) -> bool:
    if user.at_least("manager") or submission.user_id == user.id:
        return True
    return user.at_least("supervisor") and submission.team == user.team


def may_correct(user: User, submission: Submission) -> bool:
    return submission.status == "submitted" and (submission.user_id == user.id or
                                                 (user.at_least("supervisor") and may_see(user, submission)))


def _walk(items: list[Item], values: dict[str, Any]):
    for item in items:
        if item.kind == "table":
            for row in values.get(item.id) or []:
                yield from _walk(item.columns, row)
        else:
            yield item, values


def count_faults(form: Form, values: dict[str, Any]) -> int:
    return sum(1 for item, vals in _walk(form.all_items(), values)
               if item.kind == "check" and vals.get(item.id) == "fault")


def photo_ids(form: Form, values: dict[str, Any]) -> list[str]:
    ids = []
    for item, vals in _walk(form.all_items(), values):
        if item.kind == "photo":
            ids.extend(vals.get(item.id) or [])
        elif item.kind == "check":
            ids.extend(vals.get(f"{item.id}_photos") or [])
        elif item.kind == "signature" and vals.get(f"{item.id}_image"):
            ids.append(vals[f"{item.id}_image"])
    return ids


def drawing_items(form: Form, values: dict[str, Any]) -> dict[str, str]:
    """Drawing id → the name it must have been uploaded for (`<signature id>_image`): a photo of a failed check
    cannot pass for someone's signature."""
    return {values[name]: name for item in form.all_items() if item.kind == "signature"
            and isinstance(values.get(name := f"{item.id}_image"), str)}


def record_date(form: Form, values: dict[str, Any], today: dt.date) -> dt.date:
    for item in form.header:
        if item.kind == "date" and values.get(item.id):
            try:
                return dt.date.fromisoformat(values[item.id])
            except ValueError:
                break
    return today


def summary(form: Form, values: dict[str, Any]) -> str:
    """A line for lists: the header's short values (shift, area, …) and the size of any register."""
    parts = []
    for item in form.header:
        value = values.get(item.id)
        if item.kind in ("choice", "text", "person") and value and item.prefill != "user":
            parts.append(value if isinstance(value, str) else "、".join(value))
    for item in form.all_items():
        if item.kind == "table" and values.get(item.id):
            parts.append(f"{item.label} {len(values[item.id])} 行")
    return " · ".join(parts)[:200]


def _check_photos(db: Session, user: User, uid: str, ids: list[str], drawings: dict[str, str],
                  kept: dict[str, str | None]) -> None:
    """`kept`: ids the corrected revision already had (→ the signature they were the drawing of, or None), which may
    be another's: the signer's drawing stays when a supervisor corrects a record, or the incoming person adds
    theirs to a handover; but a kept drawing stays with its own signature."""
    moved = sorted(i for i, name in drawings.items() if i in kept and kept[i] != name)
    if moved:
        raise BadPhotos("手写签名图片不是为这个签名项上传的:" + "、".join(moved))
    new = [i for i in ids if i not in kept]
    if new:
        _verify_photos(db.connection(), user.id, new, {i: n for i, n in drawings.items() if i not in kept})
        db.execute(update(Photo).where(Photo.uid.in_(new)).values(submission_uid=uid))


def _verify_photos(db: Connection, user_id: int, ids: list[str], drawings: dict[str, str] | None = None) -> None:
    found = dict(db.execute(select(Photo.uid, Photo.item_id).where(Photo.uid.in_(ids), Photo.user_id == user_id)).all())
    missing = set(ids) - set(found)
    if missing:
        raise BadPhotos("照片不存在或不属于您:" + "、".join(sorted(missing)))
    wrong = [uid for uid, name in (drawings or {}).items() if found.get(uid) != name]
    if wrong:
        raise BadPhotos("手写签名图片不是为这个签名项上传的:" + "、".join(sorted(wrong)))


@dataclass(frozen=True)
class NewSubmission:
    """A submission to store, worked out before the write transaction: digests, summary and the audit
    event (with the request's address) cost CPU that need not be spent while holding the write lock."""

    uid: str
    user_id: int
    photos: list[str]
    submission: dict[str, Any]  # its columns but the times
    revision: dict[str, Any]  # its first revision's columns but submission id and time
    event: dict[str, Any]  # its audit event's columns but the time
    followup: followup.Plan | None = None  # the cases and handover it opens
    drawings: dict[str, str] | None = None  # drawing id → the signature it must be for (drawing_items)


@dataclass(frozen=True)
class Stored:
    """A submission `store` stored (created), or found stored (a replay: read it back to answer, since it
    may have been corrected or deleted since)."""

    id: int
    uid: str
    created: bool
    created_at: dt.datetime | None = None  # of a submission created


SUBMISSIONS, REVISIONS, DRAFTS = Submission.__table__, Revision.__table__, Draft.__table__
SUBMISSION_COLUMNS = ("uid", "form_id", "form_version_id", "user_id", "team", "record_date", "summary", "status",
                      "revision_count", "content_digest", "faults", "shift", "area", "client_filled_at", "created_at",
                      "updated_at")
_INSERT_REVISIONS = FastStatement(insert(REVISIONS), ("submission_id", "number", "values", "digest", "author_id",
                                                      "reason", "created_at", "score"))
_DELETE_DRAFT = FastStatement(delete(DRAFTS).where(DRAFTS.c.uid == bindparam("uid")))
_EXISTING = FastStatement(select(SUBMISSIONS.c.id, SUBMISSIONS.c.content_digest, SUBMISSIONS.c.user_id)
                          .where(SUBMISSIONS.c.uid == bindparam("uid")))
CLASH = "这个提交编号已用于另一份内容不同的记录"


@lru_cache(maxsize=4)
def _insert_submission(dialect: str) -> FastStatement:
    """INSERT … ON CONFLICT (uid) DO NOTHING RETURNING id: the unique constraint on the client's id decides
    between concurrent retries, without a savepoint (a taken id inserts nothing and returns no row)."""
    module = {"sqlite": sqlite, "postgresql": postgresql}[dialect]
    return FastStatement(module.insert(SUBMISSIONS).on_conflict_do_nothing(index_elements=["uid"])
                         .returning(SUBMISSIONS.c.id), SUBMISSION_COLUMNS)


def _header_text(values: dict[str, Any], key: str, limit: int) -> str:
    value = values.get(key)
    return value[:limit] if isinstance(value, str) else ""


def prepare(user: Any, form: Form, version_id: int, uid: str, values: dict[str, Any], today: dt.date,
            via: str = "web", rules: Rules | None = None, filled_at: dt.datetime | None = None) -> NewSubmission:
    content = content_digest(form.id, values)
    planned = followup.plan(rules, form, values, user) if rules is not None else None
    return NewSubmission(
        uid=uid, user_id=user.id, photos=photo_ids(form, values),
        submission={"uid": uid, "form_id": form.id, "form_version_id": version_id, "user_id": user.id,
                    "team": user.team, "record_date": record_date(form, values, today),
                    "summary": summary(form, values), "status": "submitted", "revision_count": 1,
                    "content_digest": content, "faults": count_faults(form, values),
                    "shift": _header_text(values, "shift", 32), "area": _header_text(values, "area", 64),
                    "client_filled_at": filled_at},
        revision={"number": 1, "values": values, "digest": content, "author_id": user.id, "reason": "",
                  "score": scores.percent(form, values)},
        event=audit.event(user, "submit", uid, form=form.id, via=via), followup=planned or None,
        drawings=drawing_items(form, values) or None)


def store(db: Connection, new: NewSubmission) -> Stored:
    """Store one prepared submission in `db`'s write transaction (see `store_many`); Conflict or BadPhotos
    raised as such."""
    outcome = store_many(db, [new])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def store_many(db: Connection, news: list[NewSubmission]) -> list[Stored | Conflict | BadPhotos]:
    """Store prepared submissions in `db`'s write transaction, each with its first revision and its audit
    event (API submissions arrive in batches, see groupcommit).

    Each outcome is what storing them one after another would give: Stored (created, or found stored: the
    same id with the same content and user, stored before or earlier in this batch), or the Conflict /
    BadPhotos refusing it. A refused submission writes nothing, so the others' outcomes stand either way."""
    outcomes: list[Stored | Conflict | BadPhotos | None] = [None] * len(news)
    for n, new in enumerate(news):
        if new.photos:
            try:
                _verify_photos(db, new.user_id, new.photos, new.drawings)
            except BadPhotos as error:
                outcomes[n] = error
    first: dict[str, int] = {}  # id → the first submission of the batch using it: the one that may insert it
    for n, new in enumerate(news):
        if outcomes[n] is None:
            first.setdefault(new.uid, n)
    now = utcnow()
    ids = {uid: new_id for uid, n in first.items() if (new_id := _insert(db, news[n], now)) is not None}
    stored_before = {uid: _EXISTING.fetch_one(db, {"uid": uid}) for uid in first if uid not in ids}
    for n, new in enumerate(news):
        if outcomes[n] is None:
            outcomes[n] = _outcome(new, n == first[new.uid] and new.uid in ids, ids.get(new.uid),
                                   news[first[new.uid]], stored_before.get(new.uid), now)
    _write_rows(db, [news[n] for n in first.values() if news[n].uid in ids], ids, now)
    return outcomes  # type: ignore[return-value]  # every one is set by now


def _insert(db: Connection, new: NewSubmission, now: dt.datetime) -> int | None:
    """The new submission's id, or None if its id is taken."""
    row = _insert_submission(db.dialect.name).fetch_one(db, {**new.submission, "created_at": now, "updated_at": now})
    return row[0] if row else None


def _outcome(new: NewSubmission, inserted: bool, new_id: int | None, first: NewSubmission,
             before: tuple | None, now: dt.datetime) -> Stored | Conflict:
    if inserted:
        return Stored(new_id, new.uid, True, now)
    if new_id is not None:  # the id was inserted by an earlier submission of this batch
        same = first.submission["content_digest"] == new.submission["content_digest"] and first.user_id == new.user_id
        return Stored(new_id, new.uid, False) if same else Conflict(CLASH)
    before_id, before_digest, before_user = before
    same = before_digest == new.submission["content_digest"] and before_user == new.user_id
    return Stored(before_id, new.uid, False) if same else Conflict(CLASH, before)


def _write_rows(db: Connection, inserted: list[NewSubmission], ids: dict[str, int], now: dt.datetime) -> None:
    """The first revisions, photos, drafts and audit events of the submissions just inserted."""
    if not inserted:
        return
    _INSERT_REVISIONS.executemany(db, [{**new.revision, "submission_id": ids[new.uid], "created_at": now}
                                       for new in inserted])
    for new in inserted:
        if new.photos:
            db.execute(update(Photo).where(Photo.uid.in_(new.photos)).values(submission_uid=new.uid))
    _DELETE_DRAFT.executemany(db, [{"uid": new.uid} for new in inserted])
    for new in inserted:
        if new.followup:
            followup.open_cases(db, ids[new.uid], new.followup, now)
    audit.insert_events(db, [new.event for new in inserted], now)


def create(db: Connection, user: User, form: Form, version_id: int, uid: str, values: dict[str, Any],
           today: dt.date, via: str = "web", rules: Rules | None = None,
           filled_at: dt.datetime | None = None) -> Stored:
    """`prepare` and `store` in one go, in the caller's write transaction (the web form; `filled_at` is the
    phone's fill time of a submission it queued offline)."""
    return store(db, prepare(user, form, version_id, uid, values, today, via, rules, filled_at))


def correct(db: Session, user: User, submission: Submission, form: Form, base: int, values: dict[str, Any],
            reason: str) -> Revision:
    """A new revision replacing revision `base`; Conflict when `base` is no longer the newest."""
    if submission.revision_count != base:
        raise Conflict(f"记录已被更正为第 {submission.revision_count} 版,您是在第 {base} 版上修改的,请刷新后重新更正。",
                       submission)
    before = db.scalar(select(Revision.values).where(Revision.submission_id == submission.id,
                                                     Revision.number == base)) or {}
    _check_photos(db, user, submission.uid, photo_ids(form, values), drawing_items(form, values),
                  {**dict.fromkeys(photo_ids(form, before)), **drawing_items(form, before)})
    number = base + 1
    # The guarded update is the lock: a concurrent correction of the same base updates nothing.
    done = db.execute(update(Submission).where(Submission.id == submission.id, Submission.revision_count == base)
                      .values(revision_count=number, updated_at=utcnow(), summary=summary(form, values),
                              faults=count_faults(form, values), shift=_header_text(values, "shift", 32),
                              area=_header_text(values, "area", 64))).rowcount
    if done != 1:
        raise Conflict("记录刚被别人更正过,请刷新后重新更正。", submission)
    revision = Revision(submission_id=submission.id, number=number, values=values,
                        digest=content_digest(form.id, values), author_id=user.id, reason=reason,
                        score=scores.percent(form, values))
    db.add(revision)
    audit.record(db, user, "correct", submission.uid, revision=number, reason=reason)
    return revision


def set_deleted(db: Session, user: User, submission: Submission, deleted: bool, reason: str) -> None:
    db.execute(update(Submission).where(Submission.id == submission.id)
               .values(status="deleted" if deleted else "submitted", updated_at=utcnow()))
    audit.record(db, user, "delete" if deleted else "restore", submission.uid, reason=reason)


def latest_values(db: Session, submission: Submission) -> tuple[Revision, dict[str, Any]]:
    revision = db.scalar(select(Revision).where(Revision.submission_id == submission.id)
                         .order_by(Revision.number.desc()).limit(1))
    return revision, revision.values
