"""The roster as a spreadsheet: reading an uploaded XLSX or CSV, checking every row, and the rows an export
writes (the same columns, so an export imports back unchanged).

Columns (the header row names them, in any order): 日期, 班次, 姓名或用户名, 区域 (may be blank: the whole
centre), 班组 (may be blank: the importer's team). Shifts and areas are taken by their name or id in
organisation.yaml, a person by username or display name (a display name two people share is refused).
Nothing here writes: `check` returns the rows or every row's problems, and the view imports all or nothing.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from formserver.base.inputs import ascii_width, clean_text, has_surrogate
from formserver.db.models import User
from formserver.records.exports import FORMULA_START
from handbook.model import Organisation

COLUMNS = ("日期", "班次", "姓名或用户名", "区域", "班组")
REQUIRED = ("日期", "班次", "姓名或用户名")
ALIASES = {"姓名": "姓名或用户名", "用户名": "姓名或用户名", "人员": "姓名或用户名", "值班人员": "姓名或用户名",
           "班组(可空)": "班组", "区域(可空)": "区域", "日期(年-月-日)": "日期"}
MAX_ROWS = 5000  # a month of a large team (31 days × 3 shifts × 50 people) is about 4,700 rows
MAX_ERRORS = 200  # listed; beyond that the page says how many more
MAX_CELL = 100  # characters: a name or a date, never a paragraph
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日")
XLSX_MAGIC = b"PK\x03\x04"


class Refused(ValueError):
    """The file as a whole cannot be read (not a table, too many rows, no header): nothing was imported."""


@dataclass(frozen=True)
class RowProblem:
    row: int  # the spreadsheet's row number (the header is row 1)
    column: int  # 0-based index in the file
    name: str  # the column's name
    problem: str
    fix: str

    @property
    def letter(self) -> str:
        return column_letter(self.column)

    def __str__(self) -> str:
        return f"第 {self.row} 行 第 {self.letter} 列({self.name}):{self.problem} — {self.fix}"


@dataclass(frozen=True)
class PlannedEntry:
    row: int
    day: dt.date
    shift: str  # id
    user: User
    area: str  # id or ''
    team: str


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA (as Excel names columns)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


# -- reading the file -----------------------------------------------------------------------------------


def read_table(filename: str, data: bytes) -> list[list[Any]]:
    """The file's rows (header first) as lists of cells: XLSX by its content (a zip), CSV otherwise."""
    if not data.strip():
        raise Refused("上传的文件是空的。请选择填好的排班表(XLSX 或 CSV)。")
    if data.startswith(XLSX_MAGIC):
        return _xlsx_rows(data)
    if filename.lower().endswith((".xlsx", ".xlsm")):
        raise Refused("这个文件名是 .xlsx,内容却不是 Excel 工作簿。请在 Excel 中“另存为”Excel 工作簿或 CSV 后再上传。")
    return _csv_rows(data)


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as error:
        raise Refused(f"无法读取这个 Excel 文件({type(error).__name__})。"
                      "请在 Excel 中另存为 .xlsx 后再上传。") from None
    try:
        sheet = book.worksheets[0]
        rows = []
        for values in sheet.iter_rows(values_only=True):
            rows.append(list(values))
            if len(rows) > MAX_ROWS + 1:
                raise Refused(f"排班表超过 {MAX_ROWS} 行。请按周或按月分成几个文件上传。")
        return rows
    finally:
        book.close()


