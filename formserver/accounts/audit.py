"""The audit log: login, submit, correct, delete/restore, export, token and account changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import has_request_context, request
from sqlalchemy import Connection, insert
from sqlalchemy.orm import Session

from formserver.db.fastsql import FastStatement
from formserver.db.models import AuditEvent, User

_INSERT = FastStatement(insert(AuditEvent.__table__),
                        ("at", "user_id", "username", "action", "target", "detail", "address"))


def event(user: Any, action: str, target: str = "", **detail: Any) -> dict[str, Any]:
    """An audit event's columns (but its time), the address taken from the current request if any."""
    address = (request.remote_addr or "") if has_request_context() else "cli"
    return {"user_id": user.id if user else None, "username": user.username if user else "", "action": action,
            "target": target, "detail": detail, "address": address[:64]}


def record(db: Session, user: User | None, action: str, target: str = "", **detail: Any) -> None:
    """Add an audit event to `db`'s transaction: it commits with the change it records, or not at all."""
    db.add(AuditEvent(**event(user, action, target, **detail)))


def insert_events(db: Connection, events: list[dict[str, Any]], at: dt.datetime) -> None:
    """`record` on a bare Connection, for `event`s made beforehand (API submissions are written by the
    group-commit thread, which has no request): in the same transaction as the changes they record."""
    _INSERT.executemany(db, [{**columns, "at": at} for columns in events])
