"""Small pure pieces of the form server: shifts by clock, formula neutralising, photo sniffing, and the
round trip stored values → form data → validated form → the same stored values, for every form."""

from __future__ import annotations

import datetime as dt

import pytest

from formserver.forms.catalogue import Catalogue
from formserver.forms.webforms import ValuesError, form_class, formdata_of, values_of
from formserver.records.exports import neutralise
from formserver.records.photos import sniff
from handbook.load import require_handbook
from tests.server_support import ROOT


@pytest.fixture(scope="module")
def handbook():
    return require_handbook(ROOT)


@pytest.mark.parametrize(("hour", "shift"), [(7, "夜班"), (8, "早班"), (13, "早班"), (15, "中班"), (21, "中班"),
                                              (22, "夜班"), (0, "夜班")])
def test_current_shift_takes_the_latest_started(handbook, hour, shift):
    catalogue = Catalogue(handbook, {}, {}, {})
    assert catalogue.current_shift(dt.datetime(2026, 11, 23, hour, 30)).name == shift


@pytest.mark.parametrize(("value", "expected"), [
    ("=1+1", "'=1+1"), ("+86 123", "'+86 123"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"),
    ("正常", "正常"), (-2, -2), (3.5, 3.5), ("", ""),
])
def test_formula_cells_are_neutralised(value, expected):
    assert neutralise(value) == expected


@pytest.mark.parametrize(("head", "kind"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"), (b"\x89PNG\r\n\x1a\n\x00\x00", "image/png"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "image/webp"), (b"GIF89a", None), (b"<svg xmlns=", None), (b"", None),
])
def test_photos_are_recognised_by_their_bytes(head, kind):
    assert sniff(head) == kind


def sample_value(item):
    """A valid stored value for an item, by kind."""
    kind = item.kind
    if kind == "check":
        return "fault"
    if kind == "yesno":
        return "yes"
    if kind == "number":
        return item.min if item.min is not None else 3
    if kind == "date":
        return "2026-11-23"
    if kind == "time":
        return "08:05"
    if kind == "datetime":
        return "2026-11-23T08:05"
    if kind == "choice":
        return item.options[:2] if item.multiple else item.options[-1]
    if kind == "table":
        return [{c.id: sample_value(c) for c in item.columns} | {f"{c.id}_note": "第一行说明"
                                                                  for c in item.columns if c.kind == "check"}]
    if kind == "photo":
        return None
    return f"{item.label}:测试"


def test_every_form_round_trips_its_values(app, handbook):
    for form in handbook.forms:
        values = {}
        for item in form.all_items():
            value = sample_value(item)
            if value is not None:
                values[item.id] = value
            if item.kind == "check":
                values[f"{item.id}_note"] = "有异常,已报告"
        with app.test_request_context():
            wtform = form_class(form, form.id + "-test")(formdata=formdata_of(form, values, "x"), meta={"csrf": False})
            assert wtform.validate(), (form.id, wtform.errors)
            assert values_of(wtform, form) == values, form.id


def test_values_the_form_does_not_have_are_refused(handbook):
    form = next(f for f in handbook.forms if f.id == "patrol")
    with pytest.raises(ValuesError) as error:
        formdata_of(form, {"no_such_item": "x", "showroom": ["ok"], "evidence_photo": "one"})
    assert set(error.value.errors) == {"no_such_item", "showroom", "evidence_photo"}
