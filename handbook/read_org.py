"""Read organisation.yaml and topics.yaml."""

from __future__ import annotations

import re

from .fields import Fields
from .model import Named, Organisation, Phone, Shift, Topic
from .problems import Problem
from .yamlsrc import Mapping, Node, Sequence, describe

SLUG = re.compile(r"[a-z][a-z0-9_-]*")
ORG_KEYS = ("name", "short_name", "company", "doc_prefix", "approver", "departments", "roles", "shifts",
            "areas", "phones", "terms")


def read_organisation(node: Node | None, path: str, problems: list[Problem]) -> Organisation:
    f = Fields(path, problems)
    m = f.mapping(node, "organisation.yaml", ORG_KEYS, ("name", "company", "roles", "departments"))
    if m is None:
        return Organisation("", "", "", "", "")
    org = Organisation(
        name=f.text(m, "name") or "",
        short_name=f.text(m, "short_name", required=False) or f.text(m, "name", required=False) or "",
        company=f.text(m, "company") or "",
        doc_prefix=f.text(m, "doc_prefix", required=False) or "",
        approver=f.text(m, "approver", required=False) or "",
    )
    org.departments = _named_list(f, m, "departments")
    org.roles = _named_list(f, m, "roles")
    org.areas = _named_list(f, m, "areas")
    for item in _entries(f, m, "shifts", ("id", "name", "start", "end"), ("id", "name", "start", "end")):
        if (shift_id := f.ident(item, "id", SLUG, "early")) is not None:
            org.shifts[shift_id] = Shift(shift_id, f.text(item, "name") or "", f.time(item, "start") or "",
                                         f.time(item, "end") or "")
    for item in _entries(f, m, "phones", ("id", "name", "number"), ("id", "name", "number")):
        if (phone_id := f.ident(item, "id", SLUG, "hotline")) is not None:
            org.phones[phone_id] = Phone(phone_id, f.text(item, "name") or "", f.text(item, "number") or "")
    for item in _entries(f, m, "terms", ("id", "text"), ("id", "text")):
        if (term_id := f.ident(item, "id", SLUG, "mall")) is not None:
            org.terms[term_id] = f.text(item, "text") or ""
    return org


def _entries(f: Fields, m: Mapping, key: str, allowed: tuple[str, ...],
             required: tuple[str, ...]) -> list[Mapping]:
    items = (f.mapping(entry, key, allowed, required) for entry in f.sequence(m, key))
    return [item for item in items if item is not None]


def _named_list(f: Fields, m: Mapping, key: str) -> dict[str, Named]:
    out: dict[str, Named] = {}
    for item in _entries(f, m, key, ("id", "name", "description"), ("id", "name")):
        named_id = f.ident(item, "id", SLUG, "client-service")
        if named_id is None:
            continue
        if named_id in out:
            f.problem(item.line, "duplicate-id", id=named_id, other=key)
            continue
        out[named_id] = Named(named_id, f.text(item, "name") or "", f.text(item, "description", False) or "")
    return out


def read_topics(node: Node | None, path: str, problems: list[Problem]) -> list[Topic]:
    f = Fields(path, problems)
    topics: list[Topic] = []
    if node is None:
        return topics
    if not isinstance(node, Sequence):
        f.problem(node.line, "type-list", field="topics.yaml", actual=describe(node))
        return topics
    seen: set[str] = set()
    for entry in node.items:
        item = f.mapping(entry, "topic", ("id", "title", "description"), ("id", "title"))
        if item is None:
            continue
        topic_id = f.ident(item, "id", SLUG, "conduct")
        if topic_id is None:
            continue
        if topic_id in seen:
            f.problem(item.line, "duplicate-id", id=topic_id, other="topics.yaml")
            continue
        seen.add(topic_id)
        topics.append(Topic(topic_id, f.text(item, "title") or "", f.text(item, "description", False) or ""))
    return topics
