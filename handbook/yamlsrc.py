"""Strict YAML reading that remembers where every value came from.

PyYAML's default typing turns `NO` into False, `12:30` into 750 and `0123` into 83. We compose the
document into nodes and keep every scalar as the exact text the author wrote; the typed readers in
`fields.py` decide what a value means and complain, with the line, when it is of the wrong type.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from .problems import Problem, make_problem


@dataclass
class Scalar:
    text: str
    line: int
    quoted: bool = False
    is_null: bool = False


@dataclass
class Mapping:
    line: int
    flow: bool = False  # written inline as {key: value, ...}
    items: dict[str, Node] = field(default_factory=dict)
    key_lines: dict[str, int] = field(default_factory=dict)


@dataclass
class Sequence:
    line: int
    items: list[Node] = field(default_factory=list)


Node = Scalar | Mapping | Sequence


def describe(node: Node) -> str:
    """A Chinese word for what the author actually wrote, for type errors."""
    if isinstance(node, Mapping):
        return "映射"
    if isinstance(node, Sequence):
        return "列表"
    return "空值" if node.is_null else f"文字 “{node.text}”"


def parse_yaml(text: str, path: str, line_offset: int = 0) -> tuple[Node | None, list[Problem]]:
    """Parse one YAML document into located nodes; syntax problems are returned, never raised."""
    problems: list[Problem] = []
    if "\t" in text:
        for number, line in enumerate(text.split("\n"), start=1):
            if line[: len(line) - len(line.lstrip())].count("\t"):
                problems.append(make_problem(path, number + line_offset, "yaml-tab"))
                return None, problems
    try:
        for token in yaml.scan(text, Loader=yaml.BaseLoader):
            if isinstance(token, yaml.AnchorToken | yaml.AliasToken):
                problems.append(make_problem(path, token.start_mark.line + 1 + line_offset, "yaml-alias"))
                return None, problems
        root = yaml.compose(text, Loader=yaml.BaseLoader)
        if root is None:
            return None, problems
        return _convert(root, path, line_offset, problems), problems
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        if error.context_mark and "quoted scalar" in (error.context or ""):
            mark = error.context_mark  # an unclosed quote: point at where it opens, not at the end of file
        line = (mark.line + 1 if mark else 1) + line_offset
        problems.append(make_problem(path, line, "yaml-syntax", detail=_translate_yaml_error(error)))
    except yaml.reader.ReaderError as error:
        line = text[: error.position].count("\n") + 1 + line_offset
        character = error.character if isinstance(error.character, int) else ord(error.character)
        problems.append(make_problem(path, line, "yaml-control-char", char=f"U+{character:04X}"))
    except RecursionError:
        problems.append(make_problem(path, 1 + line_offset, "yaml-syntax", detail="嵌套层次过深"))
    except yaml.YAMLError as error:  # pragma: no cover - PyYAML raises only the kinds above
        detail = " ".join(str(error).split())
        problems.append(make_problem(path, 1 + line_offset, "yaml-syntax", detail=detail))
    return None, problems


def _translate_yaml_error(error: yaml.MarkedYAMLError) -> str:
    problem = (error.problem or "").strip()
    known = {
        "mapping values are not allowed here": "此处不能出现 “:”(值里有冒号时请给整个值加引号)",
        "could not find expected ':'": "缺少 “:”",
        "found character '\\t' that cannot start any token": "出现了制表符",
        "found undefined alias": "未定义的别名",
        "expected <block end>, but found '<block sequence start>'": "列表缩进不一致",
        "expected <block end>, but found '-'": "列表缩进不一致",
        "found unexpected end of stream": "引号或括号没有闭合",
    }
    for english, chinese in known.items():
        if problem.startswith(english):
            return chinese
    if "expected <block end>" in problem:
        return "缩进不一致"
    if "while scanning a quoted scalar" in (error.context or ""):
        return "引号没有闭合"
    return f"{problem}(PyYAML)"


def _convert(node: yaml.Node, path: str, offset: int, problems: list[Problem]) -> Node:
    line = node.start_mark.line + 1 + offset
    if isinstance(node, yaml.ScalarNode):
        quoted = node.style in ("'", '"')
        is_null = not quoted and node.value in ("", "~", "null", "Null", "NULL")
        return Scalar(node.value, line, quoted=quoted, is_null=is_null)
    if isinstance(node, yaml.SequenceNode):
        return Sequence(line, [_convert(item, path, offset, problems) for item in node.value])
    mapping = Mapping(line, flow=bool(node.flow_style))
    for key_node, value_node in node.value:
        key_line = key_node.start_mark.line + 1 + offset
        if not isinstance(key_node, yaml.ScalarNode):
            problems.append(make_problem(path, key_line, "type-text", field="键", actual=describe(
                _convert(key_node, path, offset, problems))))
            continue
        key = key_node.value
        if key == "<<":
            problems.append(make_problem(path, key_line, "yaml-alias"))
            continue
        if key in mapping.items:
            problems.append(make_problem(path, key_line, "yaml-duplicate-key", key=key,
                                         first=mapping.key_lines[key]))
            continue
        mapping.items[key] = _convert(value_node, path, offset, problems)
        mapping.key_lines[key] = key_line
    return mapping
