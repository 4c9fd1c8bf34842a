"""Cases followed step by step: corrective actions, complaints, service tickets; the daily spot check.

The pages are thin: which steps exist, who may do them and what they record come from casesteps (and so
from checklists/rules/workflows.yaml).
"""

from __future__ import annotations

import datetime as dt
import math
import random

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.datastructures import MultiDict
from wtforms.validators import ValidationError

from formserver import db
from formserver.accounts import audit
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.base.security import csrf
from formserver.db.models import Case, CaseStep, Revision, SpotCheck, Submission, User, utcnow
from formserver.forms.catalogue import catalogue
from formserver.forms.formdefs import version_form
from formserver.operations import casesteps
from formserver.records import store
from formserver.records.fill import invalid
from handbook.rules import OWNERS, STEP_BY
from handbook.rules import SpotCheck as SpotRule

bp = Blueprint("cases", __name__, url_prefix="/cases")

LIST_LIMIT = 200
STATUS = {"open": "未结", "closed": "已结", "all": "全部"}
INVALID = "有未填写或填写有误的项目,请按红色提示修改。"
EXPIRED = "页面已过期,内容已保留,请再次提交。"
VERDICTS = {"pass": "合格", "fail": "不合格"}


# -- the list ------------------------------------------------------------------------------------------


@bp.get("/")
@requires("staff")
def index():
    rules = catalogue().handbook.rules
    args = request.args
    workflow, state, status = args.get("workflow", ""), args.get("state", ""), args.get("status", "open")
    overdue, mine = args.get("overdue") == "1", args.get("mine") == "1"
    query = casesteps.visible(current_user.user)
    if workflow:
        query = query.where(Case.workflow_id == workflow)
    if state:
        query = query.where(Case.state == state)
    if status == "open":
        query = query.where(Case.closed_at.is_(None))
    elif status == "closed":
        query = query.where(Case.closed_at.is_not(None))
    now = utcnow()
    if overdue:
        query = query.where(Case.closed_at.is_(None), Case.due_at < now)
    if mine:
        query = query.where(Case.owner_id == current_user.id)
    query = query.order_by(Case.closed_at.is_not(None), Case.due_at.is_(None), Case.due_at, Case.opened_at.desc(),
                           Case.id.desc()).limit(LIST_LIMIT + 1)
    rows = list(db.session().scalars(query))
    states: dict[str, list[str]] = {}  # step id → its names (flows may name one id differently)
    for flow in rules.workflows:
        for s in flow.steps if not workflow or flow.id == workflow else ():
            if s.name not in states.setdefault(s.id, []):
                states[s.id].append(s.name)
    return render_template("cases.html", rows=rows[:LIST_LIMIT], more=len(rows) > LIST_LIMIT, rules=rules,
                           engine=casesteps, now=now, statuses=STATUS, states=states,
                           filters={"workflow": workflow, "state": state, "status": status, "overdue": overdue,
                                    "mine": mine})


# -- one case ------------------------------------------------------------------------------------------


def load(case_id: int) -> Case:
    """The case if the current user may see it; 404 otherwise (whether it exists is itself not shown)."""
    case = db.session().get(Case, case_id)
    if case is None or not casesteps.may_see(db.session(), current_user.user, case):
        zh_abort(404, "事项不存在,或您没有查看它的权限。")
    return case


class _Page:
    """What the detail page and the step form need of a case, worked out once per request."""

    def __init__(self, case: Case):
        self.case = case
        self.rules = catalogue().handbook.rules
        self.flow = casesteps.flow_of(self.rules, case)
        self.submission = db.session().get(Submission, case.submission_id) if case.submission_id else None
        self.form = version_form(self.submission.form_version) if self.submission else None
        self.step = casesteps.next_step(self.flow, case)
        self.items = casesteps.step_items(self.flow, self.step, self.form) if self.step else []
        self.version = self.submission.form_version.digest if self.submission else ""
        self.refusal = casesteps.refusal(current_user.user, case, self.step) if self.step else ""
        if self.step and self.submission is not None and self.submission.status == "deleted":
            self.refusal = "原记录已删除,须先由主管恢复记录才能继续办理。"

    def current_values(self) -> dict:
        if self.submission is not None and self.flow and self.flow.form:
            return store.latest_values(db.session(), self.submission)[1]
        return dict(self.case.values or {})

    def wtform(self, formdata: MultiDict | None = None):
        cls = casesteps.form_class(self.flow, self.step, self.form, self.version)
        if formdata is None:
            formdata = casesteps.prefill(self.items, self.current_values(), self.case.state)
        return cls(formdata=formdata)

    def render(self, wtform=None, error: str = "", status: int = 200):
        if wtform is None and self.step and not self.refusal:
            wtform = self.wtform()
        labels = casesteps.all_items(self.flow, self.form) if self.flow else {}
        steps = list(db.session().scalars(select(CaseStep).where(CaseStep.case_id == self.case.id)
                                          .order_by(CaseStep.at, CaseStep.id)))
        refs = list(dict.fromkeys([*(self.case.refs or []), *(self.flow.refs if self.flow else ())]))
        return render_template("cases_detail.html", case=self.case, refs=refs, flow=self.flow,
                               submission=self.submission, step=self.step, items=self.items, wtform=wtform,
                               error=error, refusal=self.refusal, steps=steps, labels=labels, engine=casesteps,
                               now=utcnow(), step_by=STEP_BY,
                               owners=OWNERS, invalid=invalid, people=self.people(),
                               manage=casesteps.may_manage(current_user.user, self.case)), status

    def people(self) -> list[User]:
        """Who may be made responsible: the active accounts of the case's team."""
        if not casesteps.may_manage(current_user.user, self.case) or not self.flow or self.flow.owner != "assigned":
            return []
        return list(db.session().scalars(select(User).where(User.active, User.team == self.case.team)
                                         .order_by(User.display_name)))


