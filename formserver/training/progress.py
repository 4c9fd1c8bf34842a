"""Where people stand on their learning paths: read from the database in a few queries for any number of
people, then computed in plain Python.

A step (one regulation of a path) is
- acknowledged: "current" when the person confirmed the version the server shows now, "outdated" when only
  an older one (a new revision, or the same label with changed clauses: 需要重新确认), "none" otherwise;
- passed: the person's best score on the regulation's quiz reaches the path's pass mark (a quiz passed on
  another path counts, at this path's mark);
- completed: acknowledged (any version) and passed; a later step opens when every earlier step is
  completed, so a new revision asks for a re-acknowledgement without locking the person out of the rest;
- done: acknowledged in its current version and passed.

Due dates: a step never acknowledged is due with the path (assigned + due_days, or as the assigner set it);
a re-acknowledgement is due due_days after the new version first appeared on the server, and never before
the path itself is due.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from formserver.db.models import Acknowledgement, PathAssignment, QuizAttempt
from formserver.forms.catalogue import Catalogue
from handbook.model import Clause, LearningPath, Regulation

from .quiz import question_count


@dataclass
class Step:
    number: int  # 1-based position in the path
    regulation: Regulation
    ack: str  # none | current | outdated
    acknowledged: Acknowledgement | None  # the latest acknowledgement, of whatever version
    questions: int
    attempts: int
    best: int | None
    passed: bool
    unlocked: bool = False
    due: dt.date | None = None  # when an acknowledgement is pending
    overdue: bool = False  # … its due date has passed, and the step is open

    @property
    def completed(self) -> bool:
        return self.ack != "none" and (self.passed or not self.questions)

    @property
    def done(self) -> bool:
        return self.ack == "current" and (self.passed or not self.questions)

    @property
    def quiz_open(self) -> bool:
        return self.unlocked and self.ack == "current" and self.questions > 0


@dataclass
class PathProgress:
    path: LearningPath
    assignment: PathAssignment
    steps: list[Step]
    today: dt.date

    @property
    def done(self) -> int:
        return sum(s.done for s in self.steps)

    @property
    def complete(self) -> bool:
        return all(s.done for s in self.steps)

    @property
    def overdue(self) -> bool:
        late = self.today > self.assignment.due_date and not all(s.completed for s in self.steps)
        return late or any(s.overdue for s in self.steps)

    @property
    def next_step(self) -> Step | None:
        return next((s for s in self.steps if s.unlocked and not s.done), None)

    def step(self, regulation_id: str) -> Step | None:
        return next((s for s in self.steps if s.regulation.id == regulation_id), None)


@dataclass
class Records:
    """What the database holds about some people's training."""

    assignments: dict[int, list[PathAssignment]] = field(default_factory=lambda: defaultdict(list))
    acks: dict[tuple[int, str], list[Acknowledgement]] = field(default_factory=lambda: defaultdict(list))
    scores: dict[tuple[int, str], list[int]] = field(default_factory=lambda: defaultdict(list))
    missed: list[tuple[int, list[dict[str, Any]]]] = field(default_factory=list)  # (user id, results)


def load_records(db: Session, user_ids: Iterable[int]) -> Records:
    ids = list(user_ids)
    records = Records()
    if not ids:
        return records
    for a in db.scalars(select(PathAssignment).where(PathAssignment.user_id.in_(ids),
                                                     PathAssignment.removed_at.is_(None))
                        .order_by(PathAssignment.assigned_at, PathAssignment.id)):
        records.assignments[a.user_id].append(a)
    for ack in db.scalars(select(Acknowledgement).where(Acknowledgement.user_id.in_(ids))
                          .order_by(Acknowledgement.acknowledged_at, Acknowledgement.id)):
        records.acks[(ack.user_id, ack.regulation_id)].append(ack)
    rows = db.execute(select(QuizAttempt.user_id, QuizAttempt.regulation_id, QuizAttempt.score, QuizAttempt.results)
                      .where(QuizAttempt.user_id.in_(ids), QuizAttempt.submitted_at.is_not(None)))
    for user_id, regulation_id, score, results in rows:
        records.scores[(user_id, regulation_id)].append(score or 0)
        records.missed.append((user_id, results or []))
    return records


def paths_of(cat: Catalogue, records: Records, user_id: int) -> list[PathProgress]:
    """Progress on each path the person is assigned (paths no longer in the handbook are left out)."""
    today = cat.now().date()
    paths = {p.id: p for p in cat.handbook.paths}
    out = []
    for assignment in records.assignments.get(user_id, []):
        path = paths.get(assignment.path_id)
        if path is not None:
            out.append(_progress(cat, records, user_id, path, assignment, today))
    return out


def _progress(cat: Catalogue, records: Records, user_id: int, path: LearningPath, assignment: PathAssignment,
              today: dt.date) -> PathProgress:
    hb = cat.handbook
    regulations = {r.id: r for r in hb.regulations}
    steps = []
    open_ = True
    for number, regulation_id in enumerate(path.regulations, 1):
        regulation = regulations[regulation_id]
        acks = records.acks.get((user_id, regulation_id), [])
        current = cat.regulation_versions.get(regulation_id)
        if not acks:
            ack = "none"
        elif current is not None and any(a.regulation_version_id == current.id for a in acks):
            ack = "current"
        else:
            ack = "outdated"
        scores = records.scores.get((user_id, regulation_id), [])
        best = max(scores) if scores else None
        step = Step(number, regulation, ack, acks[-1] if acks else None, question_count(hb, regulation_id),
                    len(scores), best, best is not None and best >= path.pass_mark, unlocked=open_)
        if ack == "none":
            step.due = assignment.due_date
        elif ack == "outdated" and current is not None:
            appeared = cat.local(current.registered_at).date()
            step.due = max(assignment.due_date, appeared + dt.timedelta(days=path.due_days))
        # Overdue is what the person can act on now: steps still locked wait for the earlier ones.
        step.overdue = open_ and step.due is not None and today > step.due
        open_ = open_ and step.completed
        steps.append(step)
    return PathProgress(path, assignment, steps, today)


@dataclass
class MissedClause:
    clause_id: str
    clause: Clause | None
    regulation: Regulation | None
    wrong: int  # wrong answers to questions citing it
    people: int  # how many people gave them


def missed_clauses(cat: Catalogue, records: Records, limit: int = 10) -> list[MissedClause]:
    """The clauses most often missed: every wrong answer counts once for each clause its question cites."""
    wrong: Counter[str] = Counter()
    people: dict[str, set[int]] = defaultdict(set)
    for user_id, results in records.missed:
        for result in results:
            if not result.get("correct"):
                for ref in result.get("refs", []):
                    wrong[ref] += 1
                    people[ref].add(user_id)
    hb = cat.handbook
    regulations = {r.id: r for r in hb.regulations}
    out = []
    def order(item: tuple[str, int]) -> tuple[int, str, int]:
        regulation_id, _, number = item[0].rpartition(".")
        return -item[1], regulation_id, int(number) if number.isdigit() else 0

    for clause_id, count in sorted(wrong.items(), key=order)[:limit]:
        clause = hb.clauses.get(clause_id)
        out.append(MissedClause(clause_id, clause, regulations.get(clause.regulation_id) if clause else None,
                                count, len(people[clause_id])))
    return out
