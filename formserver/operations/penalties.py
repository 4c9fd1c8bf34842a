"""Penalties and fines recorded against people, each citing the row of the penalty schedule it applies
(the table reports.yaml names, e.g. regulations/tables/penalties.yaml: rows KF-21.xx with their sanctions
and fine range). Recording checks the entry against that row; revoking keeps the record with a reason."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from formserver.accounts import audit
from formserver.db.models import PenaltyRecord, User, utcnow
from handbook.model import Handbook, PenaltyRow
from handbook.render import TextRenderer

REASON_MAX = 2000


@dataclass(frozen=True)
class ScheduleRow:
    """A row of the penalty schedule as people read it (placeholders such as {{ role.duty }} filled)."""

    id: str
    offence: str
    sanctions: tuple[str, ...]
    fine: int | None
    fine_max: int | None
    fine_text: str
    violates: tuple[str, ...]


def schedule(hb: Handbook) -> list[ScheduleRow]:
    """The rows of the penalty schedule the monthly report cites (empty when none is named)."""
    report = hb.rules.report
    table = hb.tables.get(report.penalties) if report and report.penalties else None
    text = TextRenderer(hb, "").plain
    return [ScheduleRow(row.id, text(row.offence), row.sanctions, row.fine, row.fine_max, row.fine_text,
                        row.violates) for row in (table.rows if table else []) if isinstance(row, PenaltyRow)]


def row_label(row: ScheduleRow) -> str:
    """"KF-21.31 offence — sanctions, fine" as the select lists it."""
    outcome = ",".join(x for x in ("、".join(row.sanctions), row.fine_text) if x)
    return f"{row.id} {row.offence} — {outcome}"


def people_in_scope(db: Session, user: User) -> list[User]:
    """Active accounts `user` may record penalties against: their team (supervisors), everyone (managers)."""
    query = select(User).where(User.active).order_by(User.display_name, User.username)
    if not user.at_least("manager"):
        query = query.where(or_(User.team == user.team, User.id == user.id))
    return list(db.scalars(query))


def may_see(user: User, record: PenaltyRecord) -> bool:
    if user.at_least("manager") or record.user_id == user.id:
        return True
    return user.at_least("supervisor") and record.user.team == user.team


def may_revoke(user: User, record: PenaltyRecord) -> bool:
    """Supervisors revoke their team's penalties but not their own; managers any."""
    if user.at_least("manager"):
        return True
    return user.at_least("supervisor") and record.user_id != user.id and record.user.team == user.team


@dataclass
class Entry:
    """A penalty to record, checked against its schedule row."""

    person: User
    row: ScheduleRow
    sanction: str
    fine: int | None
    on_date: dt.date
    reason: str


def parse(data: Mapping[str, str], rows: list[ScheduleRow], people: list[User],
          today: dt.date) -> tuple[Entry | None, dict[str, str]]:
    """(the entry, {}) or (None, field → Chinese message) from the posted form."""
    errors: dict[str, str] = {}
    person_id = (data.get("person") or "").strip()
    person = next((p for p in people if str(p.id) == person_id), None)
    if person is None:
        errors["person"] = "请选择受处罚的人员" if not person_id else "这个人员不在您可以处理的范围内"
    row_id = (data.get("clause") or "").strip()
    row = next((r for r in rows if r.id == row_id), None)
    if row is None:
        errors["clause"] = "请选择适用的处罚条款" if not row_id else "处罚标准中没有这一条"
    sanction = (data.get("sanction") or "").strip()
    if row is not None and sanction not in row.sanctions:
        errors["sanction"] = (f"请选择处罚方式({'、'.join(row.sanctions)})" if not sanction
                              else f"{row.id} 的处罚方式只有:{'、'.join(row.sanctions)}")
    fine_text = (data.get("fine") or "").strip()
    fine: int | None = None
    if row is not None:
        fine, message = _fine(row, fine_text)
        if message:
            errors["fine"] = message
    on_date = None
    date_text = (data.get("on_date") or "").strip()
    try:
        on_date = dt.date.fromisoformat(date_text)
    except ValueError:
        errors["on_date"] = "请填写日期(年-月-日)" if not date_text else "日期格式不对,应为 年-月-日"
    if on_date is not None and on_date > today:
        errors["on_date"] = "日期不能晚于今天"
    reason = (data.get("reason") or "").strip()
    if not reason:
        errors["reason"] = "请写明处罚事由"
    elif len(reason) > REASON_MAX:
        errors["reason"] = f"事由最多 {REASON_MAX} 字"
    if errors:
        return None, errors
    return Entry(person, row, sanction, fine, on_date, reason), {}  # type: ignore[arg-type]


def _fine(row: ScheduleRow, text: str) -> tuple[int | None, str]:
    """(fine in yuan or None, '' or the message): within the row's range, or empty for a row without one."""
    if row.fine is None:
        return None, f"{row.id} 没有规定罚款,罚款金额须留空" if text else ""
    low, high = row.fine, row.fine_max if row.fine_max is not None else row.fine
    if not text:
        return None, f"请填写罚款金额({row.fine_text})"
    try:
        amount = int(text)
    except ValueError:
        return None, "罚款金额须为整数(元)"
    if not low <= amount <= high:
        return None, f"罚款金额须在 {row.fine_text} 之间" if high != low else f"{row.id} 规定的罚款为 {row.fine_text}"
    return amount, ""


def record(db: Session, by: User, entry: Entry) -> PenaltyRecord:
    """Store the entry with its audit event, in `db`'s write transaction."""
    penalty = PenaltyRecord(user_id=entry.person.id, clause_id=entry.row.id, sanction=entry.sanction,
                            fine=entry.fine, on_date=entry.on_date, reason=entry.reason, recorded_by_id=by.id)
    db.add(penalty)
    db.flush()
    audit.record(db, by, "penalty", f"penalty:{penalty.id}", person=entry.person.username, clause=entry.row.id,
                 sanction=entry.sanction, fine=entry.fine, date=entry.on_date.isoformat())
    return penalty


def revoke(db: Session, by: User, penalty: PenaltyRecord, reason: str) -> None:
    penalty.revoked_at = utcnow()
    penalty.revoked_reason = reason
    audit.record(db, by, "penalty_revoke", f"penalty:{penalty.id}", person=penalty.user.username,
                 clause=penalty.clause_id, reason=reason)


def listed(db: Session, user: User, *, person_id: int | None = None, start: dt.date | None = None,
           end: dt.date | None = None, limit: int = 500) -> list[PenaltyRecord]:
    """Penalty records `user` may see, newest first, optionally of one person and between two dates."""
    query = select(PenaltyRecord).join(User, User.id == PenaltyRecord.user_id)
    if not user.at_least("manager"):
        query = query.where(or_(User.team == user.team, User.id == user.id) if user.at_least("supervisor")
                            else User.id == user.id)
    if person_id is not None:
        query = query.where(PenaltyRecord.user_id == person_id)
    if start is not None:
        query = query.where(PenaltyRecord.on_date >= start)
    if end is not None:
        query = query.where(PenaltyRecord.on_date <= end)
    return list(db.scalars(query.order_by(PenaltyRecord.on_date.desc(), PenaltyRecord.id.desc()).limit(limit)))
