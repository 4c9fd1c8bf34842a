"""The typed model of a form definition (checklists/<id>.yaml): its items, sections and signatures. Read by
the loader, the print pages, the site, the operating rules and the form server."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Condition:
    """When an item or section is shown (`show_when`): `op` is is, is_not or in (on `item`, whose stored value is
    compared with `values`: yes/no, ok/fault or option texts), or all / any of `parts`. See handbook.conditions."""

    op: str
    line: int = 0
    item: str = ""
    values: list[str] = field(default_factory=list)
    parts: list[Condition] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict | None) -> Condition | None:
        if not data:
            return None
        return cls(data["op"], data.get("line", 0), data.get("item", ""), list(data.get("values", [])),
                   [part for p in data.get("parts", []) if (part := cls.from_json(p)) is not None])


@dataclass
class Item:
    id: str
    kind: str
    label: str
    line: int
    required: bool = False
    refs: list[str] = field(default_factory=list)
    help: str = ""
    unit: str = ""
    min: int | None = None
    max: int | None = None
    earliest: str = ""  # a date item's bounds (handbook.datebounds), from `min`/`max` in the YAML
    latest: str = ""
    options: list[str] = field(default_factory=list)
    options_from: str = ""  # an OPTION_SOURCES list of organisation.yaml; fills `options` at load
    multiple: bool = False
    columns: list[Item] = field(default_factory=list)
    rows: int = 10
    lines: int = 3
    max_length: int | None = None
    prefill: str = ""
    training_results: bool = False  # a person item: the person assessed; the server shows their training
    show_when: Condition | None = None


@dataclass
class FormSection:
    title: str
    items: list[Item]
    line: int
    refs: list[str] = field(default_factory=list)
    show_when: Condition | None = None


@dataclass
class Score:
    """A form's score (`score:`): the weighted share of its counted check items answered 正常, in percent."""

    label: str  # e.g. 巡查合格率
    line: int = 0
    items: list[tuple[str, int]] = field(default_factory=list)  # (check item id, weight)

    @classmethod
    def from_json(cls, data: dict | None) -> Score | None:
        if not data:
            return None
        return cls(data["label"], data.get("line", 0), [(i, int(w)) for i, w in data.get("items", [])])


@dataclass
class Form:
    id: str
    title: str
    number: str
    revision: str
    serves: list[str]
    orientation: str
    roles: list[str]
    description: str
    header: list[Item]
    sections: list[FormSection]
    signatures: list[Item]
    path: str
    line: int
    lines: dict[str, int] = field(default_factory=dict)
    score: Score | None = None

    def all_items(self) -> list[Item]:
        """Every item in reading order (header, sections, signatures), not table columns."""
        items = list(self.header)
        for section in self.sections:
            items.extend(section.items)
        items.extend(self.signatures)
        return items
