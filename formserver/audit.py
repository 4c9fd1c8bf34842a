"""The audit log: login, submit, correct, delete/restore, export, token and account changes."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from sqlalchemy.orm import Session

from .models import AuditEvent, User


def record(db: Session, user: User | None, action: str, target: str = "", **detail: Any) -> None:
    """Add an audit event to `db`'s transaction: it commits with the change it records, or not at all."""
    address = (request.remote_addr or "") if has_request_context() else "cli"
    db.add(AuditEvent(user_id=user.id if user else None, username=user.username if user else "",
                      action=action, target=target, detail=detail, address=address[:64]))
