"""Changing the duty roster: who may edit which team's roster, adding and removing an entry, a swap (调班)
with its approver, and an import that replaces a team's days in one transaction. Each change is written to
the audit log in the same transaction, so the log and the roster never disagree."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from formserver.accounts import audit
from formserver.db.models import RosterEntry, RosterSwap, User
from formserver.operations.roster_io import PlannedEntry
from handbook.model import Organisation

SWAP_REFS = ("KF-11.7", "KF-10.4")  # no swap without the supervisor's prior approval


class Refused(ValueError):
    """A change the roster cannot take, with the reason in Chinese."""


def may_edit(user: User, team: str) -> bool:
    """Managers and admins edit any team's roster, a supervisor their own team's; staff none."""
    return user.at_least("manager") or (user.at_least("supervisor") and user.team == team)


def team_names(session: Session, org: Organisation) -> dict[str, str]:
    """Every team id (the departments of organisation.yaml and the teams accounts have) → its name."""
    names = {d.id: d.name for d in org.departments.values()}
    for team in session.scalars(select(User.team).where(User.team != "").distinct()):
        names.setdefault(team, team)
    return names


def team_texts(names: dict[str, str]) -> dict[str, str]:
    """What an import accepts for a team (its id or its name) → the id."""
    out = {name: team for team, name in names.items()}
    out.update({team: team for team in names})
    return out


def _taken(w: Session, day: dt.date, shift: str, user_id: int) -> RosterEntry | None:
    return w.scalar(select(RosterEntry).where(RosterEntry.day == day, RosterEntry.shift == shift,
                                              RosterEntry.user_id == user_id))


def add(w: Session, editor: User, day: dt.date, shift: str, person: User, area: str, team: str,
        org: Organisation) -> RosterEntry:
    existing = _taken(w, day, shift, person.id)
    if existing is not None:
        where = f"{existing.team} 班组" if existing.team != team else "本班组"
        raise Refused(f"{person.display_name} 在 {day} {org.shifts[shift].name} 已排在{where},不必重复添加。")
    entry = RosterEntry(day=day, shift=shift, user_id=person.id, area=area, team=team, created_by_id=editor.id)
    w.add(entry)
    w.flush()
    audit.record(w, editor, "roster_add", f"roster:{team}", day=day.isoformat(), shift=shift, person=person.username,
                 area=area)
    return entry


def remove(w: Session, editor: User, entry: RosterEntry) -> None:
    audit.record(w, editor, "roster_remove", f"roster:{entry.team}", day=entry.day.isoformat(), shift=entry.shift,
                 person=entry.user.username, area=entry.area)
    w.delete(entry)


def swap(w: Session, approver: User, entry: RosterEntry, to: User, reason: str, org: Organisation) -> RosterSwap:
    """调班: `entry`'s shift goes to `to`; the swap row keeps who had it and who approved."""
    if to.id == entry.user_id:
        raise Refused("调班的双方是同一个人:请选择接替的另一位人员。")
    if _taken(w, entry.day, entry.shift, to.id) is not None:
        raise Refused(f"{to.display_name} 在 {entry.day} {org.shifts[entry.shift].name} 已经有排班,"
                      "不能再接这一班。请先调整其本班的排班。")
    record = RosterSwap(day=entry.day, shift=entry.shift, from_user_id=entry.user_id, to_user_id=to.id,
                        approved_by_id=approver.id, reason=reason, team=entry.team)
    w.add(record)
    audit.record(w, approver, "roster_swap", f"roster:{entry.team}", day=entry.day.isoformat(), shift=entry.shift,
                 **{"from": entry.user.username}, to=to.username, reason=reason, ref=list(SWAP_REFS))
    entry.user_id = to.id
    w.flush()
    return record


def replace(w: Session, editor: User, planned: Iterable[PlannedEntry], filename: str) -> tuple[int, int]:
    """Import: the teams' entries of the days the file covers are replaced by the file's (one transaction,
    the caller's). An entry of another team, on a day that team's roster does not replace, stands in the way:
    Refused names it. (added, removed)."""
    planned = list(planned)
    covered = sorted({(p.team, p.day) for p in planned})
    removed = 0
    for team, day in covered:
        removed += w.execute(delete(RosterEntry).where(RosterEntry.team == team, RosterEntry.day == day)).rowcount
    keys = [(p.day, p.shift, p.user.id) for p in planned]
    clash = w.scalars(select(RosterEntry).where(
        tuple_(RosterEntry.day, RosterEntry.shift, RosterEntry.user_id).in_(keys))).first() if keys else None
    if clash is not None:
        raise Refused(f"{clash.user.display_name} 在 {clash.day} 的这一班已排在 {clash.team} 班组。"
                      "请由该班组的主管先删除,或从文件中删除这一行。")
    w.add_all(RosterEntry(day=p.day, shift=p.shift, user_id=p.user.id, area=p.area, team=p.team,
                          created_by_id=editor.id) for p in planned)
    w.flush()
    teams = sorted({team for team, _ in covered})
    audit.record(w, editor, "roster_import", f"roster:{','.join(teams)}", file=filename[:200], added=len(planned),
                 removed=removed, start=min(d for _, d in covered).isoformat(),
                 end=max(d for _, d in covered).isoformat())
    return len(planned), removed
