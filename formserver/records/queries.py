"""The record list's filters, shared by the review pages, the exports and the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, select, tuple_
from sqlalchemy.orm import Session

from formserver.db.models import Revision, Submission, User
from formserver.records.store import visible

STATUS_FILTERS = {"": "全部", "submitted": "已提交", "corrected": "有更正", "faults": "有异常项", "deleted": "已删除"}


@dataclass
class Filters:
    form: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    person: str = ""
    status: str = ""
    errors: tuple[str, ...] = ()

    @classmethod
    def parse(cls, args: Any, forms: dict) -> Filters:
        errors = []

        def date(name: str) -> dt.date | None:
            text = (args.get(name) or "").strip()
            if not text:
                return None
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                errors.append(f"日期 “{text[:20]}” 格式不对,应为 2026-11-23")
                return None

        form = (args.get("form") or "").strip()
        if form and form not in forms:
            errors.append(f"没有表单 “{form[:40]}”")
            form = ""
        status = (args.get("status") or "").strip()
        if status not in STATUS_FILTERS:
            errors.append("状态筛选无效")
            status = ""
        return cls(form, date("from"), date("to"), (args.get("person") or "").strip()[:64], status, tuple(errors))

    def query_args(self) -> dict[str, str]:
        args = {"form": self.form, "from": self.date_from.isoformat() if self.date_from else "",
                "to": self.date_to.isoformat() if self.date_to else "", "person": self.person, "status": self.status}
        return {k: v for k, v in args.items() if v}


def filtered(db: Session, user: User, f: Filters) -> Select:
    query = visible(user)
    if f.form:
        query = query.where(Submission.form_id == f.form)
    if f.date_from:
        query = query.where(Submission.record_date >= f.date_from)
    if f.date_to:
        query = query.where(Submission.record_date <= f.date_to)
    if f.person:
        person_id = db.scalar(select(User.id).where(User.username == f.person))
        query = query.where(Submission.user_id == (person_id or -1))
    if f.status == "deleted":
        query = query.where(Submission.status == "deleted")
    else:
        query = query.where(Submission.status == "submitted")
        if f.status == "corrected":
            query = query.where(Submission.revision_count > 1)
        elif f.status == "faults":
            query = query.where(Submission.faults > 0)
    return query


def page(db: Session, query: Select, size: int, before: tuple[dt.datetime, int] | None) -> list[Submission]:
    """Newest first, `size` at a time, continuing after `before` (created_at, id): keyset paging stays as
    fast on the last page of a million rows as on the first.

    The page's ids are picked first and the records loaded by id after: where the database has to sort
    (a date range, answered from the record_date index), it then sorts (created_at, id) pairs instead of
    whole records with their users (a month of 42,000 records at a million rows: 175 ms → 35 ms on SQLite)."""
    if before:
        query = query.where(tuple_(Submission.created_at, Submission.id) < tuple_(*before))
    newest = (Submission.created_at.desc(), Submission.id.desc())
    ids = query.with_only_columns(Submission.id).order_by(*newest).limit(size).scalar_subquery()
    return list(db.scalars(select(Submission).where(Submission.id.in_(ids)).order_by(*newest)))


def with_latest_values(query: Select) -> Select:
    """(Submission, newest revision's values) rows for exports."""
    return (query.add_columns(Revision.values)
            .join(Revision, and_(Revision.submission_id == Submission.id,
                                 Revision.number == Submission.revision_count))
            .order_by(Submission.created_at, Submission.id))
