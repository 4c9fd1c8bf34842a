"""Property-based tests of the two ways in, over every form, on SQLite and PostgreSQL: the JSON API and the web
form post get values generated from each item kind — valid ones, the strings that once crashed the server
(lone surrogates, control and bidi characters), every Unicode category, huge texts, nested structures and
other JSON types. The only answers allowed are the documented ones with the fixed error shape, and a record is
stored exactly when the answer says so, holding no invisible control characters."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from werkzeug.datastructures import MultiDict

from formserver.db.models import Revision, Submission
from handbook.formmodel import Form, Item
from tests.formserver.api.test_api import Api, make_token
from tests.server_payloads import item_value, valid_values, web_data
from tests.server_support import ROOT, new_form, person

pytestmark = [pytest.mark.usefixtures("cheap_passwords"), pytest.mark.slow]
FORM_IDS = sorted(p.stem for p in (ROOT / "checklists").glob("*.yaml"))
EXAMPLES = 60  # per form, way in and database: 18 forms × 2 × 2 × 60 ≈ 4,300 requests, about a minute
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large])
INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]")
TRIED: Counter[str] = Counter()

NASTY = ["\ud800", "张\udfff三", "\u202egnp.exe", "a\x00b", "\x9f", "\u202e", " ", "👨\u200d👩\u200d👧", "５",
         "２０２６-11-23", "1_000", "٣", "0001-01-01", "9999-12-31T23:59", "NaN", "1e999999", "x" * 6000]
any_text = st.text(st.characters(exclude_categories=()), max_size=40)  # every category, surrogates included
junk = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | any_text,
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
                    max_leaves=12)


def kind_values(item: Item) -> st.SearchStrategy[Any]:
    """Values for one item: mostly its own kind's (valid, or nearly), else anything at all."""
    own = item_value(item, lambda _item: "张三")
    if item.kind == "table":
        row = st.fixed_dictionaries({}, optional={c.id: kind_values(c) for c in item.columns})
        mine = st.lists(row, max_size=3)
    elif item.kind in ("photo",) or (item.kind == "choice" and item.multiple):
        mine = st.lists(st.sampled_from([*item.options, *NASTY[:3]]) if item.options else any_text, max_size=3)
    else:
        mine = st.sampled_from([own, *NASTY, *item.options]) | any_text
    return st.one_of(st.just(own), mine, mine, junk)


def values_strategy(form: Form) -> st.SearchStrategy[dict[str, Any]]:
    base = valid_values(form)
    changes = st.dictionaries(st.sampled_from([i.id for i in form.all_items()] + ["ghost"]), st.none(), max_size=3)
    items = {i.id: i for i in form.all_items()}

    def changed(keys: dict[str, None]) -> st.SearchStrategy[dict[str, Any]]:
        drawn = {k: kind_values(items[k]) if k in items else junk for k in keys}
        return st.fixed_dictionaries(drawn).map(lambda new: {**base, **new})

    return changes.flatmap(changed)


def stored_count(app: Flask) -> int:
    with app.extensions["db_sessions"]() as db:
        return db.scalar(select(func.count()).select_from(Submission))


def strings_of(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings_of(k), *strings_of(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_of(v)]
    return []


def assert_clean_record(app: Flask, uid: str) -> None:
    with app.extensions["db_sessions"]() as db:
        values = db.scalar(select(Revision.values).join(Submission).where(Submission.uid == uid))
    assert values is not None
    assert not any(INVISIBLE.search(s) for s in strings_of(values)), values


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_the_api_answers_every_generated_post_as_documented(app, form_id):
    api = Api(app, make_token(app))
    form = app.extensions["catalogue"].forms[form_id]

    @given(values=values_strategy(form))
    @SETTINGS
    def post(values):
        uid = str(uuid.uuid4())
        before = stored_count(app)
        response = api.submit(form_id, values, uid.upper() if len(values) % 2 else uid)
        body = response.get_json()
        assert response.status_code in (201, 400, 409, 413, 422), (response.status_code, body)
        TRIED[f"api {response.status_code}"] += 1
        if response.status_code == 201:
            assert body["submission_id"] == uid
            assert stored_count(app) == before + 1
            assert_clean_record(app, uid)
        else:
            assert set(body) == {"error"} and body["error"]["status"] == response.status_code
            assert isinstance(body["error"]["message"], str)
            assert all(isinstance(m, str) for ms in body["error"].get("fields", {}).values() for m in ms)
            assert stored_count(app) == before

    post()


@pytest.mark.parametrize("form_id", FORM_IDS)
def test_the_web_form_answers_every_generated_post_as_documented(app, form_id):
    staff = person(app, "fuzz", role="manager")
    form = app.extensions["catalogue"].forms[form_id]
    _html, csrf, _uid = new_form(staff, form_id)

    @given(values=values_strategy(form))
    @SETTINGS
    def post(values):
        uid = str(uuid.uuid4())
        before = stored_count(app)
        # A browser posts text as UTF-8: it has no way to send a lone surrogate, so none is generated here.
        pairs = [(k, v) for k, v in web_data(_flat(values)) if not INVISIBLE.fullmatch(k)]
        pairs = [(k.encode("utf-8", "replace").decode(), v.encode("utf-8", "replace").decode()) for k, v in pairs]
        form_data = MultiDict([("csrf_token", csrf), ("submission_id", uid), *pairs])
        response = staff.post(f"/forms/{form_id}", data=form_data)
        assert response.status_code in (303, 400, 409, 413), response.status_code
        TRIED[f"web {response.status_code}"] += 1
        if response.status_code == 303:
            assert stored_count(app) == before + 1
            assert_clean_record(app, uid)
        else:
            assert "服务器出错" not in response.get_data(as_text=True)
            assert stored_count(app) == before

    post()


def _flat(values: dict[str, Any]) -> dict[str, Any]:
    """Values as a browser could post them: scalars as text, registers as rows of scalars."""
    def scalar(v: Any) -> Any:
        return v if isinstance(v, (str, int, float)) and not isinstance(v, bool) else str(v)

    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
            out[key] = [{str(k): scalar(v) for k, v in row.items()} for row in value]
        elif isinstance(value, list):
            out[key] = [scalar(v) for v in value]
        else:
            out[key] = scalar(value)
    return out


def test_report_how_many_cases_were_tried():
    """Prints the tally of the tests above (`pytest -s`): the figure the issue's note quotes."""
    print(f"generated posts by answer: {dict(sorted(TRIED.items()))}, {TRIED.total()} in all")
