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


class Pass:
    """One scheduling pass at `now` (UTC)."""

    def __init__(self, db: Session, cat: Catalogue, rules: NotifyRules, now: dt.datetime):
        self.db, self.cat, self.rules, self.now = db, cat, rules, now
        self.events: list[Event] = []
        self._supervisors: dict[str, list[int]] | None = None
        self._names: dict[int, str] = {}
        # the keys written within the lookback: one range read (the steady-state pass only reads)
        self.written = set(db.scalars(select(Notification.dedup_key).where(Notification.event_at >= now - LOOKBACK,
                                                                           Notification.event_at <= now)))

    # -- helpers -------------------------------------------------------------------------------------

    def want(self, user_id: int, key: str, fire: dt.datetime) -> str | None:
        """The full dedup key of an event due at `fire` (UTC), if it is due by now, within the lookback and not
        written before; None otherwise. Titles are made only after this: most of a pass is events long told."""
        if fire > self.now or fire < self.now - LOOKBACK:
            return None
        key = f"{key}:{user_id}"
        return None if key in self.written else key

    def put(self, key: str, rule: NotifyRule, user_id: int, kind: str, link: str, fire: dt.datetime, title: str,
            body: str, useful_until: dt.datetime | None = None) -> None:
        """The event; stale once its rule's stale_after has passed, or once it is of no use any more
        (`useful_until`: the deadline a reminder is about)."""
        expires = fire + rule.stale_after * MINUTE
        if useful_until is not None:
            expires = min(expires, useful_until)
        stale = self.now >= expires
        self.events.append(Event(user_id, kind, key, title, body, link, fire, rule.channels, stale, expires))
        self.written.add(key)

    def supervisors(self, team: str) -> list[int]:
        """Who a team's escalations go to: its supervisors, else the managers."""
        if self._supervisors is None:
            found: dict[str, list[int]] = defaultdict(list)
            for user_id, role, user_team, name in self.db.execute(
                    select(User.id, User.role, User.team, User.display_name).where(User.active)):
                self._names[user_id] = name
                if role in ("supervisor", "manager"):
                    found[user_team if role == "supervisor" else "*manager"].append(user_id)
            self._supervisors = dict(found)
        return self._supervisors.get(team) or self._supervisors.get("*manager", [])

    def name(self, user_id: int) -> str:
        self.supervisors("")  # loads the names with them
        return self._names.get(user_id, "")

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
        slots = [s for s in schedule.slots_between(hb, start, local_now.date() + DAY)
                 if s.shift]  # only a shift's slots belong to a rostered person
        if not slots:
            return
        statuses = schedule.match(hb, slots, schedule.fetch(self.db, cat, slots), local_now)
        on_duty = roster.rostered(self.db, start, local_now.date() + DAY)
        for slot, status in zip(slots, statuses, strict=True):
            if status.status not in ("due", "missed") or slot.deadline < cat.schedules_from:
                continue
            person = on_duty.person_for(hb, slot)
            if person is None or not person.active:
                continue
            title = cat.forms[slot.form_id].title if slot.form_id in cat.forms else slot.form_id
            where = " · ".join(p for p in (slot.shift, slot.area) if p)
            key = f"{slot.form_id}:{slot.date}:{slot.shift}:{slot.area}:{slot.due_at:%H%M}"
            due, deadline, link = cat.utc(slot.due_at), cat.utc(slot.deadline), f"/forms/{slot.form_id}"
            at, until = f"{slot.due_at:%H:%M}", f"{slot.deadline:%H:%M}"
            if due_rule is not None and status.status == "due":
                fire = due - due_rule.lead * MINUTE
                if k := self.want(person.id, f"form_due:{key}", fire):
                    self.put(k, due_rule, person.id, "form_due", link, fire, f"{title} 应于 {at} 提交({where})",
                             f"{where} 的{title}应于 {at} 提交,最迟 {until}。", deadline)
            if missed_rule is None or status.status != "missed":
                continue
            if k := self.want(person.id, f"form_missed:{key}", deadline):
                self.put(k, missed_rule, person.id, "form_missed", link, deadline, f"漏交:{title}({where} {at})",
                         f"{where} 的{title}应于 {at} 提交,截至 {until} 未收到。")
            if missed_rule.escalate_after is None:
                continue
            fire = deadline + missed_rule.escalate_after * MINUTE
            for boss in self.supervisors(person.team):
                if k := self.want(boss, f"form_missed_escalated:{key}", fire):
                    self.put(k, missed_rule, boss, "form_missed", link, fire,
                             f"漏交:{person.display_name} 的{title}({where} {at})",
                             f"排班表上的当班人 {person.display_name} 未在 {until} 前提交{title}。")

    def cases(self) -> None:
        case_rules = [r for r in self.rules.rules if r.event == "case_due"]
        if not case_rules:
            return
        horizon = self.now + max(r.lead for r in case_rules) * MINUTE
        rows = self.db.execute(select(Case.id, Case.workflow_id, Case.title, Case.owner_id, Case.team, Case.due_at,
                                      Case.state)
                               .where(Case.closed_at.is_(None), Case.due_at.is_not(None), Case.due_at <= horizon,
                                      Case.due_at >= self.now - LOOKBACK - DAY))
        for case_id, workflow_id, title, owner_id, team, due_at, state in rows:
            rule = self.rules.of("case_due", workflow_id)
            if rule is None:
                continue
            key, link = f"{case_id}:{due_at:%Y%m%d%H%M}", f"/cases/{case_id}"
            soon = due_at - rule.lead * MINUTE
            told = [owner_id] if owner_id else self.supervisors(team)  # not yet assigned: the supervisors assign
            for user_id in told:
                if k := self.want(user_id, f"case_due:{key}", soon):
                    what, step = self.case_words(workflow_id, state, title)
                    self.put(k, rule, user_id, "case_due", link, soon, f"即将到期:{what}",
                             f"{step}须在 {self.hhmm(due_at)} 前完成。", due_at)
                if k := self.want(user_id, f"case_overdue:{key}", due_at):
                    what, step = self.case_words(workflow_id, state, title)
                    self.put(k, rule, user_id, "case_overdue", link, due_at, f"已逾期:{what}",
                             f"{step}应在 {self.hhmm(due_at)} 前完成,已逾期。")
            if rule.escalate_after is None or not owner_id:
                continue
            late = due_at + rule.escalate_after * MINUTE
            for boss in self.supervisors(team):
                if boss != owner_id and (k := self.want(boss, f"case_escalated:{key}", late)):
                    what, step = self.case_words(workflow_id, state, title)
                    self.put(k, rule, boss, "case_escalated", link, late, f"逾期未办:{what}",
                             f"负责人 {self.name(owner_id)} 的{step}应在 {self.hhmm(due_at)} 前完成,至今未完成。")

    def case_words(self, workflow_id: str, state: str, title: str) -> tuple[str, str]:
        """(what the case is, the step whose deadline runs) for a message."""
        rules = self.cat.handbook.rules
        flow = rules.workflow(workflow_id)
        step = casesteps.deadline_step(flow, state) if flow else None
        return f"{casesteps.flow_title(rules, workflow_id)} · {title}", f"“{step.name}”" if step else ""

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
                if k := self.want(user_id, f"handover_blocked:{handover_id}", handed_at):
                    self.put(k, rule, user_id, "handover_blocked", f"/handover/{handover_id}", handed_at,
                             f"交接班未能完成:{where}",
                             f"{self.hhmm(handed_at)} 的交接班有不得交接的情形,须处理后才能完成交接。")

    def training(self) -> None:
        ack_rule, path_rule = self.rules.of("reacknowledge"), self.rules.of("path_due")
        if ack_rule is None and path_rule is None:
            return
        cat = self.cat
        users = list(self.db.scalars(select(User.id).where(User.active)))
        records = progress.load_records(self.db, users)
        paths = {p.id: p for p in cat.handbook.paths}
        regulations = {r.id: r for r in cat.handbook.regulations}
        for user_id in users:
            for assignment in records.assignments.get(user_id, []):
                path = paths.get(assignment.path_id)
                if path is None:
                    continue
                due = cat.utc(dt.datetime.combine(assignment.due_date + DAY, dt.time()))  # the end of its day
                fire = due - path_rule.lead * MINUTE if path_rule else due
                if path_rule and (k := self.want(user_id, f"path_due:{path.id}:{assignment.due_date}", fire)):
                    # how far the person is: worked out only for a reminder due and not yet written
                    mine = next(p for p in progress.paths_of(cat, records, user_id) if p.path.id == path.id)
                    if not mine.complete:
                        self.put(k, path_rule, user_id, "path_due", "/training", fire,
                                 f"学习路径将于 {assignment.due_date:%m-%d} 到期:{path.title}",
                                 f"已完成 {mine.done}/{len(mine.steps)} 步。", due)
                for regulation_id in path.regulations if ack_rule is not None else ():
                    current = cat.regulation_versions.get(regulation_id)
                    acks = records.acks.get((user_id, regulation_id), [])
                    if current is None or not acks or any(a.regulation_version_id == current.id for a in acks):
                        continue  # never acknowledged (the path's due date reminds), or acknowledged as it is
                    fire = current.registered_at
                    if k := self.want(user_id, f"reacknowledge:{regulation_id}:{current.id}", fire):
                        regulation = regulations[regulation_id]
                        self.put(k, ack_rule, user_id, "reacknowledge", f"/training/{path.id}/{regulation_id}", fire,
                                 f"制度已修订,请重新确认:{regulation.id} {regulation.title}",
                                 f"修订版本 {current.revision},请阅读变化的条款并重新确认。")


def due_events(db: Session, cat: Catalogue, now: dt.datetime) -> list[Event]:
    """The events due by `now` (UTC) within the lookback and not written yet."""
    rules = cat.handbook.rules.notifications
    if rules is None:
        return []
    p = Pass(db, cat, rules, now)
    p.forms()
    p.cases()
    p.handovers()
    p.training()
    return p.events


def run_pass(engine: Engine, cat: Catalogue, config: Mapping[str, Any], now: dt.datetime | None = None) -> int:
    """One pass: read what is due (no lock), then write what is new in one write transaction; how many
    notifications it wrote."""
    now = now or utcnow()
    with Session(engine) as db:
        new = due_events(db, cat, now)
    if not new:
        return 0
    with write_transaction(engine) as connection, Session(bind=connection) as db:
        return len(enqueue(db, new, config, now, cat.local, cat.utc))
