"""Events told in the transaction that makes them (records.hooks.emit), rather than found by the pass: a case
assigned to someone. The notification and its deliveries commit or roll back with the assignment itself."""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from formserver.db.models import Case, User, utcnow
from formserver.forms.catalogue import catalogue
from formserver.notify.outbox import Event, enqueue
from formserver.operations import casesteps


def on_event(w: Session, kind: str, data: dict[str, Any]) -> None:
    if kind == "case_assigned":
        _case_assigned(w, data)


def _case_assigned(w: Session, data: dict[str, Any]) -> None:
    cat = catalogue()
    rules = cat.handbook.rules.notifications
    rule = rules.of("case_assigned") if rules else None
    if rule is None or data["owner_id"] == data["by_id"]:
        return  # nobody is told what they did themselves
    case, by = w.get(Case, data["case_id"]), w.get(User, data["by_id"])
    if case is None:
        return
    now = utcnow()
    due = data.get("due_at") or case.due_at
    what = f"{casesteps.flow_title(cat.handbook.rules, case.workflow_id)} · {case.title}"
    body = f"{by.display_name if by else '主管'} 指派你负责" + (f",期限 {cat.local(due):%m-%d %H:%M}" if due else "")
    event = Event(data["owner_id"], "case_assigned", f"case_assigned:{case.id}:{now:%Y%m%d%H%M%S%f}:{data['owner_id']}",
                  f"指派给你:{what}", body + "。", f"/cases/{case.id}", now, rule.channels)
    enqueue(w, [event], current_app.config, now, cat.local, cat.utc)
