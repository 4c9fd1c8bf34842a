"""The scheduling pass: which notifications are due by now, from the schedules, the roster, case deadlines,
blocked handovers and training, as `outbox.Event`s with stable dedup keys.

The pass is a pure function of the database and the clock: it looks back over a window (LOOKBACK) and
yields every event due in it, whether or not it was already written, and `outbox.enqueue` keeps the ones
not written before. So it may run twice, in two workers at once, or after a stop, and nothing is told twice;
an event found later than its rule's stale_after is marked stale (inbox and summary only).

Handovers blocked and regulations revised are found here too, rather than by a hook in the code paths that
change them: operations and training must not import notify, the state the pass reads is the committed
truth (a handover unblocked before the pass runs tells nobody), and the pass runs every
NOTIFY_SCHEDULE_SECONDS, well inside the minute these need.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from formserver.db import write_transaction
from formserver.db.models import Case, Handover, Notification, User, utcnow
from formserver.forms.catalogue import Catalogue
from formserver.notify.outbox import Event, enqueue
from formserver.operations import casesteps, roster, schedule
from formserver.training import progress
from handbook.rules import NotifyRule, NotifyRules

LOOKBACK = dt.timedelta(days=2)  # events older than this are not looked for at all
MINUTE = dt.timedelta(minutes=1)
DAY = dt.timedelta(days=1)
KEY_CHUNK = 500


class Pass:
    """One scheduling pass at `now` (UTC)."""

    def __init__(self, db: Session, cat: Catalogue, rules: NotifyRules, now: dt.datetime):
        self.db, self.cat, self.rules, self.now = db, cat, rules, now
        self.events: list[Event] = []
        self._supervisors: dict[str, list[int]] | None = None

    # -- helpers -------------------------------------------------------------------------------------

    def add(self, rule: NotifyRule, user_id: int, kind: str, key: str, title: str, body: str, link: str,
            fire: dt.datetime, useful_until: dt.datetime | None = None) -> None:
        """An event due at `fire` (UTC), if that is by now and within the lookback; stale once its rule's
        stale_after has passed, or once it is no use any more (`useful_until`: a reminder of a deadline past)."""
        if fire > self.now or fire < self.now - LOOKBACK:
            return
        stale = self.now - fire > rule.stale_after * MINUTE or (useful_until is not None and self.now >= useful_until)
        self.events.append(Event(user_id, kind, f"{key}:{user_id}", title, body, link, fire, rule.channels, stale))

    def supervisors(self, team: str) -> list[int]:
        """Who a team's escalations go to: its supervisors, else the managers."""
        if self._supervisors is None:
            found: dict[str, list[int]] = defaultdict(list)
            for user_id, role, user_team in self.db.execute(select(User.id, User.role, User.team).where(
                    User.active, User.role.in_(("supervisor", "manager")))):
                found[user_team if role == "supervisor" else "*manager"].append(user_id)
            self._supervisors = dict(found)
        return self._supervisors.get(team) or self._supervisors.get("*manager", [])

    def hhmm(self, utc: dt.datetime) -> str:
        return self.cat.local(utc).strftime("%m-%d %H:%M")

    # -- the events ----------------------------------------------------------------------------------

    def forms(self) -> None:
        due_rule, missed_rule = self.rules.of("form_due"), self.rules.of("form_missed")
        if due_rule is None and missed_rule is None:
            return
        hb, cat = self.cat.handbook, self.cat
        local_now = cat.local(self.now)
        start = local_now.date() - DAY
        slots = schedule.slots_between(hb, start, local_now.date() + DAY)
        slots = [s for s in slots if s.shift]  # only a shift's slots belong to a rostered person
        if not slots:
            return
        statuses = schedule.match(hb, slots, schedule.fetch(self.db, cat, slots), local_now)
        on_duty = roster.rostered(self.db, start, local_now.date() + DAY)
        users = {}
        for slot, status in zip(slots, statuses, strict=True):
            if status.status not in ("due", "missed") or slot.deadline < cat.schedules_from:
                continue
            person = on_duty.person_for(hb, slot)
            if person is None or not person.active:
                continue
            users[person.id] = person
            title = cat.forms[slot.form_id].title if slot.form_id in cat.forms else slot.form_id
            where = " · ".join(p for p in (slot.shift, slot.area) if p)
            key = f"{slot.form_id}:{slot.date}:{slot.shift}:{slot.area}:{slot.due_at:%H%M}"
            due, deadline = cat.utc(slot.due_at), cat.utc(slot.deadline)
            link = f"/forms/{slot.form_id}"
            if due_rule is not None and status.status == "due":
                self.add(due_rule, person.id, "form_due", f"form_due:{key}",
                         f"{title} 应于 {slot.due_at:%H:%M} 提交({where})",
                         f"{where} 的{title}应于 {slot.due_at:%H:%M} 提交,最迟 {slot.deadline:%H:%M}。", link,
                         due - due_rule.lead * MINUTE, deadline)
            if missed_rule is not None and status.status == "missed":
                self.add(missed_rule, person.id, "form_missed", f"form_missed:{key}",
                         f"漏交:{title}({where} {slot.due_at:%H:%M})",
                         f"{where} 的{title}应于 {slot.due_at:%H:%M} 提交,截至 {slot.deadline:%H:%M} 未收到。",
                         link, deadline)
                if missed_rule.escalate_after is not None:
                    for boss in self.supervisors(person.team):
                        self.add(missed_rule, boss, "form_missed", f"form_missed_escalated:{key}",
                                 f"漏交:{person.display_name} 的{title}({where} {slot.due_at:%H:%M})",
                                 f"排班表上的当班人 {person.display_name} 未在 {slot.deadline:%H:%M} 前提交{title}。",
                                 link, deadline + missed_rule.escalate_after * MINUTE)

    def cases(self) -> None:
        case_rules = [r for r in self.rules.rules if r.event == "case_due"]
        if not case_rules:
            return
        horizon = self.now + max(r.lead for r in case_rules) * MINUTE
        rows = self.db.execute(select(Case.id, Case.workflow_id, Case.title, Case.owner_id, Case.team, Case.due_at,
                                      Case.state)
                               .where(Case.closed_at.is_(None), Case.due_at.is_not(None), Case.due_at <= horizon,
                                      Case.due_at >= self.now - LOOKBACK - DAY))
        hb_rules = self.cat.handbook.rules
        for case_id, workflow_id, title, owner_id, team, due_at, state in rows:
            rule = self.rules.of("case_due", workflow_id)
            if rule is None:
                continue
            flow = hb_rules.workflow(workflow_id)
            step = casesteps.deadline_step(flow, state) if flow else None
            what = f"{casesteps.flow_title(hb_rules, workflow_id)} · {title}"
            step_name = f"“{step.name}”" if step else ""
            key = f"{case_id}:{due_at:%Y%m%d%H%M}"
            link = f"/cases/{case_id}"
            told = [owner_id] if owner_id else self.supervisors(team)  # not yet assigned: the supervisors assign
            for user_id in told:
                self.add(rule, user_id, "case_due", f"case_due:{key}", f"即将到期:{what}",
                         f"{step_name}须在 {self.hhmm(due_at)} 前完成。", link, due_at - rule.lead * MINUTE, due_at)
                self.add(rule, user_id, "case_overdue", f"case_overdue:{key}", f"已逾期:{what}",
                         f"{step_name}应在 {self.hhmm(due_at)} 前完成,已逾期。", link, due_at)
            if rule.escalate_after is not None and owner_id:
                owner = self.db.get(User, owner_id)
                for boss in self.supervisors(team):
                    if boss != owner_id:
                        self.add(rule, boss, "case_escalated", f"case_escalated:{key}", f"逾期未办:{what}",
                                 f"负责人 {owner.display_name if owner else ''} 的{step_name}应在 "
                                 f"{self.hhmm(due_at)} 前完成,至今未完成。", link,
                                 due_at + rule.escalate_after * MINUTE)

    def handovers(self) -> None:
        rule = self.rules.of("handover_blocked")
        if rule is None:
            return
        rows = self.db.execute(select(Handover.id, Handover.shift, Handover.area, Handover.team, Handover.outgoing_id,
                                      Handover.handed_at)
                               .where(Handover.state == "blocked", Handover.handed_at >= self.now - LOOKBACK))
        for handover_id, shift, area, team, outgoing_id, handed_at in rows:
            where = " · ".join(p for p in (shift, area) if p) or "交接班"
            for user_id in dict.fromkeys([outgoing_id, *self.supervisors(team)]):
                self.add(rule, user_id, "handover_blocked", f"handover_blocked:{handover_id}",
                         f"交接班未能完成:{where}",
                         f"{self.hhmm(handed_at)} 的交接班有不得交接的情形,须处理后才能完成交接。",
                         f"/handover/{handover_id}", handed_at)

    def training(self) -> None:
        ack_rule, path_rule = self.rules.of("reacknowledge"), self.rules.of("path_due")
        if ack_rule is None and path_rule is None:
            return
        users = list(self.db.scalars(select(User.id).where(User.active)))
        records = progress.load_records(self.db, users)
        cat = self.cat
        for user_id in users:
            for path in progress.paths_of(cat, records, user_id):
                if path_rule is not None and not path.complete:
                    due = cat.utc(dt.datetime.combine(path.assignment.due_date + DAY, dt.time()))
                    self.add(path_rule, user_id, "path_due", f"path_due:{path.path.id}:{path.assignment.due_date}",
                             f"学习路径将于 {path.assignment.due_date:%m-%d} 到期:{path.path.title}",
                             f"已完成 {path.done}/{len(path.steps)} 步。", "/training", due - path_rule.lead * MINUTE,
                             due)
                for step in path.steps if ack_rule is not None else ():
                    current = cat.regulation_versions.get(step.regulation.id)
                    if step.ack != "outdated" or current is None:
                        continue
                    self.add(ack_rule, user_id, "reacknowledge", f"reacknowledge:{step.regulation.id}:{current.id}",
                             f"制度已修订,请重新确认:{step.regulation.id} {step.regulation.title}",
                             f"修订版本 {current.revision},请阅读变化的条款并重新确认。",
                             f"/training/{path.path.id}/{step.regulation.id}", current.registered_at)


