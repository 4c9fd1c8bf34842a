"""The rules every piece of outside input meets at the edge (web posts, the JSON API, drafts, photos, the CLI),
written once so that no path can apply a different one:

- submission ids are UUIDs in their canonical lower-case form (iOS clients send upper case: the same id);
- text loses invisible control and bidirectional-override characters, which spoof what lists, exports and
  PDFs show (`\\u202egnp.exe` displays as `exe.png`); ZWJ, ZWNJ and variation selectors stay (emoji use them);
- a lone UTF-16 surrogate is not text at all: it is refused, never stored;
- JSON bodies are bounded in nesting depth and size before anything walks them;
- numbers and dates may be typed with full-width digits (Chinese input methods produce them) and are read as
  ASCII; `1_000` and digits of other scripts are refused.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import ImmutableMultiDict, MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import BaseConverter

# C0 controls but tab and newline (a carriage return is normalised away by the value readers), DEL, C1
# controls, the bidi marks, embeddings, overrides and isolates, and the byte-order mark / word joiner family.
_INVISIBLE_CHARACTERS = ("\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2060-\u2064"
                         "\u2066-\u206f\ufeff\ufff9-\ufffb")
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARACTERS}]")
# JSON Schema (ECMA-262) pattern of a text that is not blank once spaces and invisible characters are gone.
VISIBLE_PATTERN = f"[^\\s{_INVISIBLE_CHARACTERS}]"
_SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_MESSAGE = "含有无法识别的字符(不成对的 UTF-16 代理项),请重新输入"

MAX_JSON_DEPTH = 16  # a submission nests five levels at most: values → register → row → photos → id
MAX_JSON_NODES = 100_000  # a full register of 200 rows of 20 cells is 4,000 nodes
JSON_TOO_DEEP = f"JSON 嵌套过深(最多 {MAX_JSON_DEPTH} 层)"
JSON_TOO_BIG = f"JSON 内容过多(最多 {MAX_JSON_NODES} 个值)"


def canonical_uid(text: Any) -> str | None:
    """The canonical (lower-case, hyphenated) form of a UUID given as text, or None if it is not one."""
    if not isinstance(text, str) or len(text) != 36:
        return None
    try:
        value = uuid.UUID(text)
    except ValueError:
        return None
    canonical = str(value)
    return canonical if canonical == text.lower() else None


def clean_text(text: str) -> str:
    """`text` without invisible control and bidi-override characters."""
    if text.isascii() and text.isprintable():
        return text  # the usual case, checked in C
    return _INVISIBLE.sub("", text)


def has_surrogate(text: str) -> bool:
    return not text.isascii() and _SURROGATE.search(text) is not None


_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)}  # FF01–FF5E: ASCII 21–7E
_FULL_WIDTH[0x3000] = 0x20  # ideographic space


def ascii_width(text: str) -> str:
    """Full-width ASCII forms (０-９, －, :, .) as ASCII; other characters as they are."""
    return text if text.isascii() else text.translate(_FULL_WIDTH)


_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*", re.ASCII)
# What the JSON Schema admits as a number written as text: the plain decimal forms (number_text also reads
# exponents and surrounding spaces, and refuses magnitudes of NUMBER_LIMIT and more, which a pattern cannot say).
NUMBER_PATTERN = r"^[+\-＋－]?[0-9０-９]{1,15}([.．][0-9０-９]{0,6})?$"


def number_text(text: str) -> str | None:
    """The ASCII text of a number as typed (full-width digits allowed), or None when it is not a plain decimal
    number (`1_000`, `١٢`, `NaN`, `Infinity`, thousands separators)."""
    text = ascii_width(text)
    return text if _NUMBER.fullmatch(text) else None


def moment_text(text: str) -> str | None:
    """The ASCII text of a date or time as typed (full-width digits and separators allowed), or None when it
    holds other non-ASCII characters (digits of other scripts, which `strptime` would otherwise read)."""
    text = ascii_width(text)
    return text if text.isascii() else None


class JsonRefused(ValueError):
    """A JSON body refused before anything walks it: too deep or too big."""


def bounded_json(text: str | bytes) -> Any:
    """`json.loads` with nesting depth and size bounded: JsonRefused (a ValueError) otherwise. The C parser
    itself stops at the interpreter's recursion limit (RecursionError, cheaply); what it returns is then
    walked without recursion, so no later step (digests, value readers) ever recurses deeply."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonRefused(JSON_TOO_DEEP) from None
    _check_shape(value)
    return value


def _check_shape(value: Any) -> None:
    nodes = 0
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > MAX_JSON_NODES:
            raise JsonRefused(JSON_TOO_BIG)
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        if depth >= MAX_JSON_DEPTH and children:
            raise JsonRefused(JSON_TOO_DEEP)
        stack.extend((child, depth + 1) for child in children)


# -- wiring into Flask -------------------------------------------------------------------------------------

class CleanFormData(ImmutableMultiDict):
    """Query strings and posted forms with every text value cleaned (`clean_text`): one place for every view.
    Werkzeug decodes percent-escapes with replacement characters, so no surrogate arrives this way."""

    def __init__(self, mapping=None):
        if mapping is None:
            super().__init__()
            return
        pairs = mapping.items(multi=True) if isinstance(mapping, MultiDict) else mapping
        super().__init__([(clean_text(k), clean_text(v) if isinstance(v, str) else v) for k, v in pairs])


class JsonBodyRefused(BadRequest):
    """A 400 whose Chinese description says what was wrong with the JSON body (the error pages show it)."""

    zh = True


class BoundedRequest(Request):
    parameter_storage_class = CleanFormData

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if e is None:  # not JSON by its content type
            raise JsonBodyRefused("请求体须为 JSON(Content-Type: application/json)")
        raise JsonBodyRefused(str(e) if isinstance(e, JsonRefused) else "请求体不是有效的 JSON")


class BoundedJSONProvider(DefaultJSONProvider):
    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return bounded_json(s)


def json_body() -> tuple[Any, str]:
    """The request's JSON body and "", or None and why it was refused (not JSON, too deep, too big)."""
    try:
        return request.get_json(force=True), ""
    except JsonBodyRefused as error:
        return None, str(error.description)


class UidConverter(BaseConverter):
    """`<uid:uid>` in a route: a UUID in any case, given to the view in its canonical lower-case form."""

    regex = "[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"

    def to_python(self, value: str) -> str:
        return value.lower()


def init_app(app: Flask) -> None:
    """Before any blueprint is registered: its routes use the `uid` converter."""
    app.request_class = BoundedRequest
    app.json = BoundedJSONProvider(app)
    app.url_map.converters["uid"] = UidConverter
