"""Handovers: carried-over items, no-handover conditions and a supervisor taking over, both sides confirming.

Every rule comes from checklists/rules/handover.yaml (`hb.rules.handover`): which yes/no items block the
handover, which person items name both sides, whether open corrective actions are listed, and `takeover`: who
may take over the duty when a condition cannot be removed in time (KF-11.16), for which conditions. Nothing
else lets a blocked handover go ahead: there is no release with a reason, because no clause allows one.
`followup` opens the Handover row and the carried items when the form is submitted; this module shows them,
lets the incoming person confirm, a supervisor take over (signing as the outgoing party: the record gets a
new revision naming them, the audit log a handover_takeover), and anyone of the team close an item with a
note. Times are the server's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Flask, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from formserver import db
from formserver.accounts import audit
from formserver.accounts.access import requires
from formserver.base.errors import zh_abort
from formserver.base.inputs import canonical_uid
from formserver.db.models import ROLES, Case, CaseStep, Handover, Submission, User, utcnow
from formserver.forms.catalogue import catalogue
from formserver.forms.formdefs import version_form
from formserver.operations import handover_roster
from formserver.records import hooks, store
from formserver.records.followup import CARRY_STEPS, CORRECTIVE, HANDOVER, blockers_of, carried_cases
from handbook.formmodel import Form
from handbook.rules import HandoverRules

bp = Blueprint("handover", __name__, url_prefix="/handover")
STATES = {"blocked": "未完成交接", "awaiting": "待接班确认", "completed": "已完成"}
MIN_NOTE = 5  # characters: a takeover records the condition taken over and how it stands, not just "ok"
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
    return {"inherited": items, "inherited_handovers": handovers_of(items), "roster_sides": _sides()}


def _sides() -> handover_roster.Sides | None:
    cat = catalogue()
    return handover_roster.sides_now(db.session(), cat.handbook, current_user.user, cat.now())


def prefill(form: Form, formdata: Any) -> None:
    """A new handover form: the outgoing shift and the incoming person as the duty roster has them."""
    rules = catalogue().handbook.rules.handover
    if rules is None or form.id != rules.form:
        return
    sides = _sides()
    if sides is not None:
        handover_roster.prefill(catalogue().handbook, form, formdata, sides, rules.incoming)


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
    cat = catalogue()
    expected = handover_roster.expected_incoming(session, cat.handbook, handover, cat.local(handover.handed_at))
    return render_template(
        "handover.html", h=handover, states=STATES, form=form, error=error, reason=reason, reason_error=reason_error,
        rostered_incoming=[u.display_name for u in expected],
        record_visible=store.may_see(user, handover.submission), incoming_sign=rules.incoming_sign,
        may_correct=store.may_correct(user, handover.submission),
        blockers=blocker_rows(rules, form, handover.blockers), opened=opened, handed=handed,
        item_handovers=handovers_of(opened + handed), takeover=rules.takeover, takeover_role=takeover_role(rules),
        takeover_refusal=takeover_refusal(rules, user, handover) if handover.state == "blocked" else "",
        may_confirm=handover.state == "awaiting" and may_confirm(user, handover)), status


def may_confirm(user: User, handover: Handover) -> bool:
    """Only the incoming person, and never whoever handed over (the outgoing person or the one who took over)."""
    return is_incoming(user, handover) and user.id not in (handover.outgoing_id, handover.override_by_id)


def takeover_role(rules: HandoverRules) -> str:
    """The name of the role that takes over, as the regulations call it (organisation.yaml: 客服主管)."""
    if rules.takeover is None:
        return ""
    named = catalogue().handbook.organisation.roles.get(rules.takeover.by)
    return named.name if named else ROLES.get(rules.takeover.by, rules.takeover.by)


def takeover_refusal(rules: HandoverRules, user: User, handover: Handover) -> str:
    """Why `user` may not take over this blocked handover now; '' when they may."""
    t = rules.takeover
    if t is None:
        return "本中心的交接班规则没有规定由主管接替交班:情形消除后由交班人更正交接班记录,再交接。"
    role = takeover_role(rules)
    if not user.at_least(t.by):
        return f"只有{role}及以上可以接替交班。"
    uncovered = [b.label for b in blocker_rows(rules, _form(), [i for i in handover.blockers if i not in t.conditions])]
    if uncovered:
        return (f"“{'、'.join(uncovered)}”不能由{role}接替交班解决:须安排顶班人接班(或情形消除)后,"
                "由交班人更正交接班记录,再交接。")
    if user.id == handover.outgoing_id:
        return f"您是这次交接的交班人,须由另一位{role}接替。"
    if is_incoming(user, handover):
        return "您是这次交接的接班人,不能同时接替交班。"
    return ""


@bp.get("/<int:handover_id>")
@requires("staff")
def detail(handover_id: int):
    return render_detail(_load(handover_id))


def _blocked_message(handover: Handover) -> str:
    names = "、".join(b.label for b in blocker_rows(handover_rules(), _form(), handover.blockers))
    rules = handover_rules()
    then = (f",或由{takeover_role(rules)}接替交班人员值守、以交班人身份签字" if rules.takeover else "")
    return (f"存在不得交接班的情形:{names}。交班人应继续值守并报告客服主管;情形消除后由交班人更正交接班记录"
            f"{then}后,才能确认接班。")


@bp.post("/<int:handover_id>/confirm")
@requires("staff")
def confirm(handover_id: int):
    handover = _load(handover_id)
    user = current_user.user
    if not may_confirm(user, handover):
        zh_abort(403, f"只有接班人“{handover.incoming_name}”本人登录后才能确认接班。")
    if handover.state == "blocked":
        return render_detail(handover, error=_blocked_message(handover), status=409)
    if handover.state != "awaiting":
        return render_detail(handover, error="这次交接班已经确认过了。", status=409)
    rules = handover_rules()
    drawing = canonical_uid(request.form.get(f"{rules.incoming_sign}_image")) if rules.incoming_sign else None
    if rules.incoming_sign and drawing is None and current_app.config["SIGNATURE_DRAWING_REQUIRED"]:
        return render_detail(handover, error="请先在签名框内手写接班人签名,再确认接班(手写签名需要浏览器启用 "
                                             "JavaScript)。", status=400)
    now = utcnow()
    try:
        with db.write() as w:
            done = w.execute(update(Handover).where(Handover.id == handover.id, Handover.state == "awaiting")
                             .values(state="completed", incoming_id=user.id, taken_at=now)).rowcount
            if done == 1:
                if drawing is not None:
                    _sign_as_incoming(w, rules, user, handover, drawing)
                audit.record(w, user, "handover_confirm", handover.submission.uid, handover=handover.id)
    except (store.Conflict, store.BadPhotos) as error:
        db.session().refresh(handover)
        return render_detail(handover, error=str(error), status=409 if isinstance(error, store.Conflict) else 400)
    if done != 1:
        db.session().refresh(handover)
        return render_detail(handover, error="交接班状态刚刚变了,请查看后重试。", status=409)
    flash("已确认接班")
    return redirect(url_for("handover.detail", handover_id=handover.id), code=303)


@bp.post("/<int:handover_id>/takeover")
@requires("staff")  # the least role is the rules' takeover.by, checked below (a centre may change it)
def take_over(handover_id: int):
    """KF-11.16: a condition that cannot be removed in time is taken over by a supervisor, who takes over the duty
    from the outgoing person and signs the handover record as the outgoing party; then the incoming person
    confirms as usual. Recorded as such: the Handover row (who, when, the note), a new revision of the record
    (交班人 and their signature: the supervisor), the audit log (handover_takeover)."""
    handover = _load(handover_id)
    rules, user = handover_rules(), current_user.user
    note = request.form.get("note", "").strip()[:MAX_TEXT]
    if rules.takeover is None or not user.at_least(rules.takeover.by):
        zh_abort(403, takeover_refusal(rules, user, handover))
    if handover.state != "blocked":
        return render_detail(handover, error="这次交接班没有被阻止,无需接替。", reason=note, status=409)
    if refusal := takeover_refusal(rules, user, handover):
        return render_detail(handover, error=refusal, reason=note, status=409)
    if len(note) < MIN_NOTE:
        return render_detail(handover, error=f"请写明接替的情形和经过(至少 {MIN_NOTE} 个字)。", reason=note,
                             reason_error=True, status=400)
    now = utcnow()
    try:
        with db.write() as w:
            done = w.execute(update(Handover).where(Handover.id == handover.id, Handover.state == "blocked")
                             .values(state="awaiting", override_by_id=user.id, override_at=now,
                                     override_reason=note)).rowcount
            if done == 1:
                outgoing = _sign_as_outgoing(w, rules, user, handover, note)
                audit.record(w, user, "handover_takeover", handover.submission.uid, handover=handover.id,
                             note=note, blockers=list(handover.blockers), outgoing=outgoing,
                             ref=list(rules.takeover.refs))
    except store.Conflict as conflict:
        db.session().refresh(handover)
        return render_detail(handover, error=conflict.message, reason=note, status=409)
    if done != 1:
        db.session().refresh(handover)
        return render_detail(handover, error="交接班状态刚刚变了,请查看后重试。", reason=note, status=409)
    flash("已由您接替交班,等待接班人确认")
    return redirect(url_for("handover.detail", handover_id=handover.id), code=303)


def _sign_as_incoming(w: Session, rules: HandoverRules, user: User, handover: Handover, drawing: str) -> None:
    """The record as a new revision carrying the incoming person's drawn signature (their name beside it), in the
    confirmation's transaction: store.correct checks the drawing is theirs and was made for this signature."""
    submission = w.get(Submission, handover.submission_id)
    revision, current = store.latest_values(w, submission)
    values = {**current, rules.incoming_sign: user.display_name, f"{rules.incoming_sign}_image": drawing}
    store.correct(w, user, submission, version_form(submission.form_version), revision.number, values,
                  "接班人确认接班并手写签名")


