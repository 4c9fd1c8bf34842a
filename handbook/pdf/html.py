"""Print HTML for forms: one Jinja2 template for every form, one macro per item kind.

`form_html()` gives a self-contained page (CSS inline, the print font by @font-face from the local
cache) that WeasyPrint turns into the PDF and a browser opens from disk the same way. Given `values`
(item id → value, as stored by the form server) the same template prints a filled-in record: ticked
boxes and the text written on the lines, so paper and online records look alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from .. import scores
from ..conditions import instruction
from ..formmodel import Form, Item
from ..kinds import ITEM_KINDS
from ..model import Handbook
from .fonts import PrintFont, print_font

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES = PACKAGE_DIR / "templates"

# Chinese ordinal numbers for section headings (一、二、…).
_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    if n < 10:
        return _DIGITS[n]
    if n < 20:
        return "十" + (_DIGITS[n % 10] if n % 10 else "")
    if n < 100:
        return _DIGITS[n // 10] + "十" + (_DIGITS[n % 10] if n % 10 else "")
    return str(n)


_CSS_UNSAFE = frozenset("\"'\\<>&")


def css_string(text: object) -> Markup:
    """`text` as a quoted CSS string, safe inside <style>: quotes, backslashes, < > &, line breaks and
    other unprintable characters are written as hex escapes, so no user text can end the string, the
    rule or the <style> element."""
    out = []
    for ch in str(text):
        if ch in _CSS_UNSAFE or not ch.isprintable():
            out.append(f"\\{ord(ch):06x}")
        else:
            out.append(ch)
    return Markup('"' + "".join(out) + '"')


# -- values ------------------------------------------------------------------------------------
# Everything below turns whatever the form server stored into the few shapes the macros print.

_TRUE = {"yes", "y", "true", "1", "是", "on"}
_FALSE = {"no", "n", "false", "0", "否", "off"}
_OK = {"ok", "normal", "正常", "pass", "true", "yes"}
_FAULT = {"fault", "abnormal", "异常", "fail", "false", "no"}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        value = format(value, "f").rstrip("0").rstrip(".") if value % 1 else str(int(value))
    return str(value).strip()


@dataclass(frozen=True)
class Check:
    status: str | None = None  # "ok" | "fault" | None (not filled)
    note: str = ""
    other: str = ""  # a stored status we do not recognise: printed, never dropped


@dataclass(frozen=True)
class Choice:
    selected: frozenset[str] = frozenset()
    others: tuple[str, ...] = ()  # stored values that are not among the options


@dataclass(frozen=True)
class When:
    """Parts of a date, time or date-time; `raw` when the stored text could not be read."""

    year: str = ""
    month: str = ""
    day: str = ""
    hour: str = ""
    minute: str = ""
    raw: str = ""

    @property
    def filled(self) -> bool:
        return any((self.year, self.month, self.day, self.hour, self.minute, self.raw))


def _check(value: object, note: object = None) -> Check:
    if isinstance(value, Mapping):
        note = value.get("note", note)
        value = value.get("status", value.get("value"))
    elif isinstance(value, list | tuple) and len(value) == 2:
        value, note = value
    if value is None or value == "":
        return Check(note=_text(note))
    if isinstance(value, bool):
        return Check("ok" if value else "fault", _text(note))
    key = _text(value).lower()
    if key in _OK:
        return Check("ok", _text(note))
    if key in _FAULT:
        return Check("fault", _text(note))
    return Check(None, _text(note), other=_text(value))


def _yesno(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return "yes" if value else "no"
    key = _text(value).lower()
    return "yes" if key in _TRUE else "no" if key in _FALSE else None


def _choice(value: object, options: list[str]) -> Choice:
    if value is None or value == "":
        return Choice()
    values = [_text(v) for v in value] if isinstance(value, list | tuple | set | frozenset) else [_text(value)]
    values = [v for v in values if v]
    return Choice(frozenset(v for v in values if v in options), tuple(v for v in values if v not in options))


_DATE_RE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?")
_TIME_RE = re.compile(r"(\d{1,2})[:：时](\d{2})")


def _when(value: object, kind: str) -> When:
    if value is None or value == "":
        return When()
    if isinstance(value, dt.datetime):
        return When(str(value.year), str(value.month), str(value.day), f"{value.hour:02d}", f"{value.minute:02d}")
    if isinstance(value, dt.date):
        return When(str(value.year), str(value.month), str(value.day))
    if isinstance(value, dt.time):
        return When(hour=f"{value.hour:02d}", minute=f"{value.minute:02d}")
    text = _text(value)
    date = _DATE_RE.search(text) if kind in ("date", "datetime") else None
    rest = text[date.end():] if date else text
    time = _TIME_RE.search(rest) if kind in ("time", "datetime") else None
    if (kind == "date" and not date) or (kind == "time" and not time) or (kind == "datetime" and not date):
        return When(raw=text)
    parts = {}
    if date:
        parts.update(year=date[1], month=str(int(date[2])), day=str(int(date[3])))
    if time:
        parts.update(hour=f"{int(time[1]):02d}", minute=time[2])
    return When(**parts)


def normalise(item: Item, value: object, note: object = None) -> Any:
    """One stored value in the shape the item's macro prints."""
    kind = item.kind
    if kind == "check":
        return _check(value, note)
    if kind == "yesno":
        return _yesno(value)
    if kind == "choice":
        return _choice(value, item.options)
    if kind in ("date", "time", "datetime"):
        return _when(value, kind)
    if kind == "signature" and isinstance(value, Mapping):
        image = value.get("image")
        return {"name": _text(value.get("name", value.get("value"))),
                "date": _when(value.get("date", value.get("at")), "date"),
                # a drawn signature: only a PNG data URI (the print fetcher fetches nothing else anyway)
                "image": image if isinstance(image, str) and image.startswith("data:image/png;base64,") else "",
                "time": _text(value.get("time"))}
    if kind == "signature":
        return {"name": _text(value), "date": When(), "image": "", "time": ""}
    if kind == "table":
        rows = value if isinstance(value, list | tuple) else []
        return [{c.id: normalise(c, row.get(c.id), row.get(f"{c.id}_note")) for c in item.columns}
                for row in rows if isinstance(row, Mapping)]
    return _text(value)


