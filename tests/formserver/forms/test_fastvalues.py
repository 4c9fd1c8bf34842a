"""The API's quick check (formserver.forms.fastvalues) against WTForms, the judge: on generated values for every
form, whenever the quick check answers, WTForms must accept the same form data and make the same stored
values; and the quick check must answer for ordinary valid submissions, or the API loses its speed."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import pytest
from flask import Flask
from hypothesis import given, settings
from hypothesis import strategies as st

from formserver.forms.fastvalues import quick_values
from formserver.forms.formdefs import definition_digest
from formserver.forms.webforms import TEXT_MAX, TEXTAREA_MAX, ValuesError, form_class, formdata_of, values_of
from handbook.formmodel import Form, Item
from handbook.load import require_handbook
from tests.server_payloads import valid_values
from tests.server_support import ROOT

ABSENT = object()
ODD = [None, True, 1.5, {"a": 1}, ["x"], [None], [1]]  # other JSON types: formdata_of's own ways, or its errors


@functools.cache
def forms() -> dict[str, Form]:
    return {f.id: f for f in require_handbook(ROOT).forms}


@functools.cache
def flask_app() -> Flask:
    app = Flask(__name__)
    app.config.update(SECRET_KEY="test", WTF_I18N_ENABLED=False)
    return app


def texts(limit: int) -> list[Any]:
    return ["张三", "", "   ", " 张三 ", "第一行\r\n第二行  ", "x" * limit, "x" * (limit + 1), " " * (limit + 5), 123,
            *NASTY]


# Control, bidi and surrogate characters (formserver.base.inputs), and what must survive them: ZWJ emoji.
NASTY = ["\u202egnp.exe", "a\x00b", "\x9f", "\u202e", " \u200f ", "\ud800", "张\udfff三", "👨\u200d👩\u200d👧",
         "a\ufeffb"]


def candidates(item: Item) -> list[Any]:
    """Valid, borderline and invalid stored values for an item of this kind."""
    kind = item.kind
    if kind == "check":
        return ["ok", "fault", "", " ok", "bad", True, False]
    if kind == "yesno":
        return ["yes", "no", "", "maybe", True, False]
    if kind in ("text", "person", "signature"):
        return texts(item.max_length or TEXT_MAX)
    if kind == "textarea":
        return texts(item.max_length or TEXTAREA_MAX)
    if kind == "number":
        bounds = [b for b in (item.min, item.max) if b is not None]
        return [3, 0, -1, 1.5, "5", " 5 ", "5.0", "1e2", "NaN", "Infinity", "-Infinity", "", "abc", "1_0", True,
                "５", "１２．５", "－３", "٣", "1,000", "1_000", "\ud800",
                10 ** 20, "1e1000000", "-1e15", 999999999999999, "0e20", "0.1", "-0", *bounds,
                *(b - 1 for b in bounds), *(b + 1 for b in bounds), *(b + 0.5 for b in bounds)]
    if kind == "date":
        return ["2026-11-23", "2026-1-5", "2026-02-30", "", " 2026-11-23", "2026/11/23", "20261123",
                "２０２６-11-23", "0001-01-01", "9999-12-31", "٢٠٢٦-11-23", "\ud800"]
    if kind == "time":
        return ["09:30", "9:5", "24:00", "", "09:30:00", " 09:30", "23:59", "０９:３０", "٠٩:30"]
    if kind == "datetime":
        return ["2026-11-23T09:30", "2026-11-23 09:30", "2026-11-23", "", "2026-11-23T9:5", "2026-11-23T24:00",
                "２０２６-11-23T09:30", "0001-01-01T00:00", "9999-12-31T23:59"]
    if kind == "choice" and item.multiple:
        first = item.options[0]
        return [[first], item.options[:2], [], [""], ["", first], [first, first], ["不存在"], [" " + first]]
    if kind == "choice":
        return [item.options[0], item.options[-1], "", "不存在", " " + item.options[0], item.options[0] + " "]
    if kind == "photo":
        return [[], [str(uuid.UUID(int=1))], ["", str(uuid.UUID(int=2))], [str(uuid.UUID(int=3))] * 25]
    if kind == "table":
        return [[], [{}], [{c.id: candidates(c)[0] for c in item.columns}]]
    raise AssertionError(kind)


NOTES = ["已报修", "", "   ", " 已报修 ", "x" * TEXT_MAX, "x" * (TEXT_MAX + 1), " " * (TEXT_MAX + 5), "a\r\nb"]
PHOTOS = [[], [str(uuid.UUID(int=4))], ["", str(uuid.UUID(int=5))], [str(uuid.UUID(int=6))] * 25]


def values_strategy(form: Form) -> st.SearchStrategy[dict[str, Any]]:
    fields: dict[str, st.SearchStrategy] = {}
    for item in form.all_items():
        fields[item.id] = st.sampled_from([ABSENT, *candidates(item), *ODD])
        if item.kind == "check":
            fields[f"{item.id}_note"] = st.sampled_from([ABSENT, *NOTES])
            fields[f"{item.id}_photos"] = st.sampled_from([ABSENT, *PHOTOS])
    return st.fixed_dictionaries(fields).map(lambda d: {k: v for k, v in d.items() if v is not ABSENT})


def judged(form: Form, values: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(quick check's values or None, WTForms' values or None when it or formdata_of refuses) of the same
    posted values."""
    uid = str(uuid.uuid4())
    digest = definition_digest(form)
    with flask_app().test_request_context():  # date items' window reads the app's settings
        quick = quick_values(form, digest, values, uid)
        try:
            formdata = formdata_of(form, values, uid)
        except ValuesError:
            return quick, None
        wtform = form_class(form, digest)(formdata=formdata, meta={"csrf": False})
        return quick, values_of(wtform, form) if wtform.validate() else None


