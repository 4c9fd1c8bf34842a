"""The step engine of cases, driven by checklists/rules/workflows.yaml: which items a step records, who may do
it, the web form it takes, its deadline, and completing it (a CaseStep, the case's new state and deadline,
and for a form's flow a new revision of the submission holding the step's values).

No flow has code of its own: a centre adds a step or a flow by editing the YAML.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import Any

from flask_wtf import FlaskForm
from sqlalchemy import Select, exists, or_, select, update
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, TextAreaField
from wtforms.validators import Length, Optional

from formserver.accounts import audit
from formserver.db.models import Case, CaseStep, Submission, User, utcnow
from formserver.forms.formdefs import version_form
from formserver.forms.webforms import ValuesError, formdata_of, item_fields, values_of
from formserver.records import hooks, store
from formserver.records.followup import CARRY_STATES, HANDOVER
from handbook.formmodel import Form, Item
from handbook.kinds import CHECK_VALUES, YESNO_VALUES
from handbook.rules import STEP_BY, Rules, Step, Workflow

STAMP_FORMAT = "%Y-%m-%dT%H:%M"  # a datetime item's stored value (webforms: DATETIME_FORMATS[0])
DUE_SOON = dt.timedelta(hours=4)
NOTE_MAX = 2000
HANDOVER_TITLE = "交接遗留事项"
LATE_KEY = "_late_after"  # in a CaseStep's values: the deadline (UTC) a step with a deadline was done after


class StepRefused(Exception):
    """The step cannot be done by this user or in this state; `status` is the HTTP answer (403, 409)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class StepItems:
    """The items a step asks for, shaped like a Form for webforms' converters (they read `all_items()` only)."""

    items: list[Item]

    def all_items(self) -> list[Item]:
        return self.items


# -- reading the rules ------------------------------------------------------------------------------


def flow_of(rules: Rules, case: Case) -> Workflow | None:
    """The case's workflow; None for items a handover carried over (their own open → closed flow)."""
    return rules.workflow(case.workflow_id)


def flow_title(rules: Rules, workflow_id: str) -> str:
    flow = rules.workflow(workflow_id)
    return flow.title if flow else HANDOVER_TITLE if workflow_id == HANDOVER else workflow_id


def state_name(flow: Workflow | None, state: str) -> str:
    if flow is None:
        return CARRY_STATES.get(state, state)
    return next((s.name for s in flow.steps if s.id == state), state)


def step_refs(flow: Workflow | None, step_id: str) -> tuple[str, ...]:
    step = next((s for s in flow.steps if s.id == step_id), None) if flow else None
    return tuple(step.refs) if step else ()


def next_step(flow: Workflow | None, case: Case) -> Step | None:
    if flow is None or case.closed_at is not None:
        return None
    return flow.next_step(case.state) if any(s.id == case.state for s in flow.steps) else None


def all_items(flow: Workflow, form: Form | None) -> dict[str, Item]:
    """Item id → item for the flow's steps: the form's items, or the flow's own fields."""
    source = form.all_items() if flow.form and form is not None else flow.fields
    return {item.id: item for item in source}


def step_items(flow: Workflow, step: Step, form: Form | None) -> list[Item]:
    """The items a person fills in at `step` (stamp and person items are the server's), `required` ones required.
    The step says what it needs: an item's show_when (which may look at items not on the step) does not apply."""
    known = all_items(flow, form)
    return [dataclasses.replace(known[i], required=i in step.required, show_when=None)
            for i in step.fields if i in known and i not in (step.stamp, step.person)]


def deadline_step(flow: Workflow, state: str) -> Step | None:
    """The step whose deadline runs while the case is in `state`: its time started at or before `state` and
    the step itself is still ahead."""
    ids = [s.id for s in flow.steps]
    if state not in ids:
        return None
    here = ids.index(state)
    for n, step in enumerate(flow.steps):
        if step.due and step.due.start in ids and ids.index(step.due.start) <= here < n:
            return step
    return None


