"""The duty roster (排班表): who works which shift on which day, in which area, and who a slot belongs to.

    rostered(session, start, end, team=None) -> Roster      every entry of the days start..end
    Roster.on(day, shift_id, area_id='') -> list[User]       who is on that shift (in that area, or anywhere)
    Roster.person_for(hb, slot) -> User | None               the person a schedule slot is expected from
    Roster.next_shift(hb, day, shift_id) -> (day, shift_id)  the shift after one (the handover's incoming side)

Slots name their shift and area by name (schedule.Slot); the roster stores ids of organisation.yaml, so
the lookups go through the organisation. A slot of a shift belongs to the person rostered on that shift in
the slot's area, else to the only person on the shift; with several and no area, to nobody in particular
(the board then shows the shift's people). Day, week and month slots belong to nobody in particular.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from formserver.db.models import RosterEntry, User
from formserver.operations.schedule import Slot
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
        return rows[0].user if len(rows) == 1 else None

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


def rostered(session: Session, start: dt.date, end: dt.date, team: str | None = None) -> Roster:
    """The roster of the days from `start` to `end` (both included), of one team or all."""
    query = select(RosterEntry).where(RosterEntry.day >= start, RosterEntry.day <= end)
    if team is not None:
        query = query.where(RosterEntry.team == team)
    index: dict[tuple[dt.date, str], list[RosterEntry]] = defaultdict(list)
    for entry in session.scalars(query.order_by(RosterEntry.day, RosterEntry.shift, RosterEntry.id)):
        index[(entry.day, entry.shift)].append(entry)
    return Roster(dict(index))
