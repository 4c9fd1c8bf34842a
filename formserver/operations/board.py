"""The today board: which forms are due, done, late or missed, and what is still open."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import aliased

from formserver import db
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.db.models import Case, Handover, Submission, User
from formserver.forms.catalogue import catalogue
from formserver.operations import casesteps, checkpoints, schedule
from formserver.operations.roster import assign, rostered
from formserver.records.followup import CORRECTIVE

bp = Blueprint("board", __name__, url_prefix="/board")
BAD_DATE = "日期格式有误:请按“年-月-日”填写,例如 2026-11-23。"
UNASSIGNED = "待指派"


@dataclass
class Tally:
    """应交 / 已交 / 迟交 / 漏交 / 待交 of one form, area or person."""

    name: str
    counts: Counter = field(default_factory=Counter)

    @property
    def expected(self) -> int:
        return sum(self.counts.values())

    def add(self, status: str) -> None:
        self.counts[status] += 1


@dataclass
class OpenCase:
    id: int
    url: str
    title: str
    workflow: str  # the flow's title
    state: str  # the state's name
    area: str
    owner: str
    due_at: dt.datetime | None  # local
    overdue: bool


def _day() -> dt.date:
    text = request.args.get("date", "").strip()
    if not text:
        return _working_day()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return zh_abort(400, BAD_DATE)


def _working_day() -> dt.date:
    """Today; after midnight, while the night shift that began yesterday is on, yesterday (its slots)."""
    cat = catalogue()
    now = cat.now()
    shift = cat.current_shift(now)
    return schedule.shift_day(shift, now) if shift else now.date()


def _team() -> str | None:
    """The team whose records and cases the viewer sees: supervisors their own, managers every team's."""
    user = current_user.user
    return None if user.at_least("manager") else user.team


def _tallies(rows: list[schedule.SlotStatus], key) -> list[Tally]:
    tallies: dict[str, Tally] = {}
    for row in rows:
        name = key(row)
        if name:
            tallies.setdefault(name, Tally(name)).add(row.status)
    return list(tallies.values())


def open_cases(team: str | None, now_utc: dt.datetime) -> tuple[list[OpenCase], list[OpenCase]]:
    """(corrective actions not yet verified, other open flows): oldest deadline first, the undated last."""
    cat = catalogue()
    rules = cat.handbook.rules
    flows = [w.id for w in rules.workflows]
    owner = aliased(User)
    query = (select(Case, owner.display_name).outerjoin(owner, owner.id == Case.owner_id)
             .where(Case.workflow_id.in_(flows), Case.closed_at.is_(None)))
    if team is not None:
        query = query.where(Case.team == team)
    corrective, others = [], []
    for case, owner_name in db.session().execute(query.order_by(Case.due_at.is_(None), Case.due_at, Case.id)):
        flow = rules.workflow(case.workflow_id)
        if case.workflow_id == CORRECTIVE and case.state == flow.steps[-1].id:
            continue  # verified: done with, even if not closed yet
        item = OpenCase(case.id, url_for("cases.detail", case_id=case.id), case.title, flow.title,
                        casesteps.state_name(flow, case.state), case.area,
                        owner_name or UNASSIGNED, cat.local(case.due_at) if case.due_at else None,
                        case.due_at is not None and case.due_at < now_utc)
        (corrective if case.workflow_id == CORRECTIVE else others).append(item)
    return corrective, others


def blocked_handovers(team: str | None) -> list[dict[str, Any]]:
    cat = catalogue()
    form = cat.forms.get(cat.handbook.rules.handover.form) if cat.handbook.rules.handover else None
    labels = {i.id: i.label for i in form.all_items()} if form else {}
    query = (select(Handover, Submission.uid, User.display_name)
             .join(Submission, Submission.id == Handover.submission_id)
             .join(User, User.id == Handover.outgoing_id).where(Handover.state == "blocked"))
    if team is not None:
        query = query.where(Handover.team == team)
    return [{"uid": uid, "shift": h.shift, "area": h.area, "outgoing": name, "incoming": h.incoming_name,
             "handed_at": cat.local(h.handed_at), "blockers": [labels.get(b, b) for b in h.blockers or []]}
            for h, uid, name in db.session().execute(query.order_by(Handover.handed_at))]


@bp.get("/")
@requires("supervisor")
def index():
    cat = catalogue()
    day = _day()
    now = cat.now()
    team = _team()
    hb = cat.handbook
    slots = schedule.slots_on(hb, day)
    slots += [s for s in schedule.period_slots(hb, day) if s not in slots]
    rows = schedule.statuses_of(db.session(), cat, slots, now, team)
    # Whose slot it is: the rostered person (a missed patrol counts for them although nobody submitted).
    assign(hb, rostered(db.session(), day, day, team), rows)
    by_form: dict[str, list[schedule.SlotStatus]] = defaultdict(list)
    for row in rows:
        by_form[row.form_title].append(row)
    now_utc = cat.utc(now)
    corrective, others = open_cases(team, now_utc)
    routes = checkpoints.routes_of(day, team)
    return render_template(
        "board.html", day=day, now=now, team=team, rows=rows, by_form=by_form,
        total=Tally("合计", Counter(r.status for r in rows)),
        forms=_tallies(rows, lambda r: r.form_title), areas=_tallies(rows, lambda r: r.area),
        people=_tallies([r for r in rows if r.accountable], lambda r: r.accountable),
        corrective=corrective, others=others, handovers=blocked_handovers(team), routes=routes,
        route_counts=Counter(r.status for r in routes),
        previous=day - dt.timedelta(days=1), following=day + dt.timedelta(days=1), today=_working_day())
