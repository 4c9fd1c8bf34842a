"""What a stored submission starts, by the rules of checklists/rules/: a corrective action for each check
item marked 异常, the flow of a complaint or service ticket, and a handover with the items it carries over.

`plan` works out the rows before the write transaction (it runs where `records.prepare` does); `open_cases`
writes them in the same transaction as the submission, so an accepted submission never lacks its follow-up
and a retried one (its id already stored) opens nothing twice.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.orm import Session

from formserver.db.models import Case, CaseStep, Handover, utcnow
from handbook.formmodel import Form, Item
from handbook.rules import CarryOver, HandoverRules, Rules, Workflow

CORRECTIVE = "corrective"
HANDOVER = "handover"  # the workflow id of items a handover carries over (open → closed)
CARRY_STATES = {"open": "未了结", "closed": "已关闭"}
CARRY_STEPS = {"open": "交班时列入", "handed": "随交接班移交", "closed": "已关闭"}


@dataclass
class Plan:
    """The rows a submission opens, but the submission id and times."""

    cases: list[dict[str, Any]] = field(default_factory=list)  # each with its first step under "_step"
    handover: dict[str, Any] | None = None

    def __bool__(self) -> bool:
        return bool(self.cases or self.handover)


def plan(rules: Rules, form: Form, values: dict[str, Any], user: Any) -> Plan:
    result = Plan()
    area = values.get("area") if isinstance(values.get("area"), str) else ""
    corrective = rules.workflow(CORRECTIVE)
    if corrective is not None:
        result.cases.extend(_corrective(corrective, form, values, user, area or ""))
    flow = rules.workflow_for_form(form.id)
    if flow is not None:
        result.cases.append(_case(flow, form.id, "", list(form.serves[:3]), _title(form, values), area or "", [],
                                  user.id if flow.owner == "submitter" else None, user, {}))
    if rules.handover is not None and rules.handover.form == form.id:
        result.handover = _handover(rules.handover, values, user)
        result.cases.extend(carried_cases(rules.handover, form, values, user, area or ""))
    return result


def _case(flow: Workflow, form_id: str, item_id: str, refs: list[str], title: str, area: str, photos: list[str],
          owner_id: int | None, user: Any, own_values: dict[str, Any]) -> dict[str, Any]:
    first = flow.steps[0]
    return {"workflow_id": flow.id, "form_id": form_id, "item_id": item_id[:100], "refs": refs, "title": title[:200],
            "area": area[:64], "photos": photos, "values": own_values, "owner_id": owner_id, "team": user.team,
            "state": first.id, "_due_hours": _due_hours(flow, first.id),
            "_step": {"step": first.id, "user_id": user.id, "note": "", "values": {}}}


def _due_hours(flow: Workflow, state: str) -> int | None:
    """Hours from entering `state` to the deadline of a later step that runs from it (the nearest one)."""
    for step in flow.steps:
        if step.due and step.due.start == state:
            return step.due.hours
    return None


def _title(form: Form, values: dict[str, Any]) -> str:
    """A line naming the case: the form's first required text items (number, who, what)."""
    parts = [str(values[i.id]) for i in form.all_items()
             if i.kind in ("text", "textarea") and i.required and values.get(i.id)][:3]
    return " · ".join(p.replace("\n", " ") for p in parts) or form.title


def _walk(items: list[Item], values: dict[str, Any], prefix: str = ""):
    """(item, its values, a path naming it) for every item, table rows included ("table.2.column")."""
    for item in items:
        if item.kind == "table":
            for n, row in enumerate(values.get(item.id) or [], start=1):
                yield from _walk(item.columns, row, f"{prefix}{item.id}.{n}.")
        else:
            yield item, values, f"{prefix}{item.id}"


def _corrective(flow: Workflow, form: Form, values: dict[str, Any], user: Any, area: str) -> list[dict[str, Any]]:
    cases = []
    for item, vals, path in _walk(form.all_items(), values):
        if item.kind == "check" and vals.get(item.id) == "fault":
            note = (vals.get(f"{item.id}_note") or "").strip()
            title = f"{item.label}:{note}" if note else item.label
            cases.append(_case(flow, form.id, path, list(item.refs), title, area,
                               list(vals.get(f"{item.id}_photos") or []), None, user, {}))
    return cases


def blockers_of(rules: HandoverRules, values: dict[str, Any]) -> list[str]:
    """The no-handover conditions a handover's values answer 是 (yes)."""
    return [b.item for b in rules.blocking if values.get(b.item) == "yes"]


def _handover(rules: HandoverRules, values: dict[str, Any], user: Any) -> dict[str, Any]:
    blockers = blockers_of(rules, values)
    return {"shift": str(values.get("shift") or "")[:32], "area": str(values.get("area") or "")[:64],
            "team": user.team, "outgoing_id": user.id, "incoming_name": str(values.get(rules.incoming) or "")[:64],
            "state": "blocked" if blockers else "awaiting", "blockers": blockers}


