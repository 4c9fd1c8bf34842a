"""The operating rules of checklists/rules/: what the server follows up after a form is filled in.

Which forms are due when (schedules.yaml), what blocks a handover and what it carries over (handover.yaml),
the step-by-step flows of corrective actions, complaints and service tickets (workflows.yaml), the figures
of the monthly report (reports.yaml), who is told of what when (notifications.yaml) and the patrol
checkpoints of each area, scanned by QR code (checkpoints.yaml). Read once by
`read_rules`, checked against the forms and clauses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .formmodel import Item

SCHEDULE_EVERY = {"shift": "每班", "shift_change": "每次交接班", "day": "每天", "week": "每周", "month": "每月"}
STEP_BY = {"owner": "负责人", "any": "任何员工", "supervisor": "主管", "manager": "经理"}
OWNERS = {"submitter": "提交人负责到底", "assigned": "主管指定负责人"}


@dataclass(frozen=True)
class Schedule:
    """When one form is due. `times` maps a shift id to its due times (every: shift); `time` serves the rest."""

    form: str
    every: str
    line: int
    times: dict[str, tuple[str, ...]] = field(default_factory=dict)
    time: str = ""
    weekday: int = 0  # 0 = Monday (every: week)
    day: int = 1  # day of the month (every: month)
    per_area: bool = False
    grace_minutes: int = 0
    refs: tuple[str, ...] = ()  # the clauses it serves; they state its fixed times
    lines: dict[str, int] = field(default_factory=dict)  # key (or "times.<shift>") → line, for problems
    grace_refs: tuple[str, ...] = ()  # the clauses that permit the grace minutes


@dataclass(frozen=True)
class CarryOver:
    """A handover item whose content the next shift inherits until someone closes it."""

    item: str
    label: str
    line: int
    text: str = ""  # for a table: the column holding the item's text
    open_when: dict[str, str] = field(default_factory=dict)  # for a table: column → value meaning "still open"
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Blocking:
    item: str  # a yesno item: "yes" blocks completing the handover
    line: int
    refs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Takeover:
    """What a clause allows when a no-handover condition cannot be removed in time: `by` (a role) takes over
    the duty from the outgoing person and signs as the outgoing party. Only for the `conditions` listed."""

    by: str
    conditions: tuple[str, ...]
    line: int
    refs: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)


@dataclass
class HandoverRules:
    form: str
    outgoing: str  # person item: who hands over
    incoming: str  # person item: who takes over
    blocking: list[Blocking]
    carry_over: list[CarryOver]
    takeover: Takeover | None = None  # None: a blocked handover waits until the conditions are corrected away
    open_corrective_actions: bool = True
    refs: tuple[str, ...] = ()
    path: str = ""
    line: int = 1
    incoming_sign: str = ""  # signature item the incoming person draws on confirming ('' : signed on the form)


@dataclass(frozen=True)
class Due:
    start: str  # the step the time runs from
    hours: int
    refs: tuple[str, ...] = ()  # the clauses that set the time limit
    in_days: bool = False  # written as days (the clause then states days)


@dataclass
class Step:
    id: str
    name: str
    line: int
    by: str = "owner"
    fields: list[str] = field(default_factory=list)  # item ids (of the form, or of the workflow's own fields)
    required: list[str] = field(default_factory=list)
    stamp: str = ""  # a datetime item the server fills with the time the step is done
    person: str = ""  # a person item the server fills with who did the step
    due: Due | None = None
    refs: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)  # key → line, for problems


@dataclass
class Workflow:
    id: str
    title: str
    owner: str
    steps: list[Step]
    path: str
    line: int
    form: str = ""  # a submission of this form opens the flow; '' for corrective actions
    fields: list[Item] = field(default_factory=list)  # the flow's own items, when it has no form
    refs: tuple[str, ...] = ()

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def next_step(self, step_id: str) -> Step | None:
        ids = [s.id for s in self.steps]
        n = ids.index(step_id) + 1
        return self.steps[n] if n < len(self.steps) else None


@dataclass(frozen=True)
class SpotCheck:
    """The day's quality spot check: at least `percent` % of the day's records of `form`, drawn at random."""

    form: str
    percent: int
    line: int
    refs: tuple[str, ...] = ()
    show: tuple[str, ...] = ()  # items of the form listed with each drawn record (the checker's overview)
    lines: dict[str, int] = field(default_factory=dict)  # key → line, for problems


@dataclass(frozen=True)
class Figure:
    """One number of the monthly report: a count, a sum or a rate over one month's submissions."""

    id: str
    label: str
    unit: str
    line: int
    count: str = ""  # form id
    sum: tuple[tuple[str, str], ...] = ()  # (form id, number item id)
    rate: tuple[tuple[str, str], ...] = ()  # (form id, choice item id)
    good: tuple[str, ...] = ()
    person: str = ""  # the person item the figure is attributed by; '' = the submitter
    lines: dict[str, int] = field(default_factory=dict)
    score: str = ""  # form id: the mean of its records' scores (the form's `score:`), also per area


