"""Handovers: carried-over items, no-handover conditions and overrides, both sides confirming.

Every rule comes from checklists/rules/handover.yaml (`hb.rules.handover`): which yes/no items block the
handover, who may override, which person items name both sides, whether open corrective actions are listed.
`followup` opens the Handover row and the carried items when the form is submitted; this module shows them,
lets the incoming person confirm, a supervisor override with a written reason, and anyone of the team close
an item with a note. Times are the server's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from handbook.model import Form
from handbook.rules import HandoverRules

from . import audit, db, records
from .access import requires
from .catalogue import catalogue
from .errors import zh_abort
from .followup import CARRY_STEPS, CORRECTIVE, HANDOVER, blockers_of, carried_cases
from .models import ROLES, Case, CaseStep, Handover, Submission, User, utcnow

bp = Blueprint("handover", __name__, url_prefix="/handover")
STATES = {"blocked": "未完成交接", "awaiting": "待接班确认", "completed": "已完成"}
MIN_REASON = 5  # characters: an override must say why, not just "ok"
MAX_TEXT = 1000
LIST_LIMIT = 100
INHERITED_LIMIT = 200


def handover_rules() -> HandoverRules:
    rules = catalogue().handbook.rules.handover
    if rules is None:
        zh_abort(404, "本中心没有配置交接班规则(checklists/rules/handover.yaml)。")
    return rules


@dataclass
class Blocker:
    item: str
    label: str
    refs: list[str]


def blocker_rows(rules: HandoverRules, form: Form | None, items: list[str]) -> list[Blocker]:
    """The blocking conditions `items` with their labels and the clauses they cite (rule first, then item)."""
    labels = {i.id: i for i in form.all_items()} if form else {}
    rows = []
    for item_id in items:
        rule = next((b for b in rules.blocking if b.item == item_id), None)
        item = labels.get(item_id)
        refs = list(dict.fromkeys([*(rule.refs if rule else ()), *(item.refs if item else ())]))
        rows.append(Blocker(item_id, item.label if item else item_id, refs))
    return rows


def _form() -> Form | None:
    return catalogue().forms.get(handover_rules().form)


# -- items inherited by the next shift ------------------------------------------------------------


def inherited(user: User) -> list[Case]:
    """Open items of `user`'s team: carried over by handovers, and open corrective actions if the rules say."""
    rules = handover_rules()
    flows = [HANDOVER] + ([CORRECTIVE] if rules.open_corrective_actions else [])
    return list(db.session().scalars(
        select(Case).where(Case.workflow_id.in_(flows), Case.closed_at.is_(None), Case.team == user.team)
        .options(selectinload(Case.steps)).order_by(Case.workflow_id.desc(), Case.opened_at, Case.id)
        .limit(INHERITED_LIMIT)))


def handovers_of(cases: list[Case]) -> dict[str, dict[int, Handover]]:
    """The handovers the items' histories name: by id ("handed" steps) and by submission (the one that opened
    a carried item), read in one query."""
    ids = {s.values.get("handover_id") for c in cases for s in c.steps if s.step == "handed"}
    submissions = {c.submission_id for c in cases if c.workflow_id == HANDOVER and c.submission_id}
    rows = list(db.session().scalars(select(Handover).where(
        or_(Handover.id.in_([i for i in ids if isinstance(i, int)]), Handover.submission_id.in_(submissions)))))
    return {"by_id": {h.id: h for h in rows}, "by_submission": {h.submission_id: h for h in rows}}


@bp.app_template_global()
def step_name(case: Case, step: CaseStep) -> str:
    if case.workflow_id == HANDOVER:
        return CARRY_STEPS.get(step.step, step.step)
    flow = catalogue().handbook.rules.workflow(case.workflow_id)
    return next((s.name for s in flow.steps if s.id == step.step), step.step) if flow else step.step


def fill_context(form: Form) -> dict[str, Any]:
    """Extra context for the fill page: on the handover form, the items the incoming shift inherits."""
    rules = catalogue().handbook.rules.handover
    if rules is None or form.id != rules.form:
        return {}
    items = inherited(current_user.user)
    return {"inherited": items, "inherited_handovers": handovers_of(items)}


# -- handovers ------------------------------------------------------------------------------------


def may_see(user: User, handover: Handover) -> bool:
    return (user.at_least("manager") or handover.team == user.team or handover.outgoing_id == user.id
            or is_incoming(user, handover))


def is_incoming(user: User, handover: Handover) -> bool:
    return bool(handover.incoming_name) and user.display_name == handover.incoming_name


