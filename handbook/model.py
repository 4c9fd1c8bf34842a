"""The typed model of the handbook's source: what every output (site, PDF, server, training) reads.

Plain dataclasses, built once by `load.load_handbook()` and treated as read-only afterwards.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from .formmodel import Form
from .rules import Rules

# -- organisation ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Named:
    """A department, role or area: an id that sources cite and a name people read."""

    id: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class Shift:
    id: str
    name: str
    start: str
    end: str


@dataclass(frozen=True)
class Phone:
    id: str
    name: str
    number: str


@dataclass
class Organisation:
    name: str
    short_name: str
    company: str
    doc_prefix: str
    approver: str
    departments: dict[str, Named] = field(default_factory=dict)
    roles: dict[str, Named] = field(default_factory=dict)
    shifts: dict[str, Shift] = field(default_factory=dict)
    areas: dict[str, Named] = field(default_factory=dict)
    phones: dict[str, Phone] = field(default_factory=dict)
    terms: dict[str, str] = field(default_factory=dict)

    def placeholders(self) -> dict[str, str]:
        """Every `{{ name }}` a regulation may use, with its value."""
        values = {
            "org.name": self.name,
            "org.short_name": self.short_name,
            "org.company": self.company,
            "org.approver": self.approver,
        }
        values.update({f"dept.{k}": v.name for k, v in self.departments.items()})
        values.update({f"role.{k}": v.name for k, v in self.roles.items()})
        values.update({f"area.{k}": v.name for k, v in self.areas.items()})
        values.update({f"shift.{k}": v.name for k, v in self.shifts.items()})
        values.update({f"phone.{k}": v.number for k, v in self.phones.items()})
        values.update({f"term.{k}": v for k, v in self.terms.items()})
        return values


@dataclass(frozen=True)
class Topic:
    id: str
    title: str
    description: str = ""


# -- regulations -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Revision:
    revision: str
    date: dt.date
    author: str
    summary: str
    decisions: tuple[str, ...] = ()


@dataclass
class Clause:
    """A citable rule: a prose paragraph of a regulation, or a row of one of its tables."""

    id: str
    regulation_id: str
    text: str  # Markdown source as written (placeholders not yet filled in)
    section: str  # the heading it stands under, '' for none
    path: str
    line: int
    table_id: str = ""  # set for table rows

    @property
    def number(self) -> int:
        return int(self.id.rsplit(".", 1)[1])


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    line: int


@dataclass(frozen=True)
class Prose:
    text: str
    line: int


@dataclass(frozen=True)
class ClauseBlock:
    clause_id: str


@dataclass(frozen=True)
class TableBlock:
    table_id: str
    line: int


Block = Heading | Prose | ClauseBlock | TableBlock


@dataclass
class Regulation:
    id: str
    title: str
    topic: str
    number: str
    revision: str
    department: str
    effective: dt.date
    approver: str
    applies_to: list[str]
    sources: list[str]
    summary: str
    revisions: list[Revision]
    path: str
    blocks: list[Block] = field(default_factory=list)
    lines: dict[str, int] = field(default_factory=dict)  # front-matter key → line, for problems

    @property
    def clause_ids(self) -> list[str]:
        return [b.clause_id for b in self.blocks if isinstance(b, ClauseBlock)]


# -- tables ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PenaltyRow:
    id: str
    line: int
    offence: str
    sanctions: tuple[str, ...]
    fine: int | None = None
    fine_max: int | None = None
    condition: str = ""
    violates: tuple[str, ...] = ()

    @property
    def fine_text(self) -> str:
        if self.fine is None:
            return ""
        if self.fine_max is not None and self.fine_max != self.fine:
            return f"{self.fine}–{self.fine_max} 元"
        return f"{self.fine} 元"

    def summary(self) -> str:
        outcome = ",".join(x for x in ("、".join(self.sanctions), self.fine_text) if x)
        return f"{self.offence}:{outcome}"

    def refs(self) -> tuple[str, ...]:
        return self.violates


@dataclass(frozen=True)
class DutyRow:
    id: str
    line: int
    role: str
    duty: str
    department: str = ""

    def summary(self) -> str:
        return self.duty

    def refs(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class MeetingRow:
    id: str
    line: int
    name: str
    frequency: str
    chair: str
    purpose: str
    weekday: str = ""
    time: str = ""
    attendees: tuple[str, ...] = ()
    form: str = ""

    def summary(self) -> str:
        when = " ".join(x for x in (FREQUENCIES[self.frequency], self.weekday, self.time) if x)
        return f"{self.name}({when}):{self.purpose}"

    def refs(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class ServiceHoursRow:
    id: str
    line: int
    service: str
    hours: str
    time_from: str = ""
    time_to: str = ""
    days: str = ""
    note: str = ""

    def summary(self) -> str:
        span = f" {self.time_from}–{self.time_to}" if self.time_from and self.time_to else ""
        return f"{self.service}:{self.hours}{(' ' + self.days) if self.days else ''}{span}"

    def refs(self) -> tuple[str, ...]:
        return ()


@dataclass(frozen=True)
class DeadlineRow:
    id: str
    line: int
    what: str
    limit: str
    note: str = ""
    refs_: tuple[str, ...] = ()

    def summary(self) -> str:
        return f"{self.what}:{self.limit}"

    def refs(self) -> tuple[str, ...]:
        return self.refs_


Row = PenaltyRow | DutyRow | MeetingRow | ServiceHoursRow | DeadlineRow

FREQUENCIES = {"daily": "每天", "weekly": "每周", "monthly": "每月"}
SANCTIONS = ("口头警告", "书面警告", "罚款", "通报批评", "记过", "记大过", "降级", "劝退", "辞退",
             "开除", "赔偿", "追究法律责任")
WEEKDAYS = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
TABLE_KINDS = ("penalties", "duties", "meetings", "service_hours", "deadlines")


@dataclass
class Table:
    id: str
    kind: str
    regulation_id: str
    title: str
    rows: list[Row]
    path: str
    line: int
    description: str = ""


# -- quizzes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    text: str
    correct: bool


@dataclass
class Question:
    id: str
    regulation_id: str
    kind: str  # single | multiple | truefalse
    refs: list[str]
    question: str
    options: list[Option]
    answer: bool | None
    explanation: str
    path: str
    line: int
    lines: dict[str, int] = field(default_factory=dict)

    @property
    def correct_options(self) -> list[Option]:
        return [o for o in self.options if o.correct]


QUESTION_KINDS = {"single": "单选题", "multiple": "多选题", "truefalse": "判断题"}


@dataclass
class LearningPath:
    id: str
    title: str
    roles: list[str]
    regulations: list[str]
    pass_mark: int
    description: str
    path: str
    line: int
    due_days: int = 7  # days from assignment to the due date


# -- the whole -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Citation:
    """Something that cites a clause: a form item, a quiz question, another clause or a table row."""

    kind: str  # form | item | question | clause | row
    source_id: str  # form id, question id or citing clause id
    label: str  # what to show
    detail: str = ""  # e.g. item id within a form


@dataclass
class Handbook:
    root: str
    organisation: Organisation
    topics: list[Topic]
    regulations: list[Regulation]
    tables: dict[str, Table]
    clauses: dict[str, Clause]
    questions: list[Question]
    forms: list[Form]
    paths: list[LearningPath]
    rules: Rules = field(default_factory=Rules)  # checklists/rules/
    citations: dict[str, list[Citation]] = field(default_factory=dict)

    def regulation(self, regulation_id: str) -> Regulation:
        return next(r for r in self.regulations if r.id == regulation_id)

    def form(self, form_id: str) -> Form:
        return next(f for f in self.forms if f.id == form_id)