def _sign_as_outgoing(w: Session, rules: HandoverRules, user: User, handover: Handover, note: str) -> str:
    """The record as a new revision with `user` as the outgoing person (and their signature where the outgoing
    person's name stood); the name it replaced."""
    submission = w.get(Submission, handover.submission_id)
    revision, current = store.latest_values(w, submission)
    form = version_form(submission.form_version)
    before = str(current.get(rules.outgoing) or handover.outgoing.display_name)
    values = dict(current)
    values[rules.outgoing] = user.display_name
    for item in form.all_items():
        if item.kind == "signature" and current.get(item.id) == before:
            values[item.id] = user.display_name
            values.pop(f"{item.id}_image", None)  # the outgoing person's drawing is not the supervisor's signature
    refs = "、".join(rules.takeover.refs)
    store.correct(w, user, submission, form, revision.number, values,
                    f"{takeover_role(rules)}接替交班({refs}):原交班人 {before};{note}"[:MAX_TEXT])
    return before


def recompute(w: Session, user: User, submission: Submission, form: Form, values: dict[str, Any]) -> None:
    """After a correction of a handover record (same transaction): the conditions answered anew decide whether
    it is still blocked (a supervisor's takeover stands for the conditions it may cover, not for one added
    since); the incoming person may have been corrected too; an item the correction adds to the carried ones
    opens (one it removes stays open until someone closes it)."""
    rules = catalogue().handbook.rules.handover
    if rules is None or submission.form_id != rules.form:
        return
    handover = w.scalar(select(Handover).where(Handover.submission_id == submission.id))
    if handover is not None and handover.state != "completed":
        blockers = blockers_of(rules, values)
        covered = set(rules.takeover.conditions) if rules.takeover and handover.override_at is not None else set()
        state = "blocked" if set(blockers) - covered else "awaiting"
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


def init_app(app: Flask) -> None:
    """The handover's part in the record views: the inherited items on its fill page, its shift and incoming
    person prefilled from the duty roster, a correction of a handover record deciding anew whether it is
    blocked, and the incoming person's signature left to be drawn on confirming."""
    record_hooks = hooks.of(app)
    record_hooks.fill_context.append(fill_context)
    record_hooks.after_correction.append(recompute)
    record_hooks.prefill.append(prefill)
    record_hooks.deferred_signatures.append(deferred_signatures)


def deferred_signatures(form: Form) -> set[str]:
    """The incoming person's signature is drawn when they confirm, not by the outgoing person on the form."""
    rules = catalogue().handbook.rules.handover
    return {rules.incoming_sign} if rules is not None and form.id == rules.form and rules.incoming_sign else set()
