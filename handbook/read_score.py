"""Read a form's `score:` strictly: a label and the check items it counts, each with a whole-number weight."""

from __future__ import annotations

from .fields import Fields
from .formmodel import Item, Score
from .kinds import ITEM_KINDS
from .problems import did_you_mean
from .yamlsrc import Mapping, Node, Scalar

KEYS = ("label", "items")
ENTRY_KEYS = ("item", "weight")


def read_score(f: Fields, node: Node | None, items: list[Item]) -> Score | None:
    m = f.mapping(node, "score", KEYS, KEYS)
    if m is None:
        return None
    label = f.text(m, "label") or ""
    by_id = {item.id: item for item in items}
    counted: list[tuple[str, int]] = []
    for entry in f.sequence(m, "items", required=True):
        item_id, weight, line = _entry(f, entry)
        if item_id is None:
            continue
        item = by_id.get(item_id)
        if item is None:
            f.problem(line, "form-score", detail=f"没有项目 “{item_id}”{did_you_mean(item_id, by_id)}")
        elif item.kind != "check":
            f.problem(line, "form-score", detail=f"“{item_id}” 是{ITEM_KINDS[item.kind].label},只有检查项能计分")
        elif any(i == item_id for i, _ in counted):
            f.problem(line, "form-score", detail=f"“{item_id}” 写了两次")
        elif weight is not None:
            counted.append((item_id, weight))
    if not label or not counted:
        return None
    return Score(label, m.line, counted)


def _entry(f: Fields, entry: Node) -> tuple[str | None, int | None, int]:
    """(item id, weight, line) of `- showroom` or `- {item: fire_exit, weight: 2}`."""
    if isinstance(entry, Scalar) and not entry.is_null:
        return entry.text.strip(), 1, entry.line
    m = f.mapping(entry, "score.items", ENTRY_KEYS, ("item",))
    if not isinstance(m, Mapping):
        return None, None, entry.line
    weight = f.integer(m, "weight") if "weight" in m.items else 1
    if weight is not None and weight < 1:
        f.problem(f.line(m, "weight"), "int-range", field="weight", low=1, high=100, value=weight)
        weight = None
    return f.text(m, "item"), weight, m.line