def decode(data: bytes) -> str:
    """CSV bytes as text: UTF-8 (with or without the BOM Excel writes), else GB18030 (a superset of GBK, which
    Excel in China saves "CSV" as)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise Refused("无法识别文件的编码。请在 Excel 中另存为“CSV UTF-8(逗号分隔)”或 .xlsx 后再上传。") from None


def _csv_rows(data: bytes) -> list[list[Any]]:
    text = decode(data)
    if "\x00" in text:
        raise Refused("这个文件不是 CSV 文本(含有二进制内容)。请上传 .xlsx 或 CSV 文件。")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    rows = []
    for values in csv.reader(io.StringIO(text), delimiter=delimiter):
        rows.append(values)
        if len(rows) > MAX_ROWS + 1:
            raise Refused(f"排班表超过 {MAX_ROWS} 行。请按周或按月分成几个文件上传。")
    return rows


# -- checking the rows ----------------------------------------------------------------------------------


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = clean_text(str(value)).strip()
    # An export writes a text starting like a formula with an apostrophe (records.exports.neutralise): read back.
    return text[1:] if text.startswith("'") and text[1:2] in FORMULA_START else text


def _header(row: list[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, value in enumerate(row):
        name = _cell_text(value).replace(" ", "")
        name = ALIASES.get(name, name)
        if name in COLUMNS and name not in found:
            found[name] = index
    missing = [c for c in REQUIRED if c not in found]
    if missing:
        raise Refused(f"第 1 行应是表头,缺少列:{'、'.join(missing)}。请下载排班表模板,"
                      f"第 1 行依次写 {'、'.join(COLUMNS)}(区域、班组可以留空)。")
    return found


def parse_day(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = ascii_width(_cell_text(value)).replace(" ", "")
    for fmt in DATE_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


@dataclass
class Context:
    """What checking needs to know: the organisation, the people, whose team the importer may roster."""

    org: Organisation
    people: list[User]  # active accounts
    teams: dict[str, str]  # accepted text (id or name) → team id
    own_team: str | None  # a supervisor's team (only that one may be imported); None: any (managers)
    earliest: dt.date
    latest: dt.date


def _by_name_or_id(named: Iterable[Any], text: str) -> str | None:
    for item in named:
        if text in (item.id, item.name):
            return item.id
    return None


def _person(people: list[User], text: str) -> tuple[User | None, str, str]:
    """(user, problem, fix)."""
    by_username = [u for u in people if u.username == text]
    if by_username:
        return by_username[0], "", ""
    named = [u for u in people if u.display_name == text]
    if len(named) == 1:
        return named[0], "", ""
    if named:
        names = "、".join(u.username for u in named)
        return None, f"有 {len(named)} 位同名人员“{text}”", f"请改填用户名({names})中的一个"
    return None, f"没有姓名或用户名为“{text}”的在职账号", "请核对姓名(与系统中的显示名一致)或改填用户名"


def check(rows: list[list[Any]], ctx: Context) -> tuple[list[PlannedEntry], list[RowProblem]]:
    """Every data row as an entry, or the problems of every row (both never at once: any problem, no entries)."""
    if not rows:
        raise Refused("文件里没有内容。请在第 1 行写表头,从第 2 行起每行一人一班。")
    columns = _header(rows[0])
    shifts = list(ctx.org.shifts.values())
    areas = list(ctx.org.areas.values())
    planned: list[PlannedEntry] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[dt.date, str, int], int] = {}
    for number, row in enumerate(rows[1:], start=2):
        cells = {name: _cell_text(row[i]) if i < len(row) else "" for name, i in columns.items()}
        if not any(cells.values()):
            continue  # blank lines between weeks are common in hand-kept sheets

        def problem(name: str, what: str, fix: str, number: int = number) -> None:
            problems.append(RowProblem(number, columns[name], name, what, fix))

        too_long = [n for n, v in cells.items() if len(v) > MAX_CELL or has_surrogate(v)]
        for name in too_long:
            problem(name, f"内容过长或含无法识别的字符(最多 {MAX_CELL} 个字)", "请只填写这一格应有的内容")
        if too_long:
            continue
        raw_day = row[columns["日期"]] if columns["日期"] < len(row) else None
        day = parse_day(raw_day)
        if not cells["日期"]:
            problem("日期", "日期没有填写", "请填写值班日期,例如 2026-12-07")
        elif day is None:
            problem("日期", f"“{cells['日期']}”不是日期", "请按“年-月-日”填写,例如 2026-12-07")
        elif not ctx.earliest <= day <= ctx.latest:
            problem("日期", f"{day} 不在可排班的日期范围内({ctx.earliest} 至 {ctx.latest})", "请核对年份")
            day = None
        shift = _by_name_or_id(shifts, cells["班次"]) if cells["班次"] else None
        if not cells["班次"]:
            problem("班次", "班次没有填写", f"请填写 {'、'.join(s.name for s in shifts)} 之一")
        elif shift is None:
            problem("班次", f"没有叫“{cells['班次']}”的班次", f"请填写 {'、'.join(s.name for s in shifts)} 之一")
        user = None
        if not cells["姓名或用户名"]:
            problem("姓名或用户名", "值班人员没有填写", "请填写人员的姓名或用户名")
        else:
            user, what, fix = _person(ctx.people, cells["姓名或用户名"])
            if user is None:
                problem("姓名或用户名", what, fix)
        area = ""
        if cells.get("区域"):
            area = _by_name_or_id(areas, cells["区域"]) or ""
            if not area:
                problem("区域", f"没有叫“{cells['区域']}”的区域",
                        f"请填写 {'、'.join(a.name for a in areas)} 之一,或留空(不分区域)")
        team = _team(cells.get("班组", ""), user, ctx, problem)
        if (problems and problems[-1].row == number) or None in (day, shift, user, team):
            continue
        key = (day, shift, user.id)
        if key in seen:
            shift_name = ctx.org.shifts[shift].name
            problem("姓名或用户名", f"{user.display_name} 在 {day} {shift_name} 已排在第 {seen[key]} 行",
                    "同一人同一天同一班次只排一次:请删除重复的一行")
            continue
        seen[key] = number
        planned.append(PlannedEntry(number, day, shift, user, area, team))
    if not planned and not problems:
        raise Refused("表头下面没有排班行。请从第 2 行起每行填写一人一班。")
    return ([] if problems else planned), problems


def _team(text: str, user: User | None, ctx: Context, problem) -> str | None:
    if text:
        team = ctx.teams.get(text)
        if team is None:
            problem("班组", f"没有叫“{text}”的班组", f"请填写 {'、'.join(sorted(set(ctx.teams.values())))} 之一,或留空")
            return None
    elif ctx.own_team is not None:
        team = ctx.own_team
    else:
        team = user.team if user else ""
    if ctx.own_team is not None and team != ctx.own_team:
        problem("班组", f"您只能导入本班组({ctx.own_team})的排班", "请删除其他班组的行,或请客服经理导入")
        return None
    return team


# -- what an export writes --------------------------------------------------------------------------------


def person_label(user: User, ambiguous: set[str]) -> str:
    """The display name, or the username where two people share that name (so the file imports back)."""
    return user.username if user.display_name in ambiguous else user.display_name


def ambiguous_names(people: Iterable[User]) -> set[str]:
    counts: dict[str, int] = {}
    for u in people:
        counts[u.display_name] = counts.get(u.display_name, 0) + 1
    return {name for name, n in counts.items() if n > 1}


