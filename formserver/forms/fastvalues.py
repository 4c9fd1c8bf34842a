"""A quick check of the API's form data that can only say "valid, and these are the values" or "not sure".

Building and validating the WTForms form of a 50-item checklist cost about half the CPU of an API submission
(every field object is made anew per request). This module reads the posted JSON values with per-item
readers compiled once per form version, mirroring what `webforms.formdata_of` and then the WTForms fields of
`webforms.item_fields` do with values that are clearly valid. Anything else (an unknown item, a value of
another type, a missing required item, an unknown option, a register, a blank that WTForms treats in its
own way) gives None, and the caller falls back to `formdata_of` and WTForms, which decide and word the
errors. So the web form and the API still accept exactly the same things with the same stored values, and
every error message still comes from WTForms; `tests/formserver/forms/test_fastvalues.py` compares the two on
generated data for every form.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from formserver.base.inputs import canonical_uid, clean_text, has_surrogate, moment_text, number_text
from formserver.forms.webforms import (
    DATE_FORMAT,
    DATETIME_FORMATS,
    NUMBER_LIMIT,
    TEXT_MAX,
    TEXTAREA_MAX,
    TIME_FORMAT,
    _blank,
    _plain,
    date_window,
)
from handbook import conditions
from handbook.formmodel import Form, Item
from handbook.kinds import CHECK_VALUES, YESNO_VALUES

Posted = dict[str, Any]  # name → the posted text (an item of one value) or list of texts (of several values)
Reader = Callable[[Posted, dict[str, Any]], None]  # reads one item's fields into the values, or raises Unsure


class Unsure(Exception):
    """These form data need WTForms' judgement."""


def _put(values: dict[str, Any], name: str, value: Any) -> None:
    if not _blank(value):  # as webforms._collect: empty items are left out
        values[name] = value


def _choice(name: str, kind: str, choices: frozenset[str], required: bool) -> Reader:
    """RadioField: one of the choices (`Optional`/`InputRequired` decide about an absent one)."""
    def read(posted: Posted, values: dict[str, Any]) -> None:
        raw = posted.get(name)
        if raw is None and not required:
            return
        if raw not in choices:
            raise Unsure
        _put(values, name, _plain(raw, kind))
    return read


def _check_note(check: str, name: str) -> Reader:
    """The note beside a check item: required when the check says fault (webforms._check_note), then
    `Optional` and `Length(max=TEXT_MAX)`."""
    def read(posted: Posted, values: dict[str, Any]) -> None:
        raw = posted.get(name)
        if posted.get(check) == "fault" and not (raw or "").strip():
            raise Unsure
        if raw is None or not raw.strip():
            return
        if len(raw) > TEXT_MAX:
            raise Unsure
        _put(values, name, _plain(raw, "check"))
    return read


def _photo_ids(name: str, required: bool) -> Reader:
    """PhotoIdsField: the non-empty ids, at most 20."""
    def read(posted: Posted, values: dict[str, Any]) -> None:
        if name not in posted and not required:  # the usual case: no photos
            return
        ids = [v for v in posted.get(name, ()) if v][:20]
        if required and not ids:
            raise Unsure
        _put(values, name, ids)
    return read


def _drawing(name: str) -> Reader:
    """DrawingField: an optional drawing id, in canonical form (the API never requires one: RecordForm.drawings)."""
    def read(posted: Posted, values: dict[str, Any]) -> None:
        raw = posted.get(name)
        if raw is None:
            return
        if canonical_uid(raw) != raw:  # blank, padded, upper case or no id at all: WTForms decides
            raise Unsure
        _put(values, name, raw)
    return read


def _text(name: str, kind: str, required: bool, max_length: int) -> Reader:
    """StringField / TextAreaField with `DataRequired` (text that is not blank after stripping) or `Optional`
    (blank after stripping: no value), then `Length(max=…)` on the text as posted."""
    def read(posted: Posted, values: dict[str, Any]) -> None:
        raw = posted.get(name)
        if required and not (raw and raw.strip()):
            raise Unsure
        if not required and (raw is None or not raw.strip()):
            return
        if len(raw) > max_length:
            raise Unsure
        _put(values, name, _plain(raw, kind))
    return read


def _number(name: str, required: bool, low: Any, high: Any) -> Reader:
    """NumberField(places=None), finite and not huge, within `NumberRange` (webforms._number_validators)."""
    def read(posted: Posted, values: dict[str, Any]) -> None:
        raw = posted.get(name)
        if raw is None and not required:
            return
        text = number_text(raw) if isinstance(raw, str) else None
        if text is None:
            raise Unsure
        try:
            number = Decimal(text)
        except (InvalidOperation, ValueError, TypeError):
            raise Unsure from None
        if not number.is_finite() or number.copy_abs() >= NUMBER_LIMIT:  # webforms._finite
            raise Unsure
        if not ((low is None or number >= low) and (high is None or number <= high)):
            raise Unsure
        _put(values, name, _plain(number, "number"))
    return read


def _moment(item: Item, formats: tuple[str, ...], convert: Callable[[dt.datetime], Any]) -> Reader:
    """AsciiDateField / AsciiTimeField / AsciiDateTimeField: the first format that parses, full-width digits
    read as ASCII; a date within the item's window (webforms._in_window)."""
    name, kind, required = item.id, item.kind, item.required

    def read(posted: Posted, values: dict[str, Any]) -> None:
        raw = posted.get(name)
        if raw is None and not required:
            return
        text = moment_text(raw) if raw is not None else None
        if text is None:
            raise Unsure
        for fmt in formats:
            try:
                parsed = convert(dt.datetime.strptime(text, fmt))
            except ValueError:
                continue
            if kind != "time":
                low, high = date_window(item)
                if not low <= (parsed.date() if kind == "datetime" else parsed) <= high:
                    raise Unsure
            _put(values, name, _plain(parsed, kind))
            return
        raise Unsure
    return read