def due_after(flow: Workflow, state: str, now: dt.datetime, current: dt.datetime | None) -> dt.datetime | None:
    """The deadline once the case has entered `state`: a deadline starting now, one still running, or none."""
    step = deadline_step(flow, state)
    if step is None:
        return None
    if step.due.start == state:
        return now + dt.timedelta(hours=step.due.hours)
    return current


def due_status(case: Case, now: dt.datetime) -> str:
    """'overdue', 'soon' (within 4 hours) or '' for an open case's deadline."""
    if case.closed_at is not None or case.due_at is None:
        return ""
    if case.due_at < now:
        return "overdue"
    return "soon" if case.due_at - now <= DUE_SOON else ""


# -- who may see and act -------------------------------------------------------------------------------


def visible(user: User) -> Select:
    """Cases `user` may see: their team's (a team works one queue: a `by: any` step such as 已到场 is done by
    whichever colleague is on site), the ones they own or took part in, and all for managers."""
    query = select(Case)
    if user.at_least("manager"):
        return query
    took_part = exists().where(CaseStep.case_id == Case.id, CaseStep.user_id == user.id)
    return query.where(or_(Case.team == user.team, Case.owner_id == user.id, took_part))


def may_see(db: Session, user: User, case: Case) -> bool:
    if user.at_least("manager") or case.owner_id == user.id or case.team == user.team:
        return True
    return db.scalar(select(CaseStep.id).where(CaseStep.case_id == case.id, CaseStep.user_id == user.id)
                     .limit(1)) is not None


def may_manage(user: User, case: Case) -> bool:
    """Supervisors of the case's team (and managers) may assign it and act for its owner."""
    return user.at_least("manager") or (user.at_least("supervisor") and case.team == user.team)


def refusal(user: User, case: Case, step: Step) -> str:
    """Why `user` may not do `step` of `case` (Chinese), or '' if they may. The caller has checked `may_see`."""
    if step.by == "any":
        return ""
    if step.by in ("supervisor", "manager"):
        may = user.at_least(step.by) and may_manage(user, case)
        return "" if may else f"“{step.name}”须由{STEP_BY[step.by]}完成。"
    if case.owner_id == user.id or may_manage(user, case):
        return ""
    if case.owner_id is None:
        return f"这件事尚未指派负责人,须由主管先指派,负责人才能办理“{step.name}”。"
    return f"“{step.name}”须由负责人 {case.owner.display_name if case.owner else ''} 办理(谁受理、谁跟进、谁回复)。"


# -- the web form of a step ----------------------------------------------------------------------------


class StepForm(FlaskForm):
    class Meta:
        locales = ("zh_CN",)

    expected_state = HiddenField()
    step_note = TextAreaField("备注", validators=[Optional(), Length(max=NOTE_MAX)])


_classes: dict[tuple[str, str, str], type[StepForm]] = {}


def form_class(flow: Workflow, step: Step, form: Form | None, version: str) -> type[StepForm]:
    key = (flow.id, step.id, version)
    if key not in _classes:
        fields: dict[str, Any] = {}
        for item in step_items(flow, step, form):
            fields.update(item_fields(item))
        _classes[key] = type(f"Step_{flow.id.replace('-', '_')}_{step.id}", (StepForm,), fields)
    return _classes[key]


def prefill(items: list[Item], values: dict[str, Any], state: str) -> MultiDict:
    """Form data for a step's form: what the record already holds for its items."""
    try:
        data = formdata_of(StepItems(items), {i.id: values[i.id] for i in items if i.id in values})  # type: ignore[arg-type]
    except ValuesError:  # a value the form of today cannot show: start that step's form blank
        data = MultiDict()
    data.setlist("expected_state", [state])
    return data


def step_values(wtform: StepForm, items: list[Item], step: Step, user: User, local_now: dt.datetime) -> dict[str, Any]:
    """The values the step records: what was typed, plus the server's time and the person for stamp/person."""
    values = values_of(wtform, StepItems(items))  # type: ignore[arg-type]  # only all_items() is read
    if step.stamp:
        values[step.stamp] = local_now.strftime(STAMP_FORMAT)
    if step.person:
        values[step.person] = user.display_name
    return values