def valid_mostly(form: Form) -> st.SearchStrategy[dict[str, Any]]:
    """Valid values with one or two items changed: where the two are most likely to disagree. Optional
    registers are left out (the quick check leaves registers to WTForms)."""
    optional_registers = {i.id for i in form.all_items() if i.kind == "table" and not i.required}
    base = {k: v for k, v in valid_values(form).items() if k not in optional_registers}
    items = form.all_items()
    return st.lists(st.sampled_from(items), min_size=1, max_size=2).flatmap(
        lambda chosen: st.tuples(*(st.sampled_from([ABSENT, *candidates(i)]) for i in chosen)).map(
            lambda picked: {k: v for k, v in {**base, **{i.id: p for i, p in zip(chosen, picked, strict=True)}}.items()
                            if v is not ABSENT}))


@pytest.mark.parametrize("form_id", sorted(forms()))
@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_the_quick_check_never_disagrees_with_wtforms(form_id, data):
    form = forms()[form_id]
    values = data.draw(st.one_of(values_strategy(form), valid_mostly(form), valid_mostly(form)))
    quick, judge = judged(form, values)
    if quick is not None:
        assert judge is not None, (values, quick)
        assert quick == judge


@pytest.mark.parametrize("form_id", sorted(forms()))
def test_the_quick_check_answers_for_ordinary_submissions(form_id):
    form = forms()[form_id]
    for fault_notes in (False, True):
        values = valid_values(form, fault_notes=fault_notes)
        quick, judge = judged(form, values)
        assert judge == values
        if not any(item.kind == "table" for item in form.all_items()):  # registers are left to WTForms
            assert quick == values, form_id


CONDITIONAL = sorted(f.id for f in forms().values() if any(i.show_when for i in f.all_items())
                     or any(s.show_when for s in f.sections))


def test_there_are_conditional_forms_to_compare():
    assert {"patrol", "duty-log"} <= set(CONDITIONAL)


@pytest.mark.parametrize("form_id", CONDITIONAL)
def test_hidden_items_are_neither_required_nor_stored_on_both_paths(form_id):
    """Every yes/no answered 否 and every check 正常: what that hides may be missing although required, or hold
    anything of the right shape; both paths accept it and store none of it."""
    form = forms()[form_id]
    values = valid_values(form)
    for item in form.all_items():
        if item.kind == "yesno":
            values[item.id] = "no"
    hidden = {i.id for i in form.all_items() if i.show_when} - {i.id for i in form.header}
    shown = {k: v for k, v in values.items() if k not in hidden}
    for item in form.all_items():
        if item.id in hidden and item.kind != "table":
            values.pop(item.id, None)  # required ones missing …
            if not item.required:
                values[item.id] = "不是有效的回答" if item.kind not in ("choice",) or not item.multiple else ["?"]
    quick, judge = judged(form, values)
    assert judge == shown
    if not any(item.kind == "table" for item in form.all_items()):  # registers are left to WTForms
        assert quick == shown
