"""Read form definitions (checklists/<id>.yaml)."""

from __future__ import annotations

import re

from . import datebounds
from .fields import Fields
from .formmodel import Form, FormSection, Item
from .kinds import COMMON_FIELDS, ITEM_KINDS, OPTION_SOURCES, PREFILLS
from .problems import Problem, did_you_mean
from .read_conditions import read_condition
from .read_score import read_score
from .yamlsrc import Mapping, Node

FORM_ID = re.compile(r"[a-z][a-z0-9-]*")
ITEM_ID = re.compile(r"[a-z][a-z0-9_]*")
FORM_KEYS = ("id", "title", "number", "revision", "serves", "orientation", "roles", "description", "header",
             "sections", "signatures", "score")
SECTION_KEYS = ("title", "ref", "show_when", "items")
LOGIC_FIELDS = ("show_when",)  # any item outside a register may have them (handbook.read_conditions)
ALL_ITEM_FIELDS = tuple(dict.fromkeys((*COMMON_FIELDS, *LOGIC_FIELDS,
                                       *(e for k in ITEM_KINDS.values() for e in k.extras))))
# Names that would clash with WTForms/Flask-WTF form attributes when items become form fields.
RESERVED_ITEM_IDS = {"data", "errors", "meta", "populate_obj", "process", "validate", "csrf_token",
                     "submission_id", "hidden_tag", "is_submitted", "validate_on_submit"}


def read_form(node: Node | None, file_stem: str, path: str, problems: list[Problem]) -> Form | None:
    f = Fields(path, problems)
    m = f.mapping(node, "表单文件", FORM_KEYS, ("id", "title", "number", "revision", "serves", "sections"))
    if m is None:
        return None
    form_id = f.ident(m, "id", FORM_ID, "patrol")
    if form_id and form_id != file_stem:
        f.problem(f.line(m, "id"), "form-file-name", name=f"{file_stem}.yaml", id=form_id)
    seen: dict[str, int] = {}
    header = _items(f, m, "header", seen)
    sections = []
    for entry in f.sequence(m, "sections", required=True):
        section = f.mapping(entry, "sections", SECTION_KEYS, ("title", "items"))
        if section is None:
            continue
        show_when = read_condition(f, section.items["show_when"]) if "show_when" in section.items else None
        sections.append(FormSection(f.text(section, "title") or "", _items(f, section, "items", seen),
                                    section.line, _refs(f, section), show_when))
    signatures = _items(f, m, "signatures", seen)
    every = header + [i for s in sections for i in s.items] + signatures
    _check_training_results(f, every)
    score = read_score(f, m.items["score"], every) if "score" in m.items else None
    if form_id is None:
        return None
    return Form(
        id=form_id, title=f.text(m, "title") or "", number=f.text(m, "number") or "",
        revision=f.text(m, "revision") or "", serves=[v for v, _ in f.text_list(m, "serves", required=True)],
        orientation=f.choice(m, "orientation", ("portrait", "landscape"), required=False, default="portrait")
        or "portrait",
        roles=[v for v, _ in f.text_list(m, "roles")], description=f.text(m, "description", False) or "",
        header=header, sections=sections, signatures=signatures, path=path, line=m.line, lines=dict(m.key_lines),
        score=score)


def _check_training_results(f: Fields, items: list[Item]) -> None:
    """`training_results: true` marks THE person assessed (the server links their training results): one."""
    marked = [i for i in items if i.training_results]
    for item in marked[1:]:
        f.problem(item.line, "form-training-results", id=item.id,
                  detail=f"一张表单只能有一个被考核人员,“{marked[0].id}” 已经标记了 training_results")


def _refs(f: Fields, m: Mapping) -> list[str]:
    return [v for v, _ in f.text_list(m, "ref", single_ok=True)]


def _items(f: Fields, m: Mapping, key: str, seen: dict[str, int], in_table: str = "") -> list[Item]:
    """Items of a list; `in_table` is the id of the register whose columns these are."""
    items = []
    for entry in f.sequence(m, key, required=(key == "items")):
        item = _item(f, entry, key, seen, in_table)
        if item is not None:
            items.append(item)
    return items


