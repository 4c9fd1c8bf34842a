"""The figures of the monthly report (checklists/rules/reports.yaml), for one month and one team or all.

Every figure comes from the rules: a count of a form's submissions, a sum of number items, or a rate of
"good" answers among the answered choice items; each is also split per person (the figure's person item in
the record, or the submitter). Late and missed forms come from the schedule (`formserver.operations.schedule`),
counted for the rostered person where the duty roster names one (`roster.assign`), the
penalties of the month from `PenaltyRecord`. One query reads the month's submissions of the forms the
figures name, each with its current revision's values.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from formserver.db.models import PenaltyRecord, Revision, Submission, User
from formserver.forms.catalogue import Catalogue
from formserver.operations import schedule
from formserver.operations.roster import assign, rostered
from handbook.rules import Figure, MonthlyReport

MONTH = re.compile(r"(\d{4})-(\d{2})")
NOBODY = "(无人填写)"  # the person row of forms nobody filled in (missed)


@dataclass(frozen=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, text: str) -> Month | None:
        """`YYYY-MM`, or None when it is not a month."""
        match = MONTH.fullmatch(text.strip())
        if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 1900:
            return None
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def end(self) -> dt.date:
        return dt.date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    def shifted(self, months: int) -> Month:
        n = self.year * 12 + self.month - 1 + months
        return Month(n // 12, n % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        return f"{self.year} 年 {self.month} 月"


@dataclass
class Tally:
    """One figure's number for the month, one person or one area: a count, a sum, good/answered for a rate,
    or for a score the sum of the records' scores over `answered` records scored."""

    kind: str  # count | sum | rate | score
    value: Decimal = Decimal(0)
    good: int = 0
    answered: int = 0

    @property
    def number(self) -> int | float | None:
        """The figure as shown: an int where it is whole, a rate in percent to one decimal (None: no answers)."""
        if self.kind == "rate":
            return round(100 * self.good / self.answered, 1) if self.answered else None
        if self.kind == "score":
            return round(float(self.value) / self.answered, 1) if self.answered else None
        return int(self.value) if self.value == self.value.to_integral_value() else float(self.value)


@dataclass
class PersonRow:
    name: str
    figures: dict[str, Tally] = field(default_factory=dict)
    late: int = 0
    missed: int = 0
    penalties: int = 0
    fines: int = 0


@dataclass
class Slot:
    """A late or missed form (from the schedule), as the report lists it."""

    date: dt.date
    form_title: str
    person: str
    status: str  # late | missed


@dataclass
class Report:
    rules: MonthlyReport
    month: Month
    team: str | None
    totals: dict[str, Tally]
    people: list[PersonRow]
    slots: list[Slot] | None  # None: the report does not count late and missed forms (reports.yaml schedules: false)
    penalties: list[PenaltyRecord]
    areas: dict[str, dict[str, Tally]] = field(default_factory=dict)  # area → score figure id → tally

    @property
    def figures(self) -> list[Figure]:
        return self.rules.figures

    @property
    def late(self) -> int | None:
        return None if self.slots is None else sum(1 for s in self.slots if s.status == "late")

    @property
    def missed(self) -> int | None:
        return None if self.slots is None else sum(1 for s in self.slots if s.status == "missed")

    def slots_by_form(self) -> list[tuple[str, int, int]]:
        """(form title, late, missed) per form: a month holds hundreds of slots, too many to list on a page."""
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for slot in self.slots or []:
            counts[slot.form_title][0 if slot.status == "late" else 1] += 1
        return [(title, late, missed) for title, (late, missed) in sorted(counts.items())]

    @property
    def fines(self) -> int:
        return sum(p.fine or 0 for p in self.penalties)


    @property
    def score_figures(self) -> list[Figure]:
        return [f for f in self.figures if f.score]


def figure_kind(figure: Figure) -> str:
    return "count" if figure.count else "sum" if figure.sum else "score" if figure.score else "rate"


def figure_forms(figure: Figure) -> set[str]:
    if figure.count or figure.score:
        return {figure.count or figure.score}
    return {form for form, _item in (*figure.sum, *figure.rate)}


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or value in (None, ""):
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def _person(figure: Figure, values: dict[str, Any], submitter: str) -> str:
    name = values.get(figure.person) if figure.person else None
    return name.strip() if isinstance(name, str) and name.strip() else submitter


