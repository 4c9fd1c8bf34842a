"""Who is on which learning path: the default paths of a person's role on their first visit, paths assigned
by a supervisor (their own team) or a manager (anyone) or the admin CLI, and who may see whose training."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from formserver.accounts import audit
from formserver.db.models import PathAssignment, User, utcnow
from handbook.model import Handbook, LearningPath


def may_see(viewer: User, person: User) -> bool:
    """A person's training is seen by themselves, the supervisors of their team, managers and admins (the
    same rule as for records)."""
    if viewer.id == person.id or viewer.at_least("manager"):
        return True
    return viewer.at_least("supervisor") and person.team == viewer.team


def may_assign(viewer: User, person: User) -> bool:
    return viewer.at_least("supervisor") and may_see(viewer, person)


def default_paths(hb: Handbook, user: User) -> list[LearningPath]:
    """The paths whose `roles` name the user's access role (staff → new-staff, supervisor and manager →
    supervisor, with the shipped paths.yaml)."""
    return [p for p in hb.paths if user.role in p.roles]


def due_date(path: LearningPath, today: dt.date) -> dt.date:
    return today + dt.timedelta(days=path.due_days)


def ever_assigned(db: Session, user_id: int) -> bool:
    """Whether the person has ever had a path (a removed one counts)."""
    return db.scalar(select(PathAssignment.id).where(PathAssignment.user_id == user_id).limit(1)) is not None


def ensure_defaults(db: Session, hb: Handbook, user: User, today: dt.date) -> bool:
    """On a person's first visit (no assignment ever, not even a removed one), assign their role's paths.
    True when something was assigned. Two first visits at once assign once (the unique constraint)."""
    if ever_assigned(db, user.id):
        return False
    added = False
    for path in default_paths(hb, user):
        try:
            with db.begin_nested():
                db.add(PathAssignment(user_id=user.id, path_id=path.id, due_date=due_date(path, today)))
            audit.record(db, user, "path-assigned", user.username, path=path.id, by="default")
            added = True
        except IntegrityError:
            pass
    return added


def assign(db: Session, person: User, path: LearningPath, by: User | None, today: dt.date,
           due: dt.date | None = None) -> PathAssignment:
    """Put `person` on `path` (again, if it was removed). Assigning a path someone is already on changes its
    due date when one is given, and keeps their progress either way (progress belongs to the regulations)."""
    row = db.scalar(select(PathAssignment).where(PathAssignment.user_id == person.id,
                                                 PathAssignment.path_id == path.id))
    if row is None:
        row = PathAssignment(user_id=person.id, path_id=path.id)
        db.add(row)
    if row.removed_at is not None or row.id is None:
        row.assigned_at = utcnow()
        row.removed_at = None
        row.assigned_by_id = by.id if by else None
        row.due_date = due or due_date(path, today)
    elif due is not None:
        row.due_date = due
    db.flush()
    audit.record(db, by, "path-assigned", person.username, path=path.id, due=row.due_date.isoformat(),
                 by=by.username if by else "cli")
    return row


def remove(db: Session, person: User, path_id: str, by: User) -> bool:
    row = db.scalar(select(PathAssignment).where(PathAssignment.user_id == person.id,
                                                 PathAssignment.path_id == path_id,
                                                 PathAssignment.removed_at.is_(None)))
    if row is None:
        return False
    row.removed_at = utcnow()
    audit.record(db, by, "path-removed", person.username, path=path_id)
    return True
