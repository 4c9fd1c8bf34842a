"""CSV and XLSX exports of submissions: one row per record (its newest revision), one column per item of
the form, streamed from the database in batches so memory stays flat however many rows there are.

Spreadsheet formula injection: a text cell starting with = + - @ (or a tab / carriage return) is written
with a leading apostrophe, so Excel shows it as text instead of running it. Numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from formserver.base.inputs import clean_text
from handbook import conditions, scores
from handbook.formmodel import Form, Item
from handbook.kinds import CHECK_VALUES, YESNO_VALUES

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DRAWN = "已手写签名"
BASE_COLUMNS = ("记录编号", "表单", "表单版本", "填写人", "班组", "日期", "提交时间", "状态", "更正次数")


def neutralise(value: Any) -> Any:
    """A cell's text without invisible control or bidi characters (records stored before formserver.base.inputs
    stripped them may hold some), and a formula start made literal."""
    if not isinstance(value, str):
        return value
    value = clean_text(value)
    return "'" + value if value.startswith(FORMULA_START) else value


def _plain(item: Item, value: Any) -> Any:
    return "、".join(str(v) for v in value) if isinstance(value, list) else value


def _register(item: Item, value: Any) -> str:
    rows = []
    for row in value if isinstance(value, list) else []:
        cells = [f"{c.label}:{_text(c, row.get(c.id))}" for c in item.columns if row.get(c.id) not in (None, "")]
        rows.append(",".join(str(c) for c in cells))
    return "\n".join(rows)


# The export cell of each item kind: one entry per kind of handbook.kinds.ITEM_KINDS (a test checks the keys).
EXPORT_CELLS: dict[str, Callable[[Item, Any], Any]] = {
    "check": lambda item, value: CHECK_VALUES.get(value, str(value)),
    "yesno": lambda item, value: YESNO_VALUES.get(value, str(value)),
    "text": _plain, "person": _plain, "signature": _plain, "textarea": _plain, "number": _plain, "date": _plain,
    "time": _plain, "datetime": _plain, "choice": _plain,
    "photo": lambda item, value: len(value) if isinstance(value, list) else "",
    "table": _register,
}


def _text(item: Item, value: Any) -> Any:
    return "" if value is None else EXPORT_CELLS[item.kind](item, value)


def item_columns(form: Form) -> list[tuple[str, Item, str]]:
    """(header, item, key) per exported column: a check item gets its status and its note."""
    columns = []
    for item in form.all_items():
        columns.append((item.label, item, item.id))
        if item.kind == "check":
            columns.append((f"{item.label}(说明)", item, f"{item.id}_note"))
    return columns


def header(form: Form | None) -> list[str]:
    if form is None:
        return [*BASE_COLUMNS, "摘要"]
    return [*BASE_COLUMNS, *(c[0] for c in item_columns(form)), *([form.score.label] if form.score else [])]


def row(base: list[Any], form: Form | None, values: dict[str, Any], summary: str = "") -> list[Any]:
    if form is None:
        return [neutralise(v) for v in [*base, summary]]
    return [neutralise(v) for v in base] + item_cells(item_columns(form), values, logic_of(form)) + score_cells(
        form, values)


def score_cells(form: Form, values: dict[str, Any]) -> list[Any]:
    """The score column of a form that has one (a number, percent): the last column, after the items."""
    return [scores.percent(form, values)] if form.score else []


def logic_of(form: Form) -> Form | None:
    """The form when its answers may hide items (show_when), for item_cells; None spares the check per row."""
    return form if conditions.has_conditions(form) else None


def item_cells(columns: list[tuple[str, Item, str]], values: dict[str, Any], logic: Form | None = None) -> list[Any]:
    """The item columns of one record (`columns` from item_columns), neutralised; with `logic` (logic_of), an item
    the record's answers hide is an empty cell whatever was stored for it."""
    if logic is not None:
        values = conditions.visible_values(logic, values)
    cells = []
    for _label, item, key in columns:
        value = values.get(key)
        cell = value if key.endswith("_note") and value is not None else _text(item, value)
        if item.kind == "signature" and values.get(f"{key}_image"):
            cell = f"{cell}({DRAWN})" if cell else DRAWN  # the image itself is on the record page and its PDF
        cells.append(neutralise(cell))
    return cells


def csv_stream(head: list[str], rows: Iterable[list[Any]], chunk_rows: int = 1000) -> Iterator[str]:
    """CSV text in chunks of `chunk_rows` rows: UTF-8 with a byte-order mark so Excel opens the Chinese
    correctly. csv.writer.writerows formats a whole chunk in C (a Python call per row cost a fifth of a
    million-row export)."""
    out = io.StringIO()
    writer = csv.writer(out)
    out.write("\ufeff")
    writer.writerow(head)
    rows = iter(rows)
    while True:
        chunk = list(itertools.islice(rows, chunk_rows))
        writer.writerows(chunk)
        text = out.getvalue()
        if text:
            yield text
        if len(chunk) < chunk_rows:
            return
        out.seek(0)
        out.truncate()


def xlsx_file(head: list[str], rows: Iterable[list[Any]], title: str) -> IO[bytes]:
    """An .xlsx in a temporary file (openpyxl's write-only mode keeps memory flat), rewound for reading."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=_sheet_title(title))
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)
    cells = []
    for text in head:
        cell = WriteOnlyCell(sheet, value=text)
        cell.font = bold
        cells.append(cell)
    sheet.append(cells)
    for cells in rows:
        sheet.append([_xlsx_value(c) for c in cells])
    out = tempfile.TemporaryFile()  # noqa: SIM115 (handed to send_file, which closes it)
    workbook.save(out)
    out.seek(0)
    return out


def xlsx_cell(value: Any) -> Any:
    """A value as an XLSX cell other exports write: formulas neutralised, control characters dropped."""
    return _xlsx_value(neutralise(value))


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, str):
        # Control characters other than tab/newline are not allowed in XLSX cells.
        return "".join(ch for ch in value if ch in "\t\n" or ch >= " ")
    return value


def _sheet_title(title: str) -> str:
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in title)
    return cleaned[:31] or "记录"


def csv_text(head: list[str], rows: Iterable[list[Any]]) -> str:
    return "".join(csv_stream(head, rows))