def _add(tally: Tally, figure: Figure, form_id: str, values: dict[str, Any], score: float | None = None) -> bool:
    """Count one record into `tally`; whether it contributed anything (a rate: an answer; a score: one)."""
    if figure.score:
        if score is None:
            return False
        tally.value += Decimal(str(score))
        tally.answered += 1
        return True
    if figure.count:
        tally.value += 1
        return True
    if figure.sum:
        parts = [_number(values.get(item)) for form, item in figure.sum if form == form_id]
        tally.value += sum(parts, Decimal(0))
        return bool(parts)
    answered = False
    for form, item in figure.rate:
        answer = values.get(item) if form == form_id else None
        if answer in (None, "", []):
            continue
        answers = answer if isinstance(answer, list) else [answer]
        tally.answered += 1
        tally.good += any(a in figure.good for a in answers)
        answered = True
    return answered


@dataclass(frozen=True)
class MonthRecord:
    form_id: str
    submitter: str  # display name
    values: dict[str, Any]  # of the current revision
    score: float | None
    area: str  # the header's area, as written


def month_records(db: Session, forms: set[str], month: Month, team: str | None) -> list[MonthRecord]:
    """The month's records of `forms`, current revisions: one query."""
    query = (select(Submission.form_id, User.display_name, Revision.values, Revision.score, Submission.area)
             .join(Revision, and_(Revision.submission_id == Submission.id,
                                  Revision.number == Submission.revision_count))
             .join(User, User.id == Submission.user_id)
             .where(Submission.form_id.in_(sorted(forms)), Submission.record_date >= month.start,
                    Submission.record_date <= month.end, Submission.status != "deleted")
             .order_by(Submission.record_date, Submission.id))
    if team is not None:
        query = query.where(Submission.team == team)
    return [MonthRecord(form_id, name, values or {}, score, area or "")
            for form_id, name, values, score, area in db.execute(query)]


def month_penalties(db: Session, month: Month, team: str | None) -> list[PenaltyRecord]:
    """The month's penalties in force (not revoked), oldest first."""
    query = (select(PenaltyRecord).join(User, User.id == PenaltyRecord.user_id)
             .where(PenaltyRecord.on_date >= month.start, PenaltyRecord.on_date <= month.end,
                    PenaltyRecord.revoked_at.is_(None))
             .order_by(PenaltyRecord.on_date, PenaltyRecord.id))
    if team is not None:
        query = query.where(User.team == team)
    return list(db.scalars(query))


def schedule_slots(db: Session, catalogue: Catalogue, month: Month, team: str | None) -> list[Slot]:
    """The month's late and missed forms up to now."""
    now = catalogue.now()
    end = min(month.end, now.date())
    if end < month.start:
        return []
    rows = schedule.statuses(db, catalogue, month.start, end, now, team=team)
    # Late and missed count against the roster: the rostered person's, else the submitter's (a missed slot
    # nobody was rostered for goes to NOBODY).
    assign(catalogue.handbook, rostered(db, month.start, end, team), rows)
    return [Slot(s.date, s.form_title, s.accountable, s.status) for s in rows if s.status in ("late", "missed")]


