"""Property tests for the loader: garbage in → problems out, never an exception; valid values round-trip.

The targets are the mini project's files (tests/conftest.py). Each example overwrites the same files of
one fixture project, so the fixture being function-scoped is harmless (the health check is suppressed).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handbook.fields import Fields
from handbook.load import load_handbook
from handbook.model import Handbook
from handbook.problems import CATALOGUE, Problem
from handbook.yamlsrc import Mapping, Scalar, Sequence, parse_yaml
from tests.conftest import (
    FORM,
    FORM_PATH,
    MINI_FILES,
    ORG,
    ORG_PATH,
    QUIZ_PATH,
    REG,
    REG_PATH,
    TABLE,
    TABLE_PATH,
    replace_once,
    write_file,
    write_mini_project,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

TOKENS = [":", ": ", "- ", "-", "{", "}", "[", "]", ",", "&a", "*a", "<<", '"', "'", "\t", "\n", "\n", "\n  ",
          "  ", " ", "#", "?", "|", ">", "!!str ", "!x ", "%YAML 1.1", "...", "NO", "yes", "on", "~", "null",
          "12:30", "0123", "1e3", "0x1F", "2026-13-01", "---", "---\n", "id", "kind", "title", "rows", "questions",
          "KF-01", "KF-01.1", "[KF-01.1] ", "[KF-01.x]", "[[KF-01.9]]", "[[form:nope]]", "[[table:fines]]",
          "{{ org.name }}", "{{ org.nmae }}", "{{", "}}", "# ", "## ", "```", "客服", "罚款", "\x00", "\x01", "\x7f",
          "\x85", "\u2028", "\ufeff", "\r", "\r\n", "\\", "%", "@", "`", "\U0001f600"]

fragments = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join)
mixed = st.lists(st.one_of(st.sampled_from(TOKENS), st.text(max_size=6)), max_size=30).map("".join)
arbitrary_text = st.one_of(st.text(), fragments, mixed)


@st.composite
def mutated(draw: st.DrawFn, original: str) -> str:
    """The valid file with one slice replaced by garbage: gets deep into the readers, past YAML syntax."""
    start = draw(st.integers(0, len(original)))
    end = draw(st.integers(start, min(len(original), start + 30)))
    return original[:start] + draw(st.one_of(fragments, st.text(max_size=10))) + original[end:]


def file_content(relpath: str) -> st.SearchStrategy[str]:
    return st.one_of(st.just(MINI_FILES[relpath]), arbitrary_text, mutated(MINI_FILES[relpath]))


FUZZED = (REG_PATH, TABLE_PATH, QUIZ_PATH, FORM_PATH, ORG_PATH)


def check_problems(problems: list[Problem]) -> None:
    assert isinstance(problems, list)
    for problem in problems:
        assert isinstance(problem, Problem)
        assert isinstance(problem.line, int) and problem.line >= 1, problem
        assert problem.message.strip() and problem.fix.strip(), problem
        assert problem.code in CATALOGUE, problem
        assert problem.path and not Path(problem.path).is_absolute(), problem


# -- (a) load_handbook never raises ------------------------------------------------------------------


@FUZZ
@given(contents=st.fixed_dictionaries({relpath: file_content(relpath) for relpath in FUZZED}))
def test_load_handbook_never_raises(mini_project: Path, contents: dict[str, str]) -> None:
    for relpath, text in contents.items():
        write_file(mini_project, relpath, text)
    hb, problems = load_handbook(mini_project)
    assert isinstance(hb, Handbook)
    check_problems(problems)
    if all(text == MINI_FILES[relpath] for relpath, text in contents.items()):
        assert problems == []


@FUZZ
@given(data=st.binary(max_size=300), relpath=st.sampled_from(FUZZED))
def test_load_handbook_never_raises_on_bytes(mini_project: Path, data: bytes, relpath: str) -> None:
    write_mini_project(mini_project)
    write_file(mini_project, relpath, data)
    _, problems = load_handbook(mini_project)
    check_problems(problems)


# -- (b) parse_yaml never raises ---------------------------------------------------------------------


def walk_lines(node) -> list[int]:
    if isinstance(node, Scalar):
        return [node.line]
    if isinstance(node, Mapping):
        return [node.line, *node.key_lines.values(), *(x for v in node.items.values() for x in walk_lines(v))]
    assert isinstance(node, Sequence)
    return [node.line, *(x for v in node.items for x in walk_lines(v))]


@settings(max_examples=200, deadline=None)
@given(text=st.one_of(arbitrary_text, *(mutated(content) for content in MINI_FILES.values())),
       offset=st.integers(0, 50))
def test_parse_yaml_never_raises(text: str, offset: int) -> None:
    node, problems = parse_yaml(text, "x.yaml", line_offset=offset)
    check_problems(problems)
    assert all(p.line > offset for p in problems)
    if node is not None:
        assert all(line > offset for line in walk_lines(node))


@pytest.mark.parametrize("text", ["[" * 600 + "]" * 600, "- " * 600 + "x", "{a: " * 600 + "b" + "}" * 600])
def test_parse_yaml_survives_deep_nesting(text: str) -> None:
    _, problems = parse_yaml(text, "x.yaml")
    assert problems


# Plain scalars that YAML 1.1 would type (bool, int, octal, float, sexagesimal, date, null) and others.
PLAIN = st.one_of(
    st.sampled_from(["NO", "no", "No", "yes", "Y", "n", "on", "OFF", "true", "True", "FALSE", "0123", "0o17", "0x1F",
                     "1e3", "1_000", "12:30", "1:30:00", "16:00", "2026-13-01", "20261201", ".inf", "-.nan", "0",
                     "-0", "+1", "null", "~", "Null"]),
    st.from_regex(r"[A-Za-z0-9][A-Za-z0-9:._+\-]{0,12}", fullmatch=True).filter(lambda s: not s.endswith(":")),
)


@settings(max_examples=200, deadline=None)
@given(value=PLAIN)
def test_plain_scalars_keep_the_authors_text(value: str) -> None:
    node, problems = parse_yaml(f"key: {value}\nlist: [{value}]\n", "x.yaml")
    assert problems == []
    assert isinstance(node, Mapping)
    scalar, seq = node.items["key"], node.items["list"]
    assert isinstance(scalar, Scalar) and isinstance(seq, Sequence)
    assert scalar.text == value and not scalar.quoted and scalar.line == 1
    assert isinstance(seq.items[0], Scalar) and seq.items[0].text == value
    # the typed readers accept a value only when it is exactly what the field wants
    reported: list[Problem] = []
    f = Fields("x.yaml", reported)
    integer = f.integer(node, "key")
    if integer is not None:  # only plain decimal digits without a leading zero (or "0")
        assert integer == int(value) and str(abs(integer)) == value.removeprefix("-")
    assert f.boolean(node, "key") == (value == "true")
    time = f.time(node, "key")
    assert time is None or time == value
    check_problems(reported)


# -- (c) valid values round-trip ---------------------------------------------------------------------

HH_MM = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.integers(0, 59))
TITLE = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs")), min_size=1, max_size=30).filter(
    lambda s: s.strip() != "")


@st.composite
def valid_values(draw: st.DrawFn) -> dict:
    first = draw(st.dates())
    second = draw(st.dates(min_value=first))
    fine = draw(st.integers(0, 10**9))
    return {
        "first": first, "second": second,
        "effective": draw(st.dates(min_value=second)),
        "start": draw(HH_MM), "start_quoted": draw(st.booleans()),
        "end": draw(HH_MM),
        "fine": fine, "fine_max": fine + draw(st.integers(0, 10**6)),
        "required": draw(st.booleans()),
        "answer": draw(st.booleans()),
        "title": draw(TITLE),
        "min": draw(st.integers(-(10**6), 10**6)),
    }


def with_values(v: dict) -> dict[str, str]:
    reg = replace_once(REG, "effective: 2026-02-01", f"effective: {v['effective'].isoformat()}")
    reg = replace_once(reg, '"1.0"\n    date: 2026-01-01', f'"1.0"\n    date: {v["first"].isoformat()}')
    reg = replace_once(reg, '"1.1"\n    date: 2026-02-01', f'"1.1"\n    date: {v["second"].isoformat()}')
    reg = replace_once(reg, "title: 测试制度", f"title: {json.dumps(v['title'], ensure_ascii=False)}")
    start = f'"{v["start"]}"' if v["start_quoted"] else v["start"]
    org = replace_once(ORG, 'start: "08:00"', f"start: {start}")
    org = replace_once(org, 'end: "16:00"', f'end: "{v["end"]}"')
    table = replace_once(TABLE, "fine: 20", f"fine: {v['fine']}")
    table = replace_once(table, "fine_max: 50", f"fine_max: {v['fine_max']}")
    form = replace_once(FORM, "走廊无杂物, required: true", f"走廊无杂物, required: {str(v['required']).lower()}")
    form = replace_once(form, "min: 10, max: 35", f"min: {v['min']}, max: {v['min'] + 25}")
    quiz = replace_once(MINI_FILES[QUIZ_PATH], "answer: true", f"answer: {str(v['answer']).lower()}")
    return {REG_PATH: reg, ORG_PATH: org, TABLE_PATH: table, FORM_PATH: form, QUIZ_PATH: quiz}


@FUZZ
@given(v=valid_values())
def test_valid_values_round_trip(mini_project: Path, v: dict) -> None:
    for relpath, text in with_values(v).items():
        write_file(mini_project, relpath, text)
    hb, problems = load_handbook(mini_project)
    assert problems == []
    [reg] = hb.regulations
    assert reg.effective == v["effective"]
    assert [r.date for r in reg.revisions] == [v["first"], v["second"]]
    assert reg.title == v["title"].strip()
    shift = hb.organisation.shifts["early"]
    assert (shift.start, shift.end) == (v["start"], v["end"])
    row = hb.tables["fines"].rows[0]
    assert (row.fine, row.fine_max) == (v["fine"], v["fine_max"])
    items = hb.forms[0].sections[0].items
    assert items[0].required is v["required"]
    assert (items[1].min, items[1].max) == (v["min"], v["min"] + 25)
    assert hb.questions[2].answer is v["answer"]


@settings(max_examples=200, deadline=None)
@given(day=st.dates())
def test_any_iso_date_is_read_as_that_date(day: dt.date) -> None:
    node, problems = parse_yaml(f"effective: {day.isoformat()}\n", "x.yaml")
    assert problems == [] and isinstance(node, Mapping)
    reported: list[Problem] = []
    assert Fields("x.yaml", reported).date(node, "effective") == day
    assert reported == []


def test_the_fuzzed_files_are_valid_to_start_with(tmp_path: Path) -> None:
    _, problems = load_handbook(write_mini_project(tmp_path / "p"))
    assert problems == []
