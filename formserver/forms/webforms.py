"""Web forms built at run time from the checklist definitions: one WTForms class per form version, one
field builder per item kind. The same class validates the web post and the JSON API (the API's values
are turned into the same form data first), so both accept and reject exactly the same things.

Stored values are plain JSON, keyed by item id: check "ok"/"fault" with the note under `<id>_note` and
photos under `<id>_photos`; a signature the signer's typed name, and the id of its drawing (a PNG stored
like a photo, see records.signatures) under `<id>_image`; yes/no "yes"/"no"; numbers as numbers; dates
"YYYY-MM-DD", times "HH:MM", datetimes "YYYY-MM-DDTHH:MM"; a single choice as its option text, a multiple
choice as a list; a register as a list of row objects; photos as a list of photo ids. Empty items are left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from flask import current_app
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms import (
    DateField,
    DateTimeLocalField,
    DecimalField,
    Field,
    FieldList,
    FormField,
    RadioField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms import Form as PlainForm
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from formserver.base.config import DEFAULTS
from formserver.base.inputs import (
    SURROGATE_MESSAGE,
    canonical_uid,
    clean_text,
    has_surrogate,
    moment_text,
    number_text,
)
from handbook import conditions, datebounds
from handbook.formmodel import Form, Item
from handbook.kinds import CHECK_VALUES, YESNO_VALUES

REQUIRED = "此项必填"
# Without JavaScript the pad cannot draw, so a required drawing cannot be made: the message says why and what to do
# (a typed name alone is not a drawn signature, and the paper form is the way out for such a phone).
DRAWING_REQUIRED = "请在签名框内用手指或鼠标手写签名(手写签名需要浏览器启用 JavaScript)"
BAD_DRAWING = "签名图片编号无效,请清除后重新签名"
FAULT_NOTE = "选“异常”时请写明位置、情况和处理结果"
MAX_ROWS = 200
BLANK_ROWS = 3  # empty register rows offered on a new form (a button adds more)
TEXT_MAX = 500
TEXTAREA_MAX = 5000
DATE_FORMAT = "%Y-%m-%d"  # WTForms' defaults for DateField and TimeField, named for formserver.forms.fastvalues
TIME_FORMAT = "%H:%M"
DATETIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M")


class NumberField(DecimalField):
    """A decimal number as typed, full-width digits read as ASCII; `1_000`, digits of other scripts, NaN and
    Infinity are not numbers here (Python's Decimal would take them)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        if valuelist and valuelist[0].strip():
            text = number_text(valuelist[0])
            if text is None:
                self.data = None
                raise ValueError(self.gettext("Not a valid decimal value."))
            valuelist = [text]
        super().process_formdata(valuelist)


class _AsciiMoment:
    """Date and time fields read full-width digits and separators as ASCII; any other non-ASCII character
    makes the value unreadable (strptime would read Arabic-Indic digits, say)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        super().process_formdata([t if (t := moment_text(v)) is not None else "?" for v in valuelist])


class AsciiDateField(_AsciiMoment, DateField):
    pass


class AsciiTimeField(_AsciiMoment, TimeField):
    pass


class AsciiDateTimeField(_AsciiMoment, DateTimeLocalField):
    pass


def date_window(item: Item) -> tuple[dt.date, dt.date]:
    """The first and last day a date (or datetime) item accepts today: its own `min`/`max`, else the server's
    DATE_EARLIEST / DATE_LATEST, resolved against the centre's clock."""
    catalogue = current_app.extensions.get("catalogue")  # absent only in unit tests of the fields
    today = catalogue.now().date() if catalogue else dt.date.today()
    config = current_app.config
    low = datebounds.resolve(item.earliest or config.get("DATE_EARLIEST", DEFAULTS["DATE_EARLIEST"]), today)
    high = datebounds.resolve(item.latest or config.get("DATE_LATEST", DEFAULTS["DATE_LATEST"]), today)
    return low or dt.date.min, high or dt.date.max


def _in_window(item: Item) -> Callable:
    def validate(form, field) -> None:
        if field.data is None:
            return
        day = field.data.date() if isinstance(field.data, dt.datetime) else field.data
        low, high = date_window(item)
        if not low <= day <= high:
            raise StopValidation(f"日期须在 {low.isoformat()} 到 {high.isoformat()} 之间")
    return validate


class ZhMeta:
    locales = ("zh_CN",)


class PhotoIdsField(Field):
    """The ids of photos already uploaded for an item (hidden inputs, one per photo)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = [v for v in valuelist if v][:20]

    def _value(self) -> str:
        return ""


class DrawingField(Field):
    """The id of a signature's drawing, uploaded when the stroke ended (one hidden input)."""

    def process_formdata(self, valuelist: list[str]) -> None:
        self.data = valuelist[0].strip() if valuelist and valuelist[0].strip() else None

    def _value(self) -> str:
        return self.data or ""


def _drawing(item: Item) -> Callable:
    def validate(form, field) -> None:
        if field.data is None:
            if item.id in getattr(form, "drawings", ()):
                raise StopValidation(DRAWING_REQUIRED)
            return
        if canonical_uid(field.data) != field.data:
            raise StopValidation(BAD_DRAWING)
    return validate


class RowForm(PlainForm):
    """One row of a register. A row left entirely blank is not a row: it is skipped, not rejected."""

    Meta = ZhMeta

    def is_blank(self) -> bool:
        return all(_blank(field.data) for field in self)

    def validate(self, extra_validators=None) -> bool:
        if self.is_blank():
            return True
        return super().validate(extra_validators)


def _blank(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _presence(item: Item) -> list:
    return [InputRequired(message=REQUIRED)] if item.required else [Optional()]


def _text_presence(item: Item) -> list:
    # Not InputRequired: a required text of only spaces would pass it and then be stored as nothing.
    return [DataRequired(message=REQUIRED)] if item.required else [Optional()]


def _check_note(check_id: str) -> Callable:
    def validate(form, field) -> None:
        if form[check_id].data == "fault" and not (field.data or "").strip():
            raise StopValidation(FAULT_NOTE)  # before Optional(), which would end the chain on a blank note
    return validate


class _MultiRequired:
    def __call__(self, form, field) -> None:
        if not field.data:
            field.errors[:] = []
            raise StopValidation(REQUIRED)


def _parsed(form, field) -> None:
    # A value that is not a number already carries its error ("不是有效的小数"); its range is moot.
    if field.data is None:
        raise StopValidation()


NUMBER_LIMIT = Decimal("1e15")  # far beyond any count or reading on a checklist


def _finite(form, field) -> None:
    # Decimal reads "NaN", "Infinity" and "1e1000000" too: storing the first two crashed (500) or wrote NaN into
    # the JSON, and turning the last into an int (see _plain) took minutes of CPU for one request.
    if not field.data.is_finite() or field.data.copy_abs() >= NUMBER_LIMIT:
        raise StopValidation(field.gettext("Not a valid decimal value."))


class _RowsRequired:
    """A required register needs at least one row that is not blank."""

    def __call__(self, form, field) -> None:
        if all(entry.form.is_blank() for entry in field.entries):
            raise StopValidation(REQUIRED)


def _number_validators(item: Item) -> list:
    validators = [*_presence(item), _parsed, _finite]
    if item.min is not None or item.max is not None:
        low, high = item.min, item.max
        if low is not None and high is not None:
            message = f"请填写 {low} 到 {high} 之间的数"
        elif low is not None:
            message = f"不能小于 {low}"
        else:
            message = f"不能大于 {high}"
        validators.append(NumberRange(min=low, max=high, message=message))
    return validators


def _check(item: Item) -> dict[str, Field]:
    return {
        item.id: RadioField(item.label, choices=dict(CHECK_VALUES), validators=_presence(item)),
        f"{item.id}_note": StringField("情况说明", validators=[_check_note(item.id), Optional(), Length(max=TEXT_MAX)]),
        f"{item.id}_photos": PhotoIdsField("照片"),
    }


def _text(item: Item) -> dict[str, Field]:
    return {item.id: StringField(item.label, validators=[*_text_presence(item),
                                                         Length(max=item.max_length or TEXT_MAX)])}


def _signature(item: Item) -> dict[str, Field]:
    return {**_text(item), f"{item.id}_image": DrawingField("手写签名", validators=[_drawing(item)])}


def _choice(item: Item) -> dict[str, Field]:
    choices = {o: o for o in item.options}
    if item.multiple:
        return {item.id: SelectMultipleField(item.label, choices=choices, widget=ListWidget(prefix_label=False),
                                             option_widget=CheckboxInput(),
                                             validators=[_MultiRequired()] if item.required else [Optional()])}
    return {item.id: RadioField(item.label, choices=choices, validators=_presence(item))}


def _register(item: Item) -> dict[str, Field]:
    row_fields: dict[str, Field] = {}
    for column in item.columns:
        row_fields.update(item_fields(column))
    row_class = type(f"Row_{item.id}", (RowForm,), row_fields)
    return {item.id: FieldList(FormField(row_class), item.label, min_entries=0, max_entries=MAX_ROWS,
                               validators=[_RowsRequired()] if item.required else [])}


# The web field(s) of each item kind: one entry per kind of handbook.kinds.ITEM_KINDS (a test checks the keys).
WEB_FIELDS: dict[str, Callable[[Item], dict[str, Field]]] = {
    "check": _check,
    "yesno": lambda item: {item.id: RadioField(item.label, choices=dict(YESNO_VALUES), validators=_presence(item))},
    "text": _text,
    "person": _text,
    "signature": _signature,
    "textarea": lambda item: {item.id: TextAreaField(item.label, validators=[
        *_text_presence(item), Length(max=item.max_length or TEXTAREA_MAX)])},
    "number": lambda item: {item.id: NumberField(item.label, places=None, validators=_number_validators(item))},
    "date": lambda item: {item.id: AsciiDateField(item.label, format=DATE_FORMAT,
                                                  validators=[*_presence(item), _in_window(item)])},
    "time": lambda item: {item.id: AsciiTimeField(item.label, format=TIME_FORMAT, validators=_presence(item))},
    "datetime": lambda item: {item.id: AsciiDateTimeField(item.label, format=list(DATETIME_FORMATS),
                                                          validators=[*_presence(item), _in_window(item)])},
    "choice": _choice,
    "photo": lambda item: {item.id: PhotoIdsField(item.label,
                                                  validators=[_MultiRequired()] if item.required else [])},
    "table": _register,
}


def item_fields(item: Item) -> dict[str, Field]:
    """The WTForms fields for one item (a check item has a note and photos beside its status)."""
    return WEB_FIELDS[item.kind](item)


class RecordForm(FlaskForm):
    """Base of every generated form: the submission id travels with each render. An item its form's conditions
    hide (`show_when`) is not validated at all, so neither required nor refused, and `values_of` drops it: what
    the web form does without JavaScript, where every item is shown, and what the API does."""

    class Meta:
        locales = ("zh_CN",)

    definition: Form | None = None  # set by form_class
    # Signature items whose drawing is required: the web form sets it (records.fill), the API does not, since a
    # system posting for someone has no pad (see records.signatures).
    drawings: frozenset[str] = frozenset()
    submission_id = StringField(validators=[InputRequired(message="缺少提交编号,请刷新页面后重试")])

    def hidden_items(self) -> set[str]:
        """The ids of the items the posted answers hide."""
        form = self.definition
        if form is None or not conditions.has_conditions(form):
            return set()
        answers = {item.id: self[item.id].data for item in form.all_items()
                   if item.kind in conditions.CONDITION_KINDS}
        return conditions.hidden_items(form, answers)

    def validate(self, extra_validators: Mapping[str, Any] | None = None) -> bool:
        hidden = self.hidden_items()
        if not hidden:
            return super().validate(extra_validators)
        skipped = {name for item in self.definition.all_items() if item.id in hidden
                   for name in conditions.value_names(item)}
        valid = True
        for name, field in self._fields.items():
            if name not in skipped and not field.validate(self, (extra_validators or {}).get(name, ())):
                valid = False
        return valid


_classes: dict[tuple[str, str], type[RecordForm]] = {}


def form_class(form: Form, version_digest: str) -> type[RecordForm]:
    key = (form.id, version_digest)
    if key not in _classes:
        fields: dict[str, Field] = {}
        for item in form.all_items():
            fields.update(item_fields(item))
        _classes[key] = type(f"Form_{form.id.replace('-', '_')}", (RecordForm,), {**fields, "definition": form})
    return _classes[key]


# -- form data → stored values -------------------------------------------------------------------


def _plain(value: Any, kind: str) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, str):
        value = clean_text(value).replace("\r\n", "\n")
        return value.strip() if kind != "textarea" else value.rstrip()
    return value


def _collect(items: Iterable[Item], fields: Mapping[str, Field], hidden: set[str] = frozenset()) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for item in items:
        if item.id in hidden:
            continue
        if item.kind == "table":
            rows = []
            for entry in fields[item.id].entries:
                if not entry.form.is_blank():
                    rows.append(_collect(item.columns, {f.short_name: f for f in entry.form}))
            if rows:
                values[item.id] = rows
            continue
        for name in conditions.value_names(item):
            value = _plain(fields[name].data, item.kind)
            if not _blank(value):
                values[name] = value
    return values


def values_of(wtform: PlainForm, form: Form) -> dict[str, Any]:
    """The validated form's content as stored values (without the items its answers hide)."""
    hidden = wtform.hidden_items() if isinstance(wtform, RecordForm) else set()  # a case step's form has none
    return _collect(form.all_items(), {f.short_name: f for f in wtform}, hidden)


# -- stored values → form data (API posts, corrections, prefill) --------------------------------------


class ValuesError(ValueError):
    """Values that cannot even be read as form data (unknown items, wrong shapes)."""

    def __init__(self, errors: dict[str, list[str]]):
        super().__init__("; ".join(f"{k}: {', '.join(v)}" for k, v in errors.items()))
        self.errors = errors


def _as_text(value: Any, kind: str) -> str:
    if isinstance(value, bool):
        if kind == "yesno":
            return "yes" if value else "no"
        if kind == "check":
            return "ok" if value else "fault"
    if value is None:
        return ""
    return str(value)


def _pairs(items: Iterable[Item], values: Mapping[str, Any], prefix: str, errors: dict[str, list[str]]):
    known = set()
    for item in items:
        known.update(conditions.value_names(item))
        value = values.get(item.id)
        if item.kind == "table":
            if value is None:
                continue
            if not isinstance(value, list) or not all(isinstance(r, Mapping) for r in value):
                errors.setdefault(prefix + item.id, []).append("应为若干行组成的列表,每行是一个对象")
                continue
            if len(value) > MAX_ROWS:
                errors.setdefault(prefix + item.id, []).append(f"最多 {MAX_ROWS} 行")
                continue
            for n, row in enumerate(value):
                yield from _pairs(item.columns, row, f"{prefix}{item.id}-{n}-", errors)
            continue
        many = item.kind == "photo" or (item.kind == "choice" and item.multiple)
        for name in conditions.value_names(item):
            value = values.get(name)
            if value is None:
                continue
            if isinstance(value, list) != (many or name.endswith("_photos")):
                errors.setdefault(prefix + name, []).append("应为列表" if not isinstance(value, list) else "不应为列表")
                continue
            if isinstance(value, dict):
                errors.setdefault(prefix + name, []).append("不应为对象")
                continue
            texts = [clean_text(_as_text(v, item.kind)) for v in (value if isinstance(value, list) else [value])]
            if any(has_surrogate(t) for t in texts):
                errors.setdefault(prefix + name, []).append(SURROGATE_MESSAGE)
                continue
            for text in texts:
                yield prefix + name, text
    for name in values:
        if name not in known:
            errors.setdefault(prefix + name, []).append("表单中没有这一项")


def value_names(form: Form) -> list[str]:
    """The top-level names a form's values may have (a check item has its note and photos beside it, a signature
    its drawing)."""
    return [name for item in form.all_items() for name in conditions.value_names(item)]


def max_keys(form: Form) -> int:
    """How many top-level keys a post of the form's values may have: its names, and room for some mistakes
    to be named one by one; more is refused at once, unread."""
    return len(value_names(form)) + 50


def formdata_of(form: Form, values: Mapping[str, Any], submission_id: str = "") -> MultiDict:
    """Form data equivalent to `values`, as a browser would post it; ValuesError for unknown items or
    values of the wrong shape."""
    errors: dict[str, list[str]] = {}
    pairs = list(_pairs(form.all_items(), values, "", errors))
    if errors:
        raise ValuesError(errors)
    if submission_id:
        pairs.append(("submission_id", submission_id))
    return MultiDict(pairs)


def field_errors(wtform: RecordForm) -> dict[str, list[str]]:
    """Errors by form-data name (register cells as `visitors-0-name`), messages as text."""
    out: dict[str, list[str]] = {}

    def walk(fields: Iterable[Field]) -> None:
        for field in fields:
            if isinstance(field, FieldList):
                own = [m for m in field.errors if isinstance(m, str)]  # the register's own ("此项必填")
                if own:
                    out[field.name] = own
                for entry in field.entries:
                    walk(entry.form)
            elif field.errors:
                out[field.name] = [str(Markup.escape(m)) if not isinstance(m, str) else m for m in field.errors]

    walk(wtform)
    return out