# -- the page model ------------------------------------------------------------------------------


@dataclass
class Field:
    item: Item
    value: Any
    span: int = 1  # label/value pairs it takes in a grid row
    one_line: bool = True  # its option boxes fit one line of its cell: print them as one unbreakable run
    when: str = ""  # its show_when as an instruction: 若“发现可疑人物”为“是”,填写本项


@dataclass
class Run:
    """Consecutive items of a section printed together: a grid of simple items, or one register."""

    kind: str  # "grid" | "register"
    fields: list[Field]
    rows: list[list[Field]] = field(default_factory=list)  # grid: fields packed into rows
    caption: bool = True  # register: print its own caption (else the section heading stands for it)


@dataclass
class SectionView:
    number: str
    title: str
    refs: list[str]
    runs: list[Run]
    help: str = ""  # help of a register whose caption the heading replaces
    when: str = ""  # the section's show_when as an instruction (…,填写本栏)


@dataclass
class ColumnView:
    item: Item
    width: float  # percent of the register's width


@dataclass
class FormView:
    form: Form
    page: str  # CSS page name
    landscape: bool
    roles: str
    per_row: int  # label/value pairs in a full grid row
    header_rows: list[list[Field]]
    sections: list[SectionView]
    signatures: list[Field]
    columns: dict[str, tuple[float, list[ColumnView]]] = field(default_factory=dict)
    score: ScoreView | None = None


@dataclass
class ScoreView:
    label: str  # 巡查合格率
    value: str  # 91.7%(11/12) on a record, '' on a blank form
    rule: str  # how it is worked out


def _printed(items: Iterable[Item]) -> list[Item]:
    return [i for i in items if ITEM_KINDS[i.kind].printed] if items else []


def _options_em(item: Item) -> float:
    """Width of a row of option boxes, in characters."""
    return sum(len(o) + 1.8 for o in item.options)


