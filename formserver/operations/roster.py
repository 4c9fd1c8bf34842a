"""The duty roster (排班表): who works which shift on which day, in which area, and who a slot belongs to.

    rostered(session, start, end, team=None) -> Roster      every entry of the days start..end
    Roster.on(day, shift_id, area_id='') -> list[User]       who is on that shift (in that area, or anywhere)
    Roster.person_for(hb, slot) -> User | None               the person a schedule slot is expected from
    Roster.next_shift(hb, day, shift_id) -> (day, shift_id)  the shift after one (the handover's incoming side)
    Roster.responsible(hb, status) -> User | None            person_for of a board/report row (SlotStatus)
    assign(hb, roster, rows)                                 fills SlotStatus.rostered (board, monthly report)
    Period.parse(week=..., month=...)                        the days a roster page shows (ISO week or month)

Slots name their shift and area by name (schedule.Slot); the roster stores ids of organisation.yaml, so
the lookups go through the organisation. A slot of a shift belongs to the person rostered on that shift in
the slot's area, else to the one rostered for the whole centre (no area), else to the only person on the
shift; with several and no area, to nobody in particular (the board then shows the shift's people). Day,
week and month slots belong to nobody in particular.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from formserver.db.models import RosterEntry, User
from formserver.operations.schedule import Slot, SlotStatus
from handbook.model import Handbook

DAY = dt.timedelta(days=1)


@dataclass
class Roster:
    """The roster entries of some days, indexed by (day, shift id)."""

    entries: dict[tuple[dt.date, str], list[RosterEntry]] = field(default_factory=dict)

    def on(self, day: dt.date, shift_id: str, area_id: str = "") -> list[User]:
        rows = self.entries.get((day, shift_id), [])
        if area_id:
            rows = [e for e in rows if e.area in (area_id, "")]
        return [e.user for e in rows]

    def person_for(self, hb: Handbook, slot: Slot) -> User | None:
        org = hb.organisation
        shift_id = next((s.id for s in org.shifts.values() if s.name == slot.shift), "")
        if not shift_id:
            return None
        rows = self.entries.get((slot.date, shift_id), [])
        area_id = next((a.id for a in org.areas.values() if a.name == slot.area), "")
        in_area = [e for e in rows if area_id and e.area == area_id]
        if len(in_area) == 1:
            return in_area[0].user
        anywhere = [e for e in rows if not e.area]  # rostered for the whole centre: covers an area nobody has
        if area_id and not in_area and len(anywhere) == 1:
            return anywhere[0].user
        return rows[0].user if len(rows) == 1 else None

    def responsible(self, hb: Handbook, status: SlotStatus) -> User | None:
        """`person_for` of a slot's status row (the board and the monthly report work on those)."""
        return self.person_for(hb, Slot(status.form_id, status.every, status.date, status.due_at, status.deadline,
                                        status.shift, status.area))

    def shift_people(self, hb: Handbook, status: SlotStatus) -> list[User]:
        """Everyone rostered on a status row's shift (in its area, or anywhere): whom the board names when no
        one person is responsible."""
        shift_id = next((s.id for s in hb.organisation.shifts.values() if s.name == status.shift), "")
        area_id = next((a.id for a in hb.organisation.areas.values() if a.name == status.area), "")
        return self.on(status.date, shift_id, area_id) if shift_id else []

    def is_empty(self) -> bool:
        return not self.entries

    @staticmethod
    def next_shift(hb: Handbook, day: dt.date, shift_id: str) -> tuple[dt.date, str]:
        """The shift that starts when `shift_id` of `day` ends, or the next to start after it."""
        shifts = sorted(hb.organisation.shifts.values(), key=lambda s: s.start)
        current = hb.organisation.shifts[shift_id]
        ends = current.end
        later = [s for s in shifts if s.start >= current.start and s.id != shift_id]
        at_end = [s for s in shifts if s.start == ends]
        if at_end:  # e.g. night 22:00-08:00 hands over to early 08:00 on the next day
            nxt = at_end[0]
            return (day + DAY if nxt.start < current.start else day), nxt.id
        if later:
            return day, later[0].id
        return day + DAY, shifts[0].id


def assign(hb: Handbook, roster: Roster, rows: list[SlotStatus]) -> list[SlotStatus]:
    """Each row's `rostered` person (or, without one, the shift's people in `on_shift`); an empty roster
    changes nothing, so a centre without one sees who submitted, as before."""
    if roster.is_empty():
        return rows
    for row in rows:
        user = roster.responsible(hb, row)
        if user is not None:
            row.rostered, row.rostered_id = user.display_name, user.id
        elif row.shift:
            row.on_shift = "、".join(u.display_name for u in roster.shift_people(hb, row))
    return rows


def rostered(session: Session, start: dt.date, end: dt.date, team: str | None = None) -> Roster:
    """The roster of the days from `start` to `end` (both included), of one team or all."""
    query = select(RosterEntry).where(RosterEntry.day >= start, RosterEntry.day <= end)
    if team is not None:
        query = query.where(RosterEntry.team == team)
    index: dict[tuple[dt.date, str], list[RosterEntry]] = defaultdict(list)
    for entry in session.scalars(query.order_by(RosterEntry.day, RosterEntry.shift, RosterEntry.id)):
        index[(entry.day, entry.shift)].append(entry)
    return Roster(dict(index))


@dataclass(frozen=True)
class Period:
    """The days a roster page, export or print covers: an ISO week (2026-W50) or a month (2026-12)."""

    start: dt.date
    end: dt.date
    kind: str  # week | month

    @classmethod
    def week_of(cls, day: dt.date) -> Period:
        monday = day - day.weekday() * DAY
        return cls(monday, monday + 6 * DAY, "week")

    @classmethod
    def month_of(cls, day: dt.date) -> Period:
        first = day.replace(day=1)
        following = (first + 32 * DAY).replace(day=1)
        return cls(first, following - DAY, "month")

    @classmethod
    def parse(cls, week: str = "", month: str = "", today: dt.date | None = None) -> Period | None:
        """`?week=2026-W50` or `?month=2026-12` (neither: this week); None when the text is not one."""
        try:
            if month:
                year, number = (int(p) for p in month.split("-"))
                return cls.month_of(dt.date(year, number, 1))
            if week:
                year, number = week.upper().split("-W")
                return cls.week_of(dt.date.fromisocalendar(int(year), int(number), 1))
        except (ValueError, TypeError):
            return None
        return cls.week_of(today or dt.date.today())

    @property
    def days(self) -> list[dt.date]:
        return [self.start + n * DAY for n in range((self.end - self.start).days + 1)]

    @property
    def key(self) -> dict[str, str]:
        """The query argument naming this period."""
        if self.kind == "month":
            return {"month": f"{self.start:%Y-%m}"}
        year, week, _ = self.start.isocalendar()
        return {"week": f"{year}-W{week:02d}"}

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.start.year} 年 {self.start.month} 月"
        year, week, _ = self.start.isocalendar()
        return f"{year} 年第 {week} 周({self.start:%m-%d} 至 {self.end:%m-%d})"

    def shifted(self, n: int) -> Period:
        if self.kind == "month":
            return Period.month_of((self.start + 32 * DAY) if n > 0 else (self.start - DAY))
        return Period.week_of(self.start + 7 * n * DAY)
