"""The handover and the duty roster: the shift the person filling the handover form hands over (their rostered
shift ending nearest now) and who takes over (the people rostered on the next shift). The fill page is
prefilled with them, so the incoming confirmation is offered to the rostered person; the handover page says
whom the roster expected. Without a roster nothing changes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from formserver.db.models import Handover, RosterEntry, User
from formserver.operations.roster import Roster, rostered
from formserver.operations.schedule import shift_day, shift_hours
from handbook.formmodel import Form
from handbook.model import Handbook, Shift

EARLY = dt.timedelta(hours=2)  # a handover is filled from shortly before the shift's end…
LATE = dt.timedelta(hours=4)  # …to some hours after it (a late handover still finds its shift)


@dataclass
class Sides:
    day: dt.date
    shift: Shift  # the outgoing shift
    area: str  # the outgoing entry's area id ('' the whole centre)
    next_day: dt.date
    next_shift: Shift
    incoming: list[User] = field(default_factory=list)  # rostered on the next shift (the outgoing person left out)


def incoming(session: Session, hb: Handbook, team: str | None, day: dt.date, shift_id: str, area_id: str = "",
             outgoing_id: int | None = None) -> tuple[dt.date, str, list[User]]:
    """(day, shift id, people) of the shift after `shift_id` of `day`: its rostered people (in the area, or
    anywhere), the outgoing person left out."""
    next_day, next_id = Roster.next_shift(hb, day, shift_id)
    people = rostered(session, next_day, next_day, team).on(next_day, next_id, area_id)
    return next_day, next_id, [u for u in people if u.id != outgoing_id]


def sides_now(session: Session, hb: Handbook, user: User, now: dt.datetime) -> Sides | None:
    """The user's rostered shift that is ending about now, and the next shift's people; None if not rostered."""
    shifts = hb.organisation.shifts
    rows = session.scalars(select(RosterEntry).where(RosterEntry.user_id == user.id,
                                                     RosterEntry.day.in_([now.date() - dt.timedelta(days=1),
                                                                          now.date()])))
    candidates = []
    for entry in rows:
        if entry.shift not in shifts:
            continue
        start, end = shift_hours(entry.day, shifts[entry.shift])
        if start <= now and end - EARLY <= now <= end + LATE:
            candidates.append((abs(end - now), entry))
    if not candidates:
        return None
    entry = min(candidates, key=lambda c: c[0])[1]
    next_day, next_id, people = incoming(session, hb, entry.team, entry.day, entry.shift, entry.area, user.id)
    return Sides(entry.day, shifts[entry.shift], entry.area, next_day, shifts[next_id], people)


def prefill(hb: Handbook, form: Form, formdata: MultiDict, sides: Sides, incoming_item: str) -> None:
    """The handover form's shift, area and incoming person from the roster, where the roster is unambiguous."""
    items = {i.id: i for i in form.all_items()}
    if "shift" in items and (not items["shift"].options or sides.shift.name in items["shift"].options):
        formdata.setlist("shift", [sides.shift.name])
    area = hb.organisation.areas.get(sides.area)
    if area and "area" in items and not formdata.get("area"):
        formdata.setlist("area", [area.name])
    if incoming_item in items and len(sides.incoming) == 1 and not formdata.get(incoming_item):
        formdata.setlist(incoming_item, [sides.incoming[0].display_name])


def expected_incoming(session: Session, hb: Handbook, handover: Handover, handed_local: dt.datetime) -> list[User]:
    """Whom the roster expected to take over this handover (the next shift's rostered people)."""
    shift = next((s for s in hb.organisation.shifts.values() if s.name == handover.shift), None)
    if shift is None:
        return []
    day = handover.submission.record_date
    if handed_local.date() == day:  # a night shift's handover dated the morning after belongs to the night before
        day = shift_day(shift, handed_local)
    area_id = next((a.id for a in hb.organisation.areas.values() if a.name == handover.area), "")
    return incoming(session, hb, handover.team, day, shift.id, area_id, handover.outgoing_id)[2]
