"""Typed readers over located YAML nodes.

Each reader takes the text the author wrote and either returns a value of the right type or records
a problem with the line and returns None. Nothing is ever converted silently: `NO` is not a boolean,
`12:30` is not a number, `0123` is not an integer.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from .problems import Problem, did_you_mean, make_problem
from .yamlsrc import Mapping, Node, Scalar, Sequence, describe

_INT = re.compile(r"-?(0|[1-9][0-9]*)")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")


class Fields:
    """Reads typed fields from one file, collecting every problem instead of stopping at the first."""

    def __init__(self, path: str, problems: list[Problem]):
        self.path = path
        self.problems = problems

    def problem(self, line: int, code: str, **values: object) -> None:
        self.problems.append(make_problem(self.path, line, code, **values))

    # -- containers -------------------------------------------------------------------------
    def mapping(self, node: Node | None, field: str, allowed: Iterable[str], required: Iterable[str] = (),
                line: int = 1) -> Mapping | None:
        """Check that node is a mapping with only allowed keys and every required key."""
        if node is None:
            self.problem(line, "type-mapping", field=field, actual="空内容")
            return None
        if not isinstance(node, Mapping):
            self.problem(node.line, "type-mapping", field=field, actual=describe(node))
            return None
        allowed = list(allowed)
        for key, key_line in node.key_lines.items():
            if key in allowed:
                continue
            value = node.items[key]
            if node.flow and isinstance(value, Scalar) and value.is_null:
                # `{text: 甲,乙}`: the comma ended the value and 乙 became a key.
                self.problem(key_line, "flow-comma", key=key)
            else:
                self.problem(key_line, "unknown-key", key=key, hint=did_you_mean(key, allowed),
                             allowed="、".join(allowed))
        for key in required:
            if key not in node.items:
                self.problem(node.line, "missing", field=key)
        return node

    def sequence(self, m: Mapping, key: str, required: bool = False) -> list[Node]:
        node = m.items.get(key)
        if node is None or (isinstance(node, Scalar) and node.is_null):
            if required:
                self.problem(m.key_lines.get(key, m.line), "empty", field=key)
            return []
        if not isinstance(node, Sequence):
            self.problem(node.line, "type-list", field=key, actual=describe(node))
            return []
        if required and not node.items:
            self.problem(node.line, "empty", field=key)
        return node.items

    def line(self, m: Mapping, key: str) -> int:
        return m.key_lines.get(key, m.line)

    # -- scalars ----------------------------------------------------------------------------
    def _scalar(self, m: Mapping, key: str, required: bool) -> Scalar | None:
        node = m.items.get(key)
        if node is None:
            return None  # a missing required key was reported by mapping()
        if not isinstance(node, Scalar):
            self.problem(node.line, "type-text", field=key, actual=describe(node))
            return None
        if node.is_null or not node.text.strip():
            if required:
                self.problem(node.line, "empty", field=key)
            return None
        return node

    def text(self, m: Mapping, key: str, required: bool = True) -> str | None:
        node = self._scalar(m, key, required)
        return node.text.strip() if node else None

    def boolean(self, m: Mapping, key: str, default: bool = False) -> bool:
        node = self._scalar(m, key, False)
        if node is None:
            return default
        if node.text in ("true", "false") and not node.quoted:
            return node.text == "true"
        self.problem(node.line, "bad-bool", field=key, value=node.text)
        return default

    def integer(self, m: Mapping, key: str, required: bool = False) -> int | None:
        node = self._scalar(m, key, required)
        if node is None:
            return None
        if node.quoted or not _INT.fullmatch(node.text):
            self.problem(node.line, "bad-int", field=key, value=node.text)
            return None
        return int(node.text)

    def date(self, m: Mapping, key: str, required: bool = True) -> dt.date | None:
        node = self._scalar(m, key, required)
        if node is None:
            return None
        if _DATE.fullmatch(node.text):
            try:
                return dt.date.fromisoformat(node.text)
            except ValueError:
                pass
        self.problem(node.line, "bad-date", field=key, value=node.text)
        return None

    def time(self, m: Mapping, key: str, required: bool = False) -> str | None:
        node = self._scalar(m, key, required)
        if node is None:
            return None
        if _TIME.fullmatch(node.text):
            return node.text
        self.problem(node.line, "bad-time", field=key, value=node.text)
        return None

    def choice(self, m: Mapping, key: str, allowed: Iterable[str], required: bool = True,
               default: str | None = None) -> str | None:
        value = self.text(m, key, required)
        if value is None:
            return default
        allowed = list(allowed)
        if value not in allowed:
            self.problem(m.items[key].line, "bad-choice", field=key, value=value,
                         hint=did_you_mean(value, allowed), allowed="、".join(allowed))
            return default
        return value

    def ident(self, m: Mapping, key: str, pattern: re.Pattern[str], example: str,
              required: bool = True) -> str | None:
        value = self.text(m, key, required)
        if value is None:
            return None
        if not pattern.fullmatch(value):
            self.problem(m.items[key].line, "bad-id", field=key, value=value, pattern=example)
            return None
        return value

    def text_list(self, m: Mapping, key: str, required: bool = False,
                  single_ok: bool = False) -> list[tuple[str, int]]:
        """A list of texts with their lines; `single_ok` also accepts one bare value."""
        node = m.items.get(key)
        if single_ok and isinstance(node, Scalar) and not node.is_null:
            return [(node.text.strip(), node.line)]
        out = []
        for item in self.sequence(m, key, required):
            if not isinstance(item, Scalar) or item.is_null:
                self.problem(item.line, "type-text", field=key, actual=describe(item))
                continue
            out.append((item.text.strip(), item.line))
        return out
