"""Links from the rest of the server into training, and from training into the handbook.

- `clause_url`: a clause on its regulation's page of the built handbook (/handbook/regulations/KF-01/#KF-01.3;
  MkDocs directory URLs, and the clause id is the anchor of its paragraph or table row, see
  handbook/pages_regulation.py);
- template globals for a form item marked `training_results: true` (the person assessed, e.g. on 试用期考核表):
  the people the user may pick (`training_people`) and the training results of the person named
  (`person_training`), so the link is driven by the checklist YAML, not by per-form code.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, url_for
from flask_login import current_user
from sqlalchemy import or_, select

from formserver import db
from formserver.db.models import User
from formserver.forms.catalogue import catalogue
from handbook.render import TextRenderer

from . import progress
from .assign import may_see


def regulation_url(regulation_id: str) -> str:
    return f"/handbook/regulations/{regulation_id}/"


def clause_url(clause_id: str) -> str:
    clause = catalogue().handbook.clauses.get(clause_id)
    regulation_id = clause.regulation_id if clause else clause_id.split(".", 1)[0]
    return f"{regulation_url(regulation_id)}#{clause_id}"


def clause_excerpt(clause_id: str, length: int = 48) -> str:
    """The start of a clause's text as readers see it, for lists of clauses."""
    hb = catalogue().handbook
    clause = hb.clauses.get(clause_id)
    if clause is None:
        return ""
    text = " ".join(TextRenderer(hb, "").plain(clause.text).split())
    return text if len(text) <= length else text[:length] + "…"


def visible_people() -> list[User]:
    """Active accounts whose training the current user may see: themselves, their team (supervisors), all
    (managers and admins)."""
    query = select(User).where(User.active).order_by(User.display_name, User.username)
    user = current_user.user
    if not user.at_least("manager"):
        query = query.where(or_(User.id == user.id, User.team == user.team) if user.at_least("supervisor")
                            else User.id == user.id)
    return list(db.session().scalars(query))


@dataclass
class PersonTraining:
    person: User | None
    url: str = ""
    paths: list[progress.PathProgress] | None = None
    problem: str = ""  # why no link: nobody by that name, or several

    @property
    def summary(self) -> str:
        if not self.paths:
            return "尚未分配学习路径"
        parts = []
        for p in self.paths:
            scores = [s.best for s in p.steps if s.best is not None]
            average = f",测验平均 {sum(scores) // len(scores)} 分" if scores else ""
            state = "已完成" if p.complete else f"{p.done}/{len(p.steps)} 步"
            parts.append(f"{p.path.title}:{state}{average}{',逾期' if p.overdue else ''}")
        return ";".join(parts)


def person_training(name: str | None) -> PersonTraining | None:
    """The training of the account named `name` (display name or username) that the current user may see;
    None for an empty name."""
    name = (name or "").strip()
    if not name or not current_user.is_authenticated:
        return None
    matches = [u for u in db.session().scalars(
        select(User).where(or_(User.display_name == name, User.username == name)).limit(5))
        if may_see(current_user.user, u)]
    if len(matches) != 1:
        return PersonTraining(None, problem="没有找到这个人的账号" if not matches
                              else "有多个同名账号,请在培训进度页面查看")
    person = matches[0]
    cat = catalogue()
    records = progress.load_records(db.session(), [person.id])
    url = (url_for("training.home") if person.id == current_user.id
           else url_for("training_team.person", username=person.username))
    return PersonTraining(person, url, progress.paths_of(cat, records, person.id))


def init_app(app: Flask) -> None:
    app.add_template_global(person_training)
    app.add_template_global(visible_people, "training_people")
    app.add_template_global(clause_url)
    app.add_template_global(clause_excerpt)
    app.add_template_global(regulation_url)
