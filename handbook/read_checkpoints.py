"""Read checklists/rules/checkpoints.yaml (the patrol checkpoints of each area) and check it against the
organisation's areas, the patrol form and the clauses."""

from __future__ import annotations

import re

from .fields import Fields
from .model import Handbook
from .problems import Problem, did_you_mean, make_problem
from .rules import Checkpoint, Checkpoints
from .yamlsrc import Node

CHECKPOINT_ID = re.compile(r"[a-z0-9][a-z0-9-]*")  # it is in a URL (/qr/<id>) printed on a poster
TOP_KEYS = ("form", "ref", "routes")
ROUTE_KEYS = ("area", "checkpoints")
POINT_KEYS = ("id", "name", "location")


def read_checkpoints(node: Node | None, path: str, problems: list[Problem]) -> Checkpoints | None:
    f = Fields(path, problems)
    top = f.mapping(node, "checkpoints.yaml", TOP_KEYS, ("form", "routes"))
    if top is None:
        return None
    points: list[Checkpoint] = []
    seen: dict[str, int] = {}
    areas: dict[str, int] = {}
    for route_node in f.sequence(top, "routes", required=True):
        route = f.mapping(route_node, "routes", ROUTE_KEYS, ("area", "checkpoints"))
        if route is None or (area := f.text(route, "area")) is None:
            continue
        if area in areas:
            f.problem(f.line(route, "area"), "duplicate-id", id=area, other=f"第 {areas[area]} 行")
        areas.setdefault(area, f.line(route, "area"))
        for point_node in f.sequence(route, "checkpoints", required=True):
            m = f.mapping(point_node, "checkpoints", POINT_KEYS, ("id", "name"))
            if m is None:
                continue
            point_id = f.ident(m, "id", CHECKPOINT_ID, "f1-desk")
            name = f.text(m, "name")
            if point_id is None or name is None:
                continue
            if point_id in seen:
                f.problem(f.line(m, "id"), "duplicate-id", id=point_id, other=f"第 {seen[point_id]} 行")
                continue
            seen[point_id] = f.line(m, "id")
            points.append(Checkpoint(point_id, name, area, m.line, f.text(m, "location", False) or ""))
    lines = dict(top.key_lines)
    lines.update({f"area.{area}": line for area, line in areas.items()})
    return Checkpoints(f.text(top, "form") or "", points, tuple(v for v, _ in f.text_list(top, "ref", single_ok=True)),
                       path, top.line, lines)


def check_checkpoints(hb: Handbook, checkpoints: Checkpoints, problems: list[Problem]) -> None:
    """Every area is one of organisation.yaml, the form exists with an area choice, and the clauses exist."""
    path = checkpoints.path

    def problem(line: int, code: str, **values: object) -> None:
        problems.append(make_problem(path, line, code, **values))

    areas = hb.organisation.areas
    for area in checkpoints.areas():
        if area not in areas:
            problem(checkpoints.lines.get(f"area.{area}", checkpoints.line), "dangling-ref", what="区域", ref=area,
                    hint=did_you_mean(area, areas))
    for ref in checkpoints.refs:
        if ref not in hb.clauses:
            problem(checkpoints.lines.get("ref", checkpoints.line), "dangling-ref", what="条款", ref=ref,
                    hint=did_you_mean(ref, hb.clauses))
    forms = {form.id: form for form in hb.forms}
    form = forms.get(checkpoints.form)
    at = checkpoints.lines.get("form", checkpoints.line)
    if form is None:
        problem(at, "dangling-ref", what="表单", ref=checkpoints.form, hint=did_you_mean(checkpoints.form, forms))
        return
    area_item = next((i for i in form.all_items() if i.id == "area"), None)
    if area_item is None or area_item.kind != "choice" or area_item.options_from != "areas":
        problem(at, "checkpoints-form", form=form.id)
