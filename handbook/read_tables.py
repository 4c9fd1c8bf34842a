"""Read structured tables (regulations/tables/*.yaml): penalties, duties, meetings, hours, deadlines.

Each kind is one entry in ROW_READERS: its fields and how to build its row. Every row is a clause
with an id in its regulation's number space, so it can be cited like any clause.
"""

from __future__ import annotations

from collections.abc import Callable

from .body import CLAUSE_ID, REGULATION_ID
from .fields import Fields
from .model import (
    FREQUENCIES,
    SANCTIONS,
    TABLE_KINDS,
    WEEKDAYS,
    DeadlineRow,
    DutyRow,
    MeetingRow,
    PenaltyRow,
    Row,
    ServiceHoursRow,
    Table,
)
from .problems import Problem
from .yamlsrc import Mapping, Node

TABLE_KEYS = ("kind", "regulation", "title", "description", "rows")


def _ids(f: Fields, m: Mapping, key: str) -> tuple[str, ...]:
    return tuple(value for value, _ in f.text_list(m, key))


def _penalty(f: Fields, m: Mapping, row_id: str) -> Row | None:
    sanctions = []
    for value, line in f.text_list(m, "sanctions", required=True):
        if value in SANCTIONS:
            sanctions.append(value)
        else:
            f.problem(line, "bad-choice", field="sanctions", value=value, hint="", allowed="、".join(SANCTIONS))
    fine, fine_max = f.integer(m, "fine"), f.integer(m, "fine_max")
    if fine is not None and fine_max is not None and fine_max < fine:
        f.problem(f.line(m, "fine_max"), "fine-range", fine=fine, fine_max=fine_max)
    return PenaltyRow(row_id, m.line, f.text(m, "offence") or "", tuple(sanctions), fine, fine_max,
                      f.text(m, "condition", False) or "", _ids(f, m, "violates"))


def _duty(f: Fields, m: Mapping, row_id: str) -> Row | None:
    return DutyRow(row_id, m.line, f.text(m, "role") or "", f.text(m, "duty") or "",
                   f.text(m, "department", False) or "")


def _meeting(f: Fields, m: Mapping, row_id: str) -> Row | None:
    return MeetingRow(row_id, m.line, f.text(m, "name") or "", f.choice(m, "frequency", FREQUENCIES) or "daily",
                      f.text(m, "chair") or "", f.text(m, "purpose") or "",
                      f.choice(m, "weekday", WEEKDAYS, required=False) or "", f.time(m, "time") or "",
                      _ids(f, m, "attendees"), f.text(m, "form", False) or "")


def _hours(f: Fields, m: Mapping, row_id: str) -> Row | None:
    return ServiceHoursRow(row_id, m.line, f.text(m, "service") or "", f.text(m, "hours") or "",
                           f.time(m, "time_from") or "", f.time(m, "time_to") or "",
                           f.text(m, "days", False) or "", f.text(m, "note", False) or "")


def _deadline(f: Fields, m: Mapping, row_id: str) -> Row | None:
    return DeadlineRow(row_id, m.line, f.text(m, "what") or "", f.text(m, "limit") or "",
                       f.text(m, "note", False) or "", _ids(f, m, "refs"))


# kind → (allowed keys, required keys, reader)
ROW_READERS: dict[str, tuple[tuple[str, ...], tuple[str, ...], Callable[[Fields, Mapping, str], Row | None]]] = {
    "penalties": (("id", "offence", "sanctions", "fine", "fine_max", "condition", "violates"),
                  ("id", "offence", "sanctions"), _penalty),
    "duties": (("id", "role", "duty", "department"), ("id", "role", "duty"), _duty),
    "meetings": (("id", "name", "frequency", "weekday", "time", "chair", "attendees", "form", "purpose"),
                 ("id", "name", "frequency", "chair", "purpose"), _meeting),
    "service_hours": (("id", "service", "hours", "time_from", "time_to", "days", "note"),
                      ("id", "service", "hours"), _hours),
    "deadlines": (("id", "what", "limit", "note", "refs"), ("id", "what", "limit"), _deadline),
}
assert set(ROW_READERS) == set(TABLE_KINDS)


def read_table(node: Node | None, table_id: str, path: str, problems: list[Problem]) -> Table | None:
    f = Fields(path, problems)
    m = f.mapping(node, "表格文件", TABLE_KEYS, ("kind", "regulation", "title", "rows"))
    if m is None:
        return None
    kind = f.choice(m, "kind", TABLE_KINDS)
    regulation_id = f.ident(m, "regulation", REGULATION_ID, "KF-21")
    rows: list[Row] = []
    entries = f.sequence(m, "rows", required=True)
    if kind is None or regulation_id is None:
        return None
    allowed, required, reader = ROW_READERS[kind]
    for entry in entries:
        item = f.mapping(entry, "rows", allowed, required)
        if item is None:
            continue
        row_id = f.ident(item, "id", CLAUSE_ID, f"{regulation_id}.20")
        if row_id is None:
            continue
        if row_id.rsplit(".", 1)[0] != regulation_id:
            f.problem(f.line(item, "id"), "clause-prefix", id=row_id, reg=regulation_id)
            continue
        row = reader(f, item, row_id)
        if row is not None:
            rows.append(row)
    return Table(table_id, kind, regulation_id, f.text(m, "title") or "", rows, path, m.line,
                 f.text(m, "description", False) or "")
