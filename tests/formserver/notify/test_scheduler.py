"""The scheduling pass: a form due soon and then missed tells the person the roster has on that shift and area
(and later their supervisor); a case step due soon and overdue tells its owner, then escalates; a blocked
handover, a revised regulation and a learning path due tell who must act. Running the pass again writes
nothing; after a long stop, reminders past their usefulness come as one summary per person."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from formserver.db.models import (
    Acknowledgement,
    Case,
    Delivery,
    Handover,
    Notification,
    PathAssignment,
    RegulationVersion,
    RosterEntry,
    Submission,
    User,
    utcnow,
)
from formserver.notify import scheduler
from tests.formserver.notify.support import add_user, notify_config

DAY = dt.date(2026, 11, 23)  # a Monday


def at(hhmm: str, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.fromisoformat(hhmm))


def run(app, local: dt.datetime | None = None, **config) -> int:
    cat = app.extensions["catalogue"]
    now = cat.utc(local) if local else utcnow()
    return scheduler.run_pass(app.extensions["db_engine"], cat, notify_config(app, **config), now)


def told(app) -> list[tuple[str, str, bool]]:
    with app.extensions["db_sessions"]() as db:
        rows = db.execute(select(User.username, Notification.kind, Notification.stale)
                          .join(User, User.id == Notification.user_id))
        return sorted((name, kind, bool(stale)) for name, kind, stale in rows)


def titles(app, username: str) -> list[str]:
    with app.extensions["db_sessions"]() as db:
        return list(db.scalars(select(Notification.title).join(User, User.id == Notification.user_id)
                               .where(User.username == username).order_by(Notification.id)))


def test_a_form_due_then_missed_tells_the_rostered_person_then_their_supervisor(app):
    cat = app.extensions["catalogue"]
    a, b = add_user(app, "a"), add_user(app, "b")
    add_user(app, "boss", role="supervisor")
    add_user(app, "other-boss", role="supervisor", team="hotline")
    with app.extensions["db_sessions"].begin() as db:
        db.add_all([RosterEntry(day=DAY, shift="early", user_id=a, area="f1", team="desk"),
                    RosterEntry(day=DAY, shift="early", user_id=b, area="f2-f4", team="desk")])
    assert run(app, at("09:40")) == 0  # the 10:00 patrol's reminder is due at 09:45
    assert run(app, at("09:50")) == 2
    assert told(app) == [("a", "form_due", False), ("b", "form_due", False)]
    assert titles(app, "a") == ["巡查检查表 应于 10:00 提交(早班 · 一层大堂及总服务台)"]
    assert run(app, at("09:55")) == 0  # the same pass again: nothing new
    with app.extensions["db_sessions"].begin() as db:  # b patrols f2-f4 in time
        db.add(Submission(uid="0b6f6a2e-0000-4000-8000-000000000001", form_id="patrol",
                          form_version_id=cat.version_ids["patrol"], user_id=b, team="desk", record_date=DAY,
                          content_digest="x", shift="早班", area="二至四层商铺区", created_at=cat.utc(at("10:20"))))
    assert run(app, at("11:05")) == 1  # deadline 11:00 (60 minutes of grace): only a missed it
    assert run(app, at("11:20")) == 0
    assert run(app, at("11:31")) == 1  # escalated 30 minutes later, to a's own team's supervisor
    assert told(app) == [("a", "form_due", False), ("a", "form_missed", False), ("b", "form_due", False),
                         ("boss", "form_missed", False)]
    assert titles(app, "boss") == ["漏交:a姓名 的巡查检查表(早班 · 一层大堂及总服务台 10:00)"]


def add_case(app, workflow: str, owner: int | None, due: dt.datetime, state: str) -> int:
    with app.extensions["db_sessions"].begin() as db:
        case = Case(workflow_id=workflow, title="存包柜门损坏", owner_id=owner, team="desk", state=state,
                    due_at=app.extensions["catalogue"].utc(due))
        db.add(case)
        db.flush()
        return case.id


def test_a_case_step_due_then_overdue_tells_its_owner_and_escalates(app):
    owner = add_user(app, "owner")
    add_user(app, "boss", role="supervisor")
    add_case(app, "complaint", owner, at("13:00"), "accepted")  # the reply of KF-14.30, 24 h after taking it
    add_case(app, "corrective", None, at("09:00", DAY + dt.timedelta(days=1)), "open")  # not yet assigned
    assert run(app, at("09:30")) == 2  # complaint: 4 h before; corrective: a day before, to who assigns it
    assert told(app) == [("boss", "case_due", False), ("owner", "case_due", False)]
    assert titles(app, "owner") == ["即将到期:投诉处理 · 存包柜门损坏"]
    assert run(app, at("12:59")) == 0
    assert run(app, at("13:01")) == 2  # overdue, and escalated at once (escalate_after_minutes: 0)
    assert ("owner", "case_overdue", False) in told(app) and ("boss", "case_escalated", False) in told(app)
    assert run(app, at("13:02")) == 0


def test_a_stopped_worker_catches_up_with_one_summary_not_a_storm(app):
    owner = add_user(app, "owner")
    add_user(app, "boss", role="supervisor")
    for _ in range(3):
        add_case(app, "complaint", owner, at("02:00"), "accepted")
    hook = {"NOTIFY_WEBHOOK_URL": "http://127.0.0.1:9/hook"}
    assert run(app, at("12:00"), **hook) == 3 * 3 + 2  # all 9 stale (past stale_after), and 2 summaries
    kinds = told(app)
    assert [k for k in kinds if not k[2]] == [("boss", "summary", False), ("owner", "summary", False)]
    assert titles(app, "owner")[-1] == "你有 6 条提醒已过期,未逐条发送"
    with app.extensions["db_sessions"]() as db:  # only the summaries go out by e-mail and bot
        sent = db.scalars(select(Notification.kind).join(Delivery, Delivery.notification_id == Notification.id))
        assert sorted(sent) == ["summary", "summary"]
    assert run(app, at("12:01"), **hook) == 0  # and no second summary


def test_a_blocked_handover_a_revised_regulation_and_a_path_due(app):
    cat = app.extensions["catalogue"]
    outgoing = add_user(app, "outgoing")
    learner = add_user(app, "learner")
    add_user(app, "boss", role="supervisor")
    path = next(p for p in cat.handbook.paths if p.id == "new-staff")
    regulation = path.regulations[0]
    today = cat.now().date()
    with app.extensions["db_sessions"].begin() as db:
        sub = Submission(uid="0b6f6a2e-0000-4000-8000-000000000002", form_id="handover",
                         form_version_id=cat.version_ids["handover"], user_id=outgoing, team="desk",
                         record_date=today, content_digest="x")
        db.add(sub)
        db.flush()
        db.add(Handover(submission_id=sub.id, shift="早班", team="desk", outgoing_id=outgoing, state="blocked",
                        blockers=["event_unresolved"], handed_at=utcnow() - dt.timedelta(minutes=5)))
        old = RegulationVersion(regulation_id=regulation, revision="0.9", digest="old", title="旧版", clauses=[])
        db.add(old)
        db.flush()
        db.add(Acknowledgement(user_id=learner, regulation_id=regulation, regulation_version_id=old.id,
                               path_id=path.id))
        db.add(PathAssignment(user_id=learner, path_id=path.id, due_date=today))
    assert run(app) == 4
    assert told(app) == [("boss", "handover_blocked", False), ("learner", "path_due", False),
                         ("learner", "reacknowledge", False), ("outgoing", "handover_blocked", False)]
    assert any(t.startswith(f"制度已修订,请重新确认:{regulation}") for t in titles(app, "learner"))
    assert run(app) == 0


def test_the_pass_needs_no_rules_file(app, monkeypatch):
    add_user(app, "a")
    monkeypatch.setattr(app.extensions["catalogue"].handbook.rules, "notifications", None)
    assert run(app) == 0