# Page content width (A4 less the side margins) and label column widths, in mm; the width of a
# character of 10.5 pt text and of one option's box, its gap and the space before the next option.
_CONTENT_MM = {False: 182.0, True: 269.0}
_LABEL_MM = {"fields": 22.0, "items": 44.0}
_EM_MM = 3.7
_OPTION_MM = 3.4 + 1.2 + _EM_MM


def _one_line(item: Item, span: int, per_row: int, landscape: bool, grid: str) -> bool:
    """Whether an item's option boxes surely fit one line of its value cell. They are then printed
    as one unbreakable run (much quicker to lay out than a run per option); else each option is kept
    whole on its own and the line may wrap between options."""
    options = {"yesno": ["是", "否"], "check": ["正常", "异常"]}.get(item.kind, item.options)
    if not options:
        return True
    label = _LABEL_MM[grid]
    value = (_CONTENT_MM[landscape] - per_row * label) / per_row
    cell = span * value + (span - 1) * label - 4.0  # less the padding
    return sum(len(o) * _EM_MM + _OPTION_MM for o in options) <= cell


def _short(item: Item) -> bool:
    """Fits half a grid row (about 50 mm): a name, a number, a date or time, 是/否, a few options."""
    if item.help or item.show_when:
        return False  # the help note (or the instruction) needs the width
    if item.kind in ("person", "date", "time", "number", "yesno"):
        return True
    if item.kind == "text":
        return not item.max_length or item.max_length <= 40
    if item.kind == "choice":
        return _options_em(item) <= 14
    return False  # check (boxes + note line), textarea, datetime, signature, table


def _span(item: Item, per_row: int) -> int:
    """Label/value pairs an item takes: one when short; on a landscape row (three pairs) two for
    options, checks and notes, so that a short item can sit beside them; else the whole row."""
    if _short(item):
        return 1
    if per_row >= 3 and item.kind not in ("textarea", "table", "signature"):
        return per_row - 1
    return per_row


def _pack(fields: list[Field], per_row: int) -> list[list[Field]]:
    """Fields side by side in reading order, at most `per_row` pairs to a row."""
    rows: list[list[Field]] = []
    current: list[Field] = []
    used = 0
    for f in fields:
        if used + f.span > per_row:
            rows.append(current)
            current, used = [], 0
        current.append(f)
        used += f.span
    if current:
        rows.append(current)
    return rows


# Estimated width of a register column's content, in em (characters of 10 pt Chinese).
_COLUMN_EM = {"time": 4.5, "date": 6.5, "datetime": 9, "number": 4.5, "yesno": 4.5, "check": 7,
              "person": 5.5, "text": 9}
_SEQ_EM = 2.6  # the 序号 column


def _columns(item: Item) -> tuple[float, list[ColumnView]]:
    """The width of the 序号 column and of each column, in percent of the register's width.

    Columns with options (choice, yesno, check) list them once in the column header, and their cells
    are plain ruled cells to write the answer in (a filled-in record prints it there, ticked): option
    boxes in every row cost the PDF renderer far more than they help on paper."""
    views = []
    for col in item.columns:
        if col.kind == "choice":
            est = max(4.5, max(len(o) for o in col.options) + 2.0, min(len(col.label), 8) * 0.9 + 1)
        else:
            est = _COLUMN_EM.get(col.kind, 6)
            if col.kind == "text" and col.max_length and col.max_length <= 12:
                est = max(4.0, col.max_length * 0.6)
        est = max(est, min(len(col.label), 8) * 0.9 + 1)
        views.append(ColumnView(col, est))
    total = sum(v.width for v in views) + _SEQ_EM
    for v in views:
        v.width = round(100 * v.width / total, 2)
    return round(100 - sum(v.width for v in views), 2), views


