"""Form logic as data: which items a form shows for given values (`show_when` on items and sections), and the
instruction the paper form and the site print for a conditional item.

The one evaluator: the web form, the API's quick check, the JSON Schema, the record view and the exports all
ask it. Pure: stored values in, hidden item ids out. Conditions only look back (handbook check refuses one that
names a later item), so one pass in reading order decides; a hidden item has no value for the items after it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .formmodel import Condition, Form, Item
from .kinds import CHECK_VALUES, ITEM_KINDS, YESNO_VALUES

# The kinds a condition may look at: those whose value is one of a few known answers.
CONDITION_KINDS = ("yesno", "check", "choice")


def conditioned(form: Form) -> list[tuple[Item, list[Condition]]]:
    """Every item in reading order with the conditions it is shown under (its section's, then its own)."""
    out = [(item, [item.show_when] if item.show_when else []) for item in form.header]
    for section in form.sections:
        outer = [section.show_when] if section.show_when else []
        out += [(item, outer + ([item.show_when] if item.show_when else [])) for item in section.items]
    out += [(item, [item.show_when] if item.show_when else []) for item in form.signatures]
    return out


# (item id, its conditions, its stored names) of each conditional item of a form, worked out once per Form
# object: exports ask for every row. Keyed by identity (a Form is not hashable), the Form kept beside its plan so
# that the id is not reused while it is cached.
_plans: dict[int, tuple[Form, list[tuple[str, list[Condition], tuple[str, ...]]]]] = {}


def _plan(form: Form) -> list[tuple[str, list[Condition], tuple[str, ...]]]:
    cached = _plans.get(id(form))
    if cached is None or cached[0] is not form:
        if len(_plans) > 1000:
            _plans.clear()
        cached = _plans[id(form)] = (form, [(item.id, c, tuple(value_names(item)))
                                            for item, c in conditioned(form) if c])
    return cached[1]


def has_conditions(form: Form) -> bool:
    return bool(_plan(form))


def holds(condition: Condition, values: Mapping[str, Any], hidden: set[str] = frozenset()) -> bool:
    """Whether `condition` holds for the stored (or posted) values; an item in `hidden` counts as unanswered."""
    if condition.op == "all":
        return all(holds(part, values, hidden) for part in condition.parts)
    if condition.op == "any":
        return any(holds(part, values, hidden) for part in condition.parts)
    value = None if condition.item in hidden else values.get(condition.item)
    if isinstance(value, str):
        matched = value in condition.values  # never "": the reader takes no empty answer
    elif isinstance(value, list | tuple):  # a multiple choice "is" V when V is among those chosen
        matched = any(isinstance(v, str) and v in condition.values for v in value)
    else:
        matched = False
    return not matched if condition.op == "is_not" else matched


def hidden_items(form: Form, values: Mapping[str, Any]) -> set[str]:
    """The ids of the items `values` hide."""
    hidden: set[str] = set()
    for item_id, conditions, _names in _plan(form):
        if not all(holds(c, values, hidden) for c in conditions):
            hidden.add(item_id)
    return hidden


def value_names(item: Item) -> list[str]:
    """The stored names of an item: a check item's note and photos go with it, a signature's drawing too."""
    kind = ITEM_KINDS.get(item.kind)
    return [item.id] + [item.id + suffix for suffix in (kind.siblings if kind else ())]


def visible_values(form: Form, values: Mapping[str, Any]) -> Mapping[str, Any]:
    """`values` without what the hidden items hold (`values` itself when they hold nothing: do not change it)."""
    hidden = hidden_items(form, values)
    if not hidden:
        return values
    dropped = {name for item_id, _c, names in _plan(form) if item_id in hidden for name in names}
    if not dropped.intersection(values):  # as stored: the server never keeps what is hidden
        return values
    return {k: v for k, v in values.items() if k not in dropped}


# -- the instruction -----------------------------------------------------------------------------

def answer_text(item: Item | None, value: str) -> str:
    """How a stored answer reads: 是/否, 正常/异常, or the option itself."""
    if item is not None and item.kind == "yesno":
        return YESNO_VALUES.get(value, value)
    if item is not None and item.kind == "check":
        return CHECK_VALUES.get(value, value)
    return value


def phrase(condition: Condition, items: Mapping[str, Item]) -> str:
    """The condition in words: “发现可疑人物”为“是”."""
    if condition.op in ("all", "any"):
        joiner = ",且" if condition.op == "all" else ",或"
        return joiner.join(phrase(part, items) for part in condition.parts)
    item = items.get(condition.item)
    label = f"“{item.label if item else condition.item}”"
    answers = "或".join(f"“{answer_text(item, v)}”" for v in condition.values)
    return f"{label}{'不为' if condition.op == 'is_not' else '为'}{answers}"


def instruction(condition: Condition | None, form: Form, scope: str = "本项") -> str:
    """若“发现可疑人物”为“是”,填写本项 — the same words on the paper form, the site and the web form."""
    if condition is None:
        return ""
    return f"若{phrase(condition, {i.id: i for i in form.all_items()})},填写{scope}"
