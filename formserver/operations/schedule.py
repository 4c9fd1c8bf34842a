"""Which forms are due when, and whether they came in: the slots of checklists/rules/schedules.yaml on given
days, matched against the stored submissions (done, late, due or missed).

Slots are centre-wide: a slot is done when anyone in scope submitted its form for it. Whose slot it was is the
duty roster's answer (`roster.assign` fills `rostered`); without a roster, the submitter's.
Everything but `fetch` is pure, so the rules are tested on fixed datetimes; all times here are the centre's
local wall clock (naive), the database's naive UTC converted on reading.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from formserver.db.models import Submission, User
from handbook.model import Handbook, Shift

STATUS_NAMES = {"done": "已交", "late": "迟交", "missed": "漏交", "due": "待交"}
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Slot:
    """One expected submission: `form_id` due at `due_at`, on time until `deadline`."""

    form_id: str
    every: str  # shift | shift_change | day | week | month
    date: dt.date  # the day it belongs to: the shift's first day, the week's weekday, the month's day
    due_at: dt.datetime
    deadline: dt.datetime
    shift: str = ""  # shift name, for slots of a shift
    area: str = ""  # area name, for per-area slots


@dataclass
class SlotStatus:
    form_id: str
    form_title: str
    date: dt.date
    due_at: dt.datetime
    deadline: dt.datetime
    shift: str
    area: str
    status: str  # due | done | late | missed
    submission_uid: str = ""
    person: str = ""  # the submitter's display name
    user_id: int | None = None
    submitted_at: dt.datetime | None = None  # local
    every: str = ""  # shift | shift_change | day | week | month
    rostered: str = ""  # the display name of the person the roster expects it from ('' no one in particular)
    rostered_id: int | None = None
    on_shift: str = ""  # without one such person: everyone rostered on its shift, 、-separated

    @property
    def status_name(self) -> str:
        return STATUS_NAMES[self.status]

    @property
    def accountable(self) -> str:
        """Whom the slot counts for: the rostered person, else whoever submitted it ('' nobody)."""
        return self.rostered or self.person


@dataclass(frozen=True)
class Submitted:
    """What matching needs of one stored submission (times local)."""

    uid: str
    form_id: str
    record_date: dt.date
    shift: str
    area: str
    created_at: dt.datetime
    user_id: int
    person: str


def _minutes(hhmm: str) -> int:
    return int(hhmm[:2]) * 60 + int(hhmm[3:5])


def _at(day: dt.date, hhmm: str) -> dt.datetime:
    return dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=_minutes(hhmm))


def _crosses_midnight(shift: Shift) -> bool:
    return _minutes(shift.end) <= _minutes(shift.start)


def _in_shift(day: dt.date, shift: Shift, hhmm: str) -> dt.datetime:
    """`hhmm` during the shift that starts on `day` (02:00 of a 22:00–08:00 shift is the next morning)."""
    return _at(day, shift.start) + dt.timedelta(minutes=(_minutes(hhmm) - _minutes(shift.start)) % 1440)


def _shift_end(day: dt.date, shift: Shift) -> dt.datetime:
    length = (_minutes(shift.end) - _minutes(shift.start)) % 1440 or 1440
    return _at(day, shift.start) + dt.timedelta(minutes=length)


def shift_hours(day: dt.date, shift: Shift) -> tuple[dt.datetime, dt.datetime]:
    """When the occurrence of `shift` that starts on `day` starts and ends (local)."""
    return _at(day, shift.start), _shift_end(day, shift)


def shift_day(shift: Shift, at: dt.datetime) -> dt.date:
    """The day the occurrence of `shift` running at `at` began (a night shift after midnight: the day before)."""
    if _crosses_midnight(shift) and at.hour * 60 + at.minute < _minutes(shift.start):
        return at.date() - DAY
    return at.date()


def slots_on(hb: Handbook, day: dt.date) -> list[Slot]:
    """The slots that belong to `day`, in the order of schedules.yaml, then due time, then area."""
    org = hb.organisation
    out: list[Slot] = []
    for rule in hb.rules.schedules:
        grace = dt.timedelta(minutes=rule.grace_minutes)
        areas = [a.name for a in org.areas.values()] if rule.per_area and org.areas else [""]
        found: list[Slot] = []
        if rule.every == "shift":
            for shift_id, times in rule.times.items():
                shift = org.shifts.get(shift_id)
                if shift is not None:
                    found += [Slot(rule.form, rule.every, day, due, due + grace, shift.name, area)
                              for due in (_in_shift(day, shift, t) for t in times) for area in areas]
        elif rule.every == "shift_change":
            found += [Slot(rule.form, rule.every, day, due, due + grace, shift.name, area)
                      for shift in org.shifts.values() for due in [_shift_end(day, shift)] for area in areas]
        elif (rule.every == "day" or (rule.every == "week" and day.weekday() == rule.weekday)
              or (rule.every == "month" and day.day == rule.day)):
            due = _at(day, rule.time)
            found += [Slot(rule.form, rule.every, day, due, due + grace, "", area) for area in areas]
        out += sorted(found, key=lambda s: s.due_at)  # stable: areas keep their order
    return out


def slots_between(hb: Handbook, start: dt.date, end: dt.date) -> list[Slot]:
    """The slots of the days from `start` to `end`, both included."""
    return [slot for n in range((end - start).days + 1) for slot in slots_on(hb, start + n * DAY)]


def period_slots(hb: Handbook, day: dt.date) -> list[Slot]:
    """The weekly and monthly slots of the week and month containing `day` (those a day's board shows)."""
    out = []
    for rule in hb.rules.schedules:
        if rule.every == "week":
            on = day + (rule.weekday - day.weekday()) * DAY
        elif rule.every == "month":
            on = day.replace(day=rule.day)
        else:
            continue
        out += [slot for slot in slots_on(hb, on) if slot.form_id == rule.form and slot.every == rule.every]
    return out


def _week_or_month(every: str, day: dt.date) -> tuple[dt.date, dt.date]:
    if every == "week":
        monday = day - day.weekday() * DAY
        return monday, monday + 6 * DAY
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def period(slot: Slot) -> tuple[dt.date, dt.date]:
    """The record dates a submission may carry to count for `slot`: its week or month; for a shift that runs
    past midnight, its first day or the next one."""
    if slot.every in ("week", "month"):
        return _week_or_month(slot.every, slot.date)
    if slot.shift and slot.due_at.date() > slot.date:
        return slot.date, slot.date + DAY
    return slot.date, slot.date


def _slot_key(slot: Slot) -> tuple:
    on = period(slot)[0] if slot.every in ("week", "month") else slot.date
    return slot.form_id, slot.every, on, slot.shift, slot.area


def _submission_key(hb: Handbook, slot: Slot, sub: Submitted) -> tuple:
    """The key of the slot `sub` counts for, among slots like `slot` (same form and kind)."""
    if slot.every in ("week", "month"):
        start = _week_or_month(slot.every, sub.record_date)[0]
        return slot.form_id, slot.every, start, "", sub.area if slot.area else ""
    on = sub.record_date
    if slot.shift:
        shift = next((s for s in hb.organisation.shifts.values() if s.name == sub.shift), None)
        # A night shift's form dated the next day (filled after midnight, or late the next morning) belongs to
        # the shift that started the evening before: nobody fills a night shift's form before it has begun.
        if shift is not None and sub.created_at.date() == on:
            on = shift_day(shift, sub.created_at)
    return slot.form_id, slot.every, on, sub.shift if slot.shift else "", sub.area if slot.area else ""


def match(hb: Handbook, slots: list[Slot], submitted: Iterable[Submitted], now: dt.datetime,
          title: Callable[[str], str] = str) -> list[SlotStatus]:
    """The status of each slot at `now`: submissions are given to the slots of their key in created order
    (the first patrol of a shift to its first due time), each to one slot at most."""
    by_form: dict[str, list[Submitted]] = defaultdict(list)
    for sub in sorted(submitted, key=lambda s: s.created_at):
        by_form[sub.form_id].append(sub)
    queues: dict[tuple, list[Submitted]] = defaultdict(list)
    kinds = {(slot.form_id, slot.every): slot for slot in slots}
    for (form_id, _every), sample in kinds.items():
        for sub in by_form.get(form_id, []):
            queues[_submission_key(hb, sample, sub)].append(sub)
    out: list[SlotStatus | None] = [None] * len(slots)
    for n in sorted(range(len(slots)), key=lambda n: slots[n].due_at):
        queue = queues.get(_slot_key(slots[n]))
        out[n] = _status(slots[n], queue.pop(0) if queue else None, now, title(slots[n].form_id))
    return out  # type: ignore[return-value]  # every one is set by now


def _status(slot: Slot, sub: Submitted | None, now: dt.datetime, title: str) -> SlotStatus:
    if sub is None:
        status = "missed" if now > slot.deadline else "due"
    else:
        status = "done" if sub.created_at <= slot.deadline else "late"
    return SlotStatus(slot.form_id, title, slot.date, slot.due_at, slot.deadline, slot.shift, slot.area, status,
                      sub.uid if sub else "", sub.person if sub else "", sub.user_id if sub else None,
                      sub.created_at if sub else None, slot.every)


def fetch(db: Session, catalogue, slots: list[Slot], team: str | None = None) -> list[Submitted]:
    """The submissions that may count for `slots`: one SELECT on (form_id, record_date), deleted ones left out;
    `team` None means every team's."""
    if not slots:
        return []
    spans = [period(slot) for slot in slots]
    query = (select(Submission.uid, Submission.form_id, Submission.record_date, Submission.shift, Submission.area,
                    Submission.created_at, Submission.user_id, User.display_name)
             .join(User, User.id == Submission.user_id)
             .where(Submission.form_id.in_(sorted({slot.form_id for slot in slots})),
                    Submission.record_date.between(min(s for s, _ in spans), max(e for _, e in spans)),
                    Submission.status != "deleted")
             .order_by(Submission.created_at, Submission.id))
    if team is not None:
        query = query.where(Submission.team == team)
    return [Submitted(uid, form_id, on, shift or "", area or "", catalogue.local(created), user_id, person)
            for uid, form_id, on, shift, area, created, user_id, person in db.execute(query)]


def statuses_of(db: Session, catalogue, slots: list[Slot], now: dt.datetime,
                team: str | None = None) -> list[SlotStatus]:
    forms = catalogue.forms
    matched = match(catalogue.handbook, slots, fetch(db, catalogue, slots, team), now,
                    lambda form_id: forms[form_id].title if form_id in forms else form_id)
    since = catalogue.schedules_from
    return [s for s in matched if not (s.status == "missed" and s.deadline < since)]


def statuses(db: Session, catalogue, start: dt.date, end: dt.date, now: dt.datetime,
             team: str | None = None) -> list[SlotStatus]:
    """Every slot from `start` to `end` (inclusive) with its status at `now` (local); `team` None = all teams."""
    return statuses_of(db, catalogue, slots_between(catalogue.handbook, start, end), now, team)
