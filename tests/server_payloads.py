"""Valid values for any form, written from the item kinds alone (not by the server's own code), and the
browser's form data for them: the security and API tests fill every form both ways with the same values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from handbook.formmodel import Condition, Form, Item

FREE_TEXT = ("text", "textarea", "person", "signature")


def item_value(item: Item, text: Callable[[Item], str]) -> Any:
    """A valid stored value for `item`; free text comes from `text(item)`."""
    kind = item.kind
    if kind in FREE_TEXT:
        return text(item)
    if kind == "check":
        return "ok"
    if kind == "yesno":
        return "yes"
    if kind == "number":
        return item.min if item.min is not None else (item.max if item.max is not None else 3)
    if kind == "date":
        return "2026-11-23"
    if kind == "time":
        return "09:30"
    if kind == "datetime":
        return "2026-11-23T09:30"
    if kind == "choice":
        return [item.options[0]] if item.multiple else item.options[0]
    if kind == "table":
        return [valid_values_of(item.columns, text)]
    return None  # photos: none needed


def valid_values_of(items: list[Item], text: Callable[[Item], str], fault_notes: bool = False) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        value = item_value(item, text)
        if value is None:
            continue
        values[item.id] = value
        if item.kind == "check" and fault_notes:
            # A failed check with its note: the note is free text too.
            values[item.id] = "fault"
            values[f"{item.id}_note"] = text(item)
    return values


def valid_values(form: Form, text: Callable[[Item], str] = lambda item: "张三",
                 fault_notes: bool = False) -> dict[str, Any]:
    """Every item of `form` the answers show filled (registers with one row), optionally every check failed with
    a note."""
    values = valid_values_of(form.all_items(), text, fault_notes)
    if fault_notes:
        for item in form.all_items():
            if item.kind == "table":
                values[item.id] = [valid_values_of(item.columns, text, fault_notes=True)]
    return shown_values(form, values)


# -- show_when, read from SOURCE-FORMAT.md rather than from handbook.conditions -------------------------


def _holds(condition: Condition, values: dict[str, Any]) -> bool:
    if condition.op in ("all", "any"):
        results = [_holds(part, values) for part in condition.parts]
        return all(results) if condition.op == "all" else any(results)
    value = values.get(condition.item)
    answers = set(value) if isinstance(value, list) else {value}
    matched = bool(answers & set(condition.values))
    return not matched if condition.op == "is_not" else matched


def shown_values(form: Form, values: dict[str, Any]) -> dict[str, Any]:
    """`values` less the items their answers hide (and those items' notes and photos): what is stored."""
    kept = dict(values)
    groups = [(None, form.header)] + [(s.show_when, s.items) for s in form.sections] + [(None, form.signatures)]
    for outer, items in groups:
        for item in items:
            if any(c is not None and not _holds(c, kept) for c in (outer, item.show_when)):
                for name in (item.id, f"{item.id}_note", f"{item.id}_photos"):
                    kept.pop(name, None)
    return kept


def web_data(values: dict[str, Any], prefix: str = "") -> list[tuple[str, str]]:
    """Stored values as the browser posts them: lists as repeated names, register rows as `id-N-column`."""
    pairs: list[tuple[str, str]] = []
    for name, value in values.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            for n, row in enumerate(value):
                pairs.extend(web_data(row, f"{prefix}{name}-{n}-"))
        elif isinstance(value, list):
            pairs.extend((prefix + name, str(v)) for v in value)
        else:
            pairs.append((prefix + name, str(value)))
    return pairs