def carried_texts(rule: CarryOver, values: dict[str, Any]) -> list[tuple[str, str]]:
    """(item path, text) of what `rule` carries over from a handover's values: a non-empty text, or each table
    row still open (its `open_when` columns hold those values; a rule without open_when carries every row)."""
    value = values.get(rule.item)
    if isinstance(value, str):
        text = value.strip()
        return [(rule.item, text)] if text and text not in ("无", "没有", "-", "—") else []
    out = []
    for n, row in enumerate(value or [], start=1):
        if all(row.get(column) == wanted for column, wanted in rule.open_when.items()):
            text = str(row.get(rule.text) or "").strip()
            detail = " · ".join(str(v) for k, v in row.items() if k != rule.text and v not in (None, "", []))
            out.append((f"{rule.item}.{n}", f"{text}({detail})" if detail else text))
    return out


def carried_cases(rules: HandoverRules, form: Form, values: dict[str, Any], user: Any,
                  area: str) -> list[dict[str, Any]]:
    """Carried items are cases of their own small flow (open → closed), not one of workflows.yaml."""
    return [_carry_case(form.id, path, list(rule.refs), f"{rule.label}:{text}", area, user)
            for rule in rules.carry_over for path, text in carried_texts(rule, values)]


def _carry_case(form_id: str, path: str, refs: list[str], title: str, area: str, user: Any) -> dict[str, Any]:
    return {"workflow_id": HANDOVER, "form_id": form_id, "item_id": path[:100], "refs": refs, "title": title[:200],
            "area": area[:64], "photos": [], "values": {"text": title}, "owner_id": None, "team": user.team,
            "state": "open", "_due_hours": None,
            "_step": {"step": "open", "user_id": user.id, "note": "", "values": {}}}


CASES, STEPS, HANDOVERS = Case.__table__, CaseStep.__table__, Handover.__table__


def open_cases(db: Connection, submission_id: int, planned: Plan, now: dt.datetime) -> None:
    """Write what `plan` planned for a submission just inserted, in its write transaction."""
    if planned.handover is not None:  # first: it hands on the items open before, not the ones it opens
        handover_id = db.execute(insert(HANDOVERS).values(submission_id=submission_id, handed_at=now,
                                                          **planned.handover).returning(HANDOVERS.c.id)).scalar_one()
        _hand_on(db, handover_id, planned.handover, now)
    for case in planned.cases:
        hours = case["_due_hours"]
        row = {k: v for k, v in case.items() if not k.startswith("_")}
        row.update(submission_id=submission_id, opened_at=now, updated_at=now,
                   due_at=now + dt.timedelta(hours=hours) if hours else None)
        case_id = db.execute(insert(CASES).values(**row).returning(CASES.c.id)).scalar_one()
        db.execute(insert(STEPS).values(case_id=case_id, at=now, **case["_step"]))


def _hand_on(db: Connection, handover_id: int, handover: dict[str, Any], now: dt.datetime) -> None:
    """Items earlier handovers carried and nobody has closed pass on with this one: a "handed" step each, so an
    item's history names every handover it went through."""
    still_open = db.scalars(select(CASES.c.id).where(
        CASES.c.workflow_id == HANDOVER, CASES.c.closed_at.is_(None), CASES.c.team == handover["team"])).all()
    if still_open:
        db.execute(insert(STEPS), [{"case_id": case_id, "step": "handed", "user_id": handover["outgoing_id"],
                                    "at": now, "note": "", "values": {"handover_id": handover_id}}
                                   for case_id in still_open])
        db.execute(update(CASES).where(CASES.c.id.in_(still_open)).values(updated_at=now))


def open_new_faults(db: Session, rules: Rules, form: Form, submission: Any, values: dict[str, Any],
                    user: Any) -> int:
    """After a correction (same transaction): a check item now marked 异常 that has no corrective action on this
    record yet gets one, as if it had been submitted so; how many were opened. Clearing a fault closes nothing:
    an action is closed by verifying it."""
    corrective = rules.workflow(CORRECTIVE)
    if corrective is None:
        return 0
    known = set(db.scalars(select(Case.item_id).where(Case.workflow_id == CORRECTIVE,
                                                      Case.submission_id == submission.id)))
    area = values.get("area") if isinstance(values.get("area"), str) else ""
    planned = Plan([c for c in _corrective(corrective, form, values, user, area or "") if c["item_id"] not in known])
    for case in planned.cases:
        case["team"] = submission.team  # the record's team, whoever corrects it
    if planned:
        open_cases(db.connection(), submission.id, planned, utcnow())
    return len(planned.cases)