@bp.get("/<int:case_id>")
@requires("staff")
def detail(case_id: int):
    return _Page(load(case_id)).render()


@bp.post("/<int:case_id>")
@requires("staff")
@csrf.exempt  # validated by the step's form itself, so an expired token re-renders with the typing kept
def do_step(case_id: int):
    page = _Page(load(case_id))
    try:  # a forged post learns nothing, not even whether the state moved on
        validate_csrf(request.form.get("csrf_token"))
    except ValidationError:
        typed = page.wtform(MultiDict(request.form)) if page.step and not page.refusal else None
        return page.render(typed, EXPIRED, 400)
    expected = request.form.get("expected_state", "")
    if page.step is None or expected != page.case.state:
        return page.render(error=_stale(page), status=409)
    if page.refusal:
        zh_abort(403, page.refusal)
    wtform = page.wtform(MultiDict(request.form))
    if not wtform.validate():
        return page.render(wtform, EXPIRED if "csrf_token" in wtform.errors else INVALID, 400)
    cat = catalogue()
    values = casesteps.step_values(wtform, page.items, page.step, current_user.user, cat.now())
    note = (wtform.step_note.data or "").strip()
    try:
        with db.write() as w:
            casesteps.complete(w, cat.handbook.rules, current_user.user, page.case.id, expected, values, note)
    except casesteps.StepRefused as refused:
        if refused.status == 409:
            return _Page(load(case_id)).render(error=refused.message, status=409)
        zh_abort(refused.status, refused.message)
    except store.Conflict as conflict:
        return page.render(wtform, conflict.message, 409)
    except store.BadPhotos as error:  # the record holds photos the user may not re-attach in a revision
        return page.render(wtform, str(error), 400)
    flash(f"已完成“{page.step.name}”")
    return redirect(url_for("cases.detail", case_id=case_id), code=303)


def _stale(page: _Page) -> str:
    now = casesteps.state_name(page.flow, page.case.state)
    return f"这件事项已经是“{now}”状态,可能刚被别人办理过或您重复提交了。以下是最新状态。"


@bp.post("/<int:case_id>/assign")
@requires("supervisor")
def assign(case_id: int):
    page = _Page(load(case_id))
    case = page.case
    if not casesteps.may_manage(current_user.user, case):
        zh_abort(403, "只有本组主管或经理可以指派负责人。")
    if page.flow is None or page.flow.owner != "assigned" or case.closed_at is not None:
        zh_abort(400, "这件事项不由主管指派负责人(或已办结)。")
    owner = None
    username = request.form.get("owner", "").strip()
    if username:
        owner = next((p for p in page.people() if p.username == username), None)
        if owner is None:
            zh_abort(400, "负责人须是本组的在职员工。")
    due_at = None
    due_text = request.form.get("due_at", "").strip()
    if due_text:
        try:
            local = dt.datetime.fromisoformat(due_text)
        except ValueError:
            zh_abort(400, "期限的格式不对,请填写日期和时间。")
        due_at = catalogue().utc(local)
    if owner is None and due_at is None:
        flash("请选择负责人或填写期限")
        return redirect(url_for("cases.detail", case_id=case_id), code=303)
    with db.write() as w:
        casesteps.assign(w, current_user.user, case, owner, due_at)
    flash("已指派负责人" if owner else "已修改期限")
    return redirect(url_for("cases.detail", case_id=case_id), code=303)


# -- the daily spot check -------------------------------------------------------------------------------
#
# Which records are sampled is rule data (workflows.yaml `spot_checks`): KF-13.23 checks at least 20 % of the
# day's calls, so the rule names the call log (one record per call, KF-13.34, posted by the desk or by the phone
# system through the API), and every call of the day is in the pool, whether or not it became a ticket.