# -- doing a step -------------------------------------------------------------------------------------


def complete(db: Session, rules: Rules, user: User, case_id: int, expected: str, values: dict[str, Any],
             note: str) -> Case:
    """Record the next step of case `case_id` in `db`'s write transaction. StepRefused(409) if the case is no
    longer in state `expected` (done twice, or by someone else meanwhile), (403) if `user` may not do it."""
    case = db.get(Case, case_id)
    flow = flow_of(rules, case) if case else None
    if case is None or flow is None:
        raise StepRefused(404, "没有这件事项,或它不按流程办理。")
    step = next_step(flow, case)
    if case.state != expected or step is None:
        raise StepRefused(409, f"这件事项已经是“{state_name(flow, case.state)}”状态,"
                               "可能刚被别人办理过或您重复提交了。请查看最新状态。")
    why = refusal(user, case, step)
    if why:
        raise StepRefused(403, why)
    now = utcnow()
    deadline = case.due_at  # read before the update below refreshes it
    last = flow.next_step(step.id) is None
    done = db.execute(update(Case).where(Case.id == case.id, Case.state == expected).values(
        state=step.id, updated_at=now, due_at=None if last else due_after(flow, step.id, now, case.due_at),
        closed_at=now if last else None,
        values={**(case.values or {}), **values} if not flow.form else case.values)).rowcount
    if done != 1:
        raise StepRefused(409, "这件事项刚被别人办理过,请刷新后查看最新状态。")
    recorded = dict(values)
    if step.due and deadline is not None and now > deadline:  # done, but after its deadline
        recorded[LATE_KEY] = deadline.isoformat(timespec="minutes")
    db.add(CaseStep(case_id=case.id, step=step.id, user_id=user.id, at=now, note=note, values=recorded))
    if flow.form and case.submission_id is not None and values:
        _revise(db, user, case.submission_id, values, step)
    audit.record(db, user, "case_step", f"case:{case.id}", workflow=flow.id, step=step.id)
    db.expire(case)
    return case


def _revise(db: Session, user: User, submission_id: int, values: dict[str, Any], step: Step) -> None:
    """The step's values as a new revision of the submission, so the record, its PDF and exports show them."""
    submission = db.get(Submission, submission_id)
    if submission is None:
        return
    revision, current = store.latest_values(db, submission)
    form = version_form(submission.form_version)
    store.correct(db, user, submission, form, revision.number, {**current, **values}, f"流程:{step.name}")


def assign(db: Session, user: User, case: Case, owner: User | None, due_at: dt.datetime | None) -> None:
    changes: dict[str, Any] = {"updated_at": utcnow()}
    if owner is not None:
        changes["owner_id"] = owner.id
    if due_at is not None:
        changes["due_at"] = due_at
    db.execute(update(Case).where(Case.id == case.id).values(**changes))
    audit.record(db, user, "case_assign", f"case:{case.id}", owner=owner.username if owner else None,
                 due_at=due_at.isoformat() if due_at else None)
    if owner is not None:
        hooks.emit(db, "case_assigned", case_id=case.id, owner_id=owner.id, by_id=user.id, due_at=due_at)


# -- showing recorded values --------------------------------------------------------------------------

LABELS = {**dict(CHECK_VALUES), **dict(YESNO_VALUES)}


def late_after(step: CaseStep) -> dt.datetime | None:
    """The deadline (UTC) `step` was done after, if it was done late."""
    value = (step.values or {}).get(LATE_KEY)
    return dt.datetime.fromisoformat(value) if value else None


def recorded(step: CaseStep) -> dict[str, Any]:
    """The fields a step recorded, without the engine's own notes."""
    return {k: v for k, v in (step.values or {}).items() if not k.startswith("_")}


def shown(item: Item | None, value: Any) -> str:
    """A stored value as people read it."""
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if item is not None and item.kind in ("yesno", "check"):
        return LABELS.get(value, str(value))
    if item is not None and item.kind == "datetime" and isinstance(value, str):
        return value.replace("T", " ")
    return str(value)
