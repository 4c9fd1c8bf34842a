"""A case assigned to someone tells them in the assignment's own transaction: rolled back, nobody is told."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from formserver import db
from formserver.db.models import Case, Delivery, Notification, User
from formserver.operations import casesteps
from tests.formserver.notify.support import add_user


def users(app, *names: str) -> list[User]:
    with app.extensions["db_sessions"]() as session:
        return [session.scalar(select(User).where(User.username == n)) for n in names]


def test_an_assignment_tells_the_new_owner_in_its_own_transaction(app, monkeypatch):
    add_user(app, "boss", role="supervisor")
    add_user(app, "owner")
    boss, owner = users(app, "boss", "owner")
    with app.extensions["db_sessions"].begin() as session:
        case = Case(workflow_id="corrective", title="消防通道堵塞", team="desk", state="open")
        session.add(case)
        session.flush()
        case_id = case.id
    monkeypatch.setitem(app.config, "NOTIFY_WEBHOOK_URL", "http://127.0.0.1:9/hook")
    with app.test_request_context():
        with pytest.raises(RuntimeError), db.write() as w:
            casesteps.assign(w, boss, w.get(Case, case_id), owner, None)
            raise RuntimeError("the assignment fails")
        with app.extensions["db_sessions"]() as session:
            assert session.scalar(select(func.count()).select_from(Notification)) == 0
        with db.write() as w:
            casesteps.assign(w, boss, w.get(Case, case_id), owner, None)
        with db.write() as w:  # assigning oneself tells nobody
            casesteps.assign(w, boss, w.get(Case, case_id), boss, None)
    with app.extensions["db_sessions"]() as session:
        [note] = session.scalars(select(Notification)).all()
        assert (note.user_id, note.kind, note.title) == (owner.id, "case_assigned", "指派给你:整改事项 · 消防通道堵塞")
        assert note.body.startswith("boss姓名 指派你负责") and note.link == f"/cases/{case_id}"
        assert [d.channel for d in session.scalars(select(Delivery))] == ["webhook"]