def _date_bound(f: Fields, m: Mapping, key: str) -> str:
    text = f.text(m, key, required=False) or ""
    if text and not datebounds.valid_bound(text):
        f.problem(f.line(m, key), "date-bound", field=key, value=text, examples=datebounds.EXAMPLES)
        return ""
    return text


def _item(f: Fields, entry: Node, key: str, seen: dict[str, int], in_table: str) -> Item | None:
    m = f.mapping(entry, key, ALL_ITEM_FIELDS, ("id", "kind", "label"))
    if m is None:
        return None
    item_id = f.ident(m, "id", ITEM_ID, "fire_exit_clear")
    kind_name = f.choice(m, "kind", ITEM_KINDS)
    label = f.text(m, "label") or ""
    if item_id is None or kind_name is None:
        return None
    if item_id in RESERVED_ITEM_IDS:
        f.problem(f.line(m, "id"), "bad-choice", field="id", value=item_id, hint="(这是保留名称)",
                  allowed="其他名称")
    if item_id in seen:
        f.problem(f.line(m, "id"), "duplicate-id", id=item_id, other=f"第 {seen[item_id]} 行")
    seen[item_id] = f.line(m, "id")
    kind = ITEM_KINDS[kind_name]
    for extra in ALL_ITEM_FIELDS:
        if extra in m.items and extra not in (*COMMON_FIELDS, *LOGIC_FIELDS) and extra not in kind.extras:
            f.problem(f.line(m, extra), "form-item-kind-field", field=extra, kind=kind_name)
    if in_table and not kind.column:
        f.problem(f.line(m, "kind"), "form-nested-table", id=in_table, kind=kind_name)
    prefill = f.text(m, "prefill", required=False) or ""
    if prefill and prefill not in PREFILLS:
        f.problem(f.line(m, "prefill"), "bad-choice", field="prefill", value=prefill,
                  hint=did_you_mean(prefill, PREFILLS), allowed="、".join(PREFILLS))
    item = Item(item_id, kind_name, label, m.line, required=f.boolean(m, "required"), refs=_refs(f, m),
                help=f.text(m, "help", False) or "", prefill=prefill)
    if kind_name == "number":
        item.unit = f.text(m, "unit", False) or ""
        item.min, item.max = f.integer(m, "min"), f.integer(m, "max")
        if item.min is not None and item.max is not None and item.min > item.max:
            f.problem(m.line, "number-range", id=item_id, min=item.min, max=item.max)
    elif kind_name in ("date", "datetime"):
        item.earliest, item.latest = _date_bound(f, m, "min"), _date_bound(f, m, "max")
    elif kind_name == "choice":
        item.options = [v for v, _ in f.text_list(m, "options")]
        item.options_from = f.choice(m, "options_from", OPTION_SOURCES, required=False) or ""
        item.multiple = f.boolean(m, "multiple")
        if bool(item.options) == bool(item.options_from):
            f.problem(m.line, "form-options", id=item_id)
    elif kind_name == "table":
        item.columns = _items(f, m, "columns", {}, in_table=item_id)
        item.rows = f.integer(m, "rows") or 10
        if not item.columns:
            f.problem(m.line, "form-columns", id=item_id)
    elif kind_name == "person":
        item.training_results = f.boolean(m, "training_results")
        if item.training_results and in_table:
            f.problem(f.line(m, "training_results"), "form-training-results", id=item_id,
                      detail=f"登记表 “{in_table}” 的列不能标记 training_results")
            item.training_results = False
    if "show_when" in m.items:
        if in_table:  # a register's rows are all alike; a column cannot come and go
            f.problem(f.line(m, "show_when"), "form-condition", detail=f"登记表 “{in_table}” 的列不能有 show_when")
        else:
            item.show_when = read_condition(f, m.items["show_when"])
    if "lines" in kind.extras:
        item.lines = f.integer(m, "lines") or 3
    if "max_length" in kind.extras:
        item.max_length = f.integer(m, "max_length")
    return item
