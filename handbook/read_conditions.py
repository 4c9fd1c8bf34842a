"""Read `show_when` (checklists/<id>.yaml) strictly, and check a form's conditions once its options are known:
each names an earlier item of a kind with known answers (是/否, 正常/异常, a choice), with an answer it can
take, and no item depends on itself."""

from __future__ import annotations

from .conditions import CONDITION_KINDS, conditioned
from .fields import Fields
from .formmodel import Condition, Form, Item
from .kinds import CHECK_VALUES, ITEM_KINDS, YESNO_VALUES
from .problems import Problem, did_you_mean, make_problem
from .yamlsrc import Node, Scalar, describe

KEYS = ("item", "is", "is_not", "in", "all", "any")
TESTS = ("is", "is_not", "in")
# The answers of a kind, as stored, and the words an author may write for them (yes or 是).
ANSWERS = {"yesno": YESNO_VALUES, "check": CHECK_VALUES}


def read_condition(f: Fields, node: Node | None, field: str = "show_when") -> Condition | None:
    """A `show_when` mapping: {item: X, is: V} / {item: X, is_not: V} / {item: X, in: [V, …]} or
    {all: [...]} / {any: [...]} of those; None (with problems) when it is not one."""
    m = f.mapping(node, field, KEYS)
    if m is None:
        return None
    groups = [k for k in ("all", "any") if k in m.items]
    tests = [k for k in TESTS if k in m.items]
    if groups:
        if len(groups) > 1 or tests or "item" in m.items:
            f.problem(m.line, "form-condition", detail="all 或 any 须单独写,不能与 item、is 等写在同一层")
            return None
        op = groups[0]
        parts = [read_condition(f, entry, op) for entry in f.sequence(m, op, required=True)]
        if not parts or None in parts:
            return None
        return Condition(op, m.line, parts=[p for p in parts if p is not None])
    if "item" not in m.items or len(tests) != 1:
        f.problem(m.line, "form-condition", detail="须写 item 和 is、is_not、in 中的一个")
        return None
    item = f.text(m, "item")
    op = tests[0]
    if op == "in":
        values = [v for v, _ in f.text_list(m, "in", required=True)]
    else:
        value = m.items[op]
        if not isinstance(value, Scalar) or value.is_null or not value.text.strip():
            f.problem(value.line, "form-condition", detail=f"{op} 的值应是一个回答,实际是{describe(value)}")
            return None
        values = [value.text.strip()]
    if not item or not values:
        return None
    return Condition(op, m.line, item, values)


def check_conditions(form: Form, problems: list[Problem]) -> None:
    """Problems of the form's conditions (after options_from filled the options); the answers an author wrote
    as words (是, 异常) become the stored ones (yes, fault)."""
    order = {item.id: n for n, item in enumerate(form.all_items())}
    items = {item.id: item for item in form.all_items()}
    depends: dict[str, list[tuple[str, int]]] = {}  # item → (item it looks at, line of the condition)
    for item, conditions in conditioned(form):
        for condition in conditions:
            for leaf in _leaves(condition):
                if _check_leaf(form, leaf, items, problems):
                    depends.setdefault(item.id, []).append((leaf.item, leaf.line))
    cyclic = _report_cycles(form, depends, problems)
    for item_id, targets in depends.items():
        for target, line in targets:
            if order[target] > order[item_id] and item_id not in cyclic:
                problems.append(make_problem(form.path, line, "form-condition-after", id=item_id, ref=target,
                                             at=items[target].line))


def _leaves(condition: Condition) -> list[Condition]:
    if condition.op in ("all", "any"):
        return [leaf for part in condition.parts for leaf in _leaves(part)]
    return [condition]


def _check_leaf(form: Form, leaf: Condition, items: dict[str, Item], problems: list[Problem]) -> bool:
    """Whether the leaf names a usable item (its answers made the stored ones); problems otherwise."""
    target = items.get(leaf.item)
    if target is None:
        problems.append(make_problem(form.path, leaf.line, "form-condition-item", ref=leaf.item,
                                     hint=did_you_mean(leaf.item, items)))
        return False
    if target.kind not in CONDITION_KINDS:
        problems.append(make_problem(form.path, leaf.line, "form-condition-kind", ref=leaf.item,
                                     kind=ITEM_KINDS[target.kind].label))
        return False
    words = ANSWERS.get(target.kind)
    allowed = list(words) + list(words.values()) if words else list(target.options)
    stored = []
    for value in leaf.values:
        if value not in allowed:
            shown = "、".join(words.values()) if words else "、".join(target.options)
            problems.append(make_problem(form.path, leaf.line, "form-condition-value", ref=leaf.item, value=value,
                                         hint=did_you_mean(value, allowed), allowed=shown))
            return False
        stored.append(next((k for k, w in words.items() if w == value), value) if words else value)
    leaf.values = stored
    return True


def _report_cycles(form: Form, depends: dict[str, list[tuple[str, int]]], problems: list[Problem]) -> set[str]:
    """Report each cycle once, at the condition in it that looks forward (or at itself); the ids of the items in
    cycles."""
    order = {item.id: n for n, item in enumerate(form.all_items())}
    cyclic: set[str] = set()
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(item_id: str, path: list[tuple[str, str, int]]) -> None:  # path: edges (from, to, line)
        state[item_id] = 1
        for target, line in depends.get(item_id, []):
            edge = (item_id, target, line)
            if state.get(target) == 1:
                loop = [e for n, e in enumerate(path) if any(p[0] == target for p in path[: n + 1])] + [edge]
                chain = " → ".join(f"“{e[0]}”" for e in loop) + f" → “{target}”"
                worst = next(e for e in loop if order[e[1]] >= order[e[0]])
                problems.append(make_problem(form.path, worst[2], "form-condition-cycle", chain=chain))
                cyclic.update(e[0] for e in loop)
            elif state.get(target) is None:
                visit(target, [*path, edge])
        state[item_id] = 2

    for item in form.all_items():
        if state.get(item.id) is None:
            visit(item.id, [])
    return cyclic
