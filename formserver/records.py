"""Submissions: create (idempotent on the client's submission id), correct, delete and restore, and who
may see what. Every change is one write transaction that also writes its audit event."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from handbook.model import Form, Item

from . import audit
from .formdefs import digest
from .models import Draft, Photo, Revision, Submission, User, utcnow


class Conflict(Exception):
    """The request contradicts what is stored (same id with other content, a stale correction)."""

    def __init__(self, message: str, submission: Submission | None = None):
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
    return ids


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


def _check_photos(db: Session, user: User, uid: str, ids: list[str]) -> None:
    if not ids:
        return
    found = db.scalars(select(Photo.uid).where(Photo.uid.in_(ids), Photo.user_id == user.id)).all()
    missing = set(ids) - set(found)
    if missing:
        raise BadPhotos("照片不存在或不属于您:" + "、".join(sorted(missing)))
    db.execute(update(Photo).where(Photo.uid.in_(ids)).values(submission_uid=uid))


def create(db: Session, user: User, form: Form, version_id: int, uid: str, values: dict[str, Any],
           today: dt.date, via: str = "web") -> tuple[Submission, bool]:
    """Store a new submission; (submission, created). The same id with the same content gives the stored
    submission and False; the same id with other content raises Conflict. The database's unique
    constraint on the id decides, so concurrent retries cannot both insert. `db` is a write session."""
    content = content_digest(form.id, values)
    try:
        with db.begin_nested():
            _check_photos(db, user, uid, photo_ids(form, values))
            now = utcnow()
            submission = Submission(
                uid=uid, form_id=form.id, form_version_id=version_id, user_id=user.id, team=user.team,
                record_date=record_date(form, values, today), summary=summary(form, values),
                content_digest=content, faults=count_faults(form, values), created_at=now, updated_at=now)
            db.add(submission)
            db.flush()
            db.add(Revision(submission_id=submission.id, number=1, values=values, digest=content,
                            author_id=user.id, created_at=now))
            db.flush()
    except IntegrityError:
        existing = db.scalar(select(Submission).where(Submission.uid == uid))
        if existing is None:
            raise
        if existing.content_digest != content or existing.user_id != user.id:
            raise Conflict("这个提交编号已用于另一份内容不同的记录", existing) from None
        return existing, False
    db.execute(Draft.__table__.delete().where(Draft.uid == uid))
    audit.record(db, user, "submit", uid, form=form.id, via=via)
    return submission, True


def correct(db: Session, user: User, submission: Submission, form: Form, base: int, values: dict[str, Any],
            reason: str) -> Revision:
    """A new revision replacing revision `base`; Conflict when `base` is no longer the newest."""
    if submission.revision_count != base:
        raise Conflict(f"记录已被更正为第 {submission.revision_count} 版,您是在第 {base} 版上修改的,请刷新后重新更正。",
                       submission)
    _check_photos(db, user, submission.uid, photo_ids(form, values))
    number = base + 1
    # The guarded update is the lock: a concurrent correction of the same base updates nothing.
    done = db.execute(update(Submission).where(Submission.id == submission.id, Submission.revision_count == base)
                      .values(revision_count=number, updated_at=utcnow(), summary=summary(form, values),
                              faults=count_faults(form, values))).rowcount
    if done != 1:
        raise Conflict("记录刚被别人更正过,请刷新后重新更正。", submission)
    revision = Revision(submission_id=submission.id, number=number, values=values,
                        digest=content_digest(form.id, values), author_id=user.id, reason=reason)
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