def compute(db: Session, catalogue: Catalogue, month: Month, team: str | None = None) -> Report:
    """The report of `month` for `team` (None: everyone)."""
    rules = catalogue.handbook.rules.report
    if rules is None:
        raise LookupError("reports.yaml defines no monthly report")
    forms = set().union(*(figure_forms(f) for f in rules.figures)) if rules.figures else set()
    totals = {f.id: Tally(figure_kind(f)) for f in rules.figures}
    people: dict[str, PersonRow] = {}

    def person(name: str) -> PersonRow:
        if name not in people:
            people[name] = PersonRow(name, {f.id: Tally(figure_kind(f)) for f in rules.figures})
        return people[name]

    areas: dict[str, dict[str, Tally]] = {}
    for record in month_records(db, forms, month, team) if forms else []:
        for figure in rules.figures:
            if record.form_id not in figure_forms(figure):
                continue
            _add(totals[figure.id], figure, record.form_id, record.values, record.score)
            scratch = Tally(totals[figure.id].kind)
            if _add(scratch, figure, record.form_id, record.values, record.score):
                row = person(_person(figure, record.values, record.submitter))
                _merge(row.figures[figure.id], scratch)
                if figure.score:
                    area = areas.setdefault(record.area or "(未写区域)", {})
                    _merge(area.setdefault(figure.id, Tally("score")), scratch)

    slots = schedule_slots(db, catalogue, month, team) if rules.schedules else None
    for slot in slots or []:
        row = person(slot.person or NOBODY)
        if slot.status == "late":
            row.late += 1
        else:
            row.missed += 1
    penalties = month_penalties(db, month, team) if rules.penalties else []
    for record in penalties:
        row = person(record.user.display_name)
        row.penalties += 1
        row.fines += record.fine or 0
    ordered = sorted(people.values(), key=lambda r: (r.name == NOBODY, r.name))
    # Areas in organisation.yaml's order; one written otherwise (an older form's) after them.
    place = {a.name: n for n, a in enumerate(catalogue.handbook.organisation.areas.values())}
    by_area = dict(sorted(areas.items(), key=lambda kv: (place.get(kv[0], len(place)), kv[0])))
    return Report(rules, month, team, totals, ordered, slots, penalties, by_area)


def _merge(into: Tally, part: Tally) -> None:
    into.value += part.value
    into.good += part.good
    into.answered += part.answered


# -- the chart -----------------------------------------------------------------------------------------

COLOURS = ("#2f6fb0", "#d9822b", "#3a9a5b", "#b8433e", "#7b5ea7", "#6b7b8c")


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    colour: str
    value: int | float
    label: str  # figure label, for the tooltip


@dataclass
class Chart:
    """A horizontal grouped bar chart (one group per person, one bar per count figure) in SVG units; the
    legend is drawn outside the SVG so it wraps on a narrow screen."""

    width: int
    height: int
    label_width: int
    legend: list[tuple[str, str]]  # (colour, label)
    groups: list[tuple[str, float, list[Bar]]]  # (person, y of the label, bars with a value)
    title: str


def chart(report: Report, width: int = 420) -> Chart | None:
    """The per-person chart of the count figures; None when there is nothing to draw."""
    figures = [f for f in report.figures if f.count]
    rows = [(p.name, p.figures) for p in report.people if any((p.figures[f.id].number or 0) > 0 for f in figures)]
    return _grouped(rows, figures, None, "按人员:", width)


def area_chart(report: Report, width: int = 420) -> Chart | None:
    """The per-area chart of the score figures (0–100 %); None when there is nothing to draw."""
    figures = report.score_figures
    rows = [(area, tallies) for area, tallies in report.areas.items()
            if any(t.number is not None for t in tallies.values())]
    return _grouped(rows, figures, 100, "按区域:", width)


def _grouped(rows: list[tuple[str, dict[str, Tally]]], figures: list[Figure], scale_max: float | None,
             title: str, width: int, bar: int = 17, gap: int = 12) -> Chart | None:
    """One group of bars per row (a person, an area), one bar per figure with a value."""
    if not figures or not rows:
        return None
    label_width, top, right = 96, 4, 30
    numbers = [t.number or 0 for _, tallies in rows for f in figures if (t := tallies.get(f.id))]
    scale_max = scale_max or max(numbers, default=0) or 1
    plot = width - label_width - right
    groups = []
    y = top
    for name, tallies in rows:
        bars = []
        for n, f in enumerate(figures):
            value = tallies[f.id].number if f.id in tallies else None
            if value:
                bars.append(Bar(label_width, y + n * bar, plot * value / scale_max, bar - 2,
                                COLOURS[n % len(COLOURS)], value, f.label))
        groups.append((name, y + len(figures) * bar / 2, bars))
        y += len(figures) * bar + gap
    legend = [(COLOURS[n % len(COLOURS)], f"{f.label}({f.unit})") for n, f in enumerate(figures)]
    return Chart(width, int(y - gap + top), label_width, legend, groups, title + "、".join(f.label for f in figures))