def due_events(db: Session, cat: Catalogue, now: dt.datetime) -> list[Event]:
    """Every event due by `now` (UTC) within the lookback, written before or not."""
    rules = cat.handbook.rules.notifications
    if rules is None:
        return []
    p = Pass(db, cat, rules, now)
    p.forms()
    p.cases()
    p.handovers()
    p.training()
    return p.events


def not_yet_written(db: Session, events: list[Event]) -> list[Event]:
    """The events whose key is not in the table yet (a read, to keep the steady-state pass read-only; the
    insert itself still ignores a key written meanwhile)."""
    keys = list(dict.fromkeys(e.key for e in events))
    written: set[str] = set()
    for n in range(0, len(keys), KEY_CHUNK):
        chunk = keys[n:n + KEY_CHUNK]
        written.update(db.scalars(select(Notification.dedup_key).where(Notification.dedup_key.in_(chunk))))
    return [e for e in events if e.key not in written]


def run_pass(engine: Engine, cat: Catalogue, config: Mapping[str, Any], now: dt.datetime | None = None) -> int:
    """One pass: read what is due (no lock), then write what is new in one write transaction; how many
    notifications it wrote."""
    now = now or utcnow()
    with Session(engine) as db:
        new = not_yet_written(db, due_events(db, cat, now))
    if not new:
        return 0
    with write_transaction(engine) as connection, Session(bind=connection) as db:
        return len(enqueue(db, new, config, now, cat.local, cat.utc))