@dataclass
class MonthlyReport:
    title: str
    figures: list[Figure]
    schedules: bool = True
    penalties: str = ""  # the penalties table id fines are cited from
    refs: tuple[str, ...] = ()
    path: str = ""
    line: int = 1
    lines: dict[str, int] = field(default_factory=dict)


NOTIFY_EVENTS = {
    "form_due": "表单即将到应交时间(排班表上的当班人)",
    "form_missed": "表单漏交(当班人,逾期后升级给主管)",
    "case_due": "事项步骤即将到期与已逾期(负责人,逾期后升级给主管)",
    "case_assigned": "事项指派了负责人(被指派的人)",
    "handover_blocked": "交接班未能完成(交班人和本组主管)",
    "reacknowledge": "制度修订后需要重新确认(本人)",
    "path_due": "学习路径即将到期(本人)",
}
NOTIFY_CHANNELS = {"inbox": "站内消息", "email": "电子邮件", "wecom": "企业微信群机器人", "dingtalk": "钉钉群机器人",
                   "feishu": "飞书群机器人", "webhook": "通用 JSON Webhook"}


@dataclass(frozen=True)
class NotifyRule:
    """One kind of event people are told of. Times in minutes: `lead` before the deadline (a reminder),
    `escalate_after` past it (its supervisors are told too; None: never), `stale_after` past the moment it
    was due to be sent (a stopped worker catching up puts older ones into one summary instead)."""

    event: str
    line: int
    workflow: str = ""  # case_due: the flow it applies to ('' = every flow with deadlines)
    lead: int = 0
    escalate_after: int | None = None
    stale_after: int = 120
    channels: tuple[str, ...] = ()
    refs: tuple[str, ...] = ()
    lines: dict[str, int] = field(default_factory=dict)


@dataclass
class NotifyRules:
    rules: list[NotifyRule]
    channels: tuple[str, ...]  # the default channels of events that name none
    path: str = ""
    line: int = 1

    def of(self, event: str, workflow: str = "") -> NotifyRule | None:
        """The rule for `event` (of `workflow`: its own rule, else the one of every flow)."""
        found = [r for r in self.rules if r.event == event and r.workflow in (workflow, "")]
        return min(found, key=lambda r: r.workflow == "", default=None)


@dataclass(frozen=True)
class Checkpoint:
    """One patrol checkpoint: a QR poster on a wall of `area` (an area id of organisation.yaml)."""

    id: str
    name: str
    area: str
    line: int
    location: str = ""  # where the poster hangs, so a patrol can find it


@dataclass
class Checkpoints:
    """The patrol routes: per area, the checkpoints a patrol scans; a scan opens `form` for that area."""

    form: str
    points: list[Checkpoint]
    refs: tuple[str, ...] = ()
    path: str = ""
    line: int = 1
    lines: dict[str, int] = field(default_factory=dict)

    def get(self, checkpoint_id: str) -> Checkpoint | None:
        return next((p for p in self.points if p.id == checkpoint_id), None)

    def of_area(self, area_id: str) -> list[Checkpoint]:
        return [p for p in self.points if p.area == area_id]

    def areas(self) -> list[str]:
        """The area ids that have checkpoints, in the file's order."""
        return list(dict.fromkeys(p.area for p in self.points))


@dataclass
class Rules:
    schedules: list[Schedule] = field(default_factory=list)
    handover: HandoverRules | None = None
    workflows: list[Workflow] = field(default_factory=list)
    spot_checks: list[SpotCheck] = field(default_factory=list)
    report: MonthlyReport | None = None
    notifications: NotifyRules | None = None
    checkpoints: Checkpoints | None = None

    def workflow(self, workflow_id: str) -> Workflow | None:
        return next((w for w in self.workflows if w.id == workflow_id), None)

    def workflow_for_form(self, form_id: str) -> Workflow | None:
        return next((w for w in self.workflows if w.form == form_id), None)