def _load(handover_id: int) -> Handover:
    handover = db.session().get(Handover, handover_id)
    if handover is None or not may_see(current_user.user, handover):
        zh_abort(404, "交接班记录不存在,或您没有查看它的权限。")
    return handover


@bp.app_template_global()
def handover_of(submission: Submission) -> Handover | None:
    """The handover a submission of the handover form opened (for a link on the record page)."""
    rules = catalogue().handbook.rules.handover
    if rules is None or submission.form_id != rules.form:
        return None
    return db.session().scalar(select(Handover).where(Handover.submission_id == submission.id))


@bp.get("/")
@requires("staff")
def index():
    user = current_user.user
    query = select(Handover).order_by(Handover.handed_at.desc(), Handover.id.desc()).limit(LIST_LIMIT)
    if not user.at_least("manager"):
        query = query.where(or_(Handover.team == user.team, Handover.incoming_name == user.display_name))
    rows = list(db.session().scalars(query))
    rules, form = handover_rules(), _form()
    return render_template("handover_list.html", rows=rows, states=STATES, form=form,
                           blockers={h.id: blocker_rows(rules, form, h.blockers) for h in rows})


def render_detail(handover: Handover, *, error: str = "", reason: str = "", reason_error: bool = False,
                  status: int = 200):
    rules, form = handover_rules(), _form()
    session = db.session()
    opened = list(session.scalars(select(Case).where(Case.workflow_id == HANDOVER,
                                                     Case.submission_id == handover.submission_id)
                                  .options(selectinload(Case.steps)).order_by(Case.id)))
    handed = list(session.scalars(select(Case).join(CaseStep).where(
        CaseStep.step == "handed", CaseStep.values["handover_id"].as_integer() == handover.id)
        .options(selectinload(Case.steps)).order_by(Case.id)))
    user = current_user.user
    return render_template(
        "handover.html", h=handover, states=STATES, form=form, error=error, reason=reason, reason_error=reason_error,
        record_visible=records.may_see(user, handover.submission),
        may_correct=records.may_correct(user, handover.submission),
        blockers=blocker_rows(rules, form, handover.blockers), opened=opened, handed=handed,
        item_handovers=handovers_of(opened + handed), override_role=ROLES.get(rules.override_by, rules.override_by),
        may_confirm=handover.state == "awaiting" and is_incoming(user, handover) and user.id != handover.outgoing_id,
        may_override=handover.state == "blocked" and user.at_least(rules.override_by)), status


@bp.get("/<int:handover_id>")
@requires("staff")
def detail(handover_id: int):
    return render_detail(_load(handover_id))


def _blocked_message(handover: Handover) -> str:
    names = "、".join(b.label for b in blocker_rows(handover_rules(), _form(), handover.blockers))
    return (f"存在不得交接班的情形:{names}。交班人应继续值守并报告客服主管;情形消除后由交班人更正交接班记录,"
            "或由主管写明理由放行后,才能确认接班。")


@bp.post("/<int:handover_id>/confirm")
@requires("staff")
def confirm(handover_id: int):
    handover = _load(handover_id)
    user = current_user.user
    if not is_incoming(user, handover) or user.id == handover.outgoing_id:
        zh_abort(403, f"只有接班人“{handover.incoming_name}”本人登录后才能确认接班。")
    if handover.state == "blocked":
        return render_detail(handover, error=_blocked_message(handover), status=409)
    if handover.state != "awaiting":
        return render_detail(handover, error="这次交接班已经确认过了。", status=409)
    now = utcnow()
    with db.write() as w:
        done = w.execute(update(Handover).where(Handover.id == handover.id, Handover.state == "awaiting")
                         .values(state="completed", incoming_id=user.id, taken_at=now)).rowcount
        if done == 1:
            audit.record(w, user, "handover_confirm", handover.submission.uid, handover=handover.id)
    if done != 1:
        db.session().refresh(handover)
        return render_detail(handover, error="交接班状态刚刚变了,请查看后重试。", status=409)
    flash("已确认接班")
    return redirect(url_for("handover.detail", handover_id=handover.id), code=303)


