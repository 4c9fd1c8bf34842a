"""Helpers for the fill/record/export tests (tests/formserver/records/): values built from a form's
definition, what a page's form would post (read back from its HTML the way a browser does), and posting a
form the way a browser does."""

from __future__ import annotations

import re
import subprocess
from html.parser import HTMLParser
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from handbook.formmodel import Form, Item
from tests.server_support import form_post, new_form

DATE = "2026-11-23"
TEXT = "试填"  # typed text: "试填" + a number per item, so each value is findable on its own


def value_for(item: Item, n: int) -> Any:
    """A valid value for `item` as form data ('' for kinds with nothing to type)."""
    kind = item.kind
    if kind == "check":
        return "ok"
    if kind == "yesno":
        return "no"
    if kind in ("text", "person", "signature", "textarea"):
        return f"{TEXT}{n}"
    if kind == "number":
        low = item.min if item.min is not None else 0
        return str(low + 1 if item.max is None or low + 1 <= item.max else low)
    if kind == "date":
        return DATE
    if kind == "time":
        return "09:30"
    if kind == "datetime":
        return f"{DATE}T09:30"
    if kind == "choice":
        return [item.options[0]] if item.multiple else item.options[0]
    return ""  # photo: nothing to type


def minimal_formdata(form: Form) -> MultiDict:
    """Every required item filled by kind, and one row (its required cells) in every register."""
    data = MultiDict()
    n = 0
    for item in form.all_items():
        if item.kind == "table":
            for column in item.columns:
                if column.required:
                    n += 1
                    data.add(f"{item.id}-0-{column.id}", value_for(column, n))
        elif item.required and item.kind != "photo":
            n += 1
            value = value_for(item, n)
            for v in value if isinstance(value, list) else [value]:
                data.add(item.id, v)
    return data


def typed_texts(data: MultiDict) -> list[str]:
    return [v for v in data.values() if v.startswith(TEXT)]


class _FormState(HTMLParser):
    """What the page's forms would post, plus the error messages shown beside fields."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pairs: list[tuple[str, str]] = []
        self.errors: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._error: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind == "file" or (kind in ("radio", "checkbox") and "checked" not in a):
                return
            self.pairs.append((a["name"], a.get("value", "")))
        elif tag == "textarea" and a.get("name"):
            self._textarea, self._text = a["name"], []
        elif tag == "p" and "field-error" in a.get("class", ""):
            self._error, self._text = a.get("id", "").removesuffix("-error"), []

    def handle_data(self, data: str) -> None:
        if self._textarea is not None or self._error is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "textarea" and self._textarea is not None:
            # Browsers read CRLF as LF and drop one leading newline of a textarea's content.
            text = "".join(self._text).replace("\r\n", "\n")
            self.pairs.append((self._textarea, text.removeprefix("\n")))
            self._textarea = None
        elif tag == "p" and self._error is not None:
            self.errors.setdefault(self._error, []).append("".join(self._text).strip())
            self._error = None


def page_state(html: str) -> tuple[MultiDict, dict[str, list[str]]]:
    """(the fields the page's forms would post, field id → error messages shown beside it)."""
    parser = _FormState()
    parser.feed(html)
    return MultiDict(parser.pairs), parser.errors


def filled(state: MultiDict) -> MultiDict:
    """The posted fields that carry a value (blank inputs and the tokens left out)."""
    return MultiDict([(k, v) for k, v in state.items(multi=True)
                      if v and k not in ("csrf_token", "submission_id")])


def submit(client: FlaskClient, form_id: str, values: Any, **extra: Any):
    """Open a fresh form page and post `values` to it; (response, submission id)."""
    _html, csrf, uid = new_form(client, form_id)
    data = MultiDict(form_post({}, csrf, uid))
    for key, value in (values.items(multi=True) if isinstance(values, MultiDict) else values.items()):
        for v in value if isinstance(value, list) else [value]:
            data.add(key, v)
    for key, value in extra.items():
        data.setlist(key, [value])
    return client.post(f"/forms/{form_id}", data=data), uid


def submitted(client: FlaskClient, form_id: str, values: Any) -> str:
    """Submit and insist it was accepted; the submission id."""
    response, uid = submit(client, form_id, values)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    assert response.headers["Location"].startswith(f"/records/{uid}")
    return uid


def count(app: Flask, model, *where) -> int:
    with app.extensions["db_sessions"]() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-"), data[:20]
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def squeeze(text: str) -> str:
    """Text without whitespace: pdftotext puts spaces and line breaks inside long Chinese runs."""
    return re.sub(r"\s+", "", text)