def _multiple(name: str, choices: frozenset[str], required: bool) -> Reader:
    """SelectMultipleField: every value one of the choices."""
    def read(posted: Posted, values: dict[str, Any]) -> None:
        raw = posted.get(name, [])
        if required and not raw:
            raise Unsure
        if not all(v in choices for v in raw):
            raise Unsure
        _put(values, name, _plain(list(raw), "choice"))
    return read


def _register(item: Item) -> Reader:
    """A register (FieldList of row forms) is left to WTForms unless it is absent (see `_posted`) and optional."""
    def read(posted: Posted, values: dict[str, Any]) -> None:
        if item.required:
            raise Unsure
    return read


MOMENTS = {"date": (DATE_FORMAT,), "time": (TIME_FORMAT,), "datetime": DATETIME_FORMATS}
CONVERT = {"date": dt.datetime.date, "time": dt.datetime.time, "datetime": lambda moment: moment}


def _text_of(maximum: int) -> Callable[[Item], list[Reader]]:
    return lambda item: [_text(item.id, item.kind, item.required, item.max_length or maximum)]


def _moment_of(item: Item) -> list[Reader]:
    return [_moment(item, MOMENTS[item.kind], CONVERT[item.kind])]


def _choice_of(item: Item) -> list[Reader]:
    if item.multiple:
        return [_multiple(item.id, frozenset(item.options), item.required)]
    return [_choice(item.id, item.kind, frozenset(item.options), item.required)]


# The readers of each item kind, in the order webforms.WEB_FIELDS makes its fields: one entry per kind of
# handbook.kinds.ITEM_KINDS (a test checks the keys, so a kind cannot reach one path only).
READERS: dict[str, Callable[[Item], list[Reader]]] = {
    "check": lambda item: [_choice(item.id, "check", frozenset(CHECK_VALUES), item.required),
                           _check_note(item.id, f"{item.id}_note"), _photo_ids(f"{item.id}_photos", False)],
    "yesno": lambda item: [_choice(item.id, "yesno", frozenset(YESNO_VALUES), item.required)],
    "text": _text_of(TEXT_MAX),
    "person": _text_of(TEXT_MAX),
    "signature": lambda item: [*_text_of(TEXT_MAX)(item), _drawing(f"{item.id}_image")],
    "textarea": _text_of(TEXTAREA_MAX),
    "number": lambda item: [_number(item.id, item.required, item.min, item.max)],
    "date": _moment_of,
    "time": _moment_of,
    "datetime": _moment_of,
    "choice": _choice_of,
    "photo": lambda item: [_photo_ids(item.id, item.required)],
    "table": lambda item: [_register(item)],
}


def readers(item: Item) -> list[Reader]:
    """The readers of one item, in the order webforms.item_fields makes its fields."""
    return READERS[item.kind](item)


class _Compiled:
    """The readers of a form version, and how formdata_of would post each name: one value or several."""

    def __init__(self, form: Form):
        self.form = form
        self.readers = [(item.id, readers(item)) for item in form.all_items()]
        self.logic = conditions.has_conditions(form)  # items the answers may hide: skipped, as RecordForm does
        self.many: dict[str, bool | None] = {}  # None: a register
        for item in form.all_items():
            if item.kind == "table":
                self.many[item.id] = None
                continue
            many = item.kind == "photo" or (item.kind == "choice" and item.multiple)
            for name in conditions.value_names(item):
                self.many[name] = many or name.endswith("_photos")  # formdata_of's rule, quirks included
                if self.many[name] != (many or name == f"{item.id}_photos") or name == "submission_id":
                    self.many[name] = None  # an item id the readers would read otherwise: leave it to WTForms


_compiled: dict[tuple[str, str], _Compiled] = {}


def _posted(compiled: _Compiled, values: dict[str, Any]) -> Posted:
    """What formdata_of would post for `values`, when every value is plain text (numbers as text, as
    formdata_of writes them); Unsure for anything formdata_of would refuse or turn into text its own way."""
    posted: Posted = {}
    many = compiled.many
    for name, value in values.items():
        if value is None:
            continue  # formdata_of leaves it out
        shape = many.get(name, None)
        if shape is None:  # an unknown item, a register (or an item id too odd to be sure)
            raise Unsure
        if shape:
            if type(value) is not list or not all(type(v) is str and not has_surrogate(v) for v in value):
                raise Unsure
            posted[name] = [clean_text(v) for v in value]
        elif type(value) is str:
            if has_surrogate(value):
                raise Unsure  # formdata_of names the field
            posted[name] = clean_text(value)  # as formdata_of does
        elif type(value) in (int, float):  # not bool: formdata_of posts True as "True" (or "ok"/"yes")
            posted[name] = str(value)
        else:
            raise Unsure
    return posted


def quick_values(form: Form, version_digest: str, values: dict[str, Any], submission_id: str) -> dict[str, Any] | None:
    """The stored values of the posted `values` when they are clearly valid, exactly as
    `values_of(form_class(form, version_digest)(formdata=formdata_of(form, values, submission_id)))` would
    give them after validating; None when unsure."""
    key = (form.id, version_digest)
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = _compiled[key] = _Compiled(form)
    if not submission_id:  # RecordForm's own InputRequired field
        return None
    stored: dict[str, Any] = {}
    try:
        posted = _posted(compiled, values)
        hidden = conditions.hidden_items(compiled.form, posted) if compiled.logic else set()
        for item_id, item_readers in compiled.readers:
            if item_id not in hidden:
                for read in item_readers:
                    read(posted, stored)
    except Unsure:
        return None
    return stored