def _view(hb: Handbook, form: Form, values: Mapping[str, Any], date: dt.date | None, page: str) -> FormView:
    def make(item: Item, grid: str = "items") -> Field:
        if item.id in values:
            value = values[item.id]
        elif date is not None and item.prefill == "today":
            value = date
        else:
            value = None
        span = _span(item, per_row)
        return Field(item, normalise(item, value, values.get(f"{item.id}_note")), span,
                     _one_line(item, span, per_row, landscape, grid), instruction(item.show_when, form))

    landscape = form.orientation == "landscape"
    per_row = 3 if landscape else 2
    header = _pack([make(i, "fields") for i in _printed(form.header)], per_row)
    sections, columns = [], {}
    for number, section in enumerate(form.sections, 1):
        runs: list[Run] = []
        for item in _printed(section.items):
            f = make(item)
            if item.kind == "table":
                runs.append(Run("register", [f]))
                columns[item.id] = _columns(item)
            elif runs and runs[-1].kind == "grid":
                runs[-1].fields.append(f)
            else:
                runs.append(Run("grid", [f]))
        for run in runs:
            if run.kind == "grid":
                run.rows = _pack(run.fields, per_row)
        view = SectionView(chinese_number(number), section.title, list(section.refs), runs,
                           when=instruction(section.show_when, form, "本栏"))
        first = runs[0] if runs else None
        if first and first.kind == "register" and first.fields[0].item.label == section.title:
            # the register is what the section is: its caption goes into the section heading
            item = first.fields[0].item
            first.caption = False
            view.help = item.help
            view.refs += [r for r in item.refs if r not in view.refs]
        sections.append(view)
    roles = "、".join(hb.organisation.roles[r].name if r in hb.organisation.roles else r for r in form.roles)
    score = None
    if form.score is not None:
        result = scores.score_of(form, values)
        score = ScoreView(form.score.label, f"{result.percent:g}%({result.passed}/{result.answered})" if result
                          else "", scores.rule_text(form))
    return FormView(form, page, landscape, roles, per_row, header, sections,
                    [make(i) for i in _printed(form.signatures)], columns, score)


# -- Jinja ----------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,  # every template here is HTML; CSS strings go through css_string
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters["css_string"] = css_string
    env.globals["ITEM_KINDS"] = ITEM_KINDS
    missing = missing_macros(env)
    if missing:  # a kind added to ITEM_KINDS without its print macro: a programming error
        raise RuntimeError(f"templates/kinds.html.j2 has no macro for: {', '.join(missing)}")
    return env


def missing_macros(env: jinja2.Environment | None = None) -> list[str]:
    """Printed kinds without an item macro, and column kinds without a `cell_<kind>` macro."""
    module = (env or environment()).get_template("kinds.html.j2").module
    missing = []
    for kind in ITEM_KINDS.values():
        if kind.printed and not hasattr(module, kind.name):
            missing.append(kind.name)
        if kind.column and not hasattr(module, f"cell_{kind.name}"):
            missing.append(f"cell_{kind.name}")
    return missing


@lru_cache(maxsize=1)
def static_css() -> str:
    """templates/form.css: the print rules that do not depend on the form."""
    return (TEMPLATES / "form.css").read_text(encoding="utf-8")


def pages_html(hb: Handbook, entries: list[tuple[Form, Mapping[str, Any] | None]], *,
               date: dt.date | None = None, title: str | None = None, font: PrintFont | None = None) -> str:
    """One print document holding `entries` (form, values) in order, each starting on a new page."""
    font = font or print_font(hb.root)
    views = [_view(hb, form, values or {}, date, f"form{n}") for n, (form, values) in enumerate(entries, 1)]
    return environment().get_template("form.html.j2").render(
        views=views, org=hb.organisation, font=font, css=Markup(static_css()),
        title=title or (entries[0][0].title if entries else ""), filled=any(v for _, v in entries),
    )


def form_html(hb: Handbook, form: Form | str, *, values: Mapping[str, Any] | None = None,
              date: dt.date | None = None, font: PrintFont | None = None) -> str:
    """The print HTML of one form: blank, or filled in with `values` (item id → value).

    Values: check "ok"/"fault" (or {"status": …, "note": …}); yesno "yes"/"no"/bool; choice an option
    or a list of options; date/time/datetime as date/time/datetime objects or ISO text; table a list of
    row dicts (column id → value); anything else as text. `date` fills the items with `prefill: today`
    that have no value.
    """
    if isinstance(form, str):
        form = hb.form(form)
    return pages_html(hb, [(form, values)], date=date, title=f"{form.title}({form.number})", font=font)