@bp.post("/<int:handover_id>/override")
@requires("staff")  # the least role is the rules' override_by, checked below (a centre may change it)
def override(handover_id: int):
    handover = _load(handover_id)
    rules, user = handover_rules(), current_user.user
    if not user.at_least(rules.override_by):
        zh_abort(403, f"只有{ROLES.get(rules.override_by, rules.override_by)}及以上可以放行不得交接班的情形。")
    reason = request.form.get("reason", "").strip()[:MAX_TEXT]
    if handover.state != "blocked":
        return render_detail(handover, error="这次交接班没有被阻止,无需放行。", reason=reason, status=409)
    if len(reason) < MIN_REASON:
        return render_detail(handover, error=f"请写明放行理由(至少 {MIN_REASON} 个字)。", reason=reason,
                             reason_error=True, status=400)
    now = utcnow()
    with db.write() as w:
        done = w.execute(update(Handover).where(Handover.id == handover.id, Handover.state == "blocked")
                         .values(state="awaiting", override_by_id=user.id, override_at=now,
                                 override_reason=reason)).rowcount
        if done == 1:
            audit.record(w, user, "handover_override", handover.submission.uid, handover=handover.id,
                         reason=reason, blockers=list(handover.blockers))
    if done != 1:
        db.session().refresh(handover)
        return render_detail(handover, error="交接班状态刚刚变了,请查看后重试。", reason=reason, status=409)
    flash("已放行,等待接班人确认")
    return redirect(url_for("handover.detail", handover_id=handover.id), code=303)


def recompute(w: Session, user: User, submission: Submission, form: Form, values: dict[str, Any]) -> None:
    """After a correction of a handover record (same transaction): the conditions answered anew decide whether
    it is still blocked (a supervisor's override stands); the incoming person may have been corrected too; an
    item the correction adds to the carried ones opens (one it removes stays open until someone closes it)."""
    rules = catalogue().handbook.rules.handover
    if rules is None or submission.form_id != rules.form:
        return
    handover = w.scalar(select(Handover).where(Handover.submission_id == submission.id))
    if handover is not None and handover.state != "completed":
        blockers = blockers_of(rules, values)
        state = "blocked" if blockers and handover.override_at is None else "awaiting"
        if (state, blockers) != (handover.state, list(handover.blockers)):
            audit.record(w, user, "handover_recheck", submission.uid, handover=handover.id, state=state,
                         blockers=blockers)
        handover.state, handover.blockers = state, blockers
        handover.incoming_name = str(values.get(rules.incoming) or "")[:64]
    _open_added_items(w, user, submission, form, values)


def _open_added_items(w: Session, user: User, submission: Submission, form: Form, values: dict[str, Any]) -> None:
    known = w.execute(select(Case.item_id, Case.title).where(Case.workflow_id == HANDOVER,
                                                             Case.submission_id == submission.id)).all()
    paths, titles = {path for path, _title in known}, {title for _path, title in known}
    now = utcnow()
    for planned in carried_cases(handover_rules(), form, values, user, submission.area or ""):
        if planned["item_id"] in paths or planned["title"] in titles:  # rows renumbered: known by their text
            continue
        row = {k: v for k, v in planned.items() if not k.startswith("_")}
        row.update(team=submission.team, submission_id=submission.id, opened_at=now, updated_at=now)
        w.add(Case(**row, steps=[CaseStep(at=now, **planned["_step"])]))


# -- closing an item ------------------------------------------------------------------------------


def _back() -> str:
    target = request.form.get("next", "")
    return target if target.startswith("/") and not target.startswith("//") else url_for("handover.index")


@bp.post("/items/<int:case_id>/close")
@requires("staff")
def close_item(case_id: int):
    user = current_user.user
    case = db.session().get(Case, case_id)
    if case is None or not (user.at_least("manager") or case.team == user.team):
        zh_abort(404, "交接事项不存在,或您没有处理它的权限。")
    if case.workflow_id != HANDOVER:
        zh_abort(400, "整改事项按整改流程处理、由主管验证后关闭,不能在交接班中直接关闭。")
    note = request.form.get("note", "").strip()[:MAX_TEXT]
    if not note:
        zh_abort(400, "请写明关闭说明(事项如何了结),再点“关闭”。请返回上一页填写。")
    now = utcnow()
    with db.write() as w:
        done = w.execute(update(Case).where(Case.id == case_id, Case.closed_at.is_(None))
                         .values(state="closed", closed_at=now, updated_at=now)).rowcount
        if done == 1:
            w.add(CaseStep(case_id=case_id, step="closed", user_id=user.id, at=now, note=note, values={}))
            audit.record(w, user, "handover_item_close", f"case:{case_id}", note=note)
    flash("事项已关闭" if done == 1 else "这个事项已经被别人关闭了")
    return redirect(_back(), code=303)