def _day() -> dt.date:
    text = request.args.get("date") or request.form.get("date") or ""
    if not text:
        return catalogue().now().date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        zh_abort(400, "日期格式不对,应为 年-月-日,例如 2026-11-23。")


def _pool(form_id: str, day: dt.date):
    """The day's submissions of the form that the current user may check."""
    return (store.visible(current_user.user)
            .where(Submission.form_id == form_id, Submission.record_date == day, Submission.status == "submitted"))


def draw(form_id: str, percent: int, day: dt.date) -> None:
    """Draw the day's sample once: at least `percent` % of the day's submissions (rounded up, at least one if
    any). Later submissions top the sample up; what was drawn stays drawn, so a reload shows the same list."""
    session = db.session()
    pool = set(session.scalars(_pool(form_id, day).with_only_columns(Submission.id)))
    drawn = set(session.scalars(select(SpotCheck.submission_id).where(SpotCheck.day == day,
                                                                     SpotCheck.form_id == form_id)))
    wanted = math.ceil(len(pool) * percent / 100)
    missing = wanted - len(pool & drawn)
    if missing <= 0:
        return
    picks = random.SystemRandom().sample(sorted(pool - drawn), missing)
    try:
        with db.write() as w:
            w.add_all(SpotCheck(day=day, form_id=form_id, submission_id=i) for i in picks)
    except IntegrityError:
        pass  # someone drew at the same moment: their sample stands, read below


def _spot_rows(form_id: str, day: dt.date) -> list[SpotCheck]:
    pool = _pool(form_id, day).with_only_columns(Submission.id).scalar_subquery()
    return list(db.session().scalars(select(SpotCheck).where(SpotCheck.day == day, SpotCheck.form_id == form_id,
                                                            SpotCheck.submission_id.in_(pool))
                                     .order_by(SpotCheck.id)))


def _shown(rule: SpotRule, rows: list[SpotCheck]) -> dict[int, list[tuple[str, str]]]:
    """For each drawn record, the rule's `show` items as (label, value) from its latest revision (one query)."""
    form = catalogue().forms.get(rule.form)
    if not rule.show or form is None or not rows:
        return {}
    items = {i.id: i for i in form.all_items()}
    latest = {(r.submission_id, r.submission.revision_count): r.id for r in rows}
    revisions = db.session().execute(select(Revision.submission_id, Revision.number, Revision.values).where(
        Revision.submission_id.in_({s for s, _n in latest})))
    out: dict[int, list[tuple[str, str]]] = {}
    for submission_id, number, values in revisions:
        if (spot := latest.get((submission_id, number))) is not None:
            out[spot] = [(items[i].label if i in items else i, casesteps.shown(items.get(i), values[i]))
                         for i in rule.show if values.get(i) not in (None, "", [])]
    return out


@bp.get("/spot-check")
@requires("supervisor")
def spot_check():
    cat = catalogue()
    day = _day()
    checks = []
    for rule in cat.handbook.rules.spot_checks:
        draw(rule.form, rule.percent, day)
        total = db.session().scalar(_pool(rule.form, day).with_only_columns(func.count()))
        rows = _spot_rows(rule.form, day)
        form = cat.forms.get(rule.form)
        checks.append({"rule": rule, "title": form.title if form else rule.form, "total": total, "rows": rows,
                       "done": sum(1 for r in rows if r.result), "shown": _shown(rule, rows)})
    return render_template("cases_spot.html", day=day, checks=checks, verdicts=VERDICTS,
                           today=cat.now().date())


@bp.post("/spot-check")
@requires("supervisor")
def spot_verdict():
    day = _day()
    spot = db.session().get(SpotCheck, request.form.get("spot", type=int) or 0)
    if spot is None or not store.may_see(current_user.user, spot.submission):
        zh_abort(404, "没有这条抽查记录,或您没有查看它的权限。")
    result = request.form.get("result", "")
    note = request.form.get("note", "").strip()[:casesteps.NOTE_MAX]
    if result not in VERDICTS:
        flash("请选择“合格”或“不合格”")
    elif result == "fail" and not note:
        flash("判为“不合格”时请写明问题")
    else:
        with db.write() as w:
            row = w.get(SpotCheck, spot.id)
            row.result, row.note, row.checked_by_id, row.checked_at = result, note, current_user.id, utcnow()
            audit.record(w, current_user.user, "spot_check", spot.submission.uid, result=result, note=note)
        flash(f"已记录:{VERDICTS[result]}")
    return redirect(url_for("cases.spot_check", date=day.isoformat()) + f"#spot-{spot.id}", code=303)
